"""Regression tests of issue 17's open items (each failed before its fix)."""
from __future__ import annotations

import numpy as np
import pytest

import pyvanish


@pytest.mark.parametrize(("kw", "msg"), [
    ({"lr": -1.0}, "^train: lr must be > 0"),
    ({"lr": 0.0}, "^train: lr must be > 0"),
    ({"weight_decay": -0.1}, "^train: weight_decay must be >= 0"),
    ({"optimizer": "momentum", "momentum": -0.5}, r"^train: momentum must be in \[0, 1\)"),
    ({"optimizer": "momentum", "momentum": 1.5}, r"^train: momentum must be in \[0, 1\)"),
])
def test_train_refuses_negative_hyper_parameters(kw, msg):
    with pytest.raises(ValueError, match=msg):
        pyvanish.train(pyvanish.Network([3, 2], seed=0), np.ones((4, 3)), np.ones((4, 2)), steps=2, **kw)


@pytest.mark.parametrize("flag", ["no", 1, None])
def test_gemm_trans_flags_must_be_bool(flag):
    with pytest.raises(TypeError, match="^gemm: trans_a must be a bool"):
        pyvanish.kernels.gemm(np.ones((2, 2)), np.ones((2, 2)), trans_a=flag)
    assert pyvanish.kernels.gemm(np.ones((2, 3)), np.ones((2, 3)), trans_a=np.bool_(True)).shape == (3, 3)


def test_set_num_threads_is_capped_and_typed():
    before = pyvanish.num_threads()
    with pytest.raises(ValueError, match="^set_num_threads: n must be <= 1024"):
        pyvanish.set_num_threads(10**6)
    with pytest.raises(TypeError, match="^set_num_threads: n must be an integer"):
        pyvanish.set_num_threads(2.5)
    assert pyvanish.num_threads() == before


def test_sweep_of_depth_zero_is_refused_like_compare():
    with pytest.raises(ValueError, match="^sweep: depth must be an integer >= 1"):
        pyvanish.sweep({"depth": [0]}, width=2, batch=2)


def test_unused_hidden_activation_is_still_checked():
    with pytest.raises(ValueError, match="^Network: unknown activation 'nope'"):
        pyvanish.Network([3, 4], activation="nope")
    with pytest.raises(ValueError, match="^Ensemble: unknown activation 'nope'"):
        pyvanish.Ensemble([3, 4], 2, activation="nope")


def test_huge_ensemble_is_refused_before_drawing():
    with pytest.raises(MemoryError, match=r"^Ensemble: .* need [\d,]+ bytes"):
        pyvanish.Ensemble([1, 1], 10**12)


def test_gradient_profile_depth_is_capped():
    with pytest.raises(ValueError, match="^gradient_profile: depth must be <= "):
        pyvanish.theory.gradient_profile("tanh", 1.0, 0.0, 10**12)


def test_seed_network_depth_is_capped():
    with pytest.raises(ValueError, match="^seed_network: depth must be a positive integer up to"):
        pyvanish.seed_network(depth=10**9)
