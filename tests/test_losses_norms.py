"""Losses (MSE, cross-entropy, BCE, a given dL/dy) and layer norm (after the dense
step, and pre-norm on a layer's input) in both engines and in training: against
pyvanish.reference, finite differences (float64) and PyTorch."""
import numpy as np
import pytest

import pyvanish
from pyvanish import kernels
from pyvanish import reference as ref

LOSSES = pyvanish.LOSSES
# (name, Network keyword arguments) over widths [5, 6, 6, 6, 4]
NORMS = [
    ("plain", {}),
    ("layernorm", {"layernorm": True}),
    ("prenorm-residual", {"residual": True, "prenorm": True}),
    ("mixed", {"layernorm": [True, False, True, False], "prenorm": [False, True, True, True]}),
    ("batchnorm+prenorm", {"batchnorm": True, "prenorm": [False, True, False, False]}),
]
STATS = ("grad_h", "grad_z", "grad_W", "grad_b", "mean_dphi", "saturated", "dead",
         "nonfinite_act", "nonfinite_grad", "tiny_grad_W", "grad_gamma", "grad_beta")


def make(loss, kw, dtype=np.float64, seed=1, acts="tanh"):
    net = pyvanish.Network([5, 6, 6, 6, 4], activation=acts, loss=loss, seed=seed, dtype=dtype, **kw)
    rng = np.random.default_rng(seed + 100)
    for g in net.gammas + net.betas + net.pre_gammas + net.pre_betas:  # away from gamma = 1, beta = 0
        if g is not None:
            g[...] = rng.normal(size=g.shape)
    return net


def data(loss, B=7, seed=2, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, 5)).astype(dtype)
    if loss == "cross_entropy":
        t = rng.integers(0, 4, B)
    elif loss == "bce":
        t = rng.uniform(size=(B, 4)).astype(dtype)
    else:
        t = rng.normal(size=(B, 4)).astype(dtype)
    return x, t


def dense_targets(loss, t):
    return np.eye(4)[t] if loss == "cross_entropy" else t


def reference_of(net, x, t, **kw):
    a = net.architecture
    return ref.network_forward_backward(
        [w.copy() for w in net.weights], [b.copy() for b in net.biases], list(a.activations), x,
        None if t is None else dense_targets(a.loss, t), list(a.alphas), skips=list(a.skips),
        batchnorm=[(g.copy(), b.copy()) if f else None for f, g, b in zip(a.batchnorm, net.gammas, net.betas)],
        layernorm=[(g.copy(), b.copy()) if f else None for f, g, b in zip(a.layernorm, net.gammas, net.betas)],
        prenorm=[(g.copy(), b.copy()) if f else None for f, g, b in zip(a.prenorm, net.pre_gammas, net.pre_betas)],
        eps=a.bn_eps, ln_eps=a.ln_eps, loss=a.loss, **kw)


# ---------------------------------------------------------------- engine vs reference
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("name,kw", NORMS, ids=[n for n, _ in NORMS])
def test_engine_matches_reference(loss, name, kw, simd_path):
    net = make(loss, kw)
    x, t = data(loss)
    rep = net.gradient_report(x, t, return_grads=True)
    want = reference_of(net, x, t)
    assert rep.loss == pytest.approx(want["loss"], rel=1e-12)
    for k in STATS:
        np.testing.assert_allclose(getattr(rep, "stats")[:, pyvanish._engine.STAT[k]], want["stats"][k],
                                   rtol=1e-11, atol=1e-14, err_msg=k)  # grad_b under batch norm: 0 + rounding
    for l in range(4):
        np.testing.assert_allclose(rep.grads["W"][l], want["dW"][l], rtol=1e-10, atol=1e-15)
        for mine, theirs in (("gamma", "dgamma"), ("beta", "dbeta"), ("pre_gamma", "dpre_gamma"),
                             ("pre_beta", "dpre_beta")):
            if want[theirs][l] is None:
                assert rep.grads[mine][l] is None
            else:
                np.testing.assert_allclose(rep.grads[mine][l], want[theirs][l], rtol=1e-10, atol=1e-15)
    assert rep.grad_x == pytest.approx(want["grad_x"], rel=1e-11)


