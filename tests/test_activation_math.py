"""The C++ activations' own elementary functions (csrc/vmath.hpp), on every
instruction-set path: accuracy against libm (Python's ``math``) over dense
grids, the limits at +-huge and +-inf, NaN, subnormal results, determinism.

The element functions are reached through the public kernels: elu(z <= 0)
with alpha = 1 is expm1(z), elu'(z <= 0) is exp(z), softplus(z <= 0) is
log1p(exp(z)).
"""
import math

import numpy as np
import pytest
from test_reference import LIMITS

import pyvanish
from pyvanish import kernels

# Largest error allowed against libm, in units in the last place of libm's
# result (measured: exp 1, expm1 2, tanh 2, log1p(exp) 2, sigmoid 2).
MAX_ULP = {"exp": 1, "expm1": 2, "tanh": 2, "log1p_exp": 3, "sigmoid": 3}


def libm(fn, z):
    return np.frompyfunc(fn, 1, 1)(z).astype(np.float64)


def ulps(actual, expected):
    """|actual - expected| in ulps of expected (float64; spacing(0) = 5e-324)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return np.abs(actual - expected) / np.spacing(np.abs(expected))


def grid(lo, hi, n=200_001):
    return np.linspace(lo, hi, n)


def tiny_grid(n=20_001):
    """+-[1e-300, 1]: where expm1, log1p, tanh must not lose relative accuracy."""
    t = np.logspace(-300, 0, n)
    return np.concatenate([-t[::-1], t])


def sigmoid_libm(z):
    e = libm(math.exp, -np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def assert_ulps(actual, expected, bound, what):
    err = ulps(actual, expected)
    worst = int(np.argmax(err))
    assert err[worst] <= bound, f"{what}: {err[worst]:.2f} ulp at index {worst}"


# ------------------------------------------------------------------ accuracy

def test_exp_nonpositive_vs_libm(simd_path):
    # down to where exp(z) is the smallest subnormal; the subnormal results
    # are compared in ulps of the subnormal (spacing 5e-324): not flushed.
    z = np.concatenate([grid(-745.1, 0.0), grid(-745.1, -700.0, 50_001), -tiny_grid()[20_001:]])
    d = kernels.activation_derivative("elu", z, kernels.activation_forward("elu", z, 1.0), 1.0)
    assert_ulps(d, libm(math.exp, z), MAX_ULP["exp"], f"exp on {simd_path}")


def test_expm1_nonpositive_vs_libm(simd_path):
    z = np.concatenate([grid(-40.0, 0.0), -tiny_grid()[20_001:]])
    assert_ulps(kernels.activation_forward("elu", z, 1.0), libm(math.expm1, z),
                MAX_ULP["expm1"], f"expm1 on {simd_path}")


def test_tanh_vs_libm(simd_path):
    z = np.concatenate([grid(-20.0, 20.0), grid(-1.0, 1.0), tiny_grid()])
    assert_ulps(kernels.activation_forward("tanh", z), libm(math.tanh, z),
                MAX_ULP["tanh"], f"tanh on {simd_path}")


def test_softplus_vs_libm(simd_path):
    # softplus(z) = log1p(exp(z)) for z <= 0: exp and log1p together.
    z = np.concatenate([grid(-745.0, 0.0), grid(-40.0, 0.0)])
    want = libm(lambda v: math.log1p(math.exp(v)), z)
    assert_ulps(kernels.activation_forward("softplus", z), want, MAX_ULP["log1p_exp"],
                f"softplus on {simd_path}")


def test_sigmoid_vs_libm(simd_path):
    z = np.concatenate([grid(-745.0, 40.0), grid(-5.0, 5.0), tiny_grid()])
    assert_ulps(kernels.activation_forward("sigmoid", z), sigmoid_libm(z), MAX_ULP["sigmoid"],
                f"sigmoid on {simd_path}")


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "elu", "softplus"])
def test_float32_within_two_ulp_of_libm_rounded(simd_path, name):
    # within 2 float ulps of libm's double result rounded, subnormal results
    # included. (Not silu: like the reference it multiplies z by sigmoid
    # rounded to float32, which has few bits left below 1e-38.)
    z = np.concatenate([grid(-104.0, 20.0, 100_001), tiny_grid(2_001)]).astype(np.float32)
    z64 = z.astype(np.float64)
    want = {
        "sigmoid": lambda: sigmoid_libm(z64),
        "tanh": lambda: libm(math.tanh, z64),
        "elu": lambda: np.where(z64 > 0, z64, libm(math.expm1, np.minimum(z64, 0))),
        "softplus": lambda: np.maximum(z64, 0) + libm(lambda v: math.log1p(math.exp(-abs(v))), z64),
    }[name]().astype(np.float32)
    got = kernels.activation_forward(name, z)
    assert got.dtype == np.float32
    err = np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want)).astype(np.float64)
    assert err.max() <= 2, f"{name} float32 on {simd_path}: {err.max()} ulp at z = {z[np.argmax(err)]}"


# ------------------------------------------------------------------ extremes

@pytest.mark.parametrize("dtype, huge", [(np.float64, 1e300), (np.float32, 3e38)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("name", kernels.ACTIVATIONS)
def test_extremes(simd_path, name, dtype, huge):
    """+-huge and +-inf give the limits (never NaN, never an overflow to the
    wrong value); NaN gives NaN, forward, derivative and backward."""
    z = np.array([huge, -huge, np.inf, -np.inf, np.nan], dtype=dtype)
    a = kernels.activation_forward(name, z)
    d = kernels.activation_derivative(name, z, a)
    g = kernels.activation_backward(name, np.ones_like(z), z, a)
    f_pos, f_neg, d_pos, d_neg = LIMITS[name]
    for i in range(4):
        fs, ds = (f_pos, d_pos) if z[i] > 0 else (f_neg, d_neg)
        want_a = z[i] if fs == "z" else dtype(0.01) * z[i] if fs == "alpha*z" else dtype(fs)
        assert a[i] == want_a, (name, z[i], a[i], want_a)
        assert d[i] == dtype(ds) and g[i] == dtype(ds), (name, z[i], d[i], ds)
    assert np.isnan(a[4]) and np.isnan(d[4]) and np.isnan(g[4])


@pytest.mark.parametrize("name", kernels.ACTIVATIONS)
def test_nan_anywhere_stays_nan(simd_path, name):
    # NaN in every lane position (vector body and scalar remainder alike)
    z = np.linspace(-3, 3, 37)
    z[::5] = np.nan
    a = kernels.activation_forward(name, z)
    d = kernels.activation_derivative(name, z, a)
    assert np.array_equal(np.isnan(a), np.isnan(z)) and np.array_equal(np.isnan(d), np.isnan(z))


def test_subnormal_results_are_not_flushed(simd_path):
    tiny = np.finfo(np.float64).tiny
    s = kernels.activation_forward("sigmoid", np.array([-720.0]))[0]
    assert 0 < s < tiny and ulps(s, math.exp(-720.0)) <= 1
    sp = kernels.activation_forward("softplus", np.array([-720.0]))[0]
    assert 0 < sp < tiny and ulps(sp, math.exp(-720.0)) <= 1
    e = kernels.activation_derivative("elu", np.array([-740.0]), np.array([-1.0]))[0]
    assert 0 < e < tiny and ulps(e, math.exp(-740.0)) <= 1
    s32 = kernels.activation_forward("sigmoid", np.array([-100.0], np.float32))[0]
    assert 0 < s32 < np.finfo(np.float32).tiny
    assert float(s32) == pytest.approx(math.exp(-100.0), rel=1e-3)
    assert not pyvanish._engine.subnormals_flushed()


def test_signed_zero_and_tiny_inputs(simd_path):
    z = np.array([0.0, -0.0, 5e-324, -5e-324, 1e-300, -1e-300])
    t = kernels.activation_forward("tanh", z)
    assert np.array_equal(t, z) and np.array_equal(np.signbit(t), np.signbit(z))
    assert np.array_equal(kernels.activation_forward("elu", z[z <= 0], 1.0), z[z <= 0])


# ------------------------------------------------------------------ determinism

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", kernels.ACTIVATIONS)
def test_results_do_not_depend_on_position_or_length(simd_path, name, dtype):
    """Each element's result is the same in the vector body and in the scalar
    remainder, at any offset: bitwise, so any split of the work agrees."""
    z = (np.random.default_rng(7).standard_normal(203) * 30).astype(dtype)
    a = kernels.activation_forward(name, z)
    d = kernels.activation_derivative(name, z, a)
    for k in (1, 3, 7, 200):
        ak = kernels.activation_forward(name, z[k:].copy())
        dk = kernels.activation_derivative(name, z[k:].copy(), a[k:].copy())
        assert ak.tobytes() == a[k:].tobytes() and dk.tobytes() == d[k:].tobytes()
    assert kernels.activation_forward(name, z).tobytes() == a.tobytes()
