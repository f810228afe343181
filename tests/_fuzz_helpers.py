"""Shared helpers of the fuzz tests (tests/test_fuzz_*.py): malformed input thrown at every public function and at the command line.

Hypothesis draws wrong shapes and ndims, empty arrays, zero and negative
widths, NaN/Inf and huge values, wrong dtypes (complex, bool, object, str,
bytes, datetime, timedelta, structured), wrong Python types and unknown names,
and each test requires every outcome to be either a result or an exception of
an expected type (TypeError or ValueError; MemoryError for sizes beyond the
machine; IndexError for member indices) whose message starts with the name of
the public function called. RuntimeWarnings are errors here, as in the rest
of the suite. The command line runs in-process, ``main(argv, out=...)``: it
must return 0 or 2, with one line on stderr for 2, and never raise.

Every bug these tests found has a regression test in test_fuzz_known_bugs.py
(all fixed; the suite has no xfail).

The number of examples tried is printed after each module's tests and written
to ``<pytest basetemp>/fuzz_examples.json``.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import pyvanish
from pyvanish import cli
from pyvanish.init import INITS

# Under tools/sanitize.sh (ASan) a failed operator new aborts the process
# instead of throwing std::bad_alloc, and RLIMIT_AS fights ASan's shadow
# memory: the tests of huge sizes skip themselves there.
SANITIZED = os.environ.get("PYVANISH_SANITIZE") == "1" or "libasan" in os.environ.get("LD_PRELOAD", "")
no_sanitizer = pytest.mark.skipif(SANITIZED, reason="huge allocations abort under AddressSanitizer")
numpy_only = pytest.mark.skipif(SANITIZED, reason="NumPy only: nothing for the sanitizers to see")

# Example counts scale with the hypothesis profile (conftest: ci = 40, dev = 300).
_SCALE = max(1.0, settings.default.max_examples / 40)


def fuzz(n: int):
    return settings(max_examples=max(10, int(n * _SCALE)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


EXAMPLES: collections.Counter = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _count_examples(request, tmp_path_factory):
    """After each fuzz module: print its example count, and write every fuzz
    module's counts so far to ``<pytest basetemp>/fuzz_examples.json``.
    (Each test_fuzz_*.py imports this fixture, which makes it autouse there.)"""
    global _CLI_DIR
    before = EXAMPLES.copy()
    yield
    if _CLI_DIR is not None:
        import shutil
        shutil.rmtree(_CLI_DIR, ignore_errors=True)
        _CLI_DIR = None
    mine = EXAMPLES - before
    total = sum(EXAMPLES.values())
    path = tmp_path_factory.getbasetemp() / "fuzz_examples.json"
    path.write_text(json.dumps({"total": total, "per_test": dict(EXAMPLES)}, indent=1))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and mine:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(f"\n{request.module.__name__}: {sum(mine.values())} examples tried in "
                                f"{len(mine)} fuzz tests ({path})")


@contextlib.contextmanager
def memory_cap(extra_gib: float = 4):
    """Cap this process's address space at its current size + ``extra_gib``
    for the body: a call that would take all the machine's memory (and wake
    the OOM killer, for every process here) gets a MemoryError instead.
    Not under the sanitizers (ASan reserves terabytes of shadow memory)."""
    if SANITIZED or not os.path.exists("/proc/self/statm"):
        yield
        return
    with open("/proc/self/statm") as f:
        size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = size + int(extra_gib * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (min(cap, hard) if hard != resource.RLIM_INFINITY else cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def attempt(names, call, allowed=(TypeError, ValueError)):
    """``call()``'s result, or the exception it raised if that has an allowed
    type and its message starts with one of ``names``. Anything else fails
    (a MemoryError too: the calls here are all small)."""
    names = (names,) if isinstance(names, str) else tuple(names)
    with warnings.catch_warnings(), memory_cap():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            return call()
        except allowed as exc:
            msg = str(exc)
            assert msg.startswith(names), f"{type(exc).__name__} message does not name {names}: {msg!r}"
            return exc


@contextlib.contextmanager
def time_limit(seconds: float):
    """TimeoutError if the (pure Python) body runs longer than ``seconds``."""
    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------ strategies

FLOAT_DTYPES = [np.float32, np.float64]
CONVERTED_DTYPES = [np.float16, np.longdouble, np.int8, np.int32, np.int64, np.uint8, np.uint64]
BAD_DTYPES = [np.bool_, np.complex64, np.complex128, np.dtype("O"), np.dtype("U3"), np.dtype("S3"),
              np.dtype("M8[s]"), np.dtype("m8[ms]"), np.dtype([("a", "f8"), ("b", "i4")])]

dtypes = st.one_of(st.sampled_from(FLOAT_DTYPES), st.sampled_from(FLOAT_DTYPES),
                   st.sampled_from(CONVERTED_DTYPES), st.sampled_from(BAD_DTYPES))


def _elements(dtype):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        # finite and non-finite, subnormal and huge
        return st.floats(allow_nan=True, allow_infinity=True, width=min(64, 8 * dt.itemsize))
    if dt.kind == "O":
        return st.one_of(st.integers(-3, 3), st.floats(), st.none(), st.text(max_size=2))
    return None  # hypothesis' default for the dtype


@st.composite
def near(draw, shape, finite=False):
    """An array (or array-like) whose shape is usually ``shape``, sometimes not,
    and whose dtype is usually float32/float64, sometimes anything."""
    shape = tuple(shape)
    kind = draw(st.integers(0, 11))
    if kind == 6 and shape:                    # one axis off by one
        i = draw(st.integers(0, len(shape) - 1))
        shape = shape[:i] + (max(0, shape[i] + draw(st.sampled_from([-1, 1]))),) + shape[i + 1:]
    elif kind == 7:                            # an extra axis
        shape = shape + (draw(st.integers(0, 2)),)
    elif kind == 8 and shape:                  # an axis missing
        shape = shape[1:]
    elif kind == 9:                            # anything
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    dtype = draw(dtypes) if kind % 3 == 0 else draw(st.sampled_from(FLOAT_DTYPES))
    elements = st.floats(-10, 10, width=32) if finite and np.dtype(dtype).kind == "f" else _elements(dtype)
    arr = draw(hnp.arrays(dtype, shape, elements=elements))
    form = draw(st.integers(0, 9))
    if form == 0 and arr.dtype.kind in "fiu":
        return arr.tolist()                    # a (possibly nested) list
    if form == 1 and arr.ndim >= 1 and arr.dtype.kind == "f":
        return arr.astype(arr.dtype.newbyteorder(">"))  # big-endian
    if form == 2 and arr.ndim >= 1:
        return np.repeat(arr, 2, axis=-1)[..., ::2]     # non-contiguous view
    return arr


junk_names = st.one_of(st.sampled_from(["bogus", "", "TANH", "Leaky-ReLU", "swish", " relu", "he ", "0"]),
                       st.none(), st.integers(-1, 3), st.just(b"tanh"), st.just(["tanh"]))
activation_names = st.one_of(st.sampled_from(pyvanish.ACTIVATIONS), st.sampled_from(pyvanish.ACTIVATIONS),
                             junk_names)
reals = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10),
                  st.sampled_from([0.0, -0.0, 5e-324, 1e-300, 1e300, -1e300]))
junk_scalars = st.sampled_from(["1", "x", None, [1.0], complex(1, 1), b"1", np.array([1.0, 2.0])])
reals_or_junk = st.one_of(reals, reals, reals, junk_scalars)
seeds = st.one_of(st.none(), st.integers(0, 2 ** 32), st.integers(-3, -1), st.sampled_from(["a", 1.5, True, [1, 2]]))
small_reals = st.one_of(st.floats(-10, 10), st.integers(-3, 3), st.sampled_from([float("nan"), float("inf")]))


# ------------------------------------------------------------------ known bugs (see the xfail tests below)

def _max_abs(v) -> float:
    """max |finite value| of an array-like (0 if none or not numeric)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            a = np.asarray(v)
            if a.dtype.kind not in "fiu" or not a.size:
                return 0.0
            a = a.astype(np.float64)
            return float(np.abs(a[np.isfinite(a)]).max(initial=0.0))
        except (TypeError, ValueError, OverflowError):
            return 0.0


