"""PyTorch interop both ways (pyvanish.torch): from_torch against autograd, to_torch, the round trip,
and the messages for what pyvanish cannot express. CI has torch: none of these may skip."""
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest

import pyvanish

RTOL = 1e-12


# ---------------------------------------------------------------- helpers
def _torch():
    torch = pytest.importorskip("torch")
    return torch, torch.nn


def _layer_modules(model, net):
    """Per engine layer: its Linear, its norm (BatchNorm1d/LayerNorm) and its prenorm LayerNorm, in forward order."""
    _, nn = _torch()
    lin, norm, pre = [], [], []
    pending = None
    normed = net.architecture.normed
    for m in model.modules():
        if isinstance(m, nn.Linear):
            lin.append(m); norm.append(None); pre.append(pending); pending = None
        elif isinstance(m, (nn.BatchNorm1d, nn.LayerNorm)):
            if lin and normed[len(lin) - 1] and norm[-1] is None and pending is None:
                norm[-1] = m
            else:
                pending = m
    assert len(lin) == net.depth and pending is None
    return lin, norm, pre


def _close(actual, expected, rtol=RTOL, scale=None):
    """Elementwise within rtol of the largest |expected| (entries near zero carry the others' rounding),
    or of ``scale``; returns the scale used."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(float(np.abs(expected).max(initial=0.0)), scale or 1e-300)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)
    return scale


def check_against_autograd(model, net, batch=7, seed=0, rtol=RTOL, loss="mse"):
    """The network's loss, output, per-layer gradient norms and gradients equal autograd's on the model:
    MSE as the engine's L = 1/(2B) sum |y - t|^2; cross_entropy as F.cross_entropy of class indices (mean
    over the batch); bce as F.binary_cross_entropy_with_logits (mean over every output)."""
    torch, nn = _torch()
    F = torch.nn.functional
    g = torch.Generator().manual_seed(seed)
    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    x = torch.randn(batch, net.widths[0], generator=g, dtype=dtype, requires_grad=True)
    t = torch.randn(batch, net.widths[-1], generator=g, dtype=dtype)
    model.zero_grad()
    y = model(x)
    if loss == "mse":
        value, t_np = 0.5 * ((y - t) ** 2).sum() / batch, t.numpy()
    elif loss == "cross_entropy":
        classes = torch.randint(0, net.widths[-1], (batch,), generator=g)
        value, t_np = F.cross_entropy(y, classes), classes.numpy()
    else:
        t = torch.rand(batch, net.widths[-1], generator=g, dtype=dtype)
        value, t_np = F.binary_cross_entropy_with_logits(y, t), t.numpy()
    value.backward()
    loss = value
    rep = net.gradient_report(x.detach().numpy(), t_np, return_grads=True)
    assert rep.loss == pytest.approx(loss.item(), rel=rtol)
    _close(rep.grads["h_forward"][-1], y.detach().numpy(), rtol)
    assert rep.grad_h[0] == pytest.approx(x.grad.norm().item(), rel=rtol)
    lin, norm, pre = _layer_modules(model, net)
    for l, (m, nm, pm) in enumerate(zip(lin, norm, pre)):
        assert rep.grad_W[l] == pytest.approx(m.weight.grad.norm().item(), rel=rtol)
        scale = _close(rep.grads["W"][l], m.weight.grad.numpy(), rtol)
        if m.bias is not None:   # (exactly 0 before a training-mode batch norm: rounding, on the layer's scale)
            _close(rep.grads["b"][l], m.bias.grad.numpy(), rtol, scale)
        for mod, key in ((nm, "gamma"), (nm, "beta"), (pm, "pre_gamma"), (pm, "pre_beta")):
            p = None if mod is None else getattr(mod, "weight" if key.endswith("gamma") else "bias")
            if p is not None:
                _close(rep.grads[key][l], p.grad.numpy(), rtol)
    return rep


def assert_same_network(a, b):
    """Same Architecture, bitwise-equal parameters and batch-norm state, same mode and momentum."""
    assert a.architecture == b.architecture
    assert a.dtype == b.dtype
    for name in ("weights", "biases", "gammas", "betas", "pre_gammas", "pre_betas"):
        for p, q in zip(getattr(a, name), getattr(b, name)):
            assert (p is None) == (q is None), name
            if p is not None:
                assert p.dtype == q.dtype and p.tobytes() == q.tobytes(), name
    for p, q in zip(a.running_stats, b.running_stats):
        assert (p is None) == (q is None)
        if p is not None:
            assert p[0].tobytes() == q[0].tobytes() and p[1].tobytes() == q[1].tobytes()
    assert a.training == b.training or not any(a.batchnorm)
    assert a.bn_momentum == b.bn_momentum


# ---------------------------------------------------------------- the module itself
def test_import_pyvanish_does_not_import_torch():
    _torch()
    code = "import sys, pyvanish; assert 'torch' not in sys.modules; pyvanish.Network([2, 1]); print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
    import pyvanish.torch as pt

    assert pyvanish.torch is pt and pt.torch.__name__ == "torch"   # the real torch inside


def test_docstring_examples_run():
    _torch()
    import doctest

    import pyvanish.torch as pt

    res = doctest.testmod(pt, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted >= 10


def test_every_activation_has_a_module():
    _torch()
    from pyvanish.torch import _ACTIVATIONS

    assert set(_ACTIVATIONS) | {"identity"} == set(pyvanish.ACTIVATIONS)


def test_residual_module():
    torch, nn = _torch()
    from pyvanish.torch import Residual

    lin = nn.Linear(3, 3)
    r = Residual(lin, scale=0.25)
    x = torch.randn(4, 3)
    assert torch.equal(r(x), x + 0.25 * lin(x))
    assert r.scale == 0.25 and "scale=0.25" in repr(r)
    assert isinstance(Residual(lin).scale, float) and Residual(lin).scale == 1.0
    with pytest.raises(TypeError, match="Residual: block must be a torch.nn.Module"):
        Residual(lambda x: x)
    for bad in (float("nan"), "1", True):
        with pytest.raises(ValueError, match="Residual: scale must be a finite number"):
            Residual(lin, scale=bad)


# ---------------------------------------------------------------- from_torch against autograd
def test_every_activation_against_autograd():
    torch, nn = _torch()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 6), nn.LeakyReLU(0.2), nn.Linear(6, 6),
                          nn.GELU(), nn.Linear(6, 6), nn.ELU(alpha=0.7), nn.Linear(6, 5), nn.SiLU(),
                          nn.Linear(5, 5), nn.Sigmoid(), nn.Linear(5, 5), nn.ReLU(),
                          nn.Linear(5, 4), nn.Softplus(threshold=40), nn.Linear(4, 3), nn.Identity(),
                          nn.Linear(3, 2)).double()
    net = pyvanish.torch.from_torch(model)
    assert net.widths == (5, 7, 6, 6, 6, 5, 5, 5, 4, 3, 2)
    assert net.activations == ("tanh", "leaky_relu", "gelu", "elu", "silu", "sigmoid", "relu", "softplus",
                               "identity", "identity")
    assert net.architecture.alphas[1] == 0.2 and net.architecture.alphas[3] == 0.7
    assert net.dtype == np.float64
    check_against_autograd(model, net)


def test_softplus_beyond_its_threshold_is_exact():
    """Pre-activations above the threshold, where PyTorch returns x: equal in the accepted dtypes."""
    torch, nn = _torch()
    for dtype, threshold in ((torch.float64, 40.0), (torch.float64, 38.0), (torch.float32, 20.0)):
        model = nn.Sequential(nn.Linear(3, 4), nn.Softplus(threshold=threshold), nn.Linear(4, 2)).to(dtype)
        with torch.no_grad():
            model[0].weight.mul_(60.0)
        net = pyvanish.torch.from_torch(model)
        x = torch.randn(64, 3, generator=torch.Generator().manual_seed(1), dtype=dtype)
        z = model[0](x).detach().numpy()
        assert (z > threshold).any() and (z < threshold).any()
        if dtype == torch.float64:
            check_against_autograd(model, net, batch=64)
        # the engine's softplus is x itself above the threshold, its derivative 1, as PyTorch's
        g = net.gradient_report(x.numpy(), np.zeros((64, 2)), return_grads=True).grads
        above = g["z_forward"][0] > threshold
        assert above.any()
        np.testing.assert_array_equal(g["h_forward"][0][above], g["z_forward"][0][above])
        np.testing.assert_array_equal(g["z"][0][above], g["h"][1][above])     # dL/dz = dL/dh * 1


def test_nested_sequential_and_no_ops():
    torch, nn = _torch()
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Flatten(),
        nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.5)),
        nn.Identity(),
        nn.Sequential(nn.Sequential(nn.Linear(8, 8), nn.Identity(), nn.Tanh()), nn.Dropout(0.2), nn.Flatten(1)),
        nn.Linear(8, 3), nn.Identity(),
    ).double()
    net = pyvanish.torch.from_torch(model.train())      # Dropout: the identity even in training mode
    assert net.widths == (6, 8, 8, 3) and net.activations == ("relu", "tanh", "identity")
    check_against_autograd(model.eval(), net)


def test_bare_linear_and_no_bias():
    torch, nn = _torch()
    torch.manual_seed(2)
    lin = nn.Linear(4, 3, bias=False).double()
    net = pyvanish.Network.from_torch(lin)
    assert net.widths == (4, 3) and net.activations == ("identity",)
    assert not net.biases[0].any()
    check_against_autograd(lin, net)
    model = nn.Sequential(nn.Linear(4, 5, bias=False), nn.ELU(), nn.Linear(5, 2)).double()
    check_against_autograd(model, pyvanish.torch.from_torch(model))


def test_sequential_subclass():
    torch, nn = _torch()

    class MLP(nn.Sequential):
        def __init__(self, *widths):
            layers = []
            for a, b in zip(widths[:-1], widths[1:]):
                layers += [nn.Linear(a, b), nn.SiLU()]
            super().__init__(*layers[:-1])

    torch.manual_seed(3)
    model = MLP(4, 6, 6, 2).double()
    net = pyvanish.torch.from_torch(model)
    assert net.activations == ("silu", "silu", "identity")
    check_against_autograd(model, net)


@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_training_mode(affine):
    torch, nn = _torch()
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8, affine=affine, momentum=0.3), nn.Tanh(),
                          nn.Linear(8, 8), nn.BatchNorm1d(8, affine=affine, momentum=0.3), nn.ReLU(),
                          nn.Linear(8, 2)).double()
    if affine:
        with torch.no_grad():
            for m in (model[1], model[4]):
                m.weight.uniform_(0.5, 1.5); m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-1, 1); m.running_var.uniform_(0.5, 2)
    model.train()
    net = pyvanish.torch.from_torch(model)
    assert net.batchnorm == (True, True, False) and net.training and net.bn_momentum == 0.3
    np.testing.assert_array_equal(net.running_stats[0][0], model[1].running_mean.numpy())
    check_against_autograd(model, net, batch=16)
    for l, m in ((0, model[1]), (1, model[4])):        # one training-mode pass each: the same running statistics
        np.testing.assert_allclose(net.running_stats[l][0], m.running_mean.numpy(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(net.running_stats[l][1], m.running_var.numpy(), rtol=1e-12, atol=1e-15)


def test_batchnorm_eval_mode_and_untracked():
    torch, nn = _torch()
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6, eps=1e-3), nn.GELU(), nn.Linear(6, 2)).double()
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1); model[1].running_var.uniform_(0.5, 2)
        model[1].weight.uniform_(0.5, 1.5)
    model.eval()
    net = pyvanish.torch.from_torch(model)
    assert not net.training and net.architecture.bn_eps == 1e-3
    np.testing.assert_array_equal(net.running_stats[0][1], model[1].running_var.numpy())
    check_against_autograd(model, net)
    # no running statistics: batch statistics in either mode
    model = nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6, track_running_stats=False), nn.ReLU(),
                          nn.Linear(6, 2)).double().eval()
    net = pyvanish.torch.from_torch(model)
    assert net.training
    check_against_autograd(model, net, batch=9)


def test_residual_blocks():
    torch, nn = _torch()
    from pyvanish.torch import Residual

    torch.manual_seed(6)
    model = nn.Sequential(
        nn.Linear(5, 8), nn.ReLU(),
        Residual(nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU()), scale=0.7),
        Residual(nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.SiLU(), nn.Dropout(0.1)), scale=0.7),
        Residual(nn.Linear(8, 8), scale=0.7),                                        # a block of one bare Linear
        nn.Linear(8, 2),
    ).double().train()
    net = pyvanish.torch.from_torch(model)
    assert net.skips == (None, None, 1, 3, 4, None)
    assert net.architecture.residual_scale == 0.7 and net.batchnorm == (False,) * 3 + (True, False, False)
    check_against_autograd(model.eval(), pyvanish.torch.from_torch(model.eval()))
    model.train()
    model[3].block[3].eval()                            # torch's Dropout as pyvanish reads it, batch norm training
    check_against_autograd(model, net, batch=11)
    # nested blocks, and two blocks from the same source
    model = nn.Sequential(
        nn.Linear(4, 6), nn.Tanh(),
        Residual(nn.Sequential(nn.Linear(6, 6), nn.ReLU(), Residual(nn.Sequential(nn.Linear(6, 6), nn.Tanh())),
                               nn.Linear(6, 6), nn.ELU())),
        Residual(nn.Sequential(Residual(nn.Sequential(nn.Linear(6, 6), nn.Sigmoid())), nn.Linear(6, 6))),
        nn.Linear(6, 1),
    ).double()
    net = pyvanish.torch.from_torch(model)
    assert net.skips == (None, None, 2, 1, 4, 4, None)
    check_against_autograd(model, net)


def test_dtype():
    torch, nn = _torch()
    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.BatchNorm1d(2))
    net = pyvanish.torch.from_torch(model)
    assert net.dtype == np.float32 and net.weights[0].dtype == np.float32
    np.testing.assert_array_equal(net.weights[1], model[2].weight.detach().numpy())
    x = torch.randn(8, 3)
    np.testing.assert_allclose(net.forward(x.numpy()), model(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert pyvanish.torch.from_torch(model, dtype=np.float64).dtype == np.float64
    assert pyvanish.Network.from_torch(model, np.float64).dtype == np.float64
    assert pyvanish.torch.from_torch(model.double()).dtype == np.float64
    assert pyvanish.torch.from_torch(model.half()).dtype == np.float32
    with pytest.raises(TypeError, match="^from_torch: dtype must be float32 or float64"):
        pyvanish.torch.from_torch(model, dtype=np.int32)


# ---------------------------------------------------------------- to_torch and the round trip
def _round_trip_networks():
    arch = pyvanish.Architecture
    rng = np.random.default_rng(0)
    nets = [
        pyvanish.Network([4, 6, 6, 6, 2], activation="leaky_relu", alpha=[0.3, 0.3, 0.3, None], seed=0),
        pyvanish.Network([5] + [8] * 6 + [3], activation="relu", init="he", residual=True, residual_block=2,
                         residual_scale=0.5, batchnorm=True, bn_eps=1e-4, seed=1),
        pyvanish.Network([3, 5, 5, 5, 1], activations=["elu", "softplus", "gelu", "sigmoid"], alpha=[0.4, None, None, None],
                         residual=[False, True, True, False], sb=0.5, seed=2, dtype=np.float32),
        # nested and same-source skips
        pyvanish.Network(arch([4, 6, 6, 6, 6, 6, 6, 1], ("tanh",) * 6 + ("identity",), skips=(None, None, 2, 1, 4, 4, None)),
                         init="normal", sb=0.3, seed=3),
        pyvanish.Network([2, 3, 1], activations=["silu", "tanh"], seed=4),
    ]
    bn = nets[1]
    bn.bn_momentum = 0.25
    bn.training = False
    for l, g in enumerate(bn.gammas):
        if g is not None:
            g[...] = rng.uniform(0.5, 1.5, g.shape); bn.betas[l][...] = rng.uniform(-1, 1, g.shape)
            bn.running_stats[l][0][...] = rng.uniform(-1, 1, g.shape); bn.running_stats[l][1][...] = rng.uniform(0.5, 2, g.shape)
    return nets


def test_round_trip_is_exact():
    torch, nn = _torch()
    for net in _round_trip_networks():
        model = pyvanish.torch.to_torch(net)
        assert all(p.dtype == (torch.float64 if net.dtype == np.float64 else torch.float32) for p in model.parameters())
        assert model.training == net.training
        back = pyvanish.Network.from_torch(model)
        assert_same_network(net, back)
        assert_same_network(net, pyvanish.torch.from_torch(net.to_torch()))
        if net.dtype == np.float64:                     # the model computes what the network computes
            check_against_autograd(model, net.copy(), batch=10)


def test_to_torch_structure():
    torch, nn = _torch()
    from pyvanish.torch import SOFTPLUS_THRESHOLD, Residual

    net = _round_trip_networks()[1]
    model = net.to_torch()
    res = [m for m in model if isinstance(m, Residual)]
    assert len(res) == 2 and all(r.scale == 0.5 and len(r.block) == 6 for r in res)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 6 and all(b.eps == 1e-4 and b.momentum == 0.25 and not b.training for b in bns)
    sp = [m for m in _round_trip_networks()[2].to_torch().modules() if isinstance(m, nn.Softplus)]
    assert sp and sp[0].threshold == SOFTPLUS_THRESHOLD and sp[0].beta == 1


def test_to_torch_refuses_crossing_skips():
    _torch()
    arch = pyvanish.Architecture([3] * 6, ("tanh",) * 5, skips=(None, None, 1, None, 2))
    net = pyvanish.Network(arch, seed=0)
    with pytest.raises(ValueError, match=r"^Network\.to_torch: layer 3's skip from h_1 .*layer 5's skip from h_2"):
        net.to_torch()
    with pytest.raises(ValueError, match=r"^to_torch: layer 3's skip"):
        pyvanish.torch.to_torch(net)
    with pytest.raises(TypeError, match="^to_torch: net must be a pyvanish.Network"):
        pyvanish.torch.to_torch("net")


# ---------------------------------------------------------------- what cannot be expressed
def _refused(model, match, fn="from_torch", exc=ValueError):
    _, nn = _torch()
    call = pyvanish.torch.from_torch if fn == "from_torch" else pyvanish.Network.from_torch
    with pytest.raises(exc, match=f"^{fn}: ") as info:
        call(model)
    msg = str(info.value)
    for part in [match] if isinstance(match, str) else match:
        assert part in msg, msg
    assert "does not follow a Linear layer" not in msg and "not iterable" not in msg
    return msg


def test_unsupported_modules_named_by_path():
    torch, nn = _torch()
    model = nn.Sequential(OrderedDict(features=nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4),
                                                             nn.Conv1d(4, 4, 1)),
                                      head=nn.Linear(4, 1)))
    msg = _refused(model, ["module 'features.3' (Conv1d) is not supported", "supported: Linear, BatchNorm1d"])
    assert "LayerNorm" in msg and "Residual" in msg and "Dropout" in msg
    _refused(nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.Tanh(), nn.RNN(3, 3))), "module '1.1' (RNN) is not supported",
             fn="Network.from_torch")
    _refused(nn.Sequential(nn.Linear(3, 3), nn.Hardtanh()), "'1' (Hardtanh)")
    _refused(nn.Conv2d(1, 1, 1), "the model (Conv2d) is not supported")


def test_custom_modules():
    torch, nn = _torch()
    from pyvanish.torch import Residual

    class MyMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(3, 4), nn.Linear(4, 1)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    _refused(MyMLP(), ["the model (MyMLP) is not supported", "custom module's forward", "nn.Sequential"])
    _refused(nn.Sequential(nn.Linear(3, 3), MyMLP()), ["module '1' (MyMLP)", "custom"], fn="Network.from_torch")

    class Reversed(nn.Sequential):
        def forward(self, x):
            for m in reversed(self):
                x = m(x)
            return x

    _refused(Reversed(nn.Linear(3, 3)), ["the model (Reversed)", "overrides Sequential.forward"])

    class Gated(Residual):
        def forward(self, x):
            return x * self.block(x)

    _refused(nn.Sequential(nn.Linear(3, 3), Gated(nn.Linear(3, 3))), ["module '1' (Gated)", "overrides Residual.forward"])


def test_misplaced_modules():
    torch, nn = _torch()
    from pyvanish.torch import Residual

    _refused(nn.Sequential(nn.ReLU(), nn.Linear(2, 2)), ["module '0' (ReLU) comes before any Linear"])
    _refused(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Dropout(), nn.Tanh()),
             ["module '3' (Tanh) follows the ReLU at '1'"])
    _refused(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.BatchNorm1d(2), nn.Linear(2, 2)),
             ["module '2' (BatchNorm1d) follows the ReLU at '1'", "before the activation"])
    _refused(nn.Sequential(nn.BatchNorm1d(2), nn.Linear(2, 2)), "module '0' (BatchNorm1d) comes before any Linear")
    _refused(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(2)), "normalises width 2")
    _refused(nn.Sequential(nn.Linear(2, 3), nn.Linear(2, 2)), "module '1' (Linear) has in_features=2, but its input has width 3")
    _refused(nn.Sequential(nn.Linear(2, 2), Residual(nn.Sequential(nn.Linear(2, 2), nn.ReLU())), nn.ReLU()),
             "module '2' (ReLU) follows the Residual block '1'")
    _refused(nn.Sequential(nn.Linear(2, 2), Residual(nn.Sequential(nn.ReLU(), nn.Linear(2, 2)))),
             "module '1.block.0' (ReLU) follows the start of the Residual block '1'")
    _refused(nn.Sequential(nn.Linear(2, 2), Residual(nn.Sequential(nn.Linear(2, 3), nn.ReLU()))),
             "the Residual block '1' maps width 2 to 3")
    _refused(nn.Sequential(nn.Linear(2, 2), Residual(nn.Dropout())), "the Residual block '1' holds no Linear layer")
    _refused(nn.Sequential(nn.Linear(2, 2), Residual(nn.Sequential(nn.Linear(2, 2), Residual(nn.Linear(2, 2))))),
             "the Residual blocks '1' and '1.block.1' both end at layer 3")
    _refused(nn.Sequential(nn.Linear(2, 2), Residual(nn.Linear(2, 2), 0.5), Residual(nn.Linear(2, 2), 1.0)),
             "residual_scale (Residual scale) differs between '1' (0.5) and '2' (1.0)")
    _refused(nn.Sequential(nn.Dropout(), nn.Identity()), "the model (Sequential) has no Linear layer")
    _refused(nn.Sequential(nn.Flatten(0), nn.Linear(2, 2)), "module '0' (Flatten) with start_dim=0")


def test_unsupported_settings():
    torch, nn = _torch()
    _refused(nn.Sequential(nn.Linear(2, 2), nn.GELU(approximate="tanh")), "approximate='tanh' is not supported")
    _refused(nn.Sequential(nn.Linear(2, 2), nn.Softplus(beta=2)), "beta=2 is not supported")
    _refused(nn.Sequential(nn.Linear(2, 2), nn.Softplus()).double(),
             ["module '1' (Softplus) with threshold=20", "float64", "from 38 to 709"])
    assert pyvanish.torch.from_torch(nn.Sequential(nn.Linear(2, 2), nn.Softplus())).activations == ("softplus",)
    with pytest.raises(ValueError, match="threshold=20.0 is not supported in float64"):
        pyvanish.torch.from_torch(nn.Sequential(nn.Linear(2, 2), nn.Softplus(threshold=20.0)), dtype=np.float64)
    def bn(**kw):
        return nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2, **kw), nn.Linear(2, 2), nn.BatchNorm1d(2))

    _refused(bn(eps=1e-3), "bn_eps (BatchNorm1d eps) differs between '1' (0.001) and '3' (1e-05)")
    _refused(bn(momentum=0.2), "bn_momentum (BatchNorm1d momentum) differs")
    _refused(bn(momentum=None), "momentum=None")
    model = bn()
    model[1].eval()
    _refused(model, "batch-norm mode (training, or not tracking running statistics) differs between '1' (False) and '3' (True)")
    _refused(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2, momentum=1.5)), "must be in [0, 1], got 1.5")


def test_bad_parameters_and_inputs():
    torch, nn = _torch()
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)))
    with torch.no_grad():
        model[1][0].bias[0] = float("nan")
    _refused(model, "1.0.bias has NaN or Inf values")
    model = nn.Sequential(nn.Linear(2, 2)).double()
    with torch.no_grad():
        model[0].weight[0, 0] = 1e300
    with pytest.raises(ValueError, match=r"^from_torch: 0\.weight does not fit in float32"):
        pyvanish.torch.from_torch(model, dtype=np.float32)
    for bad in (None, [nn.Linear(2, 2)], "model"):
        with pytest.raises(TypeError, match="^from_torch: module must be a torch.nn.Module"):
            pyvanish.torch.from_torch(bad)
        with pytest.raises(TypeError, match=r"^Network\.from_torch: module must be a torch.nn.Module"):
            pyvanish.Network.from_torch(bad)


# ---------------------------------------------------------------- LayerNorm, prenorm and the losses
# (Architecture.layernorm / prenorm / ln_eps / loss, from main)
def test_layernorm_after_linear_and_prenorm():
    torch, nn = _torch()
    torch.manual_seed(8)
    model = nn.Sequential(
        nn.LayerNorm(5),                                               # the input's norm: layer 1's prenorm
        nn.Linear(5, 8), nn.LayerNorm(8), nn.GELU(),                   # layer 1's layernorm
        nn.Linear(8, 8), nn.LayerNorm(8, elementwise_affine=False), nn.Tanh(),
        nn.LayerNorm(8, bias=False), nn.Linear(8, 6), nn.ReLU(),       # after an activation: layer 3's prenorm
        nn.Linear(6, 6), nn.Identity(), nn.LayerNorm(6),               # after nn.Identity: layer 5's prenorm
        nn.Linear(6, 3),
    ).double()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm) and m.weight is not None:
                m.weight.uniform_(0.5, 1.5)
                if m.bias is not None:
                    m.bias.uniform_(-0.5, 0.5)
    net = pyvanish.torch.from_torch(model)
    assert net.layernorm == (True, True, False, False, False)
    assert net.prenorm == (True, False, True, False, True)
    assert net.batchnorm == (False,) * 5 and net.architecture.ln_eps == 1e-5
    np.testing.assert_array_equal(net.pre_gammas[0], model[0].weight.detach().numpy())
    assert not net.pre_betas[2].any() and (net.gammas[1] == 1).all()
    check_against_autograd(model, net)


def test_prenorm_residual_block():
    """The transformer's pre-norm block x + F(LN(x)): the LayerNorm inside the block is the prenorm of its
    first Linear, the skip takes the un-normalised x."""
    torch, nn = _torch()
    from pyvanish.torch import Residual

    torch.manual_seed(9)
    block = lambda: Residual(nn.Sequential(nn.LayerNorm(8, eps=1e-6), nn.Linear(8, 16), nn.GELU(),  # noqa: E731
                                           nn.Linear(16, 8)), scale=0.5)
    model = nn.Sequential(nn.Linear(4, 8), block(), block(), nn.LayerNorm(8, eps=1e-6), nn.Linear(8, 2)).double()
    net = pyvanish.torch.from_torch(model)
    assert net.skips == (None, None, 1, None, 3, None)
    assert net.prenorm == (False, True, False, True, False, True) and net.architecture.ln_eps == 1e-6
    check_against_autograd(model, net)


def test_layernorm_refusals():
    torch, nn = _torch()
    from pyvanish.torch import Residual

    _refused(nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2, eps=1e-3), nn.ReLU(), nn.LayerNorm(2), nn.Linear(2, 2)),
             "ln_eps (LayerNorm eps) differs between '1' (0.001) and '3' (1e-05)")
    _refused(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.LayerNorm(2)), "module '2' (LayerNorm) ends the model")
    _refused(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.LayerNorm(2), nn.ReLU()),
             "module '2' (LayerNorm) follows module '1' (BatchNorm1d): a layer has one normalisation")
    _refused(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.LayerNorm(2), nn.LayerNorm(2), nn.Linear(2, 2)),
             "module '3' (LayerNorm) follows module '2' (LayerNorm)")
    _refused(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.LayerNorm(2), Residual(nn.Linear(2, 2))),
             ["module '2' (LayerNorm) comes right before the Residual block '3'", "inside the block"])
    _refused(nn.Sequential(nn.Linear(2, 2), Residual(nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.LayerNorm(2)))),
             "module '1.block.2' (LayerNorm) ends the Residual block '1'")
    _refused(nn.Sequential(nn.Linear(2, 4), nn.LayerNorm([2, 2])), "normalises shape (2, 2)")
    _refused(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.LayerNorm(2), nn.Linear(3, 2)),
             "module '2' (LayerNorm) normalises width 2, but the Linear after it ('3') has in_features=3")


def test_round_trip_with_layernorm():
    _torch()
    rng = np.random.default_rng(5)
    nets = [
        pyvanish.Network([4, 6, 6, 2], activations=["identity", "tanh", "identity"], layernorm=[True, False, False],
                         prenorm=[False, True, True], ln_eps=1e-3, seed=0),
        pyvanish.Network([3] + [8] * 5 + [2], activation="gelu", residual=True, residual_block=2, prenorm=True,
                         layernorm=[False, True, False, True, False, False], residual_scale=0.3, seed=1),
        pyvanish.Network([3, 5, 5, 1], activation="relu", prenorm=[True, True, False], batchnorm=[True, False, False],
                         seed=2, dtype=np.float32),
    ]
    for net in nets:
        for ps in (net.gammas, net.betas, net.pre_gammas, net.pre_betas):
            for p in ps:
                if p is not None:
                    p[...] = rng.uniform(0.5, 1.5, p.shape)
        assert_same_network(net, pyvanish.Network.from_torch(net.to_torch()))
        if net.dtype == np.float64:
            check_against_autograd(net.to_torch(), net.copy())


@pytest.mark.parametrize("loss", ["cross_entropy", "bce"])
def test_losses_against_autograd(loss):
    torch, nn = _torch()
    from pyvanish.torch import Residual

    torch.manual_seed(10)
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.Tanh(),
                          Residual(nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 8), nn.ReLU())),
                          nn.Linear(8, 4)).double()
    net = pyvanish.torch.from_torch(model, loss=loss)
    assert net.loss == loss
    check_against_autograd(model, net, batch=9, loss=loss)
    net = pyvanish.Network.from_torch(model, loss=loss)
    check_against_autograd(model, net, batch=9, loss=loss)
    assert_same_network(net, pyvanish.Network.from_torch(net.to_torch(), loss=loss))
    with pytest.raises(ValueError, match="^from_torch: loss must be one of"):
        pyvanish.torch.from_torch(model, loss="hinge")


def test_pyvanish_torch_is_the_torch_module_after_import_pyvanish():
    pytest.importorskip("torch")
    import pyvanish.torch as direct

    assert pyvanish.torch is direct and hasattr(pyvanish.torch, "Residual")
