"""The compiled core's interface: run's ratios and verdict, grads, forward,
TrainConfig, the SIMD switches, dtype equivalence (pickled arrays)."""
import pickle

import numpy as np
import pytest

import pyvanish
from pyvanish import _core, kernels
from pyvanish.report import THRESHOLD_DECADES


def _unpickled(a):
    return pickle.loads(pickle.dumps(a))


def test_pickled_arrays_are_accepted():
    x = _unpickled(np.ones((2, 3)))
    w = _unpickled(np.full((4, 3), 0.5))
    np.testing.assert_array_equal(kernels.dense_forward(x, w), np.full((2, 4), 1.5))
    net = pyvanish.Network([3, 4, 2], activation="tanh", seed=0)
    rep = net.gradient_report(x, _unpickled(np.zeros((2, 2))))
    ref = net.gradient_report(np.ones((2, 3)), np.zeros((2, 2)))
    np.testing.assert_array_equal(rep.stats, ref.stats)


def test_byte_swapped_arrays_are_still_refused():
    x = np.ones((2, 3)).astype(">f8" if np.little_endian else "<f8")
    with pytest.raises(TypeError):
        _core.dense_forward(x, np.ones((4, 3)).astype(x.dtype))


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
def test_run_returns_the_ratios_and_verdict_of_the_report(act):
    net = pyvanish.Network([4] + [8] * 6 + [2], activation=act, seed=1)
    x = np.random.default_rng(0).normal(size=(16, 4))
    t = np.zeros((16, 2))
    out = net._engine.run(x, t)
    assert set(out) == {"batch", "loss", "grad_x", "stats", "grad_h", "signal_ratio", "weight_ratio", "verdict", "grads"}
    rep = net.gradient_report(x, t)
    assert out["batch"] == 16 and out["grads"] is None
    assert out["loss"] == rep.loss and out["grad_x"] == rep.grad_x
    np.testing.assert_array_equal(out["stats"], rep.stats)
    # grad_h: |dL/dx| then the stats' grad_h column; both arrays read-only
    np.testing.assert_array_equal(out["grad_h"], np.concatenate([[out["grad_x"]], out["stats"][:, 0]]))
    assert not out["stats"].flags.writeable and not out["grad_h"].flags.writeable
    np.testing.assert_equal(out["signal_ratio"], rep.signal_ratio)
    np.testing.assert_equal(out["weight_ratio"], rep.weight_ratio)
    assert out["verdict"] == rep.verdict and out["verdict"] in _core.VERDICTS
    assert _core.VERDICT_THRESHOLD_DECADES == THRESHOLD_DECADES
    assert _core.VERDICTS == ("healthy", "vanishing", "exploding", "undetermined")


def test_run_grads_are_copies_of_the_buffers():
    net = pyvanish.Network([3, 5, 5, 2], activation="tanh", batchnorm=True, seed=2)
    x, t = np.random.default_rng(1).normal(size=(6, 3)), np.zeros((6, 2))
    g = net._engine.run(x, t, True, True)["grads"]
    assert set(g) == {"params_grad", "dh", "dz", "du", "h", "z"}
    np.testing.assert_array_equal(g["params_grad"], net._engine.grads)
    assert g["params_grad"] is not net._engine.grads
    for k in ("dh", "dz", "du", "h", "z"):
        bufs = net._engine.buffers(k)
        assert len(g[k]) == len(bufs) == (4 if k == "dh" else 3)
        for a, b in zip(g[k], bufs):
            np.testing.assert_array_equal(a, b)


def test_forward_returns_every_layer():
    net = pyvanish.Network([3, 5, 2], activation="relu", seed=3)
    x = np.random.default_rng(2).normal(size=(4, 3))
    hs = net._engine.forward(x)
    ref = net.forward(x, all_layers=True)
    assert len(hs) == 2
    for a, b in zip(hs, ref):
        np.testing.assert_array_equal(a, b)
    empty = net._engine.forward(np.zeros((0, 3)))
    assert [h.shape for h in empty] == [(0, 5), (0, 2)]
    with pytest.raises(ValueError, match="^x contains NaN or Inf"):
        net._engine.forward(np.full((1, 3), np.nan))


def test_run_errors_carry_no_prefix():
    eng = pyvanish.Network([3, 2], seed=0)._engine
    with pytest.raises(ValueError, match=r"^x has shape \(2, 4\), expected \(\*, 3\)"):
        eng.run(np.zeros((2, 4)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"^t has shape"):
        eng.run(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="^x contains NaN or Inf"):
        eng.run(np.full((2, 3), np.inf), np.zeros((2, 2)))


def test_ensemble_run_returns_verdict_codes():
    seen = set()
    for act, sw in (("sigmoid", 1.0), ("relu", 4.0), ("tanh", 1.0)):
        ens = pyvanish.Ensemble([2, 6, 6, 6, 6, 6, 1], 40, activation=act, sw=sw, seed=0)
        x, t = np.random.default_rng(3).normal(size=(8, 2)), np.zeros((8, 1))
        rep = ens.run(x, t)
        _, _, _, codes, moments = ens._engine.run(x, t)
        assert codes.dtype == np.int8 and codes.shape == (40,)
        assert moments.shape == (3, 7, 2) and np.isnan(moments[1:, 0]).all()  # no dL/dW_0, dL/db_0
        np.testing.assert_array_equal(codes, rep.verdict_codes)
        seen |= set(codes.tolist())
    assert len(seen) >= 2


def test_simd_switches():
    paths = _core.simd_paths()
    assert paths[0] == "generic" and _core.simd_best_path() == paths[-1]
    before = _core.simd_path()
    try:
        for p in paths:
            assert _core.set_simd_path(p) == p == _core.simd_path() == _core.gemm_path()
        assert _core.set_simd_path("auto") == _core.simd_best_path() == _core.gemm_best_path()
        with pytest.raises(ValueError, match="^set_simd_path:"):
            _core.set_simd_path("sse9")
    finally:
        _core.set_simd_path(before)


def test_train_config_fields():
    cfg = _core.TrainConfig()
    for name in ("optimizer", "lr", "momentum", "beta1", "beta2", "eps", "weight_decay", "record_every", "t0",
                 "total"):
        assert hasattr(cfg, name)
    cfg.lr = 0.25
    assert cfg.lr == 0.25


def test_parameter_count_beyond_int64_is_a_memory_error():
    with pytest.raises(MemoryError, match="^Network: .*bytes"):
        _core.Network64([2**62, 4], [0], [0.0])
    with pytest.raises(MemoryError, match="^Ensemble: .*bytes"):
        _core.Ensemble64([2**40, 2**30], [0], [0.0], [-1], [1.0], 4)
    with pytest.raises(ValueError, match="^Network: internal error"):
        _core.Network64([3, 4], [0, 0], [0.0])


def test_simd_parametrisation_names_every_path(simd_path):
    """conftest's simd_path runs every path the build knows; a path this CPU lacks is a
    reported skip, never silently dropped (so the list must cover simd_paths())."""
    from conftest import ALL_SIMD_PATHS

    assert ALL_SIMD_PATHS[0] == "generic" and set(pyvanish.simd_paths()) <= set(ALL_SIMD_PATHS)
    assert pyvanish.get_simd_path() == simd_path
