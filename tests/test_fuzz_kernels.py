"""Fuzz tests: malformed input to pyvanish.kernels, the GEMM path and the thread count.

See tests/_fuzz_helpers.py for what the fuzz tests throw and what they require."""
from __future__ import annotations

import numpy as np
from _fuzz_helpers import (
    EXAMPLES,
    _count_examples,  # noqa: F401  (autouse: counts this module's examples)
    activation_names,
    attempt,
    fuzz,
    near,
    reals_or_junk,
)
from hypothesis import given
from hypothesis import strategies as st

import pyvanish
from pyvanish import kernels as K

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


def _expected_shapes(name, arrays, flags):
    """The output shapes a kernel must return for these inputs, or None when
    their shapes are inconsistent (then the kernel must have raised)."""
    s = [np.shape(np.asarray(a)) for a in arrays]

    def mat(x):
        return len(x) == 2

    if name == "activation_forward":
        return [s[0]]
    if name == "activation_derivative":
        return [s[0]] if not flags[0] or s[1] == s[0] else None
    if name == "activation_backward":
        return [s[0]] if s[1] == s[0] and s[2] == s[0] else None
    if name in ("dense_forward", "dense_act_forward"):
        if not (mat(s[0]) and mat(s[1]) and s[1][1] == s[0][1] and (not flags[0] or s[2] == (s[1][0],))):
            return None
        out = (s[0][0], s[1][0])
        return [out] if name == "dense_forward" else [out, out]
    if name in ("dense_backward", "dense_act_backward"):
        (B, OC), (B2, C), W = s[0] if mat(s[0]) else (None, None), s[1] if mat(s[1]) else (None, None), s[2]
        ok = None not in (B, B2) and B == B2 and W == (OC, C)
        if name == "dense_act_backward":
            ok = ok and s[3] == s[0] and s[4] == s[0]
        if not ok:
            return None
        return [(B, C), (OC, C), (OC,)] + ([(B, OC)] if name == "dense_act_backward" else [])
    if name in ("mse_forward", "mse_backward"):
        if not (mat(s[0]) and s[1] == s[0] and s[0][0] > 0):
            return None
        return [()] if name == "mse_forward" else [s[0]]
    if name == "batchnorm_forward":
        if not (mat(s[0]) and s[1] == (s[0][1],) and s[2] == s[1] and s[0][0] >= 2):
            return None
        return [s[0], s[0], s[1], s[1]]
    if name == "batchnorm_backward":
        if not (mat(s[0]) and s[1] == s[0] and s[2] == (s[0][1],) and s[3] == s[2]):
            return None
        return [s[0], s[2], s[2]]
    if name == "residual_forward":
        return [s[0]] if s[1] == s[0] else None
    if name == "residual_backward":
        return [s[0], s[0]]
    if name == "gemm":
        if not (mat(s[0]) and mat(s[1])):
            return None
        (M, K1), (K2, N) = s[0][::-1] if flags[0] else s[0], s[1][::-1] if flags[1] else s[1]
        return [(M, N)] if K1 == K2 else None
    raise AssertionError(name)


def _check_result(res, name=None, arrays=None, flags=None):
    """A float dtype result whose shapes follow from the inputs' shapes: a kernel
    that accepted inconsistent shapes (a changed axis) fails here."""
    outs = res if isinstance(res, tuple) else (res,)
    for o in outs:
        if isinstance(o, float):
            continue
        assert isinstance(o, np.ndarray) and o.dtype in (np.float32, np.float64), (type(o), getattr(o, "dtype", None))
    if name is None:
        return
    want = _expected_shapes(name, arrays, flags)
    assert want is not None, f"{name} accepted inconsistent shapes {[np.shape(np.asarray(a)) for a in arrays]}"
    assert [np.shape(o) for o in outs] == want, (name, [np.shape(o) for o in outs], want)


@fuzz(700)
@given(data=st.data(), name=st.sampled_from(KERNEL_NAMES), B=st.integers(0, 4), C=st.integers(0, 4),
       OC=st.integers(0, 4), act=activation_names, alpha=st.one_of(st.none(), reals_or_junk),
       scalar=reals_or_junk, flags=st.tuples(st.booleans(), st.booleans()), cf=st.booleans())
def test_kernels_take_malformed_arrays(data, name, B, C, OC, act, alpha, scalar, flags, cf):
    EXAMPLES["kernels"] += 1
    arrays = [data.draw(near(s), label=f"arg{i}") for i, s in enumerate(_kernel_shapes(name, B, C, OC, flags))]
    res = attempt(name, _kernel_call(name, arrays, act, alpha, scalar, flags, cf))
    if not isinstance(res, Exception):
        _check_result(res, name, arrays, flags)


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
def test_simd_path_and_threads(path, n):
    EXAMPLES["simd_path_threads"] += 1
    before = pyvanish.get_simd_path()
    try:
        res = attempt("set_simd_path", lambda: pyvanish.set_simd_path(path))
        assert isinstance(res, Exception) or res in ("generic", "avx2", "avx512")
        res = attempt("set_num_threads", lambda: pyvanish.set_num_threads(n))
        assert isinstance(res, Exception) or pyvanish.num_threads() >= 1
        assert np.array_equal(K.gemm(np.eye(3), np.arange(9.0).reshape(3, 3)), np.arange(9.0).reshape(3, 3))
    finally:
        pyvanish.set_simd_path(before)
        pyvanish.set_num_threads(0)            # back to the default