@pytest.mark.parametrize("loss", LOSSES)
def test_engine_matches_reference_float32(loss):
    net = make(loss, {"layernorm": True, "prenorm": [False, True, True, False]}, dtype=np.float32)
    x, t = data(loss, dtype=np.float32)
    rep = net.gradient_report(x, t)
    want = reference_of(net, x, t)
    assert rep.loss == pytest.approx(want["loss"], rel=2e-5)
    np.testing.assert_allclose(rep.grad_W, want["stats"]["grad_W"], rtol=2e-4)


# ---------------------------------------------------------------- reference vs finite differences
def _fd_check(f, params, grads, h=1e-6, rtol=2e-6):
    """Central differences of f over a few entries of each parameter array."""
    rng = np.random.default_rng(0)
    for P, G in zip(params, grads):
        for idx in {tuple(int(rng.integers(0, s)) for s in P.shape) for _ in range(3)}:
            old = P[idx]
            P[idx] = old + h
            up = f()
            P[idx] = old - h
            down = f()
            P[idx] = old
            assert G[idx] == pytest.approx((up - down) / (2 * h), rel=rtol, abs=1e-8), idx


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("name,kw", NORMS[:4], ids=[n for n, _ in NORMS[:4]])
def test_gradients_match_finite_differences(loss, name, kw):
    net = make(loss, kw)
    x, t = data(loss)
    rep = net.gradient_report(x, t, return_grads=True)

    def f():
        return net.gradient_report(x, t).loss

    params, grads = [], []
    for l in range(4):
        params += [net.weights[l], net.biases[l]]
        grads += [rep.grads["W"][l], rep.grads["b"][l]]
        for p, g in ((net.gammas, "gamma"), (net.betas, "beta"), (net.pre_gammas, "pre_gamma"),
                     (net.pre_betas, "pre_beta")):
            if p[l] is not None:
                params.append(p[l])
                grads.append(rep.grads[g][l])
    _fd_check(f, params, grads)
    # and dL/dx, through every layer norm
    gx = rep.grads["h"][0]
    for i, j in [(0, 0), (3, 4), (6, 2)]:
        xp, xm = x.copy(), x.copy()
        xp[i, j] += 1e-6
        xm[i, j] -= 1e-6
        fd = (net.gradient_report(xp, t).loss - net.gradient_report(xm, t).loss) / 2e-6
        assert gx[i, j] == pytest.approx(fd, rel=2e-6, abs=1e-8)


@pytest.mark.parametrize("loss", LOSSES)
def test_loss_kernel_matches_reference_and_finite_differences(loss):
    rng = np.random.default_rng(5)
    y = rng.normal(size=(6, 3)) * 3
    t = np.eye(3)[rng.integers(0, 3, 6)] if loss == "cross_entropy" else rng.uniform(size=(6, 3))
    L, d = kernels.loss_forward_backward(loss, y, t)
    Lr, dr = ref.loss_forward_backward(loss, y, t)
    assert L == pytest.approx(Lr, rel=1e-13)
    np.testing.assert_allclose(d, dr, rtol=1e-12, atol=1e-17)
    for i, j in [(0, 0), (2, 1), (5, 2)]:
        yp, ym = y.copy(), y.copy()
        yp[i, j] += 1e-6
        ym[i, j] -= 1e-6
        fd = (ref.loss_forward_backward(loss, yp, t)[0] - ref.loss_forward_backward(loss, ym, t)[0]) / 2e-6
        assert d[i, j] == pytest.approx(fd, rel=1e-6, abs=1e-10)


def test_layernorm_kernels_match_reference_and_finite_differences():
    rng = np.random.default_rng(6)
    x, g, b = rng.normal(size=(4, 5)), rng.normal(size=5), rng.normal(size=5)
    out, xhat, rstd = kernels.layernorm_forward(x, g, b, eps=1e-3)
    o2, xh2, r2 = ref.layernorm_forward(x, g, b, 1e-3)
    np.testing.assert_allclose(out, o2, rtol=1e-13)
    np.testing.assert_allclose(rstd, r2, rtol=1e-13)
    dout = rng.normal(size=(4, 5))
    di, dg, db = kernels.layernorm_backward(dout, xhat, g, rstd)
    for a, c in zip((di, dg, db), ref.layernorm_backward(dout, xh2, g, r2)):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-15)
    for i, j in [(0, 0), (1, 3), (3, 4)]:
        xp, xm = x.copy(), x.copy()
        xp[i, j] += 1e-6
        xm[i, j] -= 1e-6
        fd = (np.sum(dout * ref.layernorm_forward(xp, g, b, 1e-3)[0])
              - np.sum(dout * ref.layernorm_forward(xm, g, b, 1e-3)[0])) / 2e-6
        assert di[i, j] == pytest.approx(fd, rel=1e-6)
    with pytest.raises(ValueError, match="layernorm_forward: eps must be positive"):
        kernels.layernorm_forward(x, g, b, eps=0.0)
    with pytest.raises(ValueError, match="layernorm_forward.*gamma"):
        kernels.layernorm_forward(x, g[:3], b)


