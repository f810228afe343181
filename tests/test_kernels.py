"""Every C++ kernel against pyvanish.reference, both dtypes, every GEMM path."""
import inspect
import re

import numpy as np
import pytest
from conftest import eps, rel_close
from hypothesis import given
from hypothesis import strategies as st

from pyvanish import kernels
from pyvanish import reference as ref

ACTS = list(kernels.ACTIVATIONS)
# Elementwise functions: libm vs NumPy differ by a few ulp; gelu's erfc and
# float32 sums more. The bound is relative to max(|value|, 1 ulp of 1).
ACT_RTOL = {np.float32: 64, np.float64: 64}


def act_inputs(dtype, n, seed, scale):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal(n) * scale).astype(dtype)
    return z


def conditioning(fn, z):
    """|z| * |fn'(z)| by a central difference in float64: the error a one-ulp
    relative change of z causes (gelu's far tail is ill-conditioned: z**2)."""
    z = z.astype(np.float64)
    h = 1e-6 * np.maximum(np.abs(z), 1.0)
    with np.errstate(all="ignore"):
        slope = (fn(z + h) - fn(z - h)) / (2 * h)
    return np.nan_to_num(np.abs(z * slope), nan=0.0, posinf=0.0)


def act_scales(name, z):
    """Error scales of phi(z) and phi'(z): the value plus its conditioning.

    sigmoid/tanh take phi' from a = phi(z), so one ulp of a (of 1 at most)
    enters phi' unscaled: their derivative scale is at least 1."""
    f = lambda v: ref.activation_forward(name, v)  # noqa: E731
    df = lambda v: ref.activation_derivative(name, v, ref.activation_forward(name, v))  # noqa: E731
    z64 = z.astype(np.float64)
    # below float32's normal range one ulp is a fixed step: allow a few of them
    tiny = 4 * float(np.finfo(z.dtype).smallest_subnormal) / (ACT_RTOL[z.dtype.type] * eps(z.dtype))
    fscale = np.abs(f(z64)) + conditioning(f, z64) + tiny
    floor = 1.0 if name in ("sigmoid", "tanh") else 1e-300
    dscale = np.maximum(np.abs(df(z64)), floor) + conditioning(df, z64) + tiny
    return fscale, dscale


@pytest.mark.parametrize("name", ACTS)
@given(n=st.integers(0, 300), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([1e-3, 1.0, 5.0, 40.0]))
def test_activation_forward_backward_vs_reference(name, dtype, n, seed, scale):
    z = act_inputs(dtype, n, seed, scale)
    dout = act_inputs(dtype, n, seed + 1, 1.0)
    a = kernels.activation_forward(name, z)
    a_ref = ref.activation_forward(name, z)
    assert a.dtype == dtype and a.shape == z.shape
    tol = ACT_RTOL[dtype] * eps(dtype)
    fscale, dscale = act_scales(name, z)
    rel_close(a, a_ref, fscale, tol)
    d = kernels.activation_derivative(name, z, a)
    rel_close(d, ref.activation_derivative(name, z, a_ref), dscale, tol)
    g = kernels.activation_backward(name, dout, z, a)
    rel_close(g, ref.activation_backward(name, dout, z, a_ref), np.abs(dout) * dscale, tol)


@pytest.mark.parametrize("name", ["leaky_relu", "elu"])
def test_activation_alpha(name):
    z = np.linspace(-3, 3, 61)
    for alpha in (0.2, 1.7):
        rel_close(kernels.activation_forward(name, z, alpha), ref.activation_forward(name, z, alpha),
                  np.maximum(np.abs(z), 1e-300), 8 * eps(np.float64))
        a = ref.activation_forward(name, z, alpha)
        rel_close(kernels.activation_derivative(name, z, a, alpha),
                  ref.activation_derivative(name, z, a, alpha), np.ones_like(z), 8 * eps(np.float64))


def test_activation_any_shape():
    z = np.linspace(-2, 2, 24).reshape(2, 3, 4)
    a = kernels.activation_forward("tanh", z)
    assert a.shape == (2, 3, 4)
    np.testing.assert_allclose(a, np.tanh(z), rtol=1e-15)
    assert kernels.activation_forward("relu", np.float64(-2.0)).shape == ()


