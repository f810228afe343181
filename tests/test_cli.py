"""The command line: pyvanish seed, pyvanish report, errors."""
import io
import json
import re
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


def test_theory_wording_judges_the_phase_against_the_depth():
    """chi1 = 0.9998 (depth scale 5000 layers): critical for a 20-layer network, not 'ordered'."""
    code, text = run(["theory", "--sigma-w2", "0.9998", "--depth", "20"])
    xi = -1 / np.log(0.9998)
    assert code == 0
    assert f"  phase: critical: gradients neither vanish nor explode over 20 layers (depth scale xi = {xi:.4g} layers)" \
        in text.splitlines()
    code, text = run(["theory", "--sigma-w2", "0.9998", "--depth", "10000"])
    assert "  phase: ordered: gradients vanish over 10000 layers" in text
    code, text = run(["theory", "--sigma-w2", "0.9998"])
    assert f"  phase: ordered (chi1 < 1): gradients vanish in networks deeper than the depth scale xi = {xi:.4g} layers" \
        in text.splitlines()
    code, js = run(["theory", "--sigma-w2", "4", "--depth", "20", "--json"])
    assert json.loads(js)["phase"].startswith("chaotic: gradients explode over 20 layers")


def test_ensemble_theory_text_says_critical_for_a_shallow_network():
    code, text = run(["ensemble", "--depth", "10", "--width", "16", "--sigma-w", "1.2", "-n", "200", "--theory"])
    chi1 = pyvanish.theory.chi1("tanh", 1.44, 0.0)
    assert code == 0
    assert f"phase: critical: gradients neither vanish nor explode over 11 layers (depth scale xi = {1 / np.log(chi1):.4g}" \
        in text


def _subparsers():
    import argparse

    from pyvanish.cli import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


def _shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def test_help_texts_state_the_parser_defaults():
    """Every option with a default says it in its help, and says the value the parser uses."""
    import re

    checked = 0
    for name, parser in _subparsers().items():
        help_text = parser.format_help()
        assert "%%" not in help_text and "%(" not in help_text, name            # rendered, not literal
        for action in parser._actions:
            if action.help is None or action.dest in ("help", "func"):
                continue
            default = parser.get_default(action.dest)
            stated = re.findall(r"default:?\s+([^\s:;,)]+)", action.help)
            if default is None or isinstance(default, bool):
                continue
            assert stated, f"pyvanish {name} {action.option_strings}: help does not state the default {default!r}"
            assert stated[0] == _shown(default), (name, action.option_strings, stated, default)
            checked += 1
    assert checked >= 35
    assert "batch size (default 1)" in " ".join(_subparsers()["ensemble"].format_help().split())


@pytest.mark.parametrize("command,old,new,value", [
    ("report", "--sw", "--sigma-w", "1.5"), ("report", "--sb", "--sigma-b", "0.2"),
    ("ensemble", "--sw", "--sigma-w", "1.5"), ("ensemble", "--sb", "--sigma-b", "0.2"),
    ("theory", "--sw2", "--sigma-w2", "1.5"), ("theory", "--sb2", "--sigma-b2", "0.2"),
])
def test_sigma_options_have_unambiguous_names_and_keep_the_old_ones(command, old, new, value):
    parser = _subparsers()[command]
    base = ["--sigma-w2", "1"] if command == "theory" and "w2" not in new else []
    a = parser.parse_args(base + [new, value])
    b = parser.parse_args(base + [old, value])
    assert vars(a) == vars(b) and getattr(a, old.lstrip("-")) == float(value)
    assert f"{new} {old.lstrip('-').upper()}, {old} {old.lstrip('-').upper()}" in parser.format_help()
    small = {"report": ["--depth", "3", "--width", "4"], "ensemble": ["--depth", "3", "--width", "4", "-n", "20"],
             "theory": base}[command]
    code_a, text_a = run([command, *small, new, value])
    code_b, text_b = run([command, *small, old, value])
    assert code_a == code_b == 0
    timing = re.compile(r"\(\d+ networks in [\d.]+ ms\)")
    assert timing.sub("", text_a) == timing.sub("", text_b)


def test_seed_checks_its_arguments_before_printing(capsys):
    for argv in (["seed", "--weights", "1,2,3,4", "--depth", "6"], ["seed", "--biases", "0,0", "--depth", "3"]):
        code, text = run(argv)
        err = capsys.readouterr().err
        assert code == 2 and text == "" and err.count("\n") == 1 and "needs" in err, (argv, text, err)
    code, text = run(["seed", "--weights", "1,2,3,4,5,6", "--depth", "6"])
    assert code == 0 and "dL/dw6" in text
