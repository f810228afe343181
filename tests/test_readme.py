"""The README cannot drift: its Python blocks run and print what it shows; its command-line
sessions are what the commands print.

The rules, read from README.md's fenced blocks:

1. ``python`` blocks run in order of appearance. The blocks of one section (a ``## `` heading)
   share one namespace, which starts empty: a section's first Python block imports what the
   section uses, so it can be copied on its own. Blocks run in a temporary working directory.
2. A Python block whose lines start with ``>>>`` is a doctest (ELLIPSIS, NORMALIZE_WHITESPACE)
   in its section's namespace.
3. A Python block whose first line is a comment naming a file (``# setup.py``) shows a file, not
   a session: it is compiled and its imports resolved, not run.
4. A block whose first line starts with ``$ `` is a session: each ``$ `` line is a command (a
   trailing ``# ...`` comment is not part of it); the lines up to the next ``$ `` line are its
   output. ``pyvanish ...`` runs the command line in-process in a temporary directory,
   ``python ...`` runs in a subprocess from the repository's root. A command shown without
   output must succeed.
5. A block without a language that directly follows a Python block (nothing but blank lines
   between) is that block's standard output. A session that directly follows a Python block
   claims both print the same: the block's output must match the first command's shown output.
6. Output matches line by line with runs of spaces collapsed; ``...`` inside a line stands for
   any text, a line that is only ``...`` for any number of lines, and the time in a line
   ``(N networks in T ms)`` is not compared.
"""
from __future__ import annotations

import ast
import contextlib
import doctest
import importlib
import io
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from pyvanish import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_TIMING = re.compile(r"\((\d+ networks) in [\d.]+ m?s\)")
_FILE_BLOCK = re.compile(r"#\s*[\w./-]+\.py\s*$")


@dataclass
class Block:
    section: str
    lang: str
    text: str
    line: int                     # the opening fence's line number (1-based)
    follows: Block | None = None  # the block right above, when only blank lines separate them
    commands: list = field(default_factory=list)  # a session's (command, expected lines)


def blocks(text: str) -> list:
    """Every fenced block of the README, with its section and the block it directly follows."""
    out: list = []
    section, lines, i = "", text.splitlines(), 0
    last_end = None
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("## "):
            section = ln[3:].strip()
        if ln.startswith("```"):
            lang, start, body = ln[3:].strip(), i, []
            i += 1
            while not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            adjacent = last_end is not None and all(not x.strip() for x in lines[last_end + 1 : start])
            block = Block(section, lang, "\n".join(body) + "\n", start + 1, out[-1] if adjacent and out else None)
            if body and body[0].startswith("$ "):
                for b in body:
                    if b.startswith("$ "):
                        block.commands.append((re.sub(r"\s+#.*$", "", b[2:]).strip(), []))
                    else:
                        block.commands[-1][1].append(b)
            out.append(block)
            last_end = i
        i += 1
    return out


BLOCKS = blocks(README.read_text(encoding="utf-8"))
SESSIONS = [b for b in BLOCKS if b.commands]


def _norm(line: str) -> str:
    return _TIMING.sub(r"(\1 in <time>)", " ".join(line.split()))


def match(expected: list, actual: list) -> str | None:
    """None if ``actual`` lines match the ``expected`` pattern lines (rule 6), else a message."""
    pats = []
    for e in expected:
        e = _norm(e)
        pats.append(None if e == "..." else re.compile(".*".join(re.escape(p) for p in e.split("..."))))
    act = [_norm(a) for a in actual]
    while act and not act[-1]:
        act.pop()
    while pats and pats[-1] is not None and not pats[-1].pattern:
        pats.pop()

    from functools import cache

    @cache
    def ok(i: int, j: int) -> bool:
        if i == len(pats):
            return j == len(act)
        if pats[i] is None:
            return ok(i + 1, j) or (j < len(act) and ok(i, j + 1))
        return j < len(act) and pats[i].fullmatch(act[j]) is not None and ok(i + 1, j + 1)

    if ok(0, 0):
        return None
    # the first expected line that matches nowhere after the previous one, for the message
    j = 0
    for e, p in zip(expected, pats):
        if p is None:
            continue
        hits = [k for k in range(j, len(act)) if p.fullmatch(act[k])]
        if not hits:
            return f"no output line matches {e!r} (from output line {j + 1} on)\n--- output:\n" + "\n".join(actual)
        j = hits[0] + 1
    return "the lines match one by one but not in this order or count\n--- output:\n" + "\n".join(actual)


def test_the_matcher():
    assert match(["a  b", "...", "z"], ["a b", "x", "y", "z"]) is None
    assert match(["widths 64-...-1"], ["widths 64-64-...-64-1"]) is None
    assert match(["(10 networks in 178.4 ms)"], ["(10 networks in 3.2 ms)"]) is None
    assert match(["a", "b"], ["a", "c"]) is not None
    assert match(["a"], ["a", "b"]) is not None                       # nothing unshown without "..."
    assert match(["(10 networks in 1 ms)"], ["(11 networks in 1 ms)"]) is not None


