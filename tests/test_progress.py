"""Progress bars on every long operation: off with progress=False, shown when forced, auto on a
terminal or in Jupyter; a bar never changes a result."""
import io

import numpy as np
import pytest

import pyvanish
from pyvanish import _text, theory
from pyvanish.init import init_weight

X, T = pyvanish.teacher_task(64, 4, seed=0)

#: name shown on the bar -> a call of the operation with progress=...
OPERATIONS = {
    "Ensemble": lambda p: pyvanish.Ensemble([4, 4, 4, 1], 20, progress=p),
    "Ensemble.run": lambda p: pyvanish.Ensemble([4, 4, 4, 1], 20, progress=False).run(
        np.ones((2, 4)), np.zeros((2, 1)), progress=p),
    "Ensemble.run (batch norm)": lambda p: pyvanish.Ensemble([4, 4, 4, 1], 5, batchnorm=True, progress=False).run(
        np.eye(4)[:3], np.zeros((3, 1)), progress=p),
    "sweep": lambda p: pyvanish.sweep({"depth": [1, 2]}, width=4, batch=4, progress=p),
    "train": lambda p: pyvanish.train(pyvanish.Network([4, 8, 1], seed=0), X, T, steps=20, progress=p),
    "phase_diagram": lambda p: theory.phase_diagram("tanh", [1.0, 2.0], [0.0, 0.1], progress=p),
    "critical_line": lambda p: theory.critical_line("tanh", [0.0, 0.1], progress=p),
}


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_progress_false_prints_nothing_and_true_shows_a_bar(name, capsys):
    OPERATIONS[name](False)
    assert capsys.readouterr() == ("", "")
    OPERATIONS[name](True)
    out, err = capsys.readouterr()
    label = name.split(" ")[0]
    assert out == "" and f"{label}: 100%" in err, err                # the bar reached its total, on stderr
    OPERATIONS[name](None)                                           # auto: stderr is not a terminal here
    assert capsys.readouterr() == ("", "")


def test_ensemble_bars_count_layers_and_members(capsys):
    pyvanish.Ensemble([4, 4, 4, 4, 1], 30, progress=True).run(np.ones((1, 4)), np.zeros((1, 1)), progress=True)
    err = capsys.readouterr().err
    assert "4/4 [" in err and "layer" in err                          # construction: a step per layer
    assert "30/30 [" in err and "member" in err                       # the run: all members


def test_a_bar_changes_no_result():
    a = pyvanish.Ensemble([6, 5, 5, 1], 40, init="he", sb=0.1, seed=3, progress=True)
    b = pyvanish.Ensemble([6, 5, 5, 1], 40, init="he", sb=0.1, seed=3, progress=False)
    rng = np.random.default_rng(3)                                   # weights of every layer, then biases
    want_W = [init_weight(rng, "he_normal", o, i, members=40) for o, i in ((5, 6), (5, 5), (1, 5))]
    want_b = [rng.normal(0.0, 0.1, (40, o)) for o in (5, 5, 1)]
    for got in (a, b):
        for W, w in zip(got.weights, want_W):
            np.testing.assert_array_equal(W, w)
        for B, w in zip(got.biases, want_b):
            np.testing.assert_array_equal(B, w)
    x, t = a.architecture.default_batch(4, seed=0)
    assert a.run(x, t, progress=True) == b.run(x, t, progress=False)
    h1 = pyvanish.train(pyvanish.Network([4, 8, 1], seed=0), X, T, steps=120, batch_size=8, progress=True)
    h2 = pyvanish.train(pyvanish.Network([4, 8, 1], seed=0), X, T, steps=120, batch_size=8, progress=False)
    assert h1 == h2
    np.testing.assert_array_equal(theory.phase_diagram("tanh", [1.0, 2.0], [0.0], progress=True),
                                  theory.phase_diagram("tanh", [1.0, 2.0], [0.0], progress=False))


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_auto_mode_terminal_or_jupyter(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert _text.progress_enabled(None) is False
    assert isinstance(_text.progress(3, desc="x", unit="step"), _text._NoProgress)
    monkeypatch.setattr(_text, "_in_jupyter", lambda: True)          # a notebook: a bar (a widget there)
    assert _text.progress_enabled(None) is True
    monkeypatch.setattr(_text, "_in_jupyter", lambda: False)
    monkeypatch.setattr("sys.stderr", _Tty())
    assert _text.progress_enabled(None) is True and _text.progress_enabled(False) is False
    with _text.progress(3, desc="x", unit="step") as bar:            # auto: only after AUTO_DELAY seconds
        assert bar.delay == _text.AUTO_DELAY > 0
        bar.update(3)
    import sys

    assert sys.stderr.getvalue() == ""                                # a fast call stays silent
    with _text.progress(3, desc="x", unit="step", enabled=True) as bar:
        assert bar.delay == 0
    assert "x:" in sys.stderr.getvalue()


def test_in_jupyter_detects_a_kernel(monkeypatch):
    import sys
    import types

    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: None
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert _text._in_jupyter() is False                              # IPython imported, no shell
    fake.get_ipython = lambda: types.SimpleNamespace()               # a terminal IPython: no kernel
    assert _text._in_jupyter() is False
    fake.get_ipython = lambda: types.SimpleNamespace(kernel=object())
    assert _text._in_jupyter() is True
