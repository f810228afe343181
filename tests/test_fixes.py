"""Batch normalisation, residual connections and the side-by-side comparison."""
import io
import json

import numpy as np
import pytest
from conftest import eps, rel_close
from hypothesis import given
from hypothesis import strategies as st

import pyvanish
from pyvanish import kernels
from pyvanish import reference as ref
from pyvanish.cli import main

ACTS = list(pyvanish.ACTIVATIONS)


# ------------------------------------------------------------------ kernels

@given(B=st.integers(2, 40), C=st.integers(1, 30), seed=st.integers(0, 2**31))
def test_batchnorm_kernels_vs_reference(dtype, B, C, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((B, C)) * 3 + 1).astype(dtype)
    g = rng.standard_normal(C).astype(dtype)
    b = rng.standard_normal(C).astype(dtype)
    dout = rng.standard_normal((B, C)).astype(dtype)
    got = kernels.batchnorm_forward(x, g, b, 1e-5)
    want = ref.batchnorm_forward(x, g, b, 1e-5)
    tol = 64 * B * eps(dtype)
    for u, v in zip(got, want):
        assert u.dtype == dtype
        rel_close(u, v, np.abs(v).max() + 1.0, tol)
    out, xhat, mean, rstd = want
    for u, v in zip(kernels.batchnorm_backward(dout, xhat, g, rstd), ref.batchnorm_backward(dout, xhat, g, rstd)):
        rel_close(u, v, np.abs(v).max() + np.abs(dout).max() * np.abs(g).max() * rstd.max(), tol)


def bn_loss(x, g, b, dout):
    return float(np.sum(dout * ref.batchnorm_forward(x, g, b, 1e-5)[0]))


def test_batchnorm_backward_vs_finite_differences():
    rng = np.random.default_rng(0)
    x, g, b = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal(3)
    dout = rng.standard_normal((5, 3))
    _, xhat, _, rstd = kernels.batchnorm_forward(x, g, b)
    dx, dg, db = kernels.batchnorm_backward(dout, xhat, g, rstd)
    for arr, grad in ((x, dx), (g, dg), (b, db)):
        fd = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + 1e-6; up = bn_loss(x, g, b, dout)
            arr[idx] = old - 1e-6; down = bn_loss(x, g, b, dout)
            arr[idx] = old
            fd[idx] = (up - down) / 2e-6
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)
    # the reference too
    for u, v in zip((dx, dg, db), ref.batchnorm_backward(dout, xhat, g, rstd)):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)


def test_batchnorm_edge_cases():
    # batch of one: undefined batch statistics, a clear error (as in PyTorch)
    with pytest.raises(ValueError, match="batchnorm_forward: inp needs at least 2 rows"):
        kernels.batchnorm_forward([[1.0, 2.0]], [1.0, 1.0], [0.0, 0.0])
    # a constant feature: var = 0, the result is eps-dominated: xhat = 0, out = beta, finite gradients
    x = np.array([[2.0, 1.0], [2.0, 3.0], [2.0, 5.0]])
    out, xhat, mean, rstd = kernels.batchnorm_forward(x, [3.0, 1.0], [0.5, 0.0], eps=1e-5)
    assert (xhat[:, 0] == 0).all() and (out[:, 0] == 0.5).all()
    assert rstd[0] == pytest.approx(1 / np.sqrt(1e-5))
    dx, dg, db = kernels.batchnorm_backward(np.ones((3, 2)), xhat, [3.0, 1.0], rstd)
    assert np.isfinite(dx).all()
    np.testing.assert_allclose(dx[:, 0], 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="eps must be positive"):
        kernels.batchnorm_forward(x, [1.0, 1.0], [0.0, 0.0], eps=0.0)
    with pytest.raises(ValueError, match=r"batchnorm_forward: gamma has shape \(3,\), expected \(2,\)"):
        kernels.batchnorm_forward(x, [1.0, 1.0, 1.0], [0.0, 0.0])


def test_residual_kernels():
    s, x = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    np.testing.assert_array_equal(kernels.residual_forward(s, x, 0.25), ref.residual_forward(s, x, 0.25))
    di, ds = kernels.residual_backward(np.array([2.0, 3.0]), 0.25)
    np.testing.assert_array_equal(di, [0.5, 0.75])
    np.testing.assert_array_equal(ds, [2.0, 3.0])
    assert kernels.residual_forward(np.float32([1]), np.float32([1]), 2).dtype == np.float32
    with pytest.raises(ValueError, match="residual_forward: inp has shape"):
        kernels.residual_forward([1.0, 2.0], [1.0], 1.0)


