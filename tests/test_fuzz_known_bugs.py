"""Bugs found by the fuzz tests: one regression test each (all are fixed).

A bug found from now on gets a test here that fails until it is fixed; never a strict xfail
left as a to-do list (a bug that cannot be fixed now becomes a clear, documented error).

See tests/_fuzz_helpers.py for what the fuzz tests throw and what they require."""
from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from _fuzz_helpers import (
    HUGE,
    NETS,
    SANITIZED,
    TRAIN_NET,
    _count_examples,  # noqa: F401  (autouse: counts this module's examples)
    memory_cap,
    no_sanitizer,
    numpy_only,
    run_cli,
    run_limited,
    time_limit,
)

import pyvanish
from pyvanish import kernels as K
from pyvanish import theory

# ------------------------------------------------------------------ the bugs, fixed
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


# Fixed: train checks the parameters after the last chunk: a last step that makes one non-finite sets stopped.
def test_diverging_training_reports_the_stop():
    X = np.random.default_rng(0).standard_normal((10, 3))
    net = pyvanish.Network([3, 4, 2], seed=0, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        h = pyvanish.train(net, X, np.ones((10, 2)), steps=5, lr=1e5)
    finite = all(np.isfinite(w).all() for w in net.weights)
    assert finite or h.stopped, f"non-finite weights after {h.steps_done} steps, stopped={h.stopped}"
    assert not finite and h.stopped == f"a parameter became non-finite at step {h.steps_done - 1}"


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
# Fixed: _fixed_point starts its upward probes at L(0) = sb2 (every fixed point is >= L(0)).
def test_critical_sw2_of_a_huge_bias_variance_fails_fast():
    with time_limit(10):  # ~1.3 s (was 2-4 minutes); headroom for a loaded CI machine
        with pytest.raises(ValueError, match="^critical_sw2: no sw2"):
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
# Fixed: train refuses up front the bytes its minibatch indices and records would need.
def test_train_with_a_trillion_steps_is_refused_up_front(tmp_path):
    code = ("net = pyvanish.Network([3, 2]); "
            "pyvanish.train(net, np.ones((10, 3)), np.ones((10, 2)), steps=10**12, batch_size=1)")
    try:
        res = run_limited(tmp_path, code, mem_gib=2, timeout=8)
    except subprocess.TimeoutExpired:
        pytest.fail("train(steps=10**12) still running after 8 s")
    assert res["type"] == "MemoryError" and res["seconds"] < 2 and res["msg"].startswith("train: "), res
    assert "bytes" in res["msg"], res


@no_sanitizer
# Fixed: engine calls and gemm prefix a MemoryError with the function's name; gradient_profile caps depth.
def test_memory_error_names_the_function(tmp_path):
    problems = {}
    for fn, code in HUGE:
        res = run_limited(tmp_path, code)
        if not res["msg"].startswith(fn):
            problems[code] = f"{res['type']}: {res['msg']}"
    assert not problems, problems


@no_sanitizer
# Fixed: the parameter count is an exact Python int, checked against memory before the engine is built.
def test_width_products_beyond_int64_are_refused_by_name(tmp_path):
    problems = {}
    for fn, code in (("Network", "pyvanish.Network([2**62, 4])"), ("Ensemble", "pyvanish.Ensemble([2**61, 8], 2)")):
        res = run_limited(tmp_path, code)
        if not (res["type"] in ("MemoryError", "ValueError") and res["msg"].startswith(fn)):
            problems[code] = f"{res['type']}: {res['msg']}"
    assert not problems, problems


# Fixed: cli.main turns MemoryError/OverflowError/ImportError/OSError into one line and status 2, SystemExit into its code; sizes are capped.
def test_cli_never_raises():
    cases = [["--version"], ["--help"], ["report", "--help"], ["report", "--depth", "99999999999999999999999"],
             ["seed", "--depth", "1000000000"], ["compare", "--config", ",,"], ["sweep", "--out", "/nonexistent/s.csv"],
             ["report", "--plot", "/nonexistent/x.png"], ["train", "--lr", "-1", "--steps", "1"]]
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


# Fixed: the ImportError of an optional dependency is one line, status 2.
def test_cli_digits_without_scikit_learn_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)          # as if scikit-learn were not installed
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    code, out, err = run_cli(["train", "--task", "digits", "--steps", "1"])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "scikit-learn" in err


# Fixed: each weight/bias of seed_network is checked as a real number, naming it.
def test_seed_network_of_string_weights_is_a_named_error():
    _all_named([("str", "seed_network", lambda: pyvanish.seed_network("1,2,3,4", depth=1))])


# Fixed: an empty configuration is a ValueError naming compare.
def test_compare_of_an_all_comma_spec_is_named():
    _all_named([(",,", "compare", lambda: pyvanish.compare([",,"], depth=1, width=2, batch=2))])


