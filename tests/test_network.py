"""The network engine against pyvanish.reference and finite differences."""
import json
import threading

import numpy as np
import pytest
from conftest import eps, rel_close
from hypothesis import given
from hypothesis import strategies as st

import pyvanish
from pyvanish import reference as ref

ACTS = list(pyvanish.ACTIVATIONS)
STATS = ("grad_z", "grad_W", "grad_b", "mean_dphi", "saturated", "dead",
         "nonfinite_act", "nonfinite_grad", "tiny_grad_W")


def run_reference(net, x, t):
    return ref.network_forward_backward([w.copy() for w in net.weights], [b.copy() for b in net.biases],
                                        list(net.activations), x, t, list(net.architecture.alphas))


# non-default alphas beside the defaults (leaky_relu 0.01, elu 1.0)
ALPHAS = {"leaky_relu": [0.01, 0.2], "elu": [1.0, 0.5]}


@st.composite
def architectures(draw):
    depth = draw(st.integers(1, 5))
    # widths and batches across the GEMM's and the micro-kernels' tiles
    widths = draw(st.lists(st.integers(1, 40), min_size=depth + 1, max_size=depth + 1))
    acts = draw(st.lists(st.sampled_from(ACTS), min_size=depth, max_size=depth))
    alphas = [draw(st.sampled_from(ALPHAS.get(a, [0.0]))) for a in acts]
    init = draw(st.sampled_from(["normal", "xavier", "he", "orthogonal", "lecun_uniform"]))
    batch = draw(st.integers(1, 16))
    seed = draw(st.integers(0, 2**31))
    return widths, acts, alphas, init, batch, seed


@given(arch=architectures())
def test_engine_matches_reference(arch, dtype, simd_path):
    widths, acts, alphas, init, B, seed = arch
    net = pyvanish.Network(widths, activations=acts, alpha=alphas, init=init, sb=0.3, seed=seed, dtype=dtype)
    assert net.architecture.alphas == tuple(alphas)
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((B, widths[0])).astype(dtype)
    t = rng.standard_normal((B, widths[-1])).astype(dtype)
    rep = net.gradient_report(x, t, return_grads=True)
    want = run_reference(net, x, t)
    # Errors grow with depth and width; scale each array by its own magnitude.
    tol = 200 * (len(widths) + max(widths)) * eps(dtype)
    assert abs(rep.loss - want["loss"]) <= tol * (abs(want["loss"]) + 1e-30)
    for l in range(len(widths)):
        g, w = rep.grads["h"][l], want["dh"][l]
        rel_close(g, w, np.abs(w).max() + 1e-300, tol)
    for name, key in (("W", "dW"), ("b", "db"), ("z", "dz")):
        for g, w in zip(rep.grads[name], want[key]):
            assert g.dtype == dtype
            rel_close(g, w, np.abs(w).max() + 1e-300, tol)
    rel_close(rep.grad_h[1:], want["stats"]["grad_h"], want["stats"]["grad_h"] + 1e-300, tol)
    assert abs(rep.grad_h[0] - want["grad_x"]) <= tol * want["grad_x"] + 1e-300
    for name in ("grad_z", "grad_W", "grad_b", "mean_dphi"):
        w = want["stats"][name]
        rel_close(getattr(rep, name), w, np.abs(w) + 1e-300, tol)
    # counts: exact unless a value sits on the 1% threshold to within rounding
    for name in ("nonfinite_act", "nonfinite_grad"):
        np.testing.assert_array_equal(getattr(rep, name), want["stats"][name])
    for name in ("saturated", "dead"):
        np.testing.assert_allclose(getattr(rep, name), want["stats"][name], atol=1.0 / (B * max(widths)) + 1e-12)


