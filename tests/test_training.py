"""Training in the C++ engine against the NumPy reference, and what it shows."""
import io

import numpy as np
import pytest

import pyvanish
from pyvanish import reference as ref
from pyvanish.cli import main
from pyvanish.training import minibatch_indices


def ref_params(net):
    bn = [(g.copy(), b.copy()) if g is not None else None for g, b in zip(net.gammas, net.betas)]
    return [w.copy() for w in net.weights], [b.copy() for b in net.biases], bn


@pytest.mark.parametrize("optimizer,kw", [("sgd", {}), ("sgd", {"momentum": 0.9}), ("adam", {}),
                                          ("sgd", {"weight_decay": 0.01}), ("adam", {"weight_decay": 0.01})])
@pytest.mark.parametrize("batchnorm", [False, True])
def test_steps_equal_the_reference(dtype, optimizer, kw, batchnorm):
    X, T = pyvanish.teacher_task(40, 5, 2, seed=1)
    X, T = X.astype(dtype), T.astype(dtype)
    net = pyvanish.Network([5, 7, 7, 2], activation="tanh", batchnorm=batchnorm, seed=3, dtype=dtype)
    W, b, bn = ref_params(net)
    steps = 30
    hist = pyvanish.train(net, X, T, steps=steps, batch_size=8, lr=0.05, optimizer=optimizer, seed=5, **kw)
    idx = minibatch_indices(40, steps, 8, 5)
    want = ref.train(W, b, list(net.activations), X, T, idx, 0.05, optimizer,
                     batchnorm=bn if batchnorm else None, **kw)
    rtol = 2e-4 if dtype == np.float32 else 1e-9
    # the first step exactly (to rounding), then the whole trajectory
    assert hist.loss[0] == pytest.approx(want["loss"][0], rel=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_allclose(hist.loss, want["loss"], rtol=rtol)
    np.testing.assert_allclose(hist.grad_W, want["grad_W"], rtol=rtol * 10)
    for mine, theirs in zip(net.weights, W):
        np.testing.assert_allclose(mine, theirs, rtol=rtol, atol=rtol * np.abs(theirs).max())
    if batchnorm:
        for g, pair in zip(net.gammas, bn):
            if g is not None:
                np.testing.assert_allclose(g, pair[0], rtol=rtol)


def test_hundreds_of_steps_track_the_reference():
    X, T = pyvanish.teacher_task(128, 8, seed=2)
    net = pyvanish.Network([8, 16, 16, 16, 1], activation="sigmoid", seed=0)
    W, b, _ = ref_params(net)
    hist = pyvanish.train(net, X, T, steps=300, batch_size=16, lr=0.5, seed=1)
    want = ref.train(W, b, list(net.activations), X, T, minibatch_indices(128, 300, 16, 1), 0.5)
    np.testing.assert_allclose(hist.loss, want["loss"], rtol=1e-8)
    assert hist.final_loss < hist.loss[0]


def test_records_update_ratios_and_schedule():
    X, T = pyvanish.teacher_task(64, 4, seed=0)
    net = pyvanish.Network([4, 8, 1], activation="tanh", seed=0)
    W0 = net.weights[0].copy()
    hist = pyvanish.train(net, X, T, steps=10, batch_size=64, lr=0.1, record_every=4)
    assert hist.step.tolist() == [0, 4, 8, 9]
    assert hist.grad_h.shape == (4, 3) and hist.update_ratio.shape == (4, 2)
    # one full-batch SGD step moves W_1 by lr |dL/dW_1|: the first record says so
    assert hist.update_ratio[0, 0] == pytest.approx(0.1 * hist.grad_W[0, 0] / np.linalg.norm(W0), rel=1e-12)
    assert hist.moved[0] == pytest.approx(np.linalg.norm(net.weights[0] - W0) / np.linalg.norm(W0))
    frame = pytest.importorskip("pandas") and hist.to_frame()
    assert len(frame) == 4 * 2


def test_progress_chunks_do_not_change_the_result():
    X, T = pyvanish.teacher_task(64, 4, seed=0)
    a = pyvanish.Network([4, 8, 8, 1], activation="tanh", seed=0)
    b = a.copy()
    ha = pyvanish.train(a, X, T, steps=120, batch_size=16, lr=0.01, optimizer="adam", record_every=3, progress=False)
    hb = pyvanish.train(b, X, T, steps=120, batch_size=16, lr=0.01, optimizer="adam", record_every=3, progress=True)
    np.testing.assert_array_equal(ha.loss, hb.loss)
    np.testing.assert_array_equal(ha.step, hb.step)
    np.testing.assert_array_equal(a.weights[0], b.weights[0])


# Documented bands (README, "Training"): 16 -> 10 x 64 -> 1 on the teacher task,
# SGD lr 0.01, 200 steps of 32: plain sigmoid's first layer takes updates
# below 1e-4 of the last layer's (median |dW|/|W| per step); with ReLU + He,
# batch norm or residual connections the ratio is above 1e-2.
def test_deep_sigmoid_first_layer_does_not_learn_and_the_fixes_change_that():
    X, T = pyvanish.teacher_task(256, 16, seed=0)
    ratios = {}
    for name, kw in {"sigmoid": dict(activation="sigmoid", init="xavier"),
                     "relu+he": dict(activation="relu", init="he"),
                     "sigmoid+bn": dict(activation="sigmoid", init="xavier", batchnorm=True),
                     "sigmoid+res": dict(activation="sigmoid", init="xavier", residual=True)}.items():
        net = pyvanish.Network([16] + [64] * 10 + [1], seed=0, **kw)
        h = pyvanish.train(net, X, T, steps=200, batch_size=32, lr=0.01)
        assert h.stopped is None
        med = np.median(h.update_ratio, axis=0)
        ratios[name] = med[0] / med[-1]
    assert ratios["sigmoid"] < 1e-4
    for name in ("relu+he", "sigmoid+bn", "sigmoid+res"):
        assert ratios[name] > 1e-2, (name, ratios[name])


def test_bad_input_and_divergence():
    X, T = pyvanish.teacher_task(32, 4, seed=0)
    net = pyvanish.Network([4, 8, 1], seed=0)
    with pytest.raises(ValueError, match="X has 32 samples but T has 31"):
        pyvanish.train(net, X, T[:31])
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        pyvanish.train(net, X, T, steps=0)
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[1, 32\]"):
        pyvanish.train(net, X, T, batch_size=33)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        pyvanish.train(net, X, T, optimizer="lbfgs")
    with pytest.raises(ValueError, match=r"X has shape \(32, 3\)"):
        pyvanish.train(net, X[:, :3], T)
    with pytest.raises(TypeError, match="net must be a pyvanish.Network"):
        pyvanish.train("net", X, T)
    # a diverging learning rate: reported, stopped cleanly, no crash or hang
    deep = pyvanish.Network([4] + [32] * 6 + [1], activation="relu", init="he", seed=0)
    h = pyvanish.train(deep, X, T * 100, steps=500, batch_size=8, lr=5.0)
    assert h.stopped is not None and "non-finite" in h.stopped
    assert h.steps_done < 500 and not np.isfinite(h.loss[-1]) or not np.isfinite(h.moved).all()


def test_cli_train():
    out = io.StringIO()
    assert main(["train", "--depth", "6", "--width", "16", "--steps", "100", "--samples", "128"], out=out) == 0
    text = out.getvalue()
    for name in ("tutorial", "relu+he", "resnet", "transformer", "final loss", "layer 1"):
        assert name in text


def test_explicit_zero_momentum_is_kept():
    """optimizer="momentum" defaults momentum to 0.9, but an explicit 0.0 is 0.0 (plain SGD)."""
    X, T = pyvanish.teacher_task(32, 4, seed=0)
    nets = [pyvanish.Network([4, 8, 1], seed=0) for _ in range(3)]
    h_sgd = pyvanish.train(nets[0], X, T, steps=5, optimizer="sgd")
    h_zero = pyvanish.train(nets[1], X, T, steps=5, optimizer="momentum", momentum=0.0)
    h_default = pyvanish.train(nets[2], X, T, steps=5, optimizer="momentum")
    assert np.array_equal(h_zero.loss, h_sgd.loss)
    assert not np.array_equal(h_default.loss, h_sgd.loss)
