"""Fuzz tests: the command line, in-process: status 0 or 2, one line on stderr for 2, never a raise.

See tests/_fuzz_helpers.py for what the fuzz tests throw and what they require."""
from __future__ import annotations

from _fuzz_helpers import (
    EXAMPLES,
    _count_examples,  # noqa: F401  (autouse: counts this module's examples)
    fuzz,
    run_cli,
)
from hypothesis import given
from hypothesis import strategies as st

from pyvanish import cli

# ------------------------------------------------------------------ the command line

def _options():
    """Every option of every subcommand but --help, --version and those that write
    files or start processes (--plot, --out, --workers)."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    opts = {}
    for name, p in sub.choices.items():
        opts[name] = sorted(o for a in p._actions for o in a.option_strings
                            if o not in ("-h", "--help", "--plot", "--out", "--workers"))
    return opts


OPTIONS = _options()
# Small sizes first, so that every run is quick; the fuzzed tokens come after
# (argparse keeps the last value of an option).
BASE = {"seed": ["--depth", "3"], "report": ["--depth", "2", "--width", "3", "--batch", "4"],
        "compare": ["--depth", "2", "--width", "3", "--batch", "4"],
        "ensemble": ["-n", "20", "--depth", "2", "--width", "3"],
        "train": ["--steps", "3", "--samples", "16", "--batch-size", "4", "--depth", "1", "--width", "3"],
        "theory": ["--sw2", "1.5"], "sweep": ["--depth", "2", "--width", "3", "--batch", "4"]}
VALUES = ["0", "1", "2", "3", "-1", "nan", "inf", "-inf", "1e300", "abc", "", "0.5", "tanh", "relu", "he", "xavier",
          "float32", "float16", "bn", "tanh,bn", "relu,he,res", "1,2", "2,2,1", "0,1", "x,y", "true", "digitz"]


@st.composite
def argvs(draw):
    command = draw(st.sampled_from(sorted(BASE) + ["", "bogus", "--bogus"]))
    if command not in BASE:
        return [command] if command else []
    argv = [command] + BASE[command]
    for _ in range(draw(st.integers(0, 4))):
        tok = draw(st.one_of(st.sampled_from(OPTIONS[command]), st.sampled_from(VALUES)))
        argv.append(tok)
        if tok.startswith("-") and draw(st.booleans()):
            argv.append(draw(st.sampled_from(VALUES)))
    return argv


@fuzz(250)
@given(argv=argvs())
def test_cli_bad_arguments(argv):
    EXAMPLES["cli"] += 1
    code, out, err = run_cli(argv)
    assert code in (0, 2), (argv, code)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pyvanish"), (argv, err)
    else:
        assert out