@pytest.mark.parametrize("batch", [1, 16])
def test_non_default_alphas_match_reference(dtype, simd_path, batch):
    """leaky_relu with slope 0.2 and elu with scale 0.5, engine against reference,
    on widths that cross the GEMM's tiles (the alphas must reach the kernels)."""
    acts, alphas = ["leaky_relu", "elu", "leaky_relu", "elu"], [0.2, 0.5, 0.2, 0.5]
    net = pyvanish.Network([7, 33, 40, 17, 3], activations=acts, alpha=alphas, init="he", sb=0.3, seed=11,
                           dtype=dtype)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((batch, 7)).astype(dtype)
    t = rng.standard_normal((batch, 3)).astype(dtype)
    rep = net.gradient_report(x, t, return_grads=True)
    want = run_reference(net, x, t)
    default = ref.network_forward_backward([w.copy() for w in net.weights], [b.copy() for b in net.biases],
                                           acts, x, t)
    tol = 400 * 40 * eps(dtype)
    assert abs(default["loss"] - want["loss"]) > 100 * tol * abs(want["loss"])  # the alphas matter
    assert abs(rep.loss - want["loss"]) <= tol * abs(want["loss"])
    for name, key in (("W", "dW"), ("b", "db"), ("z", "dz"), ("h", "dh")):
        for g, w in zip(rep.grads[name], want[key]):
            rel_close(g, w, np.abs(w).max(), tol)
    for name in ("grad_W", "mean_dphi", "saturated"):
        w = want["stats"][name]
        rel_close(getattr(rep, name), w, np.abs(w) + 1e-300, tol)


def test_every_parameter_gradient_vs_finite_differences():
    rng = np.random.default_rng(3)
    for acts in (["tanh", "sigmoid", "identity"], ["elu", "gelu", "softplus"], ["silu", "leaky_relu", "tanh"]):
        net = pyvanish.Network([3, 4, 5, 2], activations=acts, init="xavier_normal", sb=0.5, seed=7)
        x = rng.standard_normal((4, 3))
        t = rng.standard_normal((4, 2))
        rep = net.gradient_report(x, t, return_grads=True)
        for params, grads in ((net.weights, rep.grads["W"]), (net.biases, rep.grads["b"])):
            for P, G in zip(params, grads):
                fd = np.zeros_like(P)
                for idx in np.ndindex(P.shape):
                    old = P[idx]
                    h = 1e-6 * max(1.0, abs(old))
                    P[idx] = old + h
                    up = net.gradient_report(x, t).loss
                    P[idx] = old - h
                    down = net.gradient_report(x, t).loss
                    P[idx] = old
                    fd[idx] = (up - down) / (2 * h)
                np.testing.assert_allclose(G, fd, rtol=1e-6, atol=1e-9)
        # the input gradient too
        xfd = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[idx] += 1e-6
            xm[idx] -= 1e-6
            xfd[idx] = (net.gradient_report(xp, t).loss - net.gradient_report(xm, t).loss) / 2e-6
        np.testing.assert_allclose(rep.grads["h"][0], xfd, rtol=1e-6, atol=1e-9)


def sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def test_tutorial_network_by_hand_sigmoid():
    w = [0.5, -1.5, 2.0, 0.8]
    b = [0.1, 0.0, -0.3, 0.2]
    net = pyvanish.seed_network(weights=w, biases=b)
    x, t = 0.7, 0.25
    # forward by hand
    z1 = w[0] * x + b[0]; h1 = sig(z1)
    z2 = w[1] * h1 + b[1]; h2 = sig(z2)
    z3 = w[2] * h2 + b[2]; h3 = sig(z3)
    z4 = w[3] * h3 + b[3]; y = sig(z4)
    d = lambda h: h * (1 - h)  # noqa: E731  sigma' from the output
    dy = y - t
    dh3 = dy * d(y) * w[3]
    dh2 = dh3 * d(h3) * w[2]
    dh1 = dh2 * d(h2) * w[1]          # = dh3 * s'(z3) w3 * s'(z2) w2: no s'(z1) w1
    dx = dh1 * d(h1) * w[0]           # s'(z1) w1 belongs here
    dw = [dh1 * d(h1) * x, dh2 * d(h2) * h1, dh3 * d(h3) * h2, dy * d(y) * h3]
    ex = net.explain(x=x, t=t)
    np.testing.assert_allclose(ex.grad_h, [dx, dh1, dh2, dh3, dy], rtol=1e-14)
    np.testing.assert_allclose(ex.grad_w, dw, rtol=1e-14)
    np.testing.assert_allclose(ex.factors, [d(h1) * w[0], d(h2) * w[1], d(h3) * w[2], d(y) * w[3]], rtol=1e-14)
    np.testing.assert_allclose(ex.chain_grad_h, ex.grad_h, rtol=1e-14)
    assert ex.loss == pytest.approx(0.5 * (y - t) ** 2, rel=1e-15)
    text = str(ex)
    assert "dL/dh1 = dL/dh3 · σ'(z3)w3 · σ'(z2)w2" in text
    assert "last factor of dL/dx" in text
    rep = net.gradient_report([[x]], [[t]])
    np.testing.assert_allclose(rep.gain, [abs(dx / dh1), abs(dh1 / dh2), abs(dh2 / dh3), abs(dh3 / dy)], rtol=1e-14)


def test_tutorial_network_by_hand_relu():
    w = [1.3, 0.7, -0.4, 0.9]
    net = pyvanish.seed_network(weights=w, activation="relu", output_activation="identity")
    x, t = 2.0, 0.0
    z1 = w[0] * x; z2 = w[1] * z1; z3 = w[2] * z2      # z3 < 0: relu'(z3) = 0
    y = w[3] * max(z3, 0.0)
    ex = net.explain(x=x, t=t)
    assert ex.factors == pytest.approx((w[0], w[1], 0.0, w[3]))   # w_i or 0
    assert ex.grad_h == pytest.approx((0.0, 0.0, 0.0, (y - t) * w[3], y - t))
    w2 = [1.3, 0.7, 0.4, 0.9]
    ex2 = pyvanish.seed_network(weights=w2, activation="relu", output_activation="identity").explain(x, t)
    y2 = w2[3] * w2[2] * w2[1] * w2[0] * x
    assert ex2.factors == pytest.approx(tuple(w2))
    assert ex2.grad_h[1] == pytest.approx((y2 - t) * w2[3] * w2[2] * w2[1])  # dL/dh1 = dL/dy w4 w3 w2
    assert ex2.grad_h[0] == pytest.approx((y2 - t) * w2[3] * w2[2] * w2[1] * w2[0])


def test_1000_layer_sigmoid_vanishes_without_nan():
    net = pyvanish.Network([4] + [4] * 999 + [1], activation="sigmoid", init="normal", seed=0)
    rep = net.gradient_report(np.ones((2, 4)), np.zeros((2, 1)))
    assert rep.nonfinite.sum() == 0
    assert np.isfinite(rep.grad_h).all() and np.isfinite(rep.grad_W).all()
    assert rep.grad_W[0] < 1e-250          # underflowed to tiny numbers or to 0
    assert rep.grad_W[-1] > 1e-3
    assert rep.verdict == "vanishing"
    assert rep.tiny_grad_W[0] > 0          # and the report says how many underflowed


def test_huge_weights_explode_and_are_counted():
    net = pyvanish.Network([8] + [8] * 30 + [8], activation="relu", init="normal", sw=1e11, seed=1)
    rep = net.gradient_report(np.ones((3, 8)), np.zeros((3, 8)))
    assert rep.nonfinite.sum() > 0
    assert rep.verdict == "exploding"
    assert "non-finite values" in str(rep)
    json.dumps(rep.to_dict())           # JSON-safe even with inf/nan


