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
