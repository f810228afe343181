"""Malformed input thrown at every public function and at the command line.

Hypothesis draws wrong shapes and ndims, empty arrays, zero and negative
widths, NaN/Inf and huge values, wrong dtypes (complex, bool, object, str,
bytes, datetime, timedelta, structured), wrong Python types and unknown names,
and each test requires every outcome to be either a result or an exception of
an expected type (TypeError or ValueError; MemoryError for sizes beyond the
machine; IndexError for member indices) whose message starts with the name of
the public function called. RuntimeWarnings are errors here, as in the rest
of the suite. The command line runs in-process, ``main(argv, out=...)``: it
must return 0 or 2, with one line on stderr for 2, and never raise.

Known bugs have an ``xfail(strict=True)`` test each (the end of this file);
the fuzz tests steer around their triggers with an ``assume(...)`` commented
with that test's name, so that they keep testing everything else. When a bug
is fixed its xfail test XPASSes, which fails: delete the marker and the
``assume``. Bugs fixed since (d118c98) keep their test as a regression test.

The number of examples tried is printed after the module's tests and written
to ``<pytest basetemp>/fuzz_examples.json``.
"""
from __future__ import annotations

import collections
import contextlib
import io
import json
import math
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
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import pyvanish
from pyvanish import cli, kernels as K, theory
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
    yield
    if _CLI_DIR is not None:
        import shutil
        shutil.rmtree(_CLI_DIR, ignore_errors=True)
    total = sum(EXAMPLES.values())
    path = tmp_path_factory.getbasetemp() / "fuzz_examples.json"
    path.write_text(json.dumps({"total": total, "per_test": dict(EXAMPLES)}, indent=1))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and EXAMPLES:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(f"\ntest_fuzz: {total} examples tried in {len(EXAMPLES)} fuzz tests ({path})")


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


# ------------------------------------------------------------------ kernels

def _kernel_call(name, arrays, act, alpha, scalar, flags, cf):
    a = arrays
    calls = {
        "activation_forward": lambda: K.activation_forward(act, a[0], alpha, check_finite=cf),
        "activation_derivative": lambda: K.activation_derivative(act, a[0], a[1] if flags[0] else None, alpha,
                                                                 check_finite=cf),
        "activation_backward": lambda: K.activation_backward(act, a[0], a[1], a[2], alpha, check_finite=cf),
        "dense_forward": lambda: K.dense_forward(a[0], a[1], a[2] if flags[0] else None, check_finite=cf),
        "dense_backward": lambda: K.dense_backward(a[0], a[1], a[2], check_finite=cf),
        "dense_act_forward": lambda: K.dense_act_forward(a[0], a[1], a[2] if flags[0] else None, act, alpha,
                                                         check_finite=cf),
        "dense_act_backward": lambda: K.dense_act_backward(*a[:5], act, alpha, check_finite=cf),
        "mse_forward": lambda: K.mse_forward(a[0], a[1], check_finite=cf),
        "mse_backward": lambda: K.mse_backward(a[0], a[1], check_finite=cf),
        "batchnorm_forward": lambda: K.batchnorm_forward(a[0], a[1], a[2], scalar, check_finite=cf),
        "batchnorm_backward": lambda: K.batchnorm_backward(*a[:4], check_finite=cf),
        "residual_forward": lambda: K.residual_forward(a[0], a[1], scalar, check_finite=cf),
        "residual_backward": lambda: K.residual_backward(a[0], scalar, check_finite=cf),
        "gemm": lambda: K.gemm(a[0], a[1], flags[0], flags[1], check_finite=cf),
    }
    return calls[name]


def _kernel_shapes(name, B, C, OC, flags):
    return {
        "activation_forward": [(B, C)], "activation_derivative": [(B, C), (B, C)],
        "activation_backward": [(B, C)] * 3,
        "dense_forward": [(B, C), (OC, C), (OC,)], "dense_backward": [(B, OC), (B, C), (OC, C)],
        "dense_act_forward": [(B, C), (OC, C), (OC,)],
        "dense_act_backward": [(B, OC), (B, C), (OC, C), (B, OC), (B, OC)],
        "mse_forward": [(B, C), (B, C)], "mse_backward": [(B, C), (B, C)],
        "batchnorm_forward": [(B, C), (C,), (C,)], "batchnorm_backward": [(B, C), (B, C), (C,), (C,)],
        "residual_forward": [(B, C), (B, C)], "residual_backward": [(B, C)],
        "gemm": [(C, B) if flags[0] else (B, C), (OC, C) if flags[1] else (C, OC)],
    }[name]


KERNEL_NAMES = ["activation_forward", "activation_derivative", "activation_backward", "dense_forward",
                "dense_backward", "dense_act_forward", "dense_act_backward", "mse_forward", "mse_backward",
                "batchnorm_forward", "batchnorm_backward", "residual_forward", "residual_backward", "gemm"]


def _check_result(res):
    outs = res if isinstance(res, tuple) else (res,)
    for o in outs:
        if isinstance(o, float):
            continue
        assert isinstance(o, np.ndarray) and o.dtype in (np.float32, np.float64), (type(o), getattr(o, "dtype", None))


@fuzz(700)
@given(data=st.data(), name=st.sampled_from(KERNEL_NAMES), B=st.integers(0, 4), C=st.integers(0, 4),
       OC=st.integers(0, 4), act=activation_names, alpha=st.one_of(st.none(), reals_or_junk),
       scalar=reals_or_junk, flags=st.tuples(st.booleans(), st.booleans()), cf=st.booleans())
def test_kernels_take_malformed_arrays(data, name, B, C, OC, act, alpha, scalar, flags, cf):
    EXAMPLES["kernels"] += 1
    arrays = [data.draw(near(s), label=f"arg{i}") for i, s in enumerate(_kernel_shapes(name, B, C, OC, flags))]
    res = attempt(name, _kernel_call(name, arrays, act, alpha, scalar, flags, cf))
    if not isinstance(res, Exception):
        _check_result(res)


@fuzz(150)
@given(name=st.sampled_from(KERNEL_NAMES),
       value=st.one_of(st.none(), st.integers(-5, 5), st.floats(), st.text(max_size=3), st.just({}),
                       st.just([[1.0, 2.0], [3.0]]), st.just([[1, "a"]]), st.just(object()),
                       st.just(10 ** 400), st.just([1e400]), st.just(2 ** 64), st.just(-(2 ** 63) - 1)))