def known_non_finite(*values) -> bool:
    for v in values:
        try:
            a = np.asarray(v)
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                return True
        except (TypeError, ValueError):
            pass
    return False


def known_huge(*values, limit=1e150) -> bool:
    return any(_max_abs(v) > limit for v in values)


# ------------------------------------------------------------------ shared by the Network, Ensemble and compare tests

dtype_args = st.sampled_from([np.float32, np.float64, "float32", "f8", None, complex, np.float16, "bogus", int, object])
flag_args = st.one_of(st.booleans(), st.lists(st.booleans(), max_size=6), st.integers(-1, 2), st.just("yes"), st.none())
init_names = st.one_of(st.sampled_from(INITS), st.sampled_from(["he", "xavier", "glorot", "kaiming", "explicit"]),
                       junk_names)


@st.composite
def network_kwargs(draw):
    kw = {}
    for key, strat in (("activation", activation_names), ("output_activation", activation_names),
                       ("init", init_names), ("sw", reals_or_junk), ("sb", reals_or_junk),
                       ("gain", st.one_of(st.none(), reals_or_junk)), ("value", reals_or_junk),
                       ("alpha", st.one_of(st.none(), reals_or_junk, st.lists(st.one_of(small_reals, junk_scalars),
                                                                              max_size=6))),
                       ("batchnorm", flag_args), ("bn_eps", reals_or_junk), ("residual", flag_args),
                       ("residual_block", st.one_of(st.integers(-1, 4), st.floats(0, 3), st.booleans())),
                       ("residual_scale", reals_or_junk), ("seed", seeds), ("dtype", dtype_args),
                       ("weights", st.sampled_from([3, "w", [np.ones((2, 2))], None])),
                       ("biases", st.sampled_from([3, [np.ones(2)], None]))):
        if draw(st.integers(0, 3)) == 0:
            kw[key] = draw(strat)
    if draw(st.integers(0, 9)) == 0:
        kw["activations"] = draw(st.one_of(st.lists(activation_names, max_size=6), st.just("tanh")))
    return kw