def dense_case(dtype, B, C, OC, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((B, C)).astype(dtype)
    W = (rng.standard_normal((OC, C)) / np.sqrt(max(C, 1))).astype(dtype)
    b = rng.standard_normal(OC).astype(dtype)
    g = rng.standard_normal((B, OC)).astype(dtype)
    return x, W, b, g


def gemm_tol(dtype, K):
    return 4 * (K + 2) * eps(dtype)


@given(B=st.integers(0, 70), C=st.integers(0, 70), OC=st.integers(1, 70), seed=st.integers(0, 2**32 - 1))
def test_dense_vs_reference(simd_path, dtype, B, C, OC, seed):
    x, W, b, g = dense_case(dtype, B, C, OC, seed)
    xa, Wa, ga = np.abs(x).astype(float), np.abs(W).astype(float), np.abs(g).astype(float)
    out = kernels.dense_forward(x, W, b)
    assert out.dtype == dtype and out.shape == (B, OC)
    rel_close(out, ref.dense_forward(x, W, b), xa @ Wa.T + np.abs(b), gemm_tol(dtype, C))
    rel_close(kernels.dense_forward(x, W), ref.dense_forward(x, W, np.zeros(OC, dtype)),
              xa @ Wa.T + 1e-300, gemm_tol(dtype, C))
    dx, dW, db = kernels.dense_backward(g, x, W)
    dx_r, dW_r, db_r = ref.dense_backward(g, x, W)
    rel_close(dx, dx_r, ga @ Wa + 1e-300, gemm_tol(dtype, OC))
    rel_close(dW, dW_r, ga.T @ xa + 1e-300, gemm_tol(dtype, B))
    rel_close(db, db_r, ga.sum(0) + 1e-300, gemm_tol(dtype, B))


@pytest.mark.parametrize("name", ACTS)
@given(B=st.integers(1, 40), C=st.integers(1, 40), OC=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_dense_act_vs_reference(simd_path, dtype, name, B, C, OC, seed):
    x, W, b, g = dense_case(dtype, B, C, OC, seed)
    z, a = kernels.dense_act_forward(x, W, b, name)
    z_r, a_r = ref.dense_act_forward(x, W, b, name)
    zscale = np.abs(x).astype(float) @ np.abs(W).astype(float).T + np.abs(b)
    tol = gemm_tol(dtype, C) + 64 * eps(dtype)
    rel_close(z, z_r, zscale, tol)
    fscale, dscale = act_scales(name, z)
    # phi is at most 1.13-Lipschitz: z's error moves a by at most 1.2 zscale
    rel_close(a, a_r, 1.2 * zscale + fscale, tol)
    # backward from the *same* forward values, so only the backward differs
    dx, dW, db, dz = kernels.dense_act_backward(g, x, W, z, a, name)
    dx_r, dW_r, db_r, dz_r = ref.dense_act_backward(g, x, W, z, a, name)
    rel_close(dz, dz_r, np.abs(g) * dscale, 64 * eps(dtype))
    ga = np.abs(g).astype(float) * dscale
    rel_close(dx, dx_r, ga @ np.abs(W).astype(float) + 1e-300, tol)
    rel_close(dW, dW_r, ga.T @ np.abs(x).astype(float) + 1e-300, gemm_tol(dtype, B) + 64 * eps(dtype))
    rel_close(db, db_r, ga.sum(0) + 1e-300, gemm_tol(dtype, B) + 64 * eps(dtype))


@given(B=st.integers(1, 50), N=st.integers(0, 20), seed=st.integers(0, 2**32 - 1))
def test_mse_vs_reference(dtype, B, N, seed):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal((B, N)).astype(dtype)
    t = rng.standard_normal((B, N)).astype(dtype)
    L = kernels.mse_forward(p, t)
    assert isinstance(L, float)
    d2 = (p.astype(float) - t.astype(float)) ** 2
    assert abs(L - ref.mse_forward(p, t)) <= 8 * (B * N + 1) * eps(dtype) * (d2.sum() / (2 * B) + 1e-300)
    dp = kernels.mse_backward(p, t)
    assert dp.dtype == dtype
    rel_close(dp, ref.mse_backward(p, t), np.abs(p - t).astype(float) / B + 1e-300, 4 * eps(dtype))


def test_mse_closed_form():
    # the tutorial's loss: B = 1, one output: 1/2 (y_true - y_pred)^2
    assert kernels.mse_forward([[0.75]], [[0.25]]) == 0.125
    assert kernels.mse_backward([[0.75]], [[0.25]]).tolist() == [[0.5]]


def test_dense_closed_form():
    x = [[1.0, 2.0], [3.0, -1.0]]
    W = [[1.0, 0.0], [2.0, 1.0], [0.5, -1.0]]
    b = [0.0, 1.0, 2.0]
    assert kernels.dense_forward(x, W, b).tolist() == [[1.0, 5.0, 0.5], [3.0, 6.0, 4.5]]
    g = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    dx, dW, db = kernels.dense_backward(g, x, W)
    assert dx.tolist() == [[1.0, 0.0], [0.5, -1.0]]
    assert dW.tolist() == [[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]]
    assert db.tolist() == [1.0, 0.0, 1.0]


# ----------------------------------------------------------------------------
# wrong shapes and dtypes are refused, naming the function and the argument

_X, _W, _B, _D, _G = np.ones((2, 3)), np.ones((4, 3)), np.ones(4), np.ones((2, 4)), np.ones(4)
# fn -> (valid arguments, {argument name: (position, a wrong-axis replacement)})
SHAPE_CASES = {
    "activation_derivative": (("tanh", _X, _X), {"out": (2, np.ones((3, 2)))}),
    "activation_backward": (("tanh", _X, _X, _X), {"inp": (2, np.ones((2, 4))), "out": (3, np.ones((2, 2)))}),
    "dense_forward": ((_X, _W, _B), {"weight": (1, np.ones((4, 5))), "bias": (2, np.ones(5))}),
    "dense_backward": ((_D, _X, _W), {"dout": (0, np.ones((2, 5)))}),
    "dense_act_forward": ((_X, _W, _B, "tanh"), {"weight": (1, np.ones((4, 2))), "bias": (2, np.ones(3))}),
    "dense_act_backward": ((_D, _X, _W, _D, _D, "tanh"), {"z": (3, np.ones((2, 5))), "a": (4, np.ones((1, 4))),
                                                         "dout": (0, np.ones((3, 4)))}),
    "mse_forward": ((_X, _X), {"target": (1, np.ones((2, 4)))}),
    "mse_backward": ((_X, _X), {"target": (1, np.ones((3, 3)))}),
    "loss_forward_backward": (("bce", _X, _X), {"target": (2, np.ones((2, 4)))}),
    "layernorm_forward": ((_D, _G, _G), {"gamma": (1, np.ones(3)), "beta": (2, np.ones(5))}),
    "layernorm_backward": ((_D, _D, _G, np.ones(2)), {"xhat": (1, np.ones((2, 3))), "rstd": (3, np.ones(4))}),
    "batchnorm_forward": ((_D, _G, _G), {"gamma": (1, np.ones(3)), "beta": (2, np.ones(5))}),
    "batchnorm_backward": ((_D, _D, _G, _G), {"xhat": (1, np.ones((2, 3))), "rstd": (3, np.ones(2))}),
    "residual_forward": ((_D, _D), {"inp": (1, np.ones((2, 3)))}),
    "gemm": ((_X, _W.T), {"b": (1, np.ones((4, 3)))}),
}
SHAPE_IDS = [(fn, arg) for fn, (_, bad) in SHAPE_CASES.items() for arg in bad]


@pytest.mark.parametrize("fn,arg", SHAPE_IDS, ids=[f"{f}-{a}" for f, a in SHAPE_IDS])
def test_wrong_axis_is_refused_naming_function_and_argument(fn, arg):
    args, bad = SHAPE_CASES[fn]
    getattr(kernels, fn)(*args)  # the valid call runs: the error below is the changed axis's
    pos, wrong = bad[arg]
    args = args[:pos] + (wrong,) + args[pos + 1:]
    with pytest.raises(ValueError, match=rf"^{fn}: {arg} has shape {re.escape(str(wrong.shape))}"):
        getattr(kernels, fn)(*args)


ARRAY_FUNCS = sorted(SHAPE_CASES) + ["activation_forward", "residual_backward"]
VALID = {**{fn: SHAPE_CASES[fn][0] for fn in SHAPE_CASES}, "activation_forward": ("tanh", _X),
         "residual_backward": (_D,)}


@pytest.mark.parametrize("bad", [np.complex128, bool, object, "U1", "M8[s]"])
@pytest.mark.parametrize("fn", ARRAY_FUNCS)
def test_wrong_dtype_is_refused_naming_function_and_argument(fn, bad):
    args = VALID[fn]
    getattr(kernels, fn)(*args)
    pos = next(i for i, a in enumerate(args) if isinstance(a, np.ndarray))
    names = list(inspect.signature(getattr(kernels, fn)).parameters)
    wrong = np.zeros(args[pos].shape, dtype=bad)
    with pytest.raises(TypeError, match=rf"^{fn}: {names[pos]} has dtype"):
        getattr(kernels, fn)(*(args[:pos] + (wrong,) + args[pos + 1:]))


def test_every_array_kernel_has_a_rejection_test():
    public = {n for n in kernels.__all__ if n.islower() and not n.endswith(("_path", "_paths", "_info"))}
    assert set(ARRAY_FUNCS) == public
