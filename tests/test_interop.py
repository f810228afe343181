"""PyTorch and scikit-learn interop (each test skipped, with its reason, when the
package is not installed; .ci/run installs both)."""
import numpy as np
import pytest

import pyvanish


def test_from_torch_copies_weights_and_matches_autograd():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 6), nn.LeakyReLU(0.2), nn.Linear(6, 6),
                          nn.GELU(), nn.Linear(6, 4), nn.ELU(alpha=0.7), nn.Linear(4, 3), nn.SiLU(),
                          nn.Linear(3, 2)).double()
    net = pyvanish.Network.from_torch(model)
    assert net.widths == (5, 7, 6, 6, 4, 3, 2)
    assert net.activations == ("tanh", "leaky_relu", "gelu", "elu", "silu", "identity")
    x = torch.randn(9, 5, dtype=torch.float64)
    t = torch.randn(9, 2, dtype=torch.float64)
    loss = 0.5 * ((model(x) - t) ** 2).sum() / 9      # pyvanish's L = 1/(2B) sum |y - t|^2
    loss.backward()
    rep = net.gradient_report(x.numpy(), t.numpy(), return_grads=True)
    assert rep.loss == pytest.approx(loss.item(), rel=1e-12)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for lin, gW, gb in zip(linears, rep.grads["W"], rep.grads["b"]):
        np.testing.assert_allclose(gW, lin.weight.grad.numpy(), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(gb, lin.bias.grad.numpy(), rtol=1e-10, atol=1e-14)
    # float32 models give float32 networks
    assert pyvanish.Network.from_torch(nn.Sequential(nn.Linear(2, 2), nn.Sigmoid())).dtype == np.float32
    # Dropout is a no-op (evaluation mode); the rest of the interop is tests/test_torch.py
    assert pyvanish.Network.from_torch(nn.Sequential(nn.Linear(2, 2), nn.Dropout())).widths == (2, 2)
    with pytest.raises(ValueError, match=r"^Network\.from_torch: module '1' \(Conv1d\) is not supported"):
        pyvanish.Network.from_torch(nn.Sequential(nn.Linear(2, 2), nn.Conv1d(2, 2, 1)))
    with pytest.raises(ValueError, match=r"^Network\.from_torch: module '0' \(ReLU\) comes before any Linear"):
        pyvanish.Network.from_torch(nn.Sequential(nn.ReLU(), nn.Linear(2, 2)))


def test_digits_task_trains():
    pytest.importorskip("sklearn")
    X, T = pyvanish.digits_task()
    assert X.shape == (1797, 64) and T.shape == (1797, 10) and X.max() == 1.0
    assert (T.sum(axis=1) == 1).all()
    net = pyvanish.Network([64, 32, 10], activation="tanh", seed=0)
    h = pyvanish.train(net, X, T, steps=500, batch_size=64, lr=0.1, seed=0)
    assert h.final_loss < 0.5 * h.loss[0]
    accuracy = np.mean(net.forward(X).argmax(axis=1) == T.argmax(axis=1))
    assert accuracy > 0.8