# ---------------------------------------------------------------- stability and the loss conventions
def test_cross_entropy_and_bce_are_stable_for_huge_logits():
    y = np.array([[1e300, -1e300, 0.0], [-1e300, -1e300, 1e300]])
    t = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    L, d = kernels.loss_forward_backward("cross_entropy", y, t)
    assert L == pytest.approx((2e300 + 2e300) / 2)
    np.testing.assert_array_equal(d, [[0.5, -0.5, 0.0], [-0.5, 0.0, 0.5]])
    L, d = kernels.loss_forward_backward("bce", y, np.where(t > 0, 1.0, 0.0))
    assert np.isfinite(L) and np.isfinite(d).all()
    assert L == pytest.approx((1e300 + 1e300 + 1e300 + 1e300) / 6)  # the four wrong-side logits
    # the single network carries it through: a report, not an overflow
    net = pyvanish.Network([1, 3], activations=["identity"], loss="cross_entropy", init="constant", value=0.0)
    net.set_biases([np.array([1e300, -1e300, 0.0])])
    rep = net.gradient_report([[1.0]], [1])
    assert rep.loss == pytest.approx(2e300) and np.isfinite(rep.grad_W).all()


def test_cross_entropy_targets_indices_or_probabilities():
    net = make("cross_entropy", {})
    x, t = data("cross_entropy")
    by_index = net.gradient_report(x, t)
    by_rows = net.gradient_report(x, np.eye(4)[t])
    by_list = net.gradient_report(x, [int(v) for v in t])
    assert by_index.loss == by_rows.loss == by_list.loss
    np.testing.assert_array_equal(by_index.grad_W, by_rows.grad_W)
    soft = np.full((7, 4), 0.25)  # probabilities: the gradient is softmax - p
    rep = net.gradient_report(x, soft, return_grads=True)
    y = net.forward(x)
    p = np.exp(y - y.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(rep.grads["h"][-1], (p - soft) / 7, rtol=1e-12)
    with pytest.raises(ValueError, match=r"Network.gradient_report: t holds class index 4, outside \[0, 4\)"):
        net.gradient_report(x, np.array([0, 1, 2, 3, 4, 0, 1]))
    with pytest.raises(ValueError, match="Network.gradient_report: t has shape"):
        net.gradient_report(x, np.zeros((7, 3)))
    with pytest.raises(ValueError, match="cross_entropy' needs at least 2 output units"):
        pyvanish.Network([2, 1], loss="cross_entropy")
    with pytest.raises(ValueError, match="Network: loss must be one of mse, cross_entropy, bce, got 'hinge'"):
        pyvanish.Network([2, 2], loss="hinge")


def test_grad_output_back_propagates_the_given_gradient():
    net = make("mse", {"layernorm": True})
    x, t = data("mse")
    with_t = net.gradient_report(x, t, return_grads=True)
    g = with_t.grads["h"][-1].copy()  # MSE's dL/dy
    given = net.gradient_report(x, grad_output=g, return_grads=True)
    assert np.isnan(given.loss)
    np.testing.assert_array_equal(given.grad_W, with_t.grad_W)
    np.testing.assert_array_equal(given.grads["h"][0], with_t.grads["h"][0])
    assert given.verdict == with_t.verdict
    # a cross-entropy network with an MSE-shaped gradient: the network's loss is not used
    ce = make("cross_entropy", {})
    rep = ce.gradient_report(x, grad_output=np.ones((7, 4)))
    assert np.isnan(rep.loss) and np.isfinite(rep.grad_W).all()
    fn = "Network.gradient_report"
    with pytest.raises(TypeError, match=f"{fn}: give the targets t or grad_output"):
        net.gradient_report(x, t, grad_output=g)
    with pytest.raises(TypeError, match=f"{fn}: t .* is required"):
        net.gradient_report(x)
    with pytest.raises(ValueError, match=rf"{fn}: x has 7 samples \(shape \(7, 5\)\) but grad_output has 6"):
        net.gradient_report(x, grad_output=g[:6])
    with pytest.raises(ValueError, match=f"{fn}: grad_output has shape"):
        net.gradient_report(x, grad_output=g[:, :2])
    bad = g.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=f"{fn}: grad_output contains NaN"):
        net.gradient_report(x, grad_output=bad)