def test_the_readme_has_what_the_rules_check():
    langs = [b.lang for b in BLOCKS]
    assert langs.count("python") >= 7 and len(SESSIONS) >= 8
    assert {c.split()[0] for b in SESSIONS for c, _ in b.commands} == {"pyvanish", "python"}
    assert {c.split()[1] for b in SESSIONS for c, _ in b.commands if c.startswith("pyvanish")} == {
        "seed", "report", "compare", "ensemble", "theory", "train", "sweep"}


def _run_python(block: Block, ns: dict) -> str:
    if _FILE_BLOCK.match(block.text.splitlines()[0]):          # rule 3: a file shown, not run
        tree = ast.parse(block.text, f"README.md:{block.line}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    importlib.import_module(a.name)
            elif isinstance(node, ast.ImportFrom):
                mod = importlib.import_module(node.module)
                for a in node.names:
                    assert hasattr(mod, a.name), f"README.md:{block.line}: {node.module} has no {a.name}"
        return ""
    out = io.StringIO()
    if block.text.lstrip().startswith(">>>"):                  # rule 2
        test = doctest.DocTestParser().get_doctest(block.text, ns, f"README.md:{block.line}", str(README), block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        runner.run(test, out=out.write, clear_globs=False)
        assert runner.failures == 0, out.getvalue()
        return ""
    with contextlib.redirect_stdout(out):
        exec(compile(block.text, f"README.md:{block.line}", "exec"), ns)
    return out.getvalue()


def _run_command(command: str, tmp_path: pathlib.Path) -> str:
    argv = shlex.split(command)
    if argv[0] == "pyvanish":
        out = io.StringIO()
        with contextlib.chdir(tmp_path) if hasattr(contextlib, "chdir") else _chdir(tmp_path):
            code = cli.main(argv[1:], out=out)
        assert code == 0, f"$ {command}: exit status {code}"
        return out.getvalue()
    if argv[0] == "python" and "cython" in command and shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler for the Cython example")
    res = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"$ {command}: exit status {res.returncode}\n{res.stderr}"
    return res.stdout


@contextlib.contextmanager
def _chdir(path):
    import os

    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


SECTIONS = list(dict.fromkeys(b.section for b in BLOCKS if b.lang == "python"))


@pytest.mark.parametrize("section", SECTIONS)
def test_python_blocks_run_and_print_what_the_readme_shows(section, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns: dict = {"__name__": "__readme__"}
    printed = {}
    for block in BLOCKS:
        if block.section == section and block.lang == "python":
            printed[block.line] = _run_python(block, ns)
    checked = 0
    for block in BLOCKS:                                        # rule 5
        above = block.follows
        if block.section != section or above is None or above.lang != "python":
            continue
        if block.commands:
            shown = block.commands[0][1]
        elif block.lang == "":
            shown = block.text.splitlines()
        else:
            continue
        problem = match(shown, printed[above.line].splitlines())
        assert problem is None, f"README.md:{above.line}: the Python block's output is not what line {block.line} shows: {problem}"
        checked += 1
    if section in ("Any dense network", "Sweeps, on one machine or a Dask cluster"):
        assert checked == 1


@pytest.mark.parametrize("block", SESSIONS, ids=[f"line{b.line}" for b in SESSIONS])
def test_cli_sessions_print_what_the_readme_shows(block, tmp_path):
    for command, shown in block.commands:                       # rule 4
        actual = _run_command(command, tmp_path)
        if shown:
            problem = match(shown, actual.splitlines())
            assert problem is None, f"README.md:{block.line}: $ {command}: {problem}"


def test_the_readme_names_the_commands_that_take_plot():
    text = " ".join(README.read_text(encoding="utf-8").split())
    (sentence,) = re.findall(r"((?:`\w+`, )+`\w+` and `\w+`) take `--plot FILE.png`", text)
    named = set(re.findall(r"`(\w+)`", sentence))
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    have = {name for name, p in sub.choices.items() if any("--plot" in a.option_strings for a in p._actions)}
    assert named == have == {"report", "compare", "ensemble", "train", "theory"}


def test_every_pyvanish_option_the_readme_names_exists():
    """Options in the README's prose and sessions (``--sigma-w``, ``--json``...) are the parser's."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    known = {o for p in sub.choices.values() for a in p._actions for o in a.option_strings}
    text = README.read_text(encoding="utf-8")
    prose = "\n".join(ln for ln in text.splitlines() if "pytest" not in ln and "pip install" not in ln
                      and "sanitize" not in ln and "benchmark" not in ln)
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", prose))
    assert len(named) >= 30
    assert named <= known, sorted(named - known)