# ------------------------------------------------------------------ the engine

def reference_of(net, x, t):
    bn = [(g.copy(), b.copy()) if g is not None else None for g, b in zip(net.gammas, net.betas)]
    running = [(m.copy(), v.copy()) if r is not None else None
               for r in net.running_stats for m, v in [r if r is not None else (None, None)]]
    return ref.network_forward_backward(
        [w.copy() for w in net.weights], [b.copy() for b in net.biases], list(net.activations), x, t,
        list(net.architecture.alphas), batchnorm=bn, eps=net.architecture.bn_eps, skips=list(net.skips),
        scales=[net.architecture.residual_scale] * net.depth, training=net.training, running=running)


@st.composite
def fix_architectures(draw):
    depth = draw(st.integers(1, 6))
    width = draw(st.integers(1, 6))
    widths = [draw(st.integers(1, 6))] + [width] * (depth - 1) + [draw(st.integers(1, 6))] \
        if depth > 1 else [draw(st.integers(1, 6)), draw(st.integers(1, 6))]
    acts = draw(st.lists(st.sampled_from(ACTS), min_size=depth, max_size=depth))
    bn = draw(st.lists(st.booleans(), min_size=depth, max_size=depth))
    block = draw(st.integers(1, 2))
    residual = draw(st.booleans())
    scale = draw(st.sampled_from([1.0, 0.5]))
    return widths, acts, bn, residual, block, scale, draw(st.integers(2, 6)), draw(st.integers(0, 2**31))


def magnitudes(net, want, eps_bn):
    """Error scales of every backward quantity: the backward pass run on
    absolute values (|a| |b| for products, each term of BN's backward
    separately), so sums that cancel (BN removes the batch mean of its
    gradient; with B = 2 it passes exactly zero) are bounded by what was
    summed, not by the tiny result."""
    L = net.depth
    W = [np.abs(w.astype(float)) for w in net.weights]
    h = [np.abs(v.astype(float)) for v in want["h"]]
    mh = [None] * (L + 1)
    # y - t can cancel: bound it by what was subtracted (forward rounding moves y)
    y, B = want["h"][L].astype(float), want["h"][L].shape[0]
    mh[L] = np.abs(want["dh"][L].astype(float)) + (np.abs(y) + np.abs(y - B * want["dh"][L])) / B + 1e-30
    pending = [0.0] * (L + 1)
    mdz = [None] * L
    for l in range(L, 0, -1):
        i = l - 1
        if l < L:
            mh[l] = mh[l] + pending[l]
        s = net.skips[i]
        da = mh[l] * (abs(net.architecture.residual_scale) if s is not None else 1.0)
        if s is not None:
            pending[s] = pending[s] + mh[l]
        z = want["z"][i].astype(float)
        dphi = np.abs(pyvanish.reference.activation_derivative(
            net.activations[i], want["u"][i].astype(float), pyvanish.reference.activation_forward(
                net.activations[i], want["u"][i].astype(float), net.architecture.alphas[i]), net.architecture.alphas[i]))
        du = da * (dphi + 1.0)   # + 1: the derivative's own rounding
        if net.batchnorm[i]:
            rstd = 1.0 / np.sqrt(z.var(axis=0) + eps_bn)
            xh = np.abs((z - z.mean(axis=0)) * rstd)
            g = np.abs(net.gammas[i].astype(float))
            du = g * rstd * (du + du.mean(axis=0) + xh * (du * xh).mean(axis=0))
        mdz[i] = du
        mh[l - 1] = du @ W[i]
    mh[0] = mh[0] + pending[0]
    mW = [mdz[i].T @ h[i] for i in range(L)]
    mb = [mdz[i].sum(axis=0) for i in range(L)]
    return mh, mW, mb