NETS = [
    pyvanish.Network([3, 4, 2], activation="tanh", seed=0),
    pyvanish.Network([3, 4, 2], activation="relu", init="he", seed=1, dtype=np.float32),
    pyvanish.Network([3, 4, 4, 2], activation="sigmoid", batchnorm=True, residual=True, seed=2),
    pyvanish.seed_network(),
]


TRAIN_NET = pyvanish.Network([3, 4, 2], activation="tanh", seed=0)


# ------------------------------------------------------------------ the command line, in-process

_CLI_DIR = None


def run_cli(argv):
    """cli.main in-process, in a scratch directory (whatever it writes lands there)."""
    global _CLI_DIR
    if _CLI_DIR is None:
        import tempfile
        _CLI_DIR = tempfile.mkdtemp(prefix="pyvanish-fuzz-cli-")
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(_CLI_DIR)
    try:
        with contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            code = cli.main(argv, out=out)
    finally:
        os.chdir(cwd)
    return code, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------ sizes beyond the machine, in a child process

def run_limited(tmp_path, code, *, mem_gib=3, timeout=30, check_status=True):
    """Run ``code`` in a fresh interpreter with RLIMIT_AS = mem_gib GiB (None: no
    limit); it prints
    one JSON line {"ok": ..., "type": ..., "msg": ..., "seconds": ...}."""
    limit = "" if mem_gib is None else f"resource.setrlimit(resource.RLIMIT_AS, ({mem_gib} << 30, {mem_gib} << 30))"
    prelude = textwrap.dedent(f"""
        import json, resource, time
        {limit}
        import numpy as np, pyvanish, pyvanish.theory
        t0 = time.perf_counter()
        try:
            exec({code!r})
            res = {{"ok": True, "type": None, "msg": ""}}
        except BaseException as exc:
            res = {{"ok": False, "type": type(exc).__name__, "msg": str(exc)}}
        res["seconds"] = time.perf_counter() - t0
        print(json.dumps(res))
    """)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", prelude], capture_output=True, text=True, timeout=timeout,
                          cwd=tmp_path, env=env)
    if not check_status and proc.returncode != 0:
        return None                            # the child crashed
    assert proc.returncode == 0, f"the child died (status {proc.returncode}): {proc.stderr[-2000:]}"
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall"] = time.perf_counter() - t0
    return res


HUGE = [
    ("Network", "pyvanish.Network([10**6] * 3)"),                       # 2e12 parameters, 16 TB
    ("Network", "pyvanish.Network([10**9, 10**9])"),
    ("Network", "pyvanish.Network([2**40, 2**40], init='constant')"),
    ("Network", "pyvanish.Network([50000, 50000, 1])"),                  # 20 GB: beyond the 3 GiB limit
    ("gemm", "pyvanish.kernels.gemm(np.ones((200000, 1)), np.ones((1, 200000)))"),   # a 320 GB result
    ("gemm", "pyvanish.kernels.gemm(np.ones((30000, 1), np.float32), np.ones((1, 30000), np.float32))"),
    ("Ensemble", "pyvanish.Ensemble([1, 1], 10**9)"),
    ("Ensemble", "pyvanish.Ensemble([64, 64, 1], 10**6)"),
    ("Ensemble.run", "pyvanish.Ensemble([1, 1000, 1], 1000).run(np.ones((100000, 1)), np.ones((100000, 1)))"),
    ("Network.gradient_report", "pyvanish.Network([1, 100000, 1]).gradient_report(np.ones((100000, 1)), np.ones((100000, 1)))"),
    ("Network.jacobian", "pyvanish.Network([2000, 2000]).jacobian(np.ones((1000, 2000)))"),   # J is 32 GB
    ("gradient_profile", "pyvanish.theory.gradient_profile('tanh', 1.0, 0.0, 10**12)"),
]
