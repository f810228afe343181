"""The command line: pyvanish seed, pyvanish report, errors."""
import io
import json
import subprocess
import sys

import numpy as np
import pytest

import pyvanish
from pyvanish.cli import main


def run(argv):
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue()


def test_seed_walkthrough_numbers_match_the_engine():
    code, text = run(["seed", "--weights", "0.5,-1.5,2,0.8", "--x", "0.7", "--t", "0.25"])
    assert code == 0
    ex = pyvanish.seed_network(weights=[0.5, -1.5, 2, 0.8]).explain(0.7, 0.25)
    assert f"{ex.grad_h[1]: .6e}" in text          # dL/dh1 as the engine computed it
    assert f"{ex.grad_h[0]: .6e}" in text          # dL/dx
    assert "1. Sigmoid" in text and "2. ReLU hidden layers with He" in text
    assert "it is the last factor of dL/dx" in text
    ratio = abs(ex.grad_w[0]) / abs(ex.grad_w[-1])
    assert f"sigmoid {ratio:.2e}" in text


def test_default_demo_is_seed():
    assert run([])[1] == run(["seed"])[1]


def test_report_text_and_json():
    code, text = run(["report", "--depth", "20", "--width", "16", "--activation", "sigmoid",
                      "--init", "xavier", "--batch", "8", "--seed", "3"])
    assert code == 0 and "verdict: vanishing" in text
    code, js = run(["report", "--widths", "4,8,8,2", "--activation", "relu", "--init", "he", "--json"])
    d = json.loads(js)
    net = pyvanish.Network([4, 8, 8, 2], activation="relu", init="he", seed=0)
    rng = np.random.default_rng([0, 1])
    x, t = rng.standard_normal((64, 4)), rng.standard_normal((64, 2))
    rep = net.gradient_report(x, t)
    assert d["grad_W"] == pytest.approx(list(rep.grad_W), rel=1e-12)
    assert d["verdict"] == rep.verdict and d["widths"] == [4, 8, 8, 2]


def test_report_float32():
    code, js = run(["report", "--depth", "3", "--width", "8", "--dtype", "float32", "--json"])
    assert code == 0 and json.loads(js)["dtype"] == "float32"


@pytest.mark.parametrize("argv,msg", [
    (["report", "--activation", "foo"], "unknown activation 'foo'"),
    (["report", "--init", "bar"], "unknown init 'bar'"),
    (["report", "--depth", "-1"], "--depth: expected a positive integer"),
    (["report", "--widths", "4,x"], "expected comma-separated integers"),
    (["report", "--widths", "4"], "--widths needs at least 2 entries"),
    (["report", "--dtype", "float16"], "invalid choice"),
    (["seed", "--weights", "1,2"], "weights needs 4 values"),
    (["nonsense"], "invalid choice"),
])
def test_bad_arguments_one_line_exit_2(argv, msg, capsys):
    code, _ = run(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert msg in err and err.count("\n") == 1


def test_console_entry_points():
    for cmd in ([sys.executable, "-m", "pyvanish", "report", "--help"],):
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd="/")
        assert res.returncode == 0 and "--activation" in res.stdout
    res = subprocess.run([sys.executable, "-m", "pyvanish", "report", "--depth", "0"],
                         capture_output=True, text=True, timeout=60, cwd="/")
    assert res.returncode == 2 and res.stderr.count("\n") == 1


@pytest.mark.parametrize("argv", [
    ["report", "--depth", "3", "--width", "4"],
    ["compare", "--depth", "3", "--width", "4"],
    ["ensemble", "--depth", "3", "--width", "4", "-n", "50", "--theory"],
    ["train", "--depth", "2", "--width", "4", "--steps", "20", "--samples", "64"],
    ["theory", "--sw2", "1.5", "--sb2", "0.05"],
])
def test_plot_option_writes_a_png(argv, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "fig.png"
    code, _ = run(argv + ["--plot", str(path)])
    assert code == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_cli_sweep_writes_the_table(tmp_path):
    path = tmp_path / "s.csv"
    code, text = run(["sweep", "--depth", "2,3", "--width", "4", "--activation", "tanh,relu",
                      "--seeds", "2", "--out", str(path)])
    assert code == 0 and f"wrote {2 * 2 * (3 + 4)} rows" in text   # activations x seeds x layers
    import importlib

    sweep_mod = importlib.import_module("pyvanish.sweep")
    res = sweep_mod.SweepResult.read_csv(path)
    assert len(res.records) == 28 and {r["activation"] for r in res.records} == {"tanh", "relu"}
    assert run(["sweep", "--depth", "x"])[0] == 2
    assert run(["sweep", "--out", "s.txt"])[0] == 2