def test_relu_net_exploding_backward_signal_is_caught():
    # the weight ratio stays O(1) while |dL/dh| explodes: the verdict needs both ratios
    net = pyvanish.Network([16] + [16] * 59 + [16], activation="relu", init="normal", sw=8.0, seed=0)
    rng = np.random.default_rng(0)
    rep = net.gradient_report(rng.standard_normal((8, 16)), rng.standard_normal((8, 16)))
    assert abs(rep.log10_weight_ratio) < 2
    assert rep.log10_signal_ratio > 20
    assert rep.verdict == "exploding"


def test_relu_he_is_healthy_and_sigmoid_vanishes():
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((64, 32)), rng.standard_normal((64, 1))
    relu = pyvanish.Network([32] + [32] * 20 + [1], activation="relu", init="he", seed=0)
    sigm = pyvanish.Network([32] + [32] * 20 + [1], activation="sigmoid", init="xavier", seed=0)
    assert relu.gradient_report(x, t).verdict == "healthy"
    assert sigm.gradient_report(x, t).verdict == "vanishing"


def test_dead_and_saturated_counts():
    net = pyvanish.Network([2, 3, 1], activations=["relu", "identity"], init="constant", value=0.0)
    net.weights[0][...] = [[1.0, 0.0], [-1.0, 0.0], [1.0, 1.0]]
    net.biases[0][...] = [0.0, 0.0, -10.0]
    rep = net.gradient_report([[1.0, 0.0], [2.0, 1.0]], [[0.0], [0.0]])
    # unit 1 active on both samples, unit 2 never (z <= 0), unit 3 never (z = -9, -7)
    assert rep.dead[0] == pytest.approx(2 / 3)
    assert rep.saturated[0] == pytest.approx(4 / 6)
    assert rep.mean_dphi[0] == pytest.approx(2 / 6)
    assert rep.dead[1] == 0 and rep.saturated[1] == 0 and rep.mean_dphi[1] == 1


def test_report_outputs():
    net = pyvanish.Network([3, 5, 2], activation="tanh", seed=0)
    rep = net.gradient_report(np.ones((4, 3)), np.zeros((4, 2)))
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["verdict"] == rep.verdict and len(d["grad_h"]) == 3 and len(d["grad_W"]) == 2
    assert d["grad_W"][0] == pytest.approx(rep.grad_W[0])
    text = str(rep)
    for word in ("layer", "|dL/dh|", "|dL/dW|", "gain", "verdict", "tanh", "identity"):
        assert word in text
    pd = pytest.importorskip("pandas")
    frame = rep.to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame.index) == [1, 2]
    assert frame.loc[2, "grad_W"] == rep.grad_W[1]


def test_weights_are_live_views_and_setters_validate():
    net = pyvanish.Network([2, 3, 1], seed=0)
    assert net.weights[0].shape == (3, 2) and net.biases[1].shape == (1,)
    net.set_weights([np.zeros((3, 2)), np.ones((1, 3))])
    rep = net.gradient_report([[1.0, 1.0]], [[1.0]], return_grads=True)
    assert rep.loss == pytest.approx(0.5 * (np.tanh(0.0) * 3 - 1.0) ** 2)
    net.biases[0][...] = 1.0   # writing a view changes the engine
    assert net.forward([[0.0, 0.0]])[0, 0] == pytest.approx(3 * np.tanh(1.0))
    with pytest.raises(ValueError, match=r"weights\[1\] \(layer 2\) has shape \(1, 4\), expected \(1, 3\)"):
        net.set_weights([np.zeros((3, 2)), np.zeros((1, 4))])
    with pytest.raises(ValueError, match="sequence of 2 arrays"):
        net.set_biases([np.zeros(3)])


def test_seeds_reproduce_and_differ():
    a = pyvanish.Network([4, 6, 2], init="he", seed=5)
    b = pyvanish.Network([4, 6, 2], init="he", seed=5)
    c = pyvanish.Network([4, 6, 2], init="he", seed=6)
    assert all((u == v).all() for u, v in zip(a.weights, b.weights))
    assert not (a.weights[0] == c.weights[0]).all()
    assert (a.copy().weights[1] == a.weights[1]).all()


