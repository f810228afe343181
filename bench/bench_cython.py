"""The Cython API (issue 12): a Monte Carlo over tutorial networks from Cython against the
Python API, and the per-call cost of a tiny kernel from Cython against the Python call.

The Cython side is examples/cython_mc/tutorial_mc.pyx, compiled once per session against
the installed package. Groups:

* ``cython-mc-1000-tutorial-networks``: |dL/dW_1| / |dL/dW_4| of 1000 random 1-1-1-1-1
  sigmoid networks -- ``cython`` (the nogil kernels, one thread), ``cpp`` (Network.gradient_report
  in a Python loop), ``cpp-ensemble`` (one Ensemble.run), ``numpy`` (the reference, vectorised
  over members). Per-network cost = time / 1000.
* ``cython-dense-forward-width1``: 10 000 calls of a width-1 dense forward -- ``cython``
  (dense_forward_d, target <= 50 ns a call) and ``cpp`` (pyvanish.kernels.dense_forward from
  Python). Per-call cost = time / 10 000.
"""
import pathlib
import shutil
import sys
import sysconfig

import numpy as np
import pytest

import pyvanish
from pyvanish import reference

ROOT = pathlib.Path(__file__).resolve().parent.parent
N_NETS = 1000
N_CALLS = 10_000


@pytest.fixture(scope="session")
def mc(tmp_path_factory):
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        pytest.skip("no C compiler: the Cython example cannot be compiled")
    pytest.importorskip("Cython.Build", reason="Cython is not installed (the test extra)")
    sys.path.insert(0, str(ROOT / "examples" / "cython_mc"))
    try:
        from build import build
    finally:
        sys.path.pop(0)
    return build(tmp_path_factory.mktemp("cython_mc"))


@pytest.fixture(scope="module")
def nets():
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((N_NETS, 4)), np.zeros((N_NETS, 4))
    x, t = np.ones((1, 1)), np.zeros((1, 1))
    networks = [pyvanish.Network([1, 1, 1, 1, 1], activation="sigmoid", output_activation="sigmoid",
                                 weights=[W[i, l].reshape(1, 1) for l in range(4)]) for i in range(N_NETS)]
    ens = pyvanish.Ensemble([1, 1, 1, 1, 1], N_NETS, activation="sigmoid", output_activation="sigmoid", seed=0)
    for l in range(4):
        ens.weights[l][:, 0, 0] = W[:, l]
        ens.biases[l][...] = 0.0
    return W, b, x, t, networks, ens


def cython_ratios(mc, W, b):
    out = np.empty(len(W))
    mc.weight_ratios(W, b, 1.0, 0.0, out, 1)
    return out


def python_loop_ratios(networks, x, t):
    return np.array([net.gradient_report(x, t).weight_ratio for net in networks])


def ensemble_ratios(ens, x, t):
    gw = ens.run(x, t).grad_W
    return gw[:, 0] / gw[:, -1]


def numpy_ratios(W, b, x, t):
    out = reference.ensemble_forward_backward([W[:, l].reshape(-1, 1, 1) for l in range(4)],
                                              [b[:, l].reshape(-1, 1) for l in range(4)], ["sigmoid"] * 4, x, t)
    gw = out["stats"]["grad_W"]
    return gw[:, 0] / gw[:, -1]


@pytest.mark.parametrize("impl", ["cython", "cpp", "cpp-ensemble", "numpy"])
def bench_tutorial_monte_carlo(benchmark, mc, nets, impl):
    W, b, x, t, networks, ens = nets
    benchmark.group = f"cython-mc-{N_NETS}-tutorial-networks"
    if impl == "cython":
        got = benchmark(cython_ratios, mc, W, b)
    elif impl == "cpp":
        got = benchmark(python_loop_ratios, networks, x, t)
    elif impl == "cpp-ensemble":
        got = benchmark(ensemble_ratios, ens, x, t)
    else:
        got = benchmark(numpy_ratios, W, b, x, t)
    want = python_loop_ratios(networks, x, t)
    if impl in ("cython", "cpp"):
        np.testing.assert_array_equal(got, want)  # the same kernels: bit for bit
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert 0.5 < np.mean(want < 1e-2) < 0.9  # most tutorial networks vanish


@pytest.mark.parametrize("impl", ["cython", "cpp"])
def bench_dense_forward_width1(benchmark, mc, impl):
    benchmark.group = "cython-dense-forward-width1"
    x, w, bias = np.full((1, 1), 0.5), np.full((1, 1), 2.0), np.full(1, 0.25)
    if impl == "cython":
        out = benchmark(mc.dense_forward_calls, N_CALLS)
        assert abs(out - 1.25) < 0.01  # the fixed point of out = 2 (1e-3 out + 0.5) + 0.25
    else:
        def python_calls():
            for _ in range(N_CALLS):
                y = pyvanish.kernels.dense_forward(x, w, bias)
            return y

        assert benchmark(python_calls)[0, 0] == 1.25