@given(arch=fix_architectures())
def test_engine_with_batchnorm_and_residual_matches_reference(arch, dtype, simd_path):
    widths, acts, bn, residual, block, scale, B, seed = arch
    if dtype == np.float32 and any(bn):
        # Batch norm over 2-3 samples of a saturated unit is ill-conditioned in
        # float32 (rstd amplifies forward rounding without bound); float64 runs
        # every case, float32 batch-norm cases use batches of 4 or more.
        B += 2
    net = pyvanish.Network(widths, activations=acts, batchnorm=bn, residual=residual, residual_block=block,
                           residual_scale=scale, init="xavier_normal", sb=0.2, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed)
    for g in net.gammas:
        if g is not None:
            g[...] = rng.uniform(0.5, 1.5, g.shape)
    x = rng.standard_normal((B, widths[0])).astype(dtype)
    t = rng.standard_normal((B, widths[-1])).astype(dtype)
    want = reference_of(net, x, t)
    rep = net.gradient_report(x, t, return_grads=True)
    # forward rounding differences also propagate (BN amplifies them by rstd): float32 gets more room
    tol = (1024 if dtype == np.float32 else 64) * (len(widths) + max(widths) + B) * eps(dtype)
    assert rep.loss == pytest.approx(want["loss"], rel=tol, abs=1e-30)
    mh, mW, mb = magnitudes(net, want, net.architecture.bn_eps)
    for l in range(len(widths)):
        rel_close(rep.grads["h"][l], want["dh"][l], mh[l], tol)
    for i in range(len(widths) - 1):
        rel_close(rep.grads["W"][i], want["dW"][i], mW[i], tol)
        rel_close(rep.grads["b"][i], want["db"][i], mb[i], tol)
    for name, key in (("gamma", "dgamma"), ("beta", "dbeta")):
        for i, (g, w) in enumerate(zip(rep.grads[name], want[key])):
            if w is None:
                assert g is None
                continue
            rel_close(g, w, mb[i] * np.sqrt(B) * (np.abs(net.gammas[i]) + 1) / np.abs(net.gammas[i]), tol)
    for name, key in (("grad_gamma", "gamma"), ("grad_beta", "beta")):   # norms of the arrays just checked
        got = [np.nan if g is None else ref.norm(g) for g in rep.grads[key]]
        np.testing.assert_allclose(getattr(rep, name), got, rtol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(rep.grad_W, [ref.norm(g) for g in rep.grads["W"]],
                               rtol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_array_equal(rep.nonfinite_act, want["stats"]["nonfinite_act"])


def test_batchnorm_residual_network_vs_finite_differences():
    net = pyvanish.Network([3, 4, 4, 4, 2], activation="tanh", batchnorm=True, residual=True,
                           residual_scale=0.7, init="xavier_normal", sb=0.3, seed=2)
    rng = np.random.default_rng(5)
    for g, b in zip(net.gammas, net.betas):
        if g is not None:
            g[...] = rng.uniform(0.5, 1.5, g.shape); b[...] = rng.standard_normal(b.shape)
    x, t = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    momentum = net.bn_momentum
    net.bn_momentum = 0.0                 # keep the running stats fixed while probing
    rep = net.gradient_report(x, t, return_grads=True)
    groups = [(net.weights, rep.grads["W"]), (net.biases, rep.grads["b"]),
              ([g for g in net.gammas if g is not None], [g for g in rep.grads["gamma"] if g is not None]),
              ([b for b in net.betas if b is not None], [b for b in rep.grads["beta"] if b is not None])]
    for params, grads in groups:
        for P, G in zip(params, grads):
            fd = np.zeros_like(P)
            for idx in np.ndindex(P.shape):
                old = P[idx]
                P[idx] = old + 1e-6; up = net.gradient_report(x, t).loss
                P[idx] = old - 1e-6; down = net.gradient_report(x, t).loss
                P[idx] = old
                fd[idx] = (up - down) / 2e-6
            np.testing.assert_allclose(G, fd, rtol=1e-5, atol=1e-8)
    net.bn_momentum = momentum


def test_residual_layer_jacobian_is_identity_plus_dF():
    # h_1 = x + a * tanh(W x + b): J = I + a * diag(tanh'(z)) W
    net = pyvanish.Network([3, 3], activations=["tanh"], residual=[True], residual_scale=0.6,
                           init="normal", sb=0.5, seed=1)
    x = np.array([[0.3, -0.7, 1.1]])
    y = net.forward(x)
    J = np.zeros((3, 3))
    for i in range(3):   # L = 1/2 |y - t|^2 with t = y - e_i: dL/dx = row i of J
        e = np.zeros((1, 3)); e[0, i] = 1.0
        J[i] = net.gradient_report(x, y - e, return_grads=True).grads["h"][0][0]
    W, b = net.weights[0], net.biases[0]
    z = x[0] @ W.T + b
    np.testing.assert_allclose(J, np.eye(3) + 0.6 * np.diag(1 - np.tanh(z) ** 2) @ W, rtol=1e-12, atol=1e-14)


def test_residual_width_mismatch_names_layer_and_widths():
    with pytest.raises(ValueError, match=r"layer 2 is residual \(h_2 = h_1 \+ F\(h_1\)\) but its widths differ: "
                                         r"h_1 has width 4, h_2 has width 5"):
        pyvanish.Network([3, 4, 5, 1], residual=[False, True, False])
    with pytest.raises(ValueError, match="layer 1 cannot be residual with residual_block=2"):
        pyvanish.Network([3, 3, 3], residual=[True, False], residual_block=2)
    with pytest.raises(ValueError, match="residual needs one flag per layer"):
        pyvanish.Network([3, 3, 3], residual=[True])
    # residual=True skips layers whose widths cannot match: only hidden blocks
    net = pyvanish.Network([3, 8, 8, 8, 8, 1], residual=True, residual_block=2)
    assert net.skips == (None, None, 1, None, None)


def test_batchnorm_batch_of_one_is_refused_in_training_mode():
    net = pyvanish.Network([3, 4, 1], batchnorm=True, seed=0)
    with pytest.raises(ValueError, match="batch normalisation needs more than one sample"):
        net.gradient_report(np.ones((1, 3)), np.zeros((1, 1)))
    net.training = False               # evaluation mode uses the running statistics
    assert np.isfinite(net.gradient_report(np.ones((1, 3)), np.zeros((1, 1))).loss)


def test_running_statistics_and_evaluation_mode():
    net = pyvanish.Network([3, 4, 1], activation="relu", batchnorm=True, init="he", seed=0)
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    mean0, var0 = (a.copy() for a in net.running_stats[0])
    assert (mean0 == 0).all() and (var0 == 1).all()
    net.gradient_report(x, t)
    z = x @ net.weights[0].T + net.biases[0]
    np.testing.assert_allclose(net.running_stats[0][0], 0.1 * z.mean(0), rtol=1e-12)
    np.testing.assert_allclose(net.running_stats[0][1], 0.9 + 0.1 * z.var(0, ddof=1), rtol=1e-12)
    net.training = False
    want = reference_of(net, x, t)
    rep = net.gradient_report(x, t)
    assert rep.loss == pytest.approx(want["loss"], rel=1e-12)
    np.testing.assert_allclose(rep.grad_W, want["stats"]["grad_W"], rtol=1e-10)
    np.testing.assert_allclose(net.running_stats[0][0], 0.1 * z.mean(0), rtol=1e-12)   # unchanged in eval
    c = net.copy()
    assert not c.training and (c.running_stats[0][1] == net.running_stats[0][1]).all()


# ------------------------------------------------------------------ the comparison

# Documented bands (README, "The recipes side by side"), depth 20, width 64, batch 64, in
# decades (log10 of the ratios): the tutorial's sigmoid below -10 (vanishing); ReLU + He
# and isometry within +-1; batch norm alone grows the gradient towards the input, between
# +1 and +2 (and explodes deeper or narrower); ResNet and the transformer keep the
# signal ratio between 0.5 and 1.5 and the weight ratio between -1.5 and 0.
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_comparison_demonstrates_the_recipes(seed):
    cmp = pyvanish.compare(depth=20, width=64, batch=64, seed=seed)
    assert cmp.names == ("tutorial", "relu+he", "relu+he+bn", "resnet", "transformer", "isometry")
    plain, relu, bn, resnet, transformer, iso = cmp.reports
    assert plain.log10_weight_ratio < -10 and plain.log10_signal_ratio < -10 and plain.verdict == "vanishing"
    for rep in (relu, iso):
        assert -1 < rep.log10_weight_ratio < 1 and -1 < rep.log10_signal_ratio < 1
    assert 1 < bn.log10_signal_ratio < 2 and 1 < bn.log10_weight_ratio < 2
    for rep in (resnet, transformer):
        assert 0.5 < rep.log10_signal_ratio < 1.5 and -1.5 < rep.log10_weight_ratio < 0
    for rep in cmp.reports[1:]:
        assert rep.verdict == "healthy"
        assert rep.weight_ratio > 1e8 * plain.weight_ratio  # every recipe beats the tutorial by 8 decades
    # batch norm alone explodes with depth (at initialisation); the residual recipes do not
    deep = pyvanish.compare(["relu+he+bn", "resnet", "transformer"], depth=50, width=64, batch=64, seed=seed)
    assert [r.verdict for r in deep.reports] == ["exploding", "healthy", "healthy"]


def test_recipes_are_the_documented_configurations():
    from pyvanish.compare import RECIPES, parse_config

    assert parse_config("resnet") == ("resnet", {"activation": "relu", "init": "he_normal", "batchnorm": True,
                                                 "residual": True, "residual_block": 1})
    kw = parse_config("transformer")[1]
    net = pyvanish.Network([8] * 5, **kw)
    assert net.prenorm == (False, True, True, False) and net.skips == (None, 1, 2, None)
    assert net.activations[:3] == ("gelu",) * 3
    iso = pyvanish.Network([8] * 5, **parse_config("isometry")[1])
    assert iso.init == "orthogonal"
    assert set(RECIPES) == set(pyvanish.compare.__globals__["DEFAULT_CONFIGS"])
    assert parse_config("tanh,xavier,ln,gain=2,sb=0.1")[1] == {"activation": "tanh", "init": "xavier_uniform",
                                                             "layernorm": True, "gain": 2.0, "sb": 0.1}


def test_compare_with_a_classification_loss():
    cmp = pyvanish.compare(["tutorial", "relu+he"], depth=6, width=16, output_width=5, batch=32,
                           loss="cross_entropy")
    assert all(r.loss > 0 for r in cmp.reports)
    x, t = pyvanish.Architecture.build([16] * 7 + [5], loss="cross_entropy").default_batch(32, 0)
    assert (t.sum(axis=1) == 1).all() and set(np.unique(t)) == {0.0, 1.0}
    net = pyvanish.Network([16] * 7 + [5], activation="relu", init="he", loss="cross_entropy", seed=0)
    assert cmp["relu+he"].loss == net.gradient_report(x, t).loss


def test_comparison_table_and_outputs():
    cmp = pyvanish.compare(["tanh,xavier", {"name": "mine", "activation": "relu", "init": "he", "batchnorm": True}],
                           depth=4, width=8, batch=16, metric="h")
    text = str(cmp)
    assert "tanh+xavier" in text and "mine" in text and "log10 signal" in text and "verdict" in text
    assert text.count("\n") > 8
    d = json.loads(json.dumps(cmp.to_dict()))
    assert set(d["configs"]) == {"tanh+xavier", "mine"}
    assert cmp["mine"].grad_h.shape == (6,)
    net = pyvanish.Network([8] * 5 + [1], activation="tanh", init="xavier", seed=0)
    rng = np.random.default_rng([0, 1])
    x, t = rng.standard_normal((16, 8)), rng.standard_normal((16, 1))
    np.testing.assert_array_equal(cmp["tanh+xavier"].grad_W, net.gradient_report(x, t).grad_W)


@pytest.mark.parametrize("configs,kw,msg", [
    (["foo"], {}, "must start with an activation"),
    (["relu,he,res2x"], {}, "expected res or resK"),
    (["relu,nope"], {}, "unknown init 'nope'"),
    (["relu", "relu"], {}, "names must differ"),
    (["relu"], {"metric": "q"}, "metric must be one of"),
    (["relu"], {"depth": 0}, "depth must be a positive integer"),
])
def test_comparison_bad_input(configs, kw, msg):
    with pytest.raises(ValueError, match=msg):
        pyvanish.compare(configs, **kw)


def test_cli_compare():
    out = io.StringIO()
    assert main(["compare", "--depth", "20", "--width", "32", "--batch", "32"], out=out) == 0
    text = out.getvalue()
    for name in ("tutorial", "relu+he", "relu+he+bn", "resnet", "transformer", "isometry"):
        assert name in text
    out = io.StringIO()
    assert main(["compare", "--config", "tanh,xavier,bn", "--config", "relu,he,res", "--depth", "3",
                 "--width", "4", "--json"], out=out) == 0
    assert set(json.loads(out.getvalue())["configs"]) == {"tanh+xavier+bn", "relu+he+res"}
