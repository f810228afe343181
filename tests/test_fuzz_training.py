"""Fuzz tests: malformed input to train and teacher_task.

See tests/_fuzz_helpers.py for what the fuzz tests throw and what they require."""
from __future__ import annotations

from _fuzz_helpers import (
    EXAMPLES,
    NETS,
    TRAIN_NET,
    _count_examples,  # noqa: F401  (autouse: counts this module's examples)
    activation_names,
    attempt,
    fuzz,
    near,
    seeds,
    small_reals,
)
from hypothesis import given
from hypothesis import strategies as st

import pyvanish

# ------------------------------------------------------------------ train, teacher_task

@fuzz(250)
@given(data=st.data(), N=st.integers(0, 6), steps=st.one_of(st.integers(-1, 6), st.floats(0, 4), st.booleans(), st.just("3")),
       batch_size=st.one_of(st.none(), st.integers(-1, 8), st.floats(0, 3)),
       lr=st.one_of(st.floats(-10, 10), st.sampled_from([float("nan"), float("inf"), "0.1"])),
       optimizer=st.one_of(st.sampled_from(["sgd", "momentum", "adam", "SGD", "rmsprop", ""]), st.none(), st.integers(0, 2)),
       momentum=st.floats(-1, 1.5),
       betas=st.one_of(st.tuples(st.floats(-0.5, 1.5), st.floats(-0.5, 1.5)),
                       st.sampled_from([3, ("a", "b"), (0.9,), None, (0.9, 0.99, 0.1), (float("nan"), 0.9)])),
       eps=st.floats(-1, 1), weight_decay=st.floats(-1, 1), record_every=st.one_of(st.integers(-1, 8), st.floats(1, 2)),
       seed=seeds, cf=st.booleans(), bn=st.booleans())
def test_train(data, N, steps, batch_size, lr, optimizer, momentum, betas, eps, weight_decay, record_every, seed, cf, bn):
    EXAMPLES["train"] += 1
    net = pyvanish.Network([3, 4, 2], batchnorm=[True, False], seed=0) if bn else TRAIN_NET.copy()
    X = data.draw(near((N, 3)), label="X")
    T = data.draw(near((N, 2)), label="T")
    net_arg = data.draw(st.sampled_from([net, net, net, None, "net", NETS[0]._engine]))
    res = attempt("train", lambda: pyvanish.train(net_arg, X, T, steps, batch_size=batch_size, lr=lr, optimizer=optimizer,
                                                  momentum=momentum, betas=betas, eps=eps, weight_decay=weight_decay,
                                                  record_every=record_every, seed=seed, check_finite=cf, progress=False))
    if not isinstance(res, Exception):
        assert 0 <= res.steps_done <= steps and len(res.loss) == len(res.step)


@fuzz(80)
@given(n=st.one_of(st.integers(-1, 40), st.floats(0, 3)), width=st.integers(-1, 5),
       activation=activation_names, noise=small_reals, seed=seeds)
def test_teacher_task(n, width, activation, noise, seed):
    EXAMPLES["teacher_task"] += 1
    res = attempt(("teacher_task", "Network"), lambda: pyvanish.teacher_task(n, width, activation=activation,
                                                                            noise=noise, seed=seed))
    if not isinstance(res, Exception):
        X, T = res
        assert X.shape == (n, width) and T.shape == (n, 1)