# ---------------------------------------------------------------- architecture
def test_layernorm_and_prenorm_in_the_architecture():
    arch = pyvanish.Architecture.build([4, 8, 8, 8, 2], activation="gelu", residual=True, prenorm=True)
    assert arch.prenorm == (False, True, True, True) and arch.layernorm == (False,) * 4
    assert arch.n_params == (8 * 4 + 8) + 2 * (8 * 8 + 8 + 16) + (2 * 8 + 2 + 16)
    net = pyvanish.Network(arch)
    assert net.n_params == arch.n_params == net._engine.params.size
    assert [g is None for g in net.pre_gammas] == [True, False, False, False]
    assert all(np.all(g == 1) for g in net.pre_gammas if g is not None)
    assert "prenorm=3 layers" in repr(net)
    ln = pyvanish.Architecture.build([3, 5, 5, 1], layernorm=True)
    assert ln.layernorm == (True, True, False) and ln.normed == (True, True, False)
    with pytest.raises(ValueError, match="Network: layer 1 has both batch norm and layer norm"):
        pyvanish.Network([3, 5, 1], batchnorm=True, layernorm=True)
    with pytest.raises(ValueError, match="Network: prenorm=True normalises the input of each residual block"):
        pyvanish.Network([3, 5, 5, 1], prenorm=True)
    with pytest.raises(ValueError, match="Network: ln_eps must be positive"):
        pyvanish.Network([3, 5, 1], layernorm=True, ln_eps=0.0)
    with pytest.raises(ValueError, match="Network: prenorm needs one flag per layer"):
        pyvanish.Network([3, 5, 1], prenorm=[True])


def test_layernorm_network_jacobian_matches_finite_differences():
    net = make("mse", {"layernorm": [True, False, True, False], "prenorm": [False, True, True, True]})
    x = np.random.default_rng(3).normal(size=(2, 5))
    J = net.jacobian(x)
    for b in range(2):
        for j in range(5):
            xp, xm = x[b:b + 1].copy(), x[b:b + 1].copy()
            xp[0, j] += 1e-6
            xm[0, j] -= 1e-6
            fd = (net.forward(xp) - net.forward(xm))[0] / 2e-6
            np.testing.assert_allclose(J[b, :, j], fd, rtol=1e-6, atol=1e-9)


def test_pickle_and_copy_keep_layernorm_parameters():
    import pickle

    net = make("bce", {"residual": True, "prenorm": True, "layernorm": True})
    x, t = data("bce")
    for other in (pickle.loads(pickle.dumps(net)), net.copy()):
        assert other.architecture == net.architecture
        assert other.gradient_report(x, t).loss == net.gradient_report(x, t).loss


# ---------------------------------------------------------------- ensembles
@pytest.mark.parametrize("loss", LOSSES)
def test_ensemble_losses_match_reference(loss, simd_path):
    ens = pyvanish.Ensemble([5, 6, 6, 4], 37, activation="tanh", loss=loss, seed=3)
    x, t = data(loss)
    rep = ens.run(x, t)
    want = ref.ensemble_forward_backward([W.copy() for W in ens.weights], [b.copy() for b in ens.biases],
                                         list(ens.activations), x, dense_targets(loss, t), loss=loss)
    np.testing.assert_allclose(rep.loss, want["loss"], rtol=1e-12)
    np.testing.assert_allclose(rep.grad_h[:, 1:], want["stats"]["grad_h"], rtol=1e-11)
    np.testing.assert_allclose(rep.stats[:, :, pyvanish._engine.STAT["grad_W"]], want["stats"]["grad_W"], rtol=1e-11)
    # members' own targets (E, B, n_L), and per-member class indices (E, B)
    if loss == "cross_entropy":
        idx = np.random.default_rng(1).integers(0, 4, (37, 7))
        per = ens.run(x, idx)
        m = 5
        one = ens.member(m).gradient_report(x, idx[m])
        assert per.loss[m] == pytest.approx(one.loss, rel=1e-13)


@pytest.mark.parametrize("kw", [{"layernorm": True}, {"residual": True, "prenorm": True},
                                {"layernorm": [True, False, True, False], "prenorm": [True, True, False, True]}],
                         ids=["layernorm", "prenorm-residual", "mixed"])