@pytest.mark.parametrize("init,std", [("normal", lambda fi, fo: 1 / np.sqrt(fi)),
                                      ("xavier_normal", lambda fi, fo: np.sqrt(2 / (fi + fo))),
                                      ("xavier_uniform", lambda fi, fo: np.sqrt(2 / (fi + fo))),
                                      ("he_normal", lambda fi, fo: np.sqrt(2 / fi)),
                                      ("he_uniform", lambda fi, fo: np.sqrt(2 / fi)),
                                      ("lecun_normal", lambda fi, fo: 1 / np.sqrt(fi)),
                                      ("lecun_uniform", lambda fi, fo: 1 / np.sqrt(fi))])
def test_init_variances(init, std):
    net = pyvanish.Network([300, 200, 100], init=init, seed=0)
    for W in net.weights:
        fo, fi = W.shape
        assert W.std() == pytest.approx(std(fi, fo), rel=0.03)
        assert abs(W.mean()) < 0.05 * std(fi, fo) * 3


def test_orthogonal_and_constant_init():
    net = pyvanish.Network([6, 10, 4], init="orthogonal", gain=2.0, seed=1)
    W1, W2 = net.weights
    np.testing.assert_allclose(W1.T @ W1, 4 * np.eye(6), atol=1e-12)   # tall: orthonormal columns
    np.testing.assert_allclose(W2 @ W2.T, 4 * np.eye(4), atol=1e-12)   # wide: orthonormal rows
    c = pyvanish.Network([2, 2], init="constant", value=0.25, sb=0.0)
    assert (c.weights[0] == 0.25).all() and (c.biases[0] == 0).all()


def test_float32_network_keeps_dtype():
    net = pyvanish.Network([3, 4, 1], seed=0, dtype=np.float32)
    rep = net.gradient_report(np.ones((2, 3)), np.zeros((2, 1)), return_grads=True)
    assert net.weights[0].dtype == np.float32 and rep.grads["W"][0].dtype == np.float32
    assert rep.dtype == "float32"


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(widths=[3]), ValueError, "at least 2 entries"),
    (dict(widths=[3, 0, 1]), ValueError, r"widths\[1\] is 0"),
    (dict(widths=[3, 2.5, 1]), ValueError, r"widths\[1\]"),
    (dict(widths="abc"), TypeError, "widths must be"),
    (dict(widths=[3, 1], activation="sigmoidd", output_activation="sigmoidd"), ValueError, "unknown activation 'sigmoidd'"),
    (dict(widths=[3, 1], init="glorious"), ValueError, "unknown init 'glorious'"),
    (dict(widths=[3, 1], dtype=np.int32), TypeError, "dtype must be float32 or float64"),
    (dict(widths=[3, 2, 1], activations=["tanh"]), ValueError, "one name per layer"),
    (dict(widths=[3, 1], sw=-1.0), ValueError, "expected >= 0"),
    (dict(widths=[3, 1], sw=float("nan")), ValueError, "sw must be a finite number"),
])
def test_bad_network_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        pyvanish.Network(**kwargs)


def test_bad_run_inputs():
    net = pyvanish.Network([3, 2, 1], seed=0)
    with pytest.raises(ValueError, match=r"x has shape \(2, 4\), expected \(B, 3\)"):
        net.gradient_report(np.ones((2, 4)), np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"x has 2 samples .* but t has 3"):
        net.gradient_report(np.ones((2, 3)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="x contains NaN or Inf"):
        net.gradient_report([[1.0, np.nan, 0.0]], [[0.0]])
    with pytest.raises(TypeError, match="t has dtype complex128"):
        net.gradient_report(np.ones((1, 3)), np.ones((1, 1), complex))
    with pytest.raises(ValueError, match="empty batch"):
        net.gradient_report(np.ones((0, 3)), np.ones((0, 1)))
    # NaN in x is allowed on request, and is then counted, not raised
    rep = net.gradient_report([[1.0, np.nan, 0.0]], [[0.0]], check_finite=False)
    assert rep.nonfinite.sum() > 0 and rep.verdict == "exploding"


def test_one_network_many_threads_is_safe_or_refused():
    net = pyvanish.Network([256] + [256] * 6 + [1], activation="tanh", seed=0)
    x = np.random.default_rng(0).standard_normal((512, 256)); t = np.zeros((512, 1))
    expected = net.gradient_report(x, t).grad_W
    results, errors = [], []

    def work():
        try:
            results.append(net.gradient_report(x, t).grad_W)
        except RuntimeError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) + len(errors) == 4
    for r in results:
        np.testing.assert_array_equal(r, expected)
    for e in errors:
        assert "running in another thread" in e


