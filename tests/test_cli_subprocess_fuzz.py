"""The command line never shows a traceback: hypothesis-generated argument lists for every subcommand,
each run as ``python -m pyvanish`` in a subprocess; exit status 0 or 2, one line on stderr for 2.

Bounded (one interpreter start per example, ~1 s): the in-process fuzz test (test_fuzz_cli.py) covers
many more argument lists; this one proves the real entry point, its exit codes and its stderr."""
from __future__ import annotations

import os
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SUBCOMMANDS = ["seed", "report", "compare", "ensemble", "theory", "train", "sweep", "--version", "--help"]
NUMBERS = st.sampled_from(["0", "-1", "1", "2", "nan", "inf", "-inf", "1e300", "99999999999999999999999",
                           "2147483648", "1000000000", "0.5", "", "abc", ",,", "1,2,,3"])
OPTIONS = st.sampled_from(["--depth", "--width", "--batch", "--seed", "--sw2", "--sb2", "--sw", "--sb", "--lr",
                           "--steps", "-n", "--activation", "--init", "--config", "--widths", "--x", "--t",
                           "--weights", "--critical", "--json", "--dtype", "--task", "--weight-decay",
                           "--output-width", "--metric", "--bogus"])
PATHS = st.sampled_from(["/nonexistent/x.png", "/nonexistent/s.csv", "/proc/x.csv", "out.txt", "/"])
NAMES = st.sampled_from(["nope", "tanh", "relu,he,bn", "digits", "teacher", "float16", "W"])


@st.composite
def argv_lists(draw):
    argv = [draw(st.sampled_from(SUBCOMMANDS))]
    for _ in range(draw(st.integers(0, 4))):
        opt = draw(OPTIONS)
        argv.append(opt)
        argv.append(draw(st.one_of(NUMBERS, NAMES)))
    if draw(st.booleans()):
        argv += [draw(st.sampled_from(["--plot", "--out"])), draw(PATHS)]
    return argv


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(argv=argv_lists())
def test_cli_subprocess_never_shows_a_traceback(argv, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("cli")
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "COLUMNS": "100"}
    # small sizes only pass the checks quickly; a refused or valid run takes ~1 s
    res = subprocess.run([sys.executable, "-m", "pyvanish", *argv], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=120)
    assert "Traceback" not in res.stderr, (argv, res.stderr)
    assert res.returncode in (0, 2), (argv, res.returncode, res.stderr)
    if res.returncode == 2:
        assert len(res.stderr.strip().splitlines()) == 1, (argv, res.stderr)
