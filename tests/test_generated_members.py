"""Ensembles whose members are drawn where they are used (storage="generated"): the
counter-based generator (Philox4x32-10, AS 241 normal quantiles), members reproducible
alone and bit for bit, nothing stored per member."""
import pickle
import statistics

import numpy as np
import pytest

import pyvanish
from pyvanish import _core


@pytest.mark.parametrize("counter,key,want", [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
     [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
])
def test_philox_known_answers(counter, key, want):
    """Random123's known-answer vectors for Philox4x32-10."""
    assert list(_core._philox(counter, key)) == want


def test_normal_quantile_is_as241():
    inv = statistics.NormalDist().inv_cdf
    for p in np.concatenate([2.0 ** -np.arange(54.0, 1.0, -1.0), np.linspace(0.01, 0.99, 199),
                             1 - 2.0 ** -np.arange(2.0, 53.0)]):
        assert _core._normal_quantile(p) == pytest.approx(inv(p), rel=2e-15, abs=1e-300)


@pytest.mark.parametrize("init,kw", [("xavier", {}), ("normal", {"sw": 1.3, "sb": 0.2}), ("he_uniform", {}),
                                     ("lecun_normal", {"layernorm": [False, True, False, False]}),
                                     ("constant", {"value": 0.05})])
def test_generated_members_equal_their_networks(init, kw, simd_path):
    ens = pyvanish.Ensemble([5, 8, 8, 8, 3], 70, activation="tanh", init=init, seed=3, storage="generated", **kw)
    assert ens.storage == "generated" and ens._engine.params.size == 0   # nothing stored per member
    x, t = ens.architecture.default_batch(4, 0)
    rep = ens.run(x, t)
    for m in (0, 31, 69):
        one = ens.member(m).gradient_report(x, t)
        assert rep.loss[m] == pytest.approx(one.loss, rel=1e-13)
        np.testing.assert_allclose(rep.stats[m], one.stats, rtol=1e-12, atol=1e-14)
    # the weights the run used are the member's, bit for bit: materialised copies equal member(m)'s
    for l, W in enumerate(ens.weights):
        np.testing.assert_array_equal(W[31], ens.member(31).weights[l])


def test_a_member_is_the_same_in_any_ensemble_size_and_any_thread_count_or_tile():
    small = pyvanish.Ensemble([4, 6, 2], 10, init="normal", seed=5, storage="generated")
    large = pyvanish.Ensemble([4, 6, 2], 1000, init="normal", seed=5, storage="generated")
    np.testing.assert_array_equal(small.member(7).weights[0], large.member(7).weights[0])
    other_seed = pyvanish.Ensemble([4, 6, 2], 10, init="normal", seed=6, storage="generated")
    assert not np.array_equal(other_seed.member(7).weights[0], small.member(7).weights[0])
    x, t = large.architecture.default_batch(3, 0)
    before = pyvanish.num_threads()
    try:
        pyvanish.set_num_threads(1)
        one = large.run(x, t)
        pyvanish.set_num_threads(2)
        large._engine.tile = 48
        two = large.run(x, t)
    finally:
        pyvanish.set_num_threads(before)
        large._engine.tile = 0
    np.testing.assert_array_equal(one.stats, two.stats)
    np.testing.assert_array_equal(one.moments, two.moments)


@pytest.mark.parametrize("init,var", [("normal", 1.0 / 64), ("xavier_uniform", 2.0 / 128), ("he_normal", 2.0 / 64),
                                      ("he_uniform", 2.0 / 64)])
def test_generated_weights_have_the_scheme_s_distribution(init, var):
    ens = pyvanish.Ensemble([64, 64], 400, init=init, seed=11, storage="generated")
    W = ens.weights[0].ravel()  # 1.6 million draws
    assert abs(W.mean()) < 5 * np.sqrt(var / W.size)
    assert W.var() == pytest.approx(var, rel=0.01)
    if init.endswith("uniform"):
        a = np.sqrt(3 * var)
        assert W.min() >= -a and W.max() < a
    else:  # Gaussian tails: the 4-sigma fraction
        assert np.mean(np.abs(W) > 4 * np.sqrt(var)) == pytest.approx(6.33e-5, rel=0.35)


def test_generated_ensembles_pickle_as_their_seed_and_refuse_what_they_cannot_draw():
    ens = pyvanish.Ensemble([3, 5, 1], 20, init="he", seed=9, storage="generated")
    blob = pickle.dumps(ens)
    assert len(blob) < 2000
    back = pickle.loads(blob)
    np.testing.assert_array_equal(back.member(4).weights[1], ens.member(4).weights[1])
    const = pyvanish.Ensemble([3, 5, 1], 4, init="constant", value=0.25, seed=1, storage="generated")
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(const)).member(2).weights[0], np.full((5, 3), 0.25))
    with pytest.raises(ValueError, match="Ensemble: storage='generated' .* init='orthogonal'"):
        pyvanish.Ensemble([3, 5, 1], 20, init="orthogonal", storage="generated")
    with pytest.raises(ValueError, match="Ensemble: storage='generated' does not support batch norm"):
        pyvanish.Ensemble([3, 5, 5, 1], 20, batchnorm=True, storage="generated")
    with pytest.raises(ValueError, match="Ensemble: storage must be 'stored' or 'generated'"):
        pyvanish.Ensemble([3, 5, 1], 20, storage="disk")


def test_a_wide_generated_ensemble_stores_nothing_per_member():
    """[256] * 21 with 1,000 members would store 11 GB of float64 parameters; generated, the
    engine holds a tile of members per thread."""
    ens = pyvanish.Ensemble([256] * 21, 1000, init="he", seed=0, storage="generated")
    assert ens._engine.params.size == 0
    assert ens._engine.workspace_bytes(1) < 2**30


def test_cli_ensemble_storage_generated():
    import io
    import json

    from pyvanish.cli import main

    outs = {}
    for storage in ("stored", "generated"):
        out = io.StringIO()
        assert main(["ensemble", "--depth", "3", "--width", "8", "-n", "64", "--storage", storage, "--json"],
                    out=out) == 0
        outs[storage] = json.loads(out.getvalue())
    # what the CLI printed is the Python API's generated ensemble (NumPy's draws differ from Philox's)
    ens = pyvanish.Ensemble([8] * 4 + [1], 64, init="normal", seed=0, storage="generated")
    rep = ens.run(*ens.architecture.default_batch(1, 0))
    np.testing.assert_allclose(outs["generated"]["log10_grad_h"]["mean"], rep.summary("grad_h")["mean"], rtol=1e-12)
    assert outs["generated"]["log10_grad_h"]["mean"] != outs["stored"]["log10_grad_h"]["mean"]
