"""Network-engine benchmarks (issue: networks). Forward + loss + backward +
every per-layer statistic: the engine (one C++ call) against the same network
run layer by layer with pyvanish.reference. Ratios = numpy time / cpp time."""
import numpy as np
import pytest

import pyvanish
from pyvanish import reference as ref

CASES = {
    # name: (widths, hidden activation, init, batch, dtype, batchnorm and residual)
    "W1-tutorial-1x1x1x1x1-sigmoid-B1": ([1, 1, 1, 1, 1], "sigmoid", "normal", 1, np.float64, False),
    "W2-deep-narrow-32x50x32-tanh-B64": ([32] + [32] * 50 + [32], "tanh", "xavier", 64, np.float64, False),
    "W3-wide-1024x8x1024-relu-B256-f32": ([1024] + [1024] * 8 + [1024], "relu", "he", 256, np.float32, False),
    "W3-wide-1024x8x1024-relu-B256-f64": ([1024] + [1024] * 8 + [1024], "relu", "he", 256, np.float64, False),
    "W7-32x50x32-bn+res-tanh-B64": ([32] + [32] * 50 + [32], "tanh", "xavier", 64, np.float64, True),
}


def reference_args(net, x, t):
    """The arguments of reference.network_forward_backward for `net`."""
    return (([w.copy() for w in net.weights], [b.copy() for b in net.biases], list(net.activations), x, t),
            dict(batchnorm=[(g.copy(), b.copy()) if g is not None else None for g, b in zip(net.gammas, net.betas)],
                 skips=list(net.skips)))


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    widths, act, init, B, dtype, fixes = CASES[request.param]
    out_act = "sigmoid" if request.param.startswith("W1") else "identity"
    net = pyvanish.Network(widths, activation=act, output_activation=out_act, init=init, seed=0, dtype=dtype,
                           batchnorm=fixes, residual=fixes)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, widths[0])).astype(dtype)
    t = rng.standard_normal((B, widths[-1])).astype(dtype)
    return request.param, net, x, t, reference_args(net, x, t)


def _check(grad_W, want, dtype):
    rtol = 2e-3 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(grad_W, want["stats"]["grad_W"], rtol=rtol)


@pytest.mark.parametrize("impl", ["cpp", "numpy"])
def bench_network(benchmark, case, impl):
    name, net, x, t, args = case
    benchmark.group = f"network-{name}"
    pos, kw = args
    want = ref.network_forward_backward(*pos, **kw)
    if impl == "cpp":
        rep = benchmark(net.gradient_report, x, t)
        _check(rep.grad_W, want, net.dtype)
    else:
        got = benchmark(ref.network_forward_backward, *pos, **kw)
        _check(net.gradient_report(x, t).grad_W, got, net.dtype)
