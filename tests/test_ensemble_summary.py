"""The ensemble engine's in-run summary (mean and std of log10 |dL/dh_l|, |dL/dW_l|, |dL/db_l|
over the members), its tile-local workspace and its results for any tile or thread count."""
import numpy as np
import pytest

import pyvanish


def numpy_moments(v):
    """mean and population std of log10 v per column over the finite values, in NumPy."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.log10(v)
    ok = np.isfinite(lg)
    n = ok.sum(axis=0)
    mean = np.where(ok, lg, 0.0).sum(axis=0) / np.where(n > 0, n, np.nan)
    var = np.where(ok, (lg - mean) ** 2, 0.0).sum(axis=0) / np.where(n > 0, n, np.nan)
    return mean, np.sqrt(var)


CASES = [
    ([1, 1, 1, 1, 1], 1000, dict(activation="sigmoid", output_activation="sigmoid", init="normal"), 1),
    ([16] * 8, 203, dict(activation="tanh"), 8),
    ([5, 7, 7, 3], 37, dict(activation="relu", init="he", residual=True, layernorm=True), 3),
    # vanishing to subnormal and zero gradients: logs of subnormals are finite, zeros are left out
    ([1] * 60, 50, dict(activation="sigmoid", init="normal", sw=0.3), 1),
]


@pytest.mark.parametrize("widths,E,kw,B", CASES, ids=["W4-like", "W5-like", "layernorm-residual", "underflow"])
def test_in_run_summary_equals_numpy(widths, E, kw, B, simd_path):
    ens = pyvanish.Ensemble(widths, E, seed=0, progress=False, **kw)
    x, t = ens.architecture.default_batch(B, 0)
    rep = ens.run(x, t)
    assert rep.moments.shape == (3, ens.depth + 1, 2)
    for name in ("grad_h", "grad_W", "grad_b"):
        got = rep.summary(name, quantiles=False)
        assert set(got) == {"mean", "std"}
        mean, std = numpy_moments(getattr(rep, name))
        np.testing.assert_allclose(got["mean"], mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got["std"], std, rtol=1e-9, atol=1e-12)
        full = rep.summary(name)
        assert set(full) == {"mean", "std", "q05", "q50", "q95"}
        np.testing.assert_array_equal(full["mean"], got["mean"])


def test_summary_and_everything_else_are_the_same_for_any_tile_or_thread_count():
    ens = pyvanish.Ensemble([6, 9, 9, 9, 2], 150, activation="gelu", seed=1, progress=False)
    x, t = ens.architecture.default_batch(5, 1)
    before = pyvanish.num_threads()
    runs = []
    try:
        for threads, tile in [(1, 0), (2, 0), (1, 16), (2, 48), (1, 256)]:
            pyvanish.set_num_threads(threads)
            ens._engine.tile = tile
            runs.append(ens.run(x, t))
    finally:
        pyvanish.set_num_threads(before)
        ens._engine.tile = 0
    for other in runs[1:]:
        np.testing.assert_array_equal(other.stats, runs[0].stats)
        np.testing.assert_array_equal(other.moments, runs[0].moments)
        np.testing.assert_array_equal(other.loss, runs[0].loss)


def test_batchnorm_ensembles_summarise_in_python():
    ens = pyvanish.Ensemble([4, 6, 6, 1], 12, batchnorm=True, seed=0, progress=False)
    rep = ens.run(np.random.default_rng(0).normal(size=(8, 4)), np.zeros((8, 1)))
    assert rep.moments is None
    mean, std = numpy_moments(rep.grad_W)
    np.testing.assert_allclose(rep.summary("grad_W", quantiles=False)["mean"], mean, rtol=1e-12)


def test_the_workspace_does_not_grow_with_the_members():
    """Parameters are the only per-member storage: a run's workspace is a tile per thread."""
    small = pyvanish.Ensemble([32] * 6, 64, seed=0, progress=False)._engine
    large = pyvanish.Ensemble([32] * 6, 4096, seed=0, progress=False)._engine
    assert small.workspace_bytes(8) == large.workspace_bytes(8)
    assert large.params.size == 4096 * pyvanish.Architecture.build([32] * 6).n_params