# Fixed: Ensemble.run's input mean square is scaled by max|x| (inf, not a RuntimeWarning, beyond float64).
def test_ensemble_run_of_huge_finite_inputs_is_quiet():
    ens = pyvanish.Ensemble([1, 1], 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        rep = ens.run([[1e200]], [[0.0]])
        assert rep.members == 3 and rep.input_mean_square == math.inf
        assert ens.run([[3e153]], [[0.0]]).input_mean_square == pytest.approx(9e306)


# Fixed: spectrum_of gives NaN singular values for a sample whose Jacobian is not finite.
def test_spectrum_of_a_non_finite_jacobian_is_nan():
    net = NETS[0].copy()
    x = np.array([[np.nan, 0.0, 1.0], [1.0, 0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        s = net.jacobian_spectrum(x, check_finite=False)
    assert np.isnan(s.singular_values[0]).all() and np.isfinite(s.singular_values[1]).all()


@numpy_only
# Fixed: theory refuses |alpha| > 1e100 (alpha^2 would overflow to NaN in the length map).
def test_fixed_point_with_a_huge_leaky_relu_slope_is_refused():
    with time_limit(3):
        _all_named([("fixed_point", "fixed_point",
                     lambda: theory.fixed_point("leaky_relu", 0.0, 0.0, alpha=1e300, q0=0.0))])


@numpy_only
# Fixed: _xi clamps a rounding-negative chi to 0.
def test_depth_scales_of_a_tiny_sw2_is_finite():
    for act in ("sigmoid", "softplus"):
        r = _named("depth_scales", lambda: theory.depth_scales(act, 1e-100, 0.0))
        assert r == "no exception", r


@numpy_only
# Fixed: theory refuses |alpha| > 1e100 and q0 > 1e300 by name.
def test_theory_beyond_the_float_range_is_refused_by_name():
    _all_named([
        ("c_star elu alpha", "c_star", lambda: theory.c_star("elu", 0.0, 0.0, alpha=1e300)),
        ("chi1 elu alpha", "chi1", lambda: theory.chi1("elu", 0.0, 0.0, alpha=1e300)),
        ("critical_sw2 elu alpha", "critical_sw2", lambda: theory.critical_sw2("elu", 0.0, alpha=1e300)),
        ("fixed_point gelu q0", "fixed_point", lambda: theory.fixed_point("gelu", 0.0, 0.0, q0=1e307)),
        ("chi1 softplus q0", "chi1", lambda: theory.chi1("softplus", 0.0, 0.0, q0=1e307)),
    ])


# Fixed: SeedNetwork.explain checks x and t with real_number.
def test_explain_of_a_non_number_is_a_named_error():
    net = pyvanish.seed_network()
    _all_named([(repr(v), "SeedNetwork.explain", lambda v=v: net.explain(v, 0.0)) for v in (None, "x", [1, 2], 1j)])


# Fixed: compare/teacher_task take one integer seed; None draws a fresh one (recorded), a sequence is refused by name.
def test_seed_none_is_fresh_and_a_sequence_is_named():
    problems = {}
    for label, fn, call in (("compare", "compare", lambda: pyvanish.compare(["tanh"], depth=1, width=2, seed=None)),
                            ("compare [1, 2]", "compare",
                             lambda: pyvanish.compare(["tanh"], depth=1, width=2, seed=[1, 2])),
                            ("teacher_task", "teacher_task", lambda: pyvanish.teacher_task(8, 2, seed=None))):
        p = _named(fn, call)
        if p is not None and p != "no exception":    # either a result or a named error is fine
            problems[label] = p
    assert not problems, problems
    a, b = (pyvanish.compare(["tanh"], depth=1, width=2, seed=None).seed for _ in range(2))
    assert a != b and pyvanish.compare(["tanh"], depth=1, width=2, seed=a).seed == a


# Fixed: init_weight normalises gain (and sw) -0.0 to 0.0.
def test_negative_zero_gain_is_zero():
    problems = {}
    for label, fn, call in (("Network", "Network", lambda: pyvanish.Network([2, 2], gain=-0.0)),
                            ("Ensemble", "Ensemble", lambda: pyvanish.Ensemble([2, 2], 3, gain=-0.0))):
        p = _named(fn, call)
        if p is not None and p != "no exception":    # a result (gain 0) or a named error
            problems[label] = p
    assert not problems, problems


# Fixed: one engine call, no retry; every error prefixed once.
def test_conversion_keeps_the_name():
    net = pyvanish.Network([3, 4, 4, 2], batchnorm=True, seed=0)
    t = np.zeros((1, 2))
    _all_named([("non-contiguous", "Network.gradient_report", lambda: net.gradient_report(np.ones((1, 6))[:, ::2], t)),
                ("1-d", "Network.gradient_report", lambda: net.gradient_report(np.ones(3), np.zeros(2)))])


# Fixed: each per-layer alpha is checked as a real number, naming Network.
def test_nested_alpha_list_is_named():
    _all_named([("[0.0, [1.0]]", "Network", lambda: pyvanish.Network([2, 2, 2], alpha=[0.0, [1.0]]))])


@numpy_only
# Fixed: beyond q* = 1e24 the correlation map is refused with the bytes its quadrature would need.
def test_c_star_of_huge_variances_is_nan_or_refused_up_front():
    # q* beyond 1e300 is infinite (documented): c* is NaN
    assert all(math.isnan(theory.c_star("tanh", 1e300, sb2)) for sb2 in (0.0, 1.0))
    with memory_cap(2), time_limit(5):
        for fn, call in (("c_star", lambda: theory.c_star("tanh", 1e300, 1.0, q0=1e300)),
                         ("c_star", lambda: theory.c_star("tanh", 1e200, 1.0)),
                         ("chi_c", lambda: theory.chi_c("tanh", 1e200, 1.0)),
                         ("depth_scales", lambda: theory.depth_scales("tanh", 1e40, 0.0))):
            with pytest.raises(ValueError, match=rf"^{fn}: .* needs a quadrature of [\d,]+ bytes"):
                call()
        assert theory.c_star("tanh", 1e20, 1.0) < 1e-6   # q* = 1e20 is still computed (chaotic: c* ~ 0)