def test_kernels_take_non_arrays(name, value):
    """A scalar, string, dict, ragged list, bignum or None in the first array argument."""
    EXAMPLES["kernels_non_arrays"] += 1
    good = [np.ones(s) for s in _kernel_shapes(name, 2, 3, 2, (False, False))]
    args = [value] + good[1:]
    res = attempt(name, _kernel_call(name, args, "tanh", None, 1.0, (True, False), False))
    if not isinstance(res, Exception):
        _check_result(res)


@fuzz(60)
@given(path=st.one_of(st.sampled_from(["auto", "generic", "avx2", "avx512", "AVX2", "", "fast"]),
                      st.none(), st.integers(0, 3)),
       n=st.one_of(st.integers(-3, 8), st.floats(-2, 4), st.text(max_size=2), st.none()))
def test_gemm_path_and_threads(path, n):
    EXAMPLES["gemm_path_threads"] += 1
    before = pyvanish.get_gemm_path()
    try:
        res = attempt("set_gemm_path", lambda: pyvanish.set_gemm_path(path))
        assert isinstance(res, Exception) or res in ("generic", "avx2", "avx512")
        res = attempt("set_num_threads", lambda: pyvanish.set_num_threads(n))
        assert isinstance(res, Exception) or pyvanish.num_threads() >= 1
        assert np.array_equal(K.gemm(np.eye(3), np.arange(9.0).reshape(3, 3)), np.arange(9.0).reshape(3, 3))
    finally:
        pyvanish.set_gemm_path(before)
        pyvanish.set_num_threads(0)            # back to the default


# ------------------------------------------------------------------ Network

width_items = st.one_of(st.integers(-2, 6), st.integers(1, 6), st.integers(1, 6),
                        st.floats(-3, 7), st.just(float("nan")), st.sampled_from(["3", "x", None, True, 2.5, [2]]))
widths_strategy = st.one_of(st.lists(width_items, min_size=0, max_size=6), st.lists(st.integers(1, 5), min_size=2, max_size=6),
                            st.sampled_from([None, 3, "3,4", np.array([[2, 2]]), (), {"a": 1}]))
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


def known_negative_zero_gain(kw) -> bool:
    """test_negative_zero_gain_is_unnamed, test_nested_alpha_list_is_unnamed"""
    g, a = kw.get("gain"), kw.get("alpha")
    if isinstance(a, list) and any(isinstance(v, (list, np.ndarray)) for v in a):
        return True
    return isinstance(g, float) and g == 0.0 and math.copysign(1.0, g) < 0


def known_retry_unnamed(net, x, t) -> bool:
    """test_retry_after_conversion_loses_the_name: arrays of the network's dtype
    that miss the fast path (non-contiguous, unaligned, not 2-d)."""
    if not (type(x) is np.ndarray and type(t) is np.ndarray and x.dtype == net.dtype and t.dtype == net.dtype):
        return False
    return not all(a.flags.c_contiguous and a.flags.aligned and a.ndim == 2 for a in (x, t))


def _batch_for(net, B):
    rng = np.random.default_rng(B)
    return rng.standard_normal((B, net.widths[0])), rng.standard_normal((B, net.widths[-1]))


@fuzz(500)
@given(widths=widths_strategy, kw=network_kwargs())
def test_network_constructor(widths, kw):
    EXAMPLES["network_constructor"] += 1
    assume(not known_negative_zero_gain(kw))
    net = attempt("Network", lambda: pyvanish.Network(widths, **kw))
    if isinstance(net, Exception):
        return
    assert isinstance(repr(net), str)
    x, t = _batch_for(net, 3)
    rep = attempt("Network.gradient_report", lambda: net.gradient_report(x, t, check_finite=False))
    assert not isinstance(rep, Exception), rep
    assert rep.grad_h.shape == (net.depth + 1,)


NETS = [
    pyvanish.Network([3, 4, 2], activation="tanh", seed=0),
    pyvanish.Network([3, 4, 2], activation="relu", init="he", seed=1, dtype=np.float32),
    pyvanish.Network([3, 4, 4, 2], activation="sigmoid", batchnorm=True, residual=True, seed=2),
    pyvanish.seed_network(),
]


@fuzz(500)
@given(data=st.data(), which=st.integers(0, len(NETS) - 1), B=st.integers(0, 4),
       method=st.sampled_from(["gradient_report", "gradient_report_grads", "forward", "forward_all", "jacobian",
                               "jacobian_spectrum", "set_weights", "set_biases"]),
       cf=st.booleans(), training=st.booleans())
def test_network_methods_take_malformed_arrays(data, which, B, method, cf, training):
    EXAMPLES["network_methods"] += 1
    net = NETS[which].copy()
    net.training = training
    n0, nL = net.widths[0], net.widths[-1]
    x = data.draw(near((B, n0)), label="x")
    t = data.draw(near((B, nL)), label="t")
    if method.startswith(("gradient_report", "forward")):
        assume(not known_retry_unnamed(net, x, t))
    if method == "jacobian_spectrum" and not cf:          # test_spectrum_of_a_non_finite_jacobian_is_linalg_error
        assume(not known_non_finite(x) and not (net.dtype == np.float32 and known_huge(x, limit=3.4e38)))
    name = "Network." + method.replace("_grads", "").replace("_all", "").replace("jacobian_spectrum", "jacobian")
    if method.startswith("set_"):
        count = data.draw(st.integers(0, net.depth + 1))
        shapes = [w.shape for w in (net.weights if method == "set_weights" else net.biases)]
        values = [data.draw(near(shapes[i % len(shapes)], finite=True)) for i in range(count)]
        call = {"set_weights": lambda: net.set_weights(values), "set_biases": lambda: net.set_biases(values)}[method]
    else:
        call = {
            "gradient_report": lambda: net.gradient_report(x, t, check_finite=cf),
            "gradient_report_grads": lambda: net.gradient_report(x, t, check_finite=cf, return_grads=True),
            "forward": lambda: net.forward(x, check_finite=cf),
            "forward_all": lambda: net.forward(x, all_layers=True, check_finite=cf),
            "jacobian": lambda: net.jacobian(x, check_finite=cf),
            "jacobian_spectrum": lambda: net.jacobian_spectrum(x, check_finite=cf),
        }[method]
    res = attempt(name, call)
    if method.startswith("gradient_report") and not isinstance(res, Exception):
        assert res.stats.shape[0] == net.depth and res.grad_h.shape == (net.depth + 1,)