def test_different_networks_in_threads_equal_serial():
    nets = [pyvanish.Network([64, 64, 64, 1], activation="tanh", seed=s) for s in range(4)]
    x = np.random.default_rng(1).standard_normal((128, 64)); t = np.zeros((128, 1))
    serial = [n.gradient_report(x, t).grad_W for n in nets]
    out = [None] * 4
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, nets[i].gradient_report(x, t).grad_W))
               for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for a, b in zip(out, serial):
        np.testing.assert_array_equal(a, b)


def test_repr_is_readable():
    r = repr(pyvanish.Network([784, 256, 10], activation="relu", init="he", seed=0))
    assert r == "Network(widths=[784, 256, 10], hidden=relu, output=identity, init=he_normal, dtype=float64, params=203530)"


@pytest.mark.parametrize("scale", [1e-300, 1e-160, 1.0, 1e150, 1e300])
def test_norms_neither_underflow_nor_overflow(scale, dtype):
    if dtype == np.float32:
        scale = {1e-300: 1e-40, 1e-160: 1e-20, 1.0: 1.0, 1e150: 1e18, 1e300: 1e36}[scale]
    # one identity layer with W = 0: y = b, dL/dW = (y - t)^T x / B scales with x
    net = pyvanish.Network([3, 2], activations=["identity"], init="constant", value=0.0, dtype=dtype)
    net.biases[0][...] = [1.0, -1.0]
    x = (np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 12.0]]) * scale).astype(dtype)
    rep = net.gradient_report(x, np.zeros((2, 2), dtype), return_grads=True)
    dW = rep.grads["W"][0].astype(np.float64)
    assert np.isfinite(rep.grad_W).all() and rep.grad_W[0] > 0
    assert rep.grad_W[0] == pytest.approx(ref.norm(dW), rel=1e-6 if dtype == np.float32 else 1e-14)
    # |dW|_F = |y - t| |x| / B entrywise: sqrt(2) * 13 / 2 * scale (up to dW's own rounding)
    assert rep.grad_W[0] == pytest.approx(np.sqrt(2) * 13 / 2 * float(np.asarray(scale, dtype)),
                                          rel=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("scale", [1e-300, 1e-160, 1e-150, 1.0, 1e150, 1e160, 1e300])
def test_norms_of_long_buffers_neither_underflow_nor_overflow(scale):
    # dW (4, 19): rows of eight values in the vectorised scan plus a tail; entries
    # spread over 16 decades around `scale`, so that some squares leave the range
    net = pyvanish.Network([19, 4], activations=["identity"], init="constant", value=0.0)
    net.biases[0][...] = [1.0, -1.0, 0.5, 0.25]
    x = np.logspace(-8, 8, 19)[None, :] * scale
    rep = net.gradient_report(x, np.zeros((1, 4)), return_grads=True)
    dW = rep.grads["W"][0]
    want = ref.norm(dW)
    assert np.isfinite(want) and want > 0
    assert rep.grad_W[0] == pytest.approx(want, rel=1e-14)
    assert rep.grad_h[0] == pytest.approx(ref.norm(rep.grads["h"][0]), rel=1e-14)
