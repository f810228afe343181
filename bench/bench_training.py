"""Training benchmark (issue: training). W6: SGD lr 0.1, 200 steps,
16 -> 10 x 64 -> 1 sigmoid, minibatches of 32 from 256 samples, |dL/dW_l|
recorded every step: the C++ loop against the same loop in NumPy with
pyvanish.reference. Ratio = numpy time / cpp time."""
import numpy as np
import pytest

import pyvanish
from pyvanish import reference as ref
from pyvanish.training import minibatch_indices

STEPS, BATCH, LR = 200, 32, 0.1


@pytest.fixture(scope="module")
def task():
    X, T = pyvanish.teacher_task(256, 16, seed=0)
    return X, T, minibatch_indices(256, STEPS, BATCH, 0)


def fresh():
    return pyvanish.Network([16] + [64] * 10 + [1], activation="sigmoid", init="xavier", seed=0)


def cpp_train(X, T):
    net = fresh()
    return pyvanish.train(net, X, T, steps=STEPS, batch_size=BATCH, lr=LR, seed=0)


def numpy_train(X, T, idx):
    net = fresh()
    W, b = [w.copy() for w in net.weights], [v.copy() for v in net.biases]
    return ref.train(W, b, list(net.activations), X, T, idx, LR)


@pytest.mark.parametrize("impl", ["cpp", "numpy"])
def bench_training(benchmark, task, impl):
    X, T, idx = task
    benchmark.group = "training-W6-sgd-200-steps-16x10x64x1-sigmoid-B32"
    if impl == "cpp":
        h = benchmark(cpp_train, X, T)
        loss, gW = h.loss, h.grad_W
        want = numpy_train(X, T, idx)
    else:
        want = benchmark(numpy_train, X, T, idx)
        h = cpp_train(X, T)
        loss, gW = h.loss, h.grad_W
    np.testing.assert_allclose(loss, want["loss"], rtol=1e-8)
    np.testing.assert_allclose(gW, want["grad_W"], rtol=1e-6)