@fuzz(120)
@given(weights=st.one_of(st.none(), st.lists(st.floats(-3, 3), max_size=6), st.floats(-3, 3),
                         st.just([np.nan] * 4), st.just("1,2,3,4")),
       biases=st.one_of(st.none(), st.lists(st.floats(-3, 3), max_size=6)),
       activation=activation_names, depth=st.one_of(st.integers(-1, 6), st.floats(0, 5), st.booleans()),
       x=st.one_of(st.floats(), st.integers(-3, 3), junk_scalars), t=st.one_of(st.floats(), st.integers(-3, 3)))
def test_seed_network_and_explain(weights, biases, activation, depth, x, t):
    EXAMPLES["seed_network"] += 1
    assume(not isinstance(weights, str))      # test_seed_network_of_string_weights_is_unnamed
    net = attempt(("seed_network", "Network"), lambda: pyvanish.seed_network(weights, biases, activation=activation,
                                                                           depth=depth))
    if isinstance(net, Exception):
        return
    assume(isinstance(x, (int, float)))      # test_explain_of_a_non_number_is_unnamed
    attempt(("SeedNetwork.explain", "Network.gradient_report"), lambda: net.explain(x, t))


# ------------------------------------------------------------------ Ensemble, compare, train

@fuzz(250)
@given(data=st.data(), widths=st.one_of(st.lists(st.integers(-1, 4), min_size=0, max_size=4),
                                        st.lists(st.integers(1, 4), min_size=2, max_size=4)),
       n=st.one_of(st.integers(-2, 40), st.floats(0, 5), st.booleans(), st.just("3"), st.just(np.int64(3))),
       kw=network_kwargs(), per_member=st.booleans(), B=st.integers(0, 3), cf=st.booleans())
def test_ensemble_constructor_and_run(data, widths, n, kw, per_member, B, cf):
    EXAMPLES["ensemble"] += 1
    kw.pop("activations", None) if data.draw(st.booleans()) else None
    assume(not known_negative_zero_gain(kw))
    ens = attempt(("Ensemble", "Network"), lambda: pyvanish.Ensemble(widths, n, **kw))
    if isinstance(ens, Exception):
        return
    E, n0, nL = ens.members, ens.widths[0], ens.widths[-1]
    x = data.draw(near((E, B, n0) if per_member else (B, n0)), label="x")
    t = data.draw(near((B, nL)), label="t")
    assume(not known_huge(x))                 # test_ensemble_run_of_huge_finite_inputs_warns
    # batch-norm ensembles run member by member through Network (its messages)
    rep = attempt(("Ensemble.run", "Network.gradient_report"), lambda: ens.run(x, t, check_finite=cf))
    if not isinstance(rep, Exception):
        assert rep.grad_h.shape == (E, len(ens.widths))
        attempt("EnsembleReport.summary", lambda: rep.summary(data.draw(st.sampled_from(
            ["grad_h", "grad_W", "gain", "bogus", "mean_dphi"]))))
        attempt("EnsembleReport.fraction", lambda: rep.fraction(data.draw(st.sampled_from(
            ["vanishing", "exploding", "healthy", "bogus"]))))
    m = data.draw(st.one_of(st.integers(-E - 1, E + 1), st.sampled_from([1.5, "0", None, np.int64(0)])))
    attempt("Ensemble.member", lambda: ens.member(m), allowed=(IndexError, TypeError))


config_specs = st.one_of(
    st.sampled_from(["sigmoid,xavier", "relu,he", "tanh,xavier,bn", "tanh,res", "tanh,res2,scale=0.5", "gelu,orthogonal",
                     "tanh,foo", "tanh,resx", "tanh,scale=x", "tanh,scale=nan", "tanh,res0", "bogus", "", ",,", "tanh,,bn",
                     "identity,constant", "swish,lecun"]),
    st.dictionaries(st.sampled_from(["activation", "init", "sw", "name", "batchnorm", "bogus"]),
                    st.one_of(st.sampled_from(["tanh", "he", "x"]), st.floats(-2, 3), st.booleans()), max_size=3),
    st.none(), st.integers(0, 3))


@fuzz(120)
@given(configs=st.one_of(st.lists(config_specs, max_size=3), config_specs),
       depth=st.one_of(st.integers(-1, 3), st.floats(0, 3), st.booleans()),
       width=st.one_of(st.integers(-1, 5), st.just("4")), input_width=st.one_of(st.none(), st.integers(1, 4)),
       batch=st.integers(-1, 4), seed=seeds, metric=st.sampled_from(["W", "h", "z", "b", "grad_h", "q", ""]),
       dtype=dtype_args)
def test_compare(configs, depth, width, input_width, batch, seed, metric, dtype):
    EXAMPLES["compare"] += 1
    assume(seed is not None)                  # test_seed_none_is_unnamed
    assume(not isinstance(seed, list))        # test_seed_none_is_unnamed (a list seed)
    specs = [configs] if isinstance(configs, (str, dict)) or not isinstance(configs, list) else configs
    # test_compare_of_an_all_comma_spec_is_index_error
    assume(not any(isinstance(c, str) and c.strip() and not c.replace(",", "").strip() for c in specs))
    if isinstance(configs, dict):
        assume("bogus" not in configs)         # a typo'd keyword reaches Network() as a TypeError naming it
    else:
        assume(not any(isinstance(c, dict) and "bogus" in c for c in specs))
    # a bad value in a dict config is reported by Network, which the dict is passed to
    res = attempt(("compare", "Network"), lambda: pyvanish.compare(configs, depth=depth, width=width,
                                                                   input_width=input_width, batch=batch, seed=seed,
                                                                   metric=metric, dtype=dtype))
    if not isinstance(res, Exception):
        assert isinstance(str(res), str)


