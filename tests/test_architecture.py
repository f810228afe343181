"""pyvanish.Architecture: one spec, validated once, read by every entry point."""
import dataclasses
import pathlib
import re

import numpy as np
import pytest

import pyvanish
from pyvanish import Architecture


def test_build_resolves_every_argument():
    arch = Architecture.build([4, 8, 8, 8, 2], activation="Leaky-ReLU", output_activation="swish", alpha=0.2,
                              batchnorm=True, residual=True, residual_scale=0.5, dtype="float32")
    assert arch.widths == (4, 8, 8, 8, 2)
    assert arch.activations == ("leaky_relu", "leaky_relu", "leaky_relu", "silu")
    assert arch.alphas == (0.2, 0.2, 0.2, 0.2)
    assert arch.batchnorm == (True, True, True, False)
    assert arch.skips == (None, 1, 2, None)
    assert arch.residual == (False, True, True, False) and arch.residual_block == 1
    assert arch.residual_scale == 0.5 and arch.dtype == np.dtype(np.float32)
    assert arch.n_params == sum(o * i + o for i, o in zip(arch.widths, arch.widths[1:])) + 2 * (8 + 8 + 8)


def test_default_alphas_and_per_layer_values():
    arch = Architecture.build([2, 3, 3, 1], activations=["leaky_relu", "elu", "tanh"])
    assert arch.alphas == (0.01, 1.0, 0.0)
    arch = Architecture.build([2, 3, 3, 1], activations=["leaky_relu", "elu", "tanh"], alpha=[0.3, 2.0, None])
    assert arch.alphas == (0.3, 2.0, 0.0)


def test_frozen_hashable_and_replace_revalidates():
    arch = Architecture.build([3, 5, 1])
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch.widths = (1, 1)  # type: ignore[misc]
    assert hash(arch) == hash(Architecture.build([3, 5, 1]))
    assert arch.replace(dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match=r"Architecture: layer 1 is residual .* widths differ"):
        arch.replace(skips=(0, None))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(widths=[3]), ValueError, r"^Network: widths needs at least 2 entries"),
    (dict(widths=[3, 0, 1]), ValueError, r"^Network: widths\[1\] is 0, expected a positive integer"),
    (dict(widths="34"), TypeError, r"^Network: widths must be a sequence"),
    (dict(widths=[3, 4, 1], activation="nope"), ValueError, r"^Network: unknown activation 'nope'"),
    (dict(widths=[3, 4, 1], activation=3), TypeError, r"^Network: activation must be a string"),
    (dict(widths=[3, 4, 1], activations=["tanh"]), ValueError, r"^Network: activations needs one name per layer"),
    (dict(widths=[3, 4, 1], alpha=[0.1]), ValueError, r"^Network: alpha needs one value per layer"),
    (dict(widths=[3, 4, 1], activation="elu", alpha=float("nan")), ValueError, r"^Network: alpha must be finite"),
    (dict(widths=[3, 4, 1], bn_eps=0.0), ValueError, r"^Network: bn_eps must be positive"),
    (dict(widths=[3, 4, 1], residual_block=0), ValueError, r"^Network: residual_block must be a positive integer"),
    (dict(widths=[3, 4, 5, 1], residual=[False, True, False]), ValueError, r"^Network: layer 2 is residual"),
    (dict(widths=[3, 4, 1], dtype=np.int32), TypeError, r"^Network: dtype must be float32 or float64"),
])
def test_messages_name_the_public_function(kwargs, error, message):
    with pytest.raises(error, match=message):
        pyvanish.Network(**kwargs)


def test_networks_and_ensembles_take_an_architecture():
    arch = Architecture.build([3, 6, 6, 2], activation="relu", residual=True)
    net = pyvanish.Network(arch, init="he", seed=1)
    assert net.architecture is arch and net.skips == arch.skips
    same = pyvanish.Network([3, 6, 6, 2], activation="relu", residual=True, init="he", seed=1)
    assert net.architecture == same.architecture
    x, t = arch.default_batch(4, seed=0)
    assert net.gradient_report(x, t).loss == same.gradient_report(x, t).loss
    ens = pyvanish.Ensemble(arch, 5, init="he", seed=1)
    assert ens.architecture is arch and ens.member(2).architecture == arch
    with pytest.raises(TypeError, match=r"^Network: widths is an Architecture, which fixes activation"):
        pyvanish.Network(arch, activation="sigmoid")


def test_default_batch_is_the_documented_draw():
    arch = Architecture.build([3, 5, 2])
    x, t = arch.default_batch(4, seed=7)
    rng = np.random.default_rng([7, 1])
    assert np.array_equal(x, rng.standard_normal((4, 3))) and np.array_equal(t, rng.standard_normal((4, 2)))


def test_too_big_is_refused_up_front_with_the_bytes():
    with pytest.raises(MemoryError, match=r"^Network: the parameters and gradients need [0-9,]+ bytes"):
        pyvanish.Network([10**6, 10**6, 1])
    with pytest.raises(MemoryError, match=r"^Ensemble: "):
        pyvanish.Ensemble([1000, 1000, 1], 10**6)


def test_only_the_facade_imports_the_compiled_core():
    src = pathlib.Path(pyvanish.__file__).parent
    users = sorted(p.name for p in src.glob("*.py") if re.search(r"\b_core\b", p.read_text()))
    assert users == ["_engine.py"], users


def test_the_two_activation_tables_agree():
    from pyvanish import _activations, _engine

    assert _activations.ACTIVATIONS == _engine.ENGINE_ACTIVATIONS == pyvanish.ACTIVATIONS
    assert pyvanish.reference.ACTIVATIONS is _activations.ACTIVATIONS


def test_the_reference_names_the_engine_statistics_in_order():
    from pyvanish import _engine

    assert pyvanish.reference.STAT_NAMES == _engine.STAT_NAMES


def test_depth_beyond_the_limit_is_refused_before_any_work():
    from pyvanish.architecture import MAX_DEPTH

    with pytest.raises(ValueError, match=r"^compare: depth must be <= 100,000"):
        pyvanish.compare(depth=10**9)
    with pytest.raises(ValueError, match=r"^Network: widths has 100,001 layers"):
        pyvanish.Network([1] * (MAX_DEPTH + 2))
