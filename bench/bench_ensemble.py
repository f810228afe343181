"""Ensemble benchmarks (issue: ensembles). The ensemble engine against the
NumPy reference vectorised over members (no Python loop over members): the
per-member per-layer statistics and the ensemble summaries (log10 quantiles
and verdict fractions). Ratios = numpy time / cpp time."""
import numpy as np
import pytest

import pyvanish
from pyvanish import reference as ref

CASES = {
    "W4-10000-tutorial-nets-1x1x1x1x1-sigmoid": ([1, 1, 1, 1, 1], 10_000, "sigmoid", "sigmoid", "normal", 1),
    "W5-1000-nets-16x20x16-tanh-B8": ([16] + [16] * 20 + [16], 1000, "tanh", "identity", "xavier", 8),
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    widths, E, act, out, init, B = CASES[request.param]
    ens = pyvanish.Ensemble(widths, E, activation=act, output_activation=out, init=init, seed=0)
    rng = np.random.default_rng(1)
    x = np.ones((B, widths[0])) if B == 1 else rng.standard_normal((B, widths[0]))
    t = np.zeros((B, widths[-1])) if B == 1 else rng.standard_normal((B, widths[-1]))
    return request.param, ens, x, t


def numpy_summary(v):
    """Per column: mean and std of the finite log10 v and its 5/50/95 % quantiles, in NumPy
    (a NumPy baseline never calls pyvanish's compiled core)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.log10(v)
    ok = np.isfinite(lg)
    n = ok.sum(axis=0)
    mean = np.where(ok, lg, 0.0).sum(axis=0) / n
    std = np.sqrt(np.where(ok, (lg - mean) ** 2, 0.0).sum(axis=0) / n)
    q = np.quantile(np.where(np.isnan(lg), -np.inf, lg), [0.05, 0.5, 0.95], axis=0)
    return {"mean": mean, "std": std, "q05": q[0], "q50": q[1], "q95": q[2]}


def numpy_ensemble(ens, x, t):
    out = ref.ensemble_forward_backward(list(ens.weights), list(ens.biases), list(ens.activations), x, t)
    gh = np.concatenate([out["grad_x"][:, None], out["stats"]["grad_h"]], axis=1)
    summaries = (numpy_summary(gh), numpy_summary(out["stats"]["grad_W"]))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = (gh[:, 1] / gh[:, -1], out["stats"]["grad_W"][:, 0] / out["stats"]["grad_W"][:, -1])
    vanishing = np.mean(np.minimum(*map(np.log10, ratios)) < -2)
    return out["stats"]["grad_W"], summaries, vanishing


def cpp_ensemble(ens, x, t):
    rep = ens.run(x, t)
    return rep.grad_W, (rep.summary("grad_h"), rep.summary("grad_W")), rep.fraction("vanishing")


@pytest.mark.parametrize("impl", ["cpp", "numpy"])
def bench_ensemble(benchmark, case, impl):
    name, ens, x, t = case
    benchmark.group = f"ensemble-{name}"
    fn = cpp_ensemble if impl == "cpp" else numpy_ensemble
    gw, (sh, sw), vanishing = benchmark(fn, ens, x, t)
    gw2, (sh2, sw2), vanishing2 = (numpy_ensemble if impl == "cpp" else cpp_ensemble)(ens, x, t)
    np.testing.assert_allclose(gw, gw2, rtol=1e-10)
    np.testing.assert_allclose(sw["q50"], sw2["q50"], rtol=1e-9)
    assert abs(vanishing - vanishing2) <= 1.0 / ens.members