@pytest.mark.parametrize("loss", LOSSES)
def test_layernorm_ensemble_engine_equals_its_members(kw, loss, simd_path):
    """Layer norm in the ensemble engine (lanes = members): each member as its own Network."""
    ens = pyvanish.Ensemble([5, 6, 6, 6, 4], 37, activation="gelu", loss=loss, seed=2, **kw)
    assert ens._engine is not None  # the ensemble engine itself, not member by member
    x, t = data(loss)
    per_member_x = np.random.default_rng(3).normal(size=(37, 7, 5))
    for xs in (x, per_member_x):
        rep = ens.run(xs, t)
        for m in (0, 16, 36):
            one = ens.member(m).gradient_report(xs if xs.ndim == 2 else xs[m], t)
            assert rep.loss[m] == pytest.approx(one.loss, rel=1e-13)
            np.testing.assert_allclose(rep.stats[m], one.stats, rtol=1e-12, atol=1e-14)
            assert rep.verdicts[m] == one.verdict


def test_theory_comparison_is_refused_beyond_plain_dense_networks():
    x = np.ones((1, 4))
    rep = pyvanish.Ensemble([4, 8, 8, 8, 1], 20, residual=True, prenorm=True, seed=0).run(x, [[0.0]])
    assert rep.extras == ("pre-norm", "residual connections")
    with pytest.raises(ValueError, match="compare_theory: .*plain dense networks; this ensemble has pre-norm and "
                                         "residual connections"):
        rep.compare_theory()
    plain = pyvanish.Ensemble([4, 8, 8, 8, 1], 20, init="normal", seed=0).run(x, [[0.0]])
    assert plain.extras == () and plain.compare_theory() is not None


def test_layernorm_ensemble_is_the_same_for_any_thread_count():
    ens = pyvanish.Ensemble([4, 8, 8, 8, 2], 70, activation="relu", init="he", residual=True, prenorm=True,
                            layernorm=[True, False, False, False], seed=0)
    x = np.random.default_rng(0).normal(size=(5, 4))
    t = np.random.default_rng(1).normal(size=(5, 2))
    before = pyvanish.num_threads()
    try:
        pyvanish.set_num_threads(1)
        one = ens.run(x, t)
        pyvanish.set_num_threads(2)
        two = ens.run(x, t)
    finally:
        pyvanish.set_num_threads(before)
    np.testing.assert_array_equal(one.stats, two.stats)
    np.testing.assert_array_equal(one.loss, two.loss)


# ---------------------------------------------------------------- training
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_with_cross_entropy_and_layernorm_matches_reference(optimizer):
    from pyvanish.training import minibatch_indices

    net = make("cross_entropy", {"layernorm": True, "residual": True, "prenorm": True})
    a = net.architecture
    W = [w.copy() for w in net.weights]
    b = [v.copy() for v in net.biases]
    norms = [(g.copy(), be.copy()) if f else None for f, g, be in zip(a.layernorm, net.gammas, net.betas)]
    pre = [(g.copy(), be.copy()) if f else None for f, g, be in zip(a.prenorm, net.pre_gammas, net.pre_betas)]
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 5))
    T = rng.integers(0, 4, 40)
    hist = pyvanish.train(net, X, T, steps=25, batch_size=8, lr=0.05, optimizer=optimizer, seed=0)
    want = ref.train(W, b, list(a.activations), X, np.eye(4)[T], minibatch_indices(40, 25, 8, 0), 0.05,
                     optimizer, alphas=list(a.alphas), skips=list(a.skips), layernorm=norms, prenorm=pre,
                     loss="cross_entropy")
    np.testing.assert_allclose(hist.loss, want["loss"], rtol=1e-10)
    np.testing.assert_allclose(hist.grad_W, want["grad_W"], rtol=1e-9)
    for mine, theirs in zip(net.weights, W):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-12)
    for mine, pair in zip(net.pre_gammas, pre):
        if pair is not None:
            np.testing.assert_allclose(mine, pair[0], rtol=1e-9, atol=1e-12)
    for mine, pair in zip(net.gammas, norms):
        if pair is not None:
            np.testing.assert_allclose(mine, pair[0], rtol=1e-9, atol=1e-12)
    assert hist.loss[-1] < hist.loss[0]