TRAIN_NET = pyvanish.Network([3, 4, 2], activation="tanh", seed=0)


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
    assume(seed is not None)                  # test_seed_none_is_unnamed
    res = attempt(("teacher_task", "Network"), lambda: pyvanish.teacher_task(n, width, activation=activation,
                                                                            noise=noise, seed=seed))
    if not isinstance(res, Exception):
        X, T = res
        assert X.shape == (n, width) and T.shape == (n, 1)


# ------------------------------------------------------------------ theory (NumPy only)

THEORY = {
    "length_map": lambda a, sw2, sb2, al, q, d: theory.length_map(a, q, sw2, sb2, alpha=al),
    "fixed_point": lambda a, sw2, sb2, al, q, d: theory.fixed_point(a, sw2, sb2, alpha=al, q0=q),
    "chi1": lambda a, sw2, sb2, al, q, d: theory.chi1(a, sw2, sb2, alpha=al, q0=q),
    "c_star": lambda a, sw2, sb2, al, q, d: theory.c_star(a, sw2, sb2, alpha=al, q0=q),
    "chi_c": lambda a, sw2, sb2, al, q, d: theory.chi_c(a, sw2, sb2, alpha=al, q0=q),
    "depth_scales": lambda a, sw2, sb2, al, q, d: theory.depth_scales(a, sw2, sb2, alpha=al, q0=q),
    "critical_sw2": lambda a, sw2, sb2, al, q, d: theory.critical_sw2(a, sb2, alpha=al, q0=q),
    "critical_line": lambda a, sw2, sb2, al, q, d: theory.critical_line(a, [sb2, 0.1], alpha=al),
    "phase_diagram": lambda a, sw2, sb2, al, q, d: theory.phase_diagram(a, [sw2, 1.0], [sb2], alpha=al),
    "gradient_profile": lambda a, sw2, sb2, al, q, d: theory.gradient_profile(a, sw2, sb2, d, alpha=al, q0=q),
    "gaussian_expectation": lambda a, sw2, sb2, al, q, d: theory.gaussian_expectation(np.tanh, q),
}


@numpy_only
@fuzz(300)
@given(fn=st.sampled_from(sorted(THEORY)), act=activation_names, sw2=reals, sb2=reals,
       alpha=st.one_of(st.none(), reals), q=st.one_of(reals, st.lists(small_reals, max_size=3),
                                                     st.just(np.ones((2, 2))), st.just([1j]), st.just("1")),
       depth=st.one_of(st.integers(-2, 30), st.floats(0, 3), st.booleans()))
def test_theory(fn, act, sw2, sb2, alpha, q, depth):
    EXAMPLES["theory"] += 1
    if fn in ("critical_sw2", "critical_line"):
        # test_critical_sw2_of_a_huge_bias_variance_takes_minutes
        assume(not (isinstance(sb2, (int, float)) and sb2 > 1e6))
    if act in ("leaky_relu", "elu") and isinstance(alpha, (int, float)):
        # test_fixed_point_with_a_huge_leaky_relu_slope_never_returns, test_theory_beyond_the_float_range_is_unnamed
        assume(not abs(alpha) > 1e150)
    # test_theory_beyond_the_float_range_is_unnamed
    assume(not (isinstance(q, (int, float)) and q > 1e300))
    if fn in ("chi_c", "depth_scales") and isinstance(sw2, (int, float)):
        assume(not 0 < sw2 < 1e-30)           # test_depth_scales_of_a_tiny_sw2_is_math_domain_error
    if fn in ("c_star", "chi_c", "depth_scales"):    # test_c_star_of_huge_variances_is_slow_nan_or_20_gb
        assume(not any(isinstance(v, (int, float)) and v > 1e100 for v in (sw2, sb2, q)))
    with time_limit(20):
        attempt(fn, lambda: THEORY[fn](act, sw2, sb2, alpha, q, depth))


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


@fuzz(250)
@given(argv=argvs())
def test_cli_bad_arguments(argv):
    EXAMPLES["cli"] += 1
    assume("--task" not in argv)              # test_cli_digits_without_scikit_learn_raises_import_error
    code, out, err = run_cli(argv)
    assert code in (0, 2), (argv, code)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("pyvanish"), (argv, err)
    else:
        assert out


# ------------------------------------------------------------------ sizes beyond the machine

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


@no_sanitizer
@pytest.mark.parametrize("fn,code", HUGE, ids=[c for _, c in HUGE])
def test_more_memory_than_exists_raises_memory_error(tmp_path, fn, code):
    """Sizes beyond the (limited) address space: MemoryError or ValueError, at
    once -- never a crash, a hang or the OOM killer."""
    res = run_limited(tmp_path, code)
    assert res["type"] in ("MemoryError", "ValueError"), res
    assert res["seconds"] < 5, res


def test_memory_error_in_process():
    """In this process: requests of terabytes fail at once with MemoryError or
    ValueError. (Capped at +4 GiB of address space all the same: with
    vm.overcommit_memory=1 the kernel would grant 16 TB and the zero-fill
    would wake the OOM killer.)"""
    if SANITIZED:
        pytest.skip("huge allocations abort under AddressSanitizer")
    for call in (lambda: pyvanish.Network([10**6] * 3), lambda: pyvanish.Network([10**9, 10**9], dtype=np.float32),
                 lambda: K.gemm(np.ones((2 ** 20, 1)), np.ones((1, 2 ** 20)))):
        with memory_cap(4), pytest.raises((MemoryError, ValueError)):
            call()


# ------------------------------------------------------------------ KNOWN BUGS (xfail, strict)
# Each test checks every case of one bug and fails while any case shows it.

def _named(fn, call, allowed=(TypeError, ValueError)):
    """None if the call raises an allowed type whose message starts with ``fn``, else what happened."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            call()
    except allowed as exc:
        return None if str(exc).startswith(fn) else f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - the point is to report it
        return f"{type(exc).__name__}: {exc}"
    return "no exception"


def _all_named(cases, allowed=(TypeError, ValueError)):
    problems = {label: p for label, fn, call in cases if (p := _named(fn, call, allowed)) is not None}
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())


# Fixed in d118c98 (was an xfail): None for a required array: as_arrays passes None through;
# Network._inputs then calls None.astype (AttributeError) and kernels hand None to _core (pybind11's
# 'incompatible function arguments'). Fix: as_arrays raises TypeError(f'{fn}: {name} is required, got
# None') for required arrays.
def test_none_for_an_array_is_a_named_type_error():
    _all_named([
        ("gradient_report x", "Network.gradient_report", lambda: NETS[0].gradient_report(None, np.ones((1, 2)))),
        ("gradient_report t", "Network.gradient_report", lambda: NETS[0].gradient_report(np.ones((1, 3)), None)),
        ("Ensemble.run x", "Ensemble.run", lambda: pyvanish.Ensemble([3, 2], 4).run(None, np.ones((1, 2)))),
        ("activation_forward", "activation_forward", lambda: K.activation_forward("tanh", None)),
        ("gemm", "gemm", lambda: K.gemm(None, np.ones((2, 2)))),
    ], allowed=(TypeError,))


# Fixed in d118c98 (was an xfail): network.py _widths catches TypeError/ValueError, but
# int(float('inf')) raises OverflowError. Fix: catch OverflowError too.
def test_infinite_width_is_a_named_error():
    _all_named([("inf", "Network", lambda: pyvanish.Network([float("inf"), 1]))])


# Fixed in d118c98 (was an xfail): a bare float() on the user's value (_validate.alpha_for,
# kernels.batchnorm_forward eps, residual_* scale): 'could not convert string to float' / 'float()
# argument must be...'. Fix: check numbers.Real first, TypeError naming the function.
def test_non_numeric_scalars_are_named_errors():
    _all_named([
        ("Network alpha", "Network", lambda: pyvanish.Network([2, 2], activation="elu", alpha="x")),
        ("activation_forward alpha", "activation_forward", lambda: K.activation_forward("elu", [1.0], alpha="x")),
        ("batchnorm_forward eps", "batchnorm_forward",
         lambda: K.batchnorm_forward([[1.0], [2.0]], [1.0], [0.0], eps="x")),
        ("residual_forward scale", "residual_forward", lambda: K.residual_forward([1.0], [1.0], scale=None)),
    ])


# Fixed in d118c98 (was an xfail): Network checks that gain is finite, not >= 0; init.py then calls
# rng.uniform(-limit, limit) with limit < 0: 'high - low < 0'. Fix: reject gain < 0 in Network.
def test_negative_gain_is_a_named_error():
    _all_named([("gain", "Network", lambda: pyvanish.Network([2, 2], gain=-1.0))])


# Fixed in d118c98 (was an xfail): Network._set calls len(values) before checking the type: "object of
# type 'int' has no len()". Fix: TypeError naming Network.set_weights.
def test_weights_not_a_sequence_is_a_named_error():
    _all_named([("weights=3", "Network", lambda: pyvanish.Network([2, 2], weights=3))])


# Fixed in d118c98 (was an xfail): seeds go straight to numpy.random.default_rng: 'expected non-
# negative integer', 'SeedSequence expects int...'. Fix: validate the seed once (init.py), naming the
# caller.
def test_bad_seeds_are_named_errors():
    X, T = np.ones((4, 3)), np.ones((4, 2))
    _all_named([
        ("Network -1", "Network", lambda: pyvanish.Network([2, 2], seed=-1)),
        ("Network 'a'", "Network", lambda: pyvanish.Network([2, 2], seed="a")),
        ("Ensemble 1.5", "Ensemble", lambda: pyvanish.Ensemble([2, 2], 3, seed=1.5)),
        ("compare -1", "compare", lambda: pyvanish.compare(["tanh"], depth=2, seed=-1)),
        ("train -1", "train", lambda: pyvanish.train(TRAIN_NET.copy(), X, T, steps=2, seed=-1)),
    ])


# Fixed in d118c98 (was an xfail): Ensemble.member compares m with ints before checking its type: 1.5
# reaches NumPy indexing (IndexError 'only integers...'), 'a' gives "'<=' not supported". Fix:
# operator.index(m) first, TypeError naming it.
def test_ensemble_member_of_a_non_integer_is_a_named_error():
    ens = pyvanish.Ensemble([2, 2], 3)
    _all_named([("1.5", "Ensemble.member", lambda: ens.member(1.5)), ("'a'", "Ensemble.member", lambda: ens.member("a"))],
               allowed=(TypeError, IndexError))


# Fixed in d118c98 (was an xfail): train() does float(b) for b in betas unchecked: 'int object is not
# iterable' / 'could not convert string to float'. Fix: validate betas.
def test_train_bad_betas_are_a_named_error():
    X, T = np.ones((4, 3)), np.ones((4, 2))
    _all_named([(repr(b), "train", lambda b=b: pyvanish.train(TRAIN_NET.copy(), X, T, steps=2, betas=b))
                for b in (3, ("a", "b"))])


# Fixed in d118c98 (was an xfail): negative or zero sizes reach NumPy ('negative dimensions are not
# allowed') or another function (teacher_task(0) names Network.forward). Fix: check sizes in
# ensemble(batch), compare(input_width), teacher_task.
def test_negative_sizes_are_named_errors():
    _all_named([
        ("ensemble batch=-1", "ensemble", lambda: pyvanish.ensemble([3, 3], n=3, batch=-1)),
        ("compare input_width=-3", "compare", lambda: pyvanish.compare(["tanh"], depth=2, input_width=-3)),
        ("teacher_task(-1)", "teacher_task", lambda: pyvanish.teacher_task(-1)),
        ("teacher_task(0)", "teacher_task", lambda: pyvanish.teacher_task(0)),
    ])


# Fixed in d118c98 (was an xfail): compare(1) / compare(None): "'int' object is not iterable" without
# compare's name. Fix: check configs is a str, dict or sequence.
def test_compare_of_a_non_sequence_is_a_named_error():
    _all_named([(repr(c), "compare", lambda c=c: pyvanish.compare(c, depth=2, width=3)) for c in (1, None)])


@pytest.mark.xfail(strict=True, reason="(The RuntimeWarning is fixed in d118c98.) A run whose LAST step makes a "
                                       "parameter non-finite reports stopped=None and steps_done=steps: float32, "
                                       "lr=1e5, 5 steps ends with NaN/Inf in W_1 and moved=[nan, inf]. The engine "
                                       "stops after such a step, but when it is the last one training.py cannot "
                                       "tell (steps_done == len(chunk)). Fix: the engine returns why it stopped, "
                                       "or train() checks the parameters' finiteness at the end.")
def test_diverging_training_reports_the_stop():
    X = np.random.default_rng(0).standard_normal((10, 3))
    net = pyvanish.Network([3, 4, 2], seed=0, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        h = pyvanish.train(net, X, np.ones((10, 2)), steps=5, lr=1e5)
    finite = all(np.isfinite(w).all() for w in net.weights)
    assert finite or h.stopped, f"non-finite weights after {h.steps_done} steps, stopped={h.stopped}"


# Fixed in d118c98 (was an xfail): Network._inputs / forward / jacobian / Ensemble.run check
# finiteness on the float64 input, then cast to a float32 network's dtype: 1e39 overflows
# (RuntimeWarning 'overflow encountered in cast') and silently becomes Inf. Fix: cast under
# errstate(over='ignore'), check finiteness after the cast.
def test_float32_network_given_huge_float64_is_a_named_error():
    net = NETS[1].copy()
    x, t = np.full((1, 3), 1e39), np.zeros((1, 2))
    ens = pyvanish.Ensemble([3, 2], 2, dtype=np.float32)
    _all_named([("gradient_report", "Network.gradient_report", lambda: net.gradient_report(x, t)),
                ("forward", "Network.forward", lambda: net.forward(x)),
                ("jacobian", "Network.jacobian", lambda: net.jacobian(x)),
                ("Ensemble.run", "Ensemble.run", lambda: ens.run(x, t))])


# Fixed in d118c98 (was an xfail): Network(dtype=float32, sw=1e39) casts float64 draws to float32 with
# overflow: RuntimeWarning and infinite weights. Fix: check the weights fit the dtype (ValueError
# naming Network), or draw in the dtype.
def test_float32_weights_beyond_range_are_a_named_error():
    _all_named([("sw", "Network", lambda: pyvanish.Network([3, 4, 2], init="normal", sw=1e39, dtype=np.float32)),
                ("value", "Network", lambda: pyvanish.Network([3, 2], init="constant", value=1e39, dtype=np.float32))])


@numpy_only
@pytest.mark.xfail(strict=True, reason="critical_sw2 evaluates fixed_point at ~124 values of sw2; for sb2 "
                                       ">~ 1e250 each walks up from q0 = 1 in factors of 4 (~1500 Gaussian "
                                       "expectations): 2-4 minutes, then ValueError (also 'pyvanish theory "
                                       "--critical --sb2 1e300'). Fix: start _fixed_point's upward probe at "
                                       "max(q0, L(0)) since q* >= sb2, or give up early for bounded activations.")
def test_critical_sw2_of_a_huge_bias_variance_takes_minutes():
    with time_limit(3):
        with pytest.raises(ValueError):
            theory.critical_sw2("tanh", 1e300)


# Fixed in d118c98 (was an xfail): SEGFAULT. csrc/network.cpp Network::reserve begins 'if (B == B_)
# return' and B_ starts at 0: on a network that has never run, an empty batch leaves the per-layer
# offsets unbuilt and forward() indexes an empty vector (UBSan: 'reference binding to null pointer',
# stl_vector.h:1124). Network([3, 4, 2]).jacobian(np.ones((0, 3))) and jacobian_spectrum crash. Fix:
# B_ = -1 initially (or return the empty J in bindings.cpp when B == 0).
def test_jacobian_of_an_empty_batch_on_a_fresh_network(tmp_path):
    """In a child process: the bug was a segfault."""
    for method in ("jacobian", "jacobian_spectrum"):
        res = run_limited(tmp_path, f"pyvanish.Network([3, 4, 2]).{method}(np.ones((0, 3)))", check_status=False,
                          mem_gib=None)
        assert res is not None, f"Network.{method} of an empty batch crashed the interpreter"
        assert res["ok"] or res["type"] == "ValueError", res


@no_sanitizer
@pytest.mark.xfail(strict=True, reason="train() draws every index up front (minibatch_indices concatenates "
                                       "steps * batch_size / N permutations in a Python loop): steps=10**12 "
                                       "runs for minutes, then exhausts memory (with no limit: the OOM killer). "
                                       "Fix: check steps * batch_size * 8 bytes first (MemoryError/ValueError "
                                       "naming train), or draw the indices per chunk.")
def test_train_with_a_trillion_steps_fails_fast(tmp_path):
    code = ("net = pyvanish.Network([3, 2]); "
            "pyvanish.train(net, np.ones((10, 3)), np.ones((10, 2)), steps=10**12, batch_size=1)")
    try:
        res = run_limited(tmp_path, code, mem_gib=2, timeout=8)
    except subprocess.TimeoutExpired:
        pytest.fail("train(steps=10**12) still running after 8 s")
    assert res["type"] in ("MemoryError", "ValueError") and res["seconds"] < 2 and res["msg"].startswith("train"), res


@no_sanitizer
@pytest.mark.xfail(strict=True, reason="C++ std::bad_alloc becomes MemoryError('std::bad_alloc') and NumPy's "
                                       "'Unable to allocate ...' passes through: neither names the function. "
                                       "Fix: Network/Ensemble compute parameter + workspace bytes before "
                                       "building the engine -> MemoryError(f'{fn}: ... need X GiB'); wrap "
                                       "engine calls likewise.")
def test_memory_error_names_the_function(tmp_path):
    problems = {}
    for fn, code in HUGE:
        res = run_limited(tmp_path, code)
        if not res["msg"].startswith(fn):
            problems[code] = f"{res['type']}: {res['msg']}"
    assert not problems, problems


@no_sanitizer
@pytest.mark.xfail(strict=True, reason="csrc/network.cpp:139 (n += s.out * s.in + ...) and ensemble.cpp:152 "
                                       "overflow int64 (UB; UBSan: 'signed integer overflow'): widths [2**62, 4] "
                                       "build an engine of 4 parameters, and Python fails at a reshape: 'cannot "
                                       "reshape array of size 0 into shape (4,4611686018427387904)'. Fix: "
                                       "__builtin_mul_overflow / add_overflow in the constructors (or a total "
                                       "check in bindings.cpp) -> MemoryError/ValueError naming Network.")
def test_width_products_beyond_int64(tmp_path):
    problems = {}
    for fn, code in (("Network", "pyvanish.Network([2**62, 4])"), ("Ensemble", "pyvanish.Ensemble([2**61, 8], 2)")):
        res = run_limited(tmp_path, code)
        if not (res["type"] in ("MemoryError", "ValueError") and res["msg"].startswith(fn)):
            problems[code] = f"{res['type']}: {res['msg']}"
    assert not problems, problems


@pytest.mark.xfail(strict=True, reason="cli.main catches ValueError/TypeError only: MemoryError (report --width "
                                       "1000000, ensemble -n 10**9, theory --depth 10**12, seed --depth 10**9), "
                                       "OverflowError (report --depth 10**23: [w] * depth) and SystemExit "
                                       "(--help/--version exit inside main) escape. Fix: catch MemoryError and "
                                       "OverflowError -> one line, status 2; catch SystemExit -> return its "
                                       "code; cap _positive (e.g. 2**31).")
def test_cli_never_raises():
    cases = [["--version"], ["report", "--depth", "99999999999999999999999"]]
    if not SANITIZED:
        cases += [["report", "--width", "1000000", "--depth", "3"], ["theory", "--sw2", "1", "--depth", "1000000000000"],
                  ["ensemble", "-n", "1000000000"]]
    problems = {}
    for argv in cases:
        try:
            code = run_cli(argv)[0]
            if code not in (0, 2):
                problems[" ".join(argv)] = f"status {code}"
        except BaseException as exc:  # noqa: BLE001
            problems[" ".join(argv)] = f"{type(exc).__name__}: {exc}"
    assert not problems, problems


@pytest.mark.xfail(strict=True, reason="'pyvanish train --task digits' without scikit-learn: digits_task's "
                                       "ImportError escapes cli.main. Fix: a one-line error, status 2.")
def test_cli_digits_without_scikit_learn_raises_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)          # as if scikit-learn were not installed
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    code, out, err = run_cli(["train", "--task", "digits", "--steps", "1"])
    assert code == 2 and len(err.strip().splitlines()) == 1


@pytest.mark.xfail(strict=True, reason="seed_network(weights='1,2,3,4'): np.asarray(v, dtype=float) on a string in "
                                       "tutorial.py: 'could not convert string to float'. Fix: TypeError naming "
                                       "seed_network for non-numeric weights/biases.")
def test_seed_network_of_string_weights_is_unnamed():
    _all_named([("str", "seed_network", lambda: pyvanish.seed_network("1,2,3,4", depth=1))])


@pytest.mark.xfail(strict=True, reason="compare.parse_config(',,'): tokens is empty and tokens[0] raises "
                                       "IndexError 'list index out of range' (wrong type, unnamed). Fix: "
                                       "treat a spec with no tokens like '' (TypeError/ValueError naming compare).")
def test_compare_of_an_all_comma_spec_is_index_error():
    _all_named([(",,", "compare", lambda: pyvanish.compare([",,"], depth=1, width=2, batch=2))])


@pytest.mark.xfail(strict=True, reason="ensemble.py:169 input_mean_square = np.mean(x.astype(float64) ** 2) "
                                       "overflows for finite |x| > 1.3e154 (RuntimeWarning, an error here; "
                                       "check_finite=True passes such x). Fix: errstate(over='ignore') or a "
                                       "scaled mean square.")
def test_ensemble_run_of_huge_finite_inputs_warns():
    ens = pyvanish.Ensemble([1, 1], 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        rep = ens.run([[1e200]], [[0.0]])
    assert rep.members == 3


@pytest.mark.xfail(strict=True, reason="Network.jacobian_spectrum(check_finite=False) of an input with NaN "
                                       "gives a NaN Jacobian and numpy.linalg.svd raises LinAlgError 'SVD did "
                                       "not converge' (spectrum.py:79). Fix: NaN singular values where J is not "
                                       "finite (a result, as the report counts non-finite values), or a "
                                       "ValueError naming jacobian_spectrum.")
def test_spectrum_of_a_non_finite_jacobian_is_linalg_error():
    net = NETS[0].copy()
    x = np.array([[np.nan, 0.0, 1.0]])
    _named_or_result = _named("Network.jacobian_spectrum", lambda: net.jacobian_spectrum(x, check_finite=False))
    assert _named_or_result in (None, "no exception"), _named_or_result


@numpy_only
@pytest.mark.xfail(strict=True, reason="HANG. theory._fixed_point loops forever on NaN: for leaky_relu with "
                                       "|alpha| > ~1e154, alpha**2 = inf and L(0) = sw2 * inf * 0 = NaN; from "
                                       "q0 = 0 the downward probe 0.25 * min(NaN, ...) never falls below "
                                       "_Q_MIN. fixed_point('leaky_relu', 0.0, 0.0, alpha=1e300, q0=0.0) (and "
                                       "c_star, chi_c, depth_scales) never return. Fix: reject non-finite "
                                       "length-map values (ValueError naming the function), or bound alpha.")
def test_fixed_point_with_a_huge_leaky_relu_slope_never_returns():
    with time_limit(3):
        _all_named([("fixed_point", "fixed_point",
                     lambda: theory.fixed_point("leaky_relu", 0.0, 0.0, alpha=1e300, q0=0.0))])


@numpy_only
@pytest.mark.xfail(strict=True, reason="theory.depth_scales / chi_c('sigmoid' or 'softplus', sw2 <= ~1e-100): "
                                       "a rounding-negative chi reaches _xi's math.log (theory.py:485): "
                                       "ValueError 'math domain error'. Fix: clamp chi to >= 0 in _xi (or the "
                                       "slope that produced it).")
def test_depth_scales_of_a_tiny_sw2_is_math_domain_error():
    for act in ("sigmoid", "softplus"):
        r = _named("depth_scales", lambda: theory.depth_scales(act, 1e-100, 0.0))
        assert r == "no exception", r


@numpy_only
@pytest.mark.xfail(strict=True, reason="theory where phi(sqrt(q) z)**2 overflows: elu with |alpha| > ~1e154, or "
                                       "elu/gelu/silu/softplus from q0 >~ 1e306: NaN reaches an int() in the "
                                       "quadrature ('cannot convert float NaN to integer', unnamed), and "
                                       "critical_sw2 raises OverflowError (theory.py:853, max_derivative ** 2). "
                                       "Fix: bound alpha and q0 (ValueError naming the function), or use the "
                                       "q -> inf limits.")
def test_theory_beyond_the_float_range_is_unnamed():
    _all_named([
        ("c_star elu alpha", "c_star", lambda: theory.c_star("elu", 0.0, 0.0, alpha=1e300)),
        ("chi1 elu alpha", "chi1", lambda: theory.chi1("elu", 0.0, 0.0, alpha=1e300)),
        ("critical_sw2 elu alpha", "critical_sw2", lambda: theory.critical_sw2("elu", 0.0, alpha=1e300)),
        ("fixed_point gelu q0", "fixed_point", lambda: theory.fixed_point("gelu", 0.0, 0.0, q0=1e307)),
        ("chi1 softplus q0", "chi1", lambda: theory.chi1("softplus", 0.0, 0.0, q0=1e307)),
    ])


@pytest.mark.xfail(strict=True, reason="SeedNetwork.explain does float(x) / float(t) unchecked (tutorial.py): "
                                       "None, 'x', [1, 2] or 1j give \"float() argument must be...\" / 'could "
                                       "not convert string to float' without the function's name. Fix: "
                                       "real_number(x, 'SeedNetwork.explain', 'x') as elsewhere.")
def test_explain_of_a_non_number_is_unnamed():
    net = pyvanish.seed_network()
    _all_named([(repr(v), "SeedNetwork.explain", lambda v=v: net.explain(v, 0.0)) for v in (None, "x", [1, 2], 1j)])


@pytest.mark.xfail(strict=True, reason="compare(seed=None) and teacher_task(seed=None) build "
                                       "np.random.default_rng([seed, 1]) from None: \"object of type 'NoneType' "
                                       "has no len()\" (Network(seed=None) means 'random'); compare(seed=[1, 2]) "
                                       "gives \"int() argument must be...\". Fix: accept None (fresh entropy) "
                                       "or reject it, and sequences, by name in check_seed.")
def test_seed_none_is_unnamed():
    problems = {}
    for label, fn, call in (("compare", "compare", lambda: pyvanish.compare(["tanh"], depth=1, width=2, seed=None)),
                            ("compare [1, 2]", "compare",
                             lambda: pyvanish.compare(["tanh"], depth=1, width=2, seed=[1, 2])),
                            ("teacher_task", "teacher_task", lambda: pyvanish.teacher_task(8, 2, seed=None))):
        p = _named(fn, call)
        if p is not None and p != "no exception":    # either a result or a named error is fine
            problems[label] = p
    assert not problems, problems


@pytest.mark.xfail(strict=True, reason="gain=-0.0 passes the new 'gain < 0' check (network.py) and reaches "
                                       "rng.uniform(-limit, limit) with limit = -0.0: NumPy's 'high - low < 0'. "
                                       "Fix: normalise gain (gain = float(gain) + 0.0) or test "
                                       "math.copysign(1, gain) < 0.")
def test_negative_zero_gain_is_unnamed():
    problems = {}
    for label, fn, call in (("Network", "Network", lambda: pyvanish.Network([2, 2], gain=-0.0)),
                            ("Ensemble", "Ensemble", lambda: pyvanish.Ensemble([2, 2], 3, gain=-0.0))):
        p = _named(fn, call)
        if p is not None and p != "no exception":    # a result (gain 0) or a named error
            problems[label] = p
    assert not problems, problems


@pytest.mark.xfail(strict=True, reason="network.py Network._run: when the fast path's engine.run refuses an array "
                                       "(non-contiguous, byte-swapped), the retry after conversion calls "
                                       "engine.run again outside the try: its ValueError loses the "
                                       "'Network.gradient_report: ' prefix. Network([3, 4, 4, 2], batchnorm=True)"
                                       ".gradient_report(np.ones(3), np.zeros(2)) -> 'batch normalisation "
                                       "needs more than one sample...'. Fix: prefix the retry's errors too.")
def test_retry_after_conversion_loses_the_name():
    net = pyvanish.Network([3, 4, 4, 2], batchnorm=True, seed=0)
    t = np.zeros((1, 2))
    _all_named([("non-contiguous", "Network.gradient_report", lambda: net.gradient_report(np.ones((1, 6))[:, ::2], t)),
                ("1-d", "Network.gradient_report", lambda: net.gradient_report(np.ones(3), np.zeros(2)))])


@pytest.mark.xfail(strict=True, reason="Network(alpha=[0.0, [1.0]]): np.ndim on a ragged per-layer list raises "
                                       "NumPy's 'setting an array element with a sequence...'. Fix: check each "
                                       "per-layer alpha is a real number, naming Network.")
def test_nested_alpha_list_is_unnamed():
    _all_named([("[0.0, [1.0]]", "Network", lambda: pyvanish.Network([2, 2, 2], alpha=[0.0, [1.0]]))])


@numpy_only
@pytest.mark.xfail(strict=True, reason="MEMORY BLOW-UP. theory.c_star / chi_c / depth_scales with huge variances: "
                                       "c_star('tanh', 1e300, 1.0, q0=1e300) allocates arrays of shape (20360, "
                                       "1037, 20) (3.15 GiB each) in the correlation-map quadrature; without a "
                                       "limit a fuzz run reached 22 GB and was OOM-killed. Also slow: gelu with "
                                       "sb2 = 1e300 takes > 5 s; c_star('tanh', 1e200, 1.0) ~3 s. And NaN: "
                                       "c_star('tanh', 1e300, 0.0 or 1.0) is NaN. Fix: treat q* beyond the "
                                       "quadrature's range with its q* -> inf limit (as fixed_point does); bound "
                                       "the number of panels.")
def test_c_star_of_huge_variances_is_slow_nan_or_20_gb():
    values = [theory.c_star("tanh", 1e300, sb2) for sb2 in (0.0, 1.0)]
    assert not any(math.isnan(v) for v in values), values
    with memory_cap(2), time_limit(2):
        theory.c_star("tanh", 1e300, 1.0, q0=1e300)
        theory.c_star("tanh", 1e200, 1.0)