def test_digits_classifier_trains_with_cross_entropy():
    pytest.importorskip("sklearn")
    X, T = pyvanish.digits_task()
    net = pyvanish.Network([64, 32, 10], activation="relu", init="he", loss="cross_entropy", seed=0)
    hist = pyvanish.train(net, X, T.argmax(axis=1), steps=300, batch_size=64, lr=0.1, seed=0)
    assert hist.final_loss < 0.3 * hist.loss[0]
    assert np.mean(net.forward(X).argmax(axis=1) == T.argmax(axis=1)) > 0.9


# ---------------------------------------------------------------- against PyTorch
def _torch_model(torch, net):
    """The same network in PyTorch, by hand (not through pyvanish.torch)."""
    nn = torch.nn
    a = net.architecture
    acts = {"tanh": nn.Tanh, "identity": nn.Identity, "relu": nn.ReLU, "gelu": nn.GELU}

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.ModuleList()
            self.norm = nn.ModuleList()
            self.pre = nn.ModuleList()
            for l in range(1, a.depth + 1):
                lin = nn.Linear(a.widths[l - 1], a.widths[l]).double()
                lin.weight.data = torch.tensor(net.weights[l - 1])
                lin.bias.data = torch.tensor(net.biases[l - 1])
                self.lin.append(lin)
                ln = nn.LayerNorm(a.widths[l], eps=a.ln_eps).double() if a.layernorm[l - 1] else nn.Identity()
                if a.layernorm[l - 1]:
                    ln.weight.data = torch.tensor(net.gammas[l - 1])
                    ln.bias.data = torch.tensor(net.betas[l - 1])
                self.norm.append(ln)
                pn = nn.LayerNorm(a.widths[l - 1], eps=a.ln_eps).double() if a.prenorm[l - 1] else nn.Identity()
                if a.prenorm[l - 1]:
                    pn.weight.data = torch.tensor(net.pre_gammas[l - 1])
                    pn.bias.data = torch.tensor(net.pre_betas[l - 1])
                self.pre.append(pn)

        def forward(self, x):
            hs = [x]
            for l in range(1, a.depth + 1):
                u = self.norm[l - 1](self.lin[l - 1](self.pre[l - 1](hs[-1])))
                h = acts[a.activations[l - 1]]()(u)
                s = a.skips[l - 1]
                hs.append(h if s is None else hs[s] + a.residual_scale * h)
            return hs[-1]

    return Model()


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("name,kw", NORMS[:4], ids=[n for n, _ in NORMS[:4]])
def test_against_pytorch_autograd(loss, name, kw):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    net = make(loss, kw)
    x, t = data(loss)
    model = _torch_model(torch, net)
    y = model(torch.tensor(x))
    if loss == "mse":
        L = 0.5 * ((y - torch.tensor(t)) ** 2).sum() / x.shape[0]
    elif loss == "cross_entropy":
        L = F.cross_entropy(y, torch.tensor(t))
    else:
        L = F.binary_cross_entropy_with_logits(y, torch.tensor(t))
    L.backward()
    rep = net.gradient_report(x, t, return_grads=True)
    assert rep.loss == pytest.approx(L.item(), rel=1e-12)
    for l in range(4):
        np.testing.assert_allclose(rep.grads["W"][l], model.lin[l].weight.grad.numpy(), rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(rep.grad_W[l], np.linalg.norm(model.lin[l].weight.grad.numpy()), rtol=1e-12)
        if net.architecture.layernorm[l]:
            np.testing.assert_allclose(rep.grads["gamma"][l], model.norm[l].weight.grad.numpy(), rtol=1e-10,
                                       atol=1e-15)
        if net.architecture.prenorm[l]:
            np.testing.assert_allclose(rep.grads["pre_gamma"][l], model.pre[l].weight.grad.numpy(), rtol=1e-10,
                                       atol=1e-15)
            np.testing.assert_allclose(rep.grads["pre_beta"][l], model.pre[l].bias.grad.numpy(), rtol=1e-10,
                                       atol=1e-15)


def test_cross_entropy_probability_targets_against_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    y = rng.normal(size=(5, 4)) * 4
    p = rng.dirichlet(np.ones(4), size=5)
    yt = torch.tensor(y, requires_grad=True)
    L = torch.nn.functional.cross_entropy(yt, torch.tensor(p))
    L.backward()
    mine, d = kernels.loss_forward_backward("cross_entropy", y, p)
    assert mine == pytest.approx(L.item(), rel=1e-13)
    np.testing.assert_allclose(d, yt.grad.numpy(), rtol=1e-12, atol=1e-17)
