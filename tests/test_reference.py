"""Checks of the NumPy reference against finite differences and closed forms.

The reference is the oracle for the C++ kernels, so it is checked here on its
own first: derivatives against central finite differences (float64), values
against closed forms, limits at huge / infinite / NaN input with every NumPy
floating-point error raised, dtype preservation and subnormal results.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pyvanish import reference as ref

KINKED = {"relu", "leaky_relu", "elu"}

# every activation with its default alpha, plus non-default alphas
NAME_ALPHA = [(name, None) for name in ref.ACTIVATIONS] + [
    ("leaky_relu", 0.2),
    ("leaky_relu", 3.0),
    ("elu", 0.5),
    ("elu", 2.0),
]
NAME_ALPHA_IDS = [f"{n}-{a}" for n, a in NAME_ALPHA]

# a scalar loss's finite-difference gradient agrees to within this, relative
# to the largest entry of the gradient (rounding error of the FD is ~1e-10)
FD_RTOL = 1e-6
FD_ATOL = 1e-8


def _forward_and_derivative(name, z, alpha=None):
    a = ref.activation_forward(name, z, alpha)
    return a, ref.activation_derivative(name, z, a, alpha)


def _central_difference(name, z, alpha):
    """d phi / dz by central differences, h = 1e-6 * max(1, |z|)."""
    h = 1e-6 * np.maximum(1.0, np.abs(z))
    zp, zm = z + h, z - h
    fp = ref.activation_forward(name, zp, alpha)
    fm = ref.activation_forward(name, zm, alpha)
    return (fp - fm) / (zp - zm)  # the step actually taken, not 2h


def _check_derivative_fd(name, alpha, z):
    z = np.asarray(z, dtype=np.float64)
    if name in KINKED:
        z = z[np.abs(z) > 1e-3]  # the FD stencil must not straddle the kink
    _, d = _forward_and_derivative(name, z, alpha)
    fd = _central_difference(name, z, alpha)
    np.testing.assert_allclose(d, fd, rtol=FD_RTOL, atol=FD_ATOL)


def _numerical_gradient(loss, x, h=1e-6):
    """Central-difference gradient of the scalar ``loss()`` w.r.t. array ``x``,
    perturbing ``x`` in place one entry at a time."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        step = h * max(1.0, abs(old))
        x[i] = old + step
        fp = loss()
        x[i] = old - step
        fm = loss()
        x[i] = old
        grad[i] = (fp - fm) / (2 * step)
    return grad


def _assert_grad_close(analytic, numeric):
    scale = max(1.0, float(np.max(np.abs(numeric))))
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL * scale)


# --------------------------------------------------------------------------
# activation derivatives against finite differences
# --------------------------------------------------------------------------

@pytest.mark.parametrize("name, alpha", NAME_ALPHA, ids=NAME_ALPHA_IDS)
def test_derivative_matches_finite_differences_on_grid(name, alpha):
    _check_derivative_fd(name, alpha, np.linspace(-8.0, 8.0, 1601))


@pytest.mark.parametrize("name, alpha", NAME_ALPHA, ids=NAME_ALPHA_IDS)
@settings(max_examples=50, deadline=None)
@given(z=hnp.arrays(np.float64, st.integers(1, 16),
                    elements=st.floats(-8.0, 8.0, allow_subnormal=False)))
def test_derivative_matches_finite_differences_random(name, alpha, z):
    _check_derivative_fd(name, alpha, z)


@pytest.mark.parametrize("name, alpha", NAME_ALPHA, ids=NAME_ALPHA_IDS)
def test_backward_is_dout_times_derivative(name, alpha):
    rng = np.random.default_rng(0)
    z = rng.normal(scale=3.0, size=(4, 5))
    dout = rng.normal(size=(4, 5))
    a, d = _forward_and_derivative(name, z, alpha)
    np.testing.assert_array_equal(
        ref.activation_backward(name, dout, z, a, alpha), dout * d)


# --------------------------------------------------------------------------
# closed forms
# --------------------------------------------------------------------------

def _scalar(name, z, alpha=None):
    a, d = _forward_and_derivative(name, np.array([z]), alpha)
    return float(a[0]), float(d[0])


def test_closed_forms():
    assert _scalar("sigmoid", 0.0) == (0.5, 0.25)
    assert _scalar("tanh", 0.0) == (0.0, 1.0)
    assert _scalar("identity", -3.5) == (-3.5, 1.0)
    assert _scalar("softplus", 0.0)[0] == pytest.approx(math.log(2.0), rel=1e-15)
    assert _scalar("softplus", 0.0)[1] == 0.5
    assert _scalar("gelu", 1.0)[0] == pytest.approx(
        0.5 * (1.0 + math.erf(1.0 / math.sqrt(2.0))), rel=1e-14)
    assert _scalar("gelu", 0.0) == (0.0, 0.5)
    assert _scalar("silu", 1.0)[0] == pytest.approx(1.0 / (1.0 + math.exp(-1.0)), rel=1e-15)
    assert _scalar("silu", 0.0) == (0.0, 0.5)
    assert _scalar("elu", -1.0)[0] == pytest.approx(math.exp(-1.0) - 1.0, rel=1e-15)
    assert _scalar("elu", -1.0, 2.0)[0] == pytest.approx(2.0 * (math.exp(-1.0) - 1.0), rel=1e-15)
    assert _scalar("elu", -1.0, 2.0)[1] == pytest.approx(2.0 * math.exp(-1.0), rel=1e-15)
    assert _scalar("leaky_relu", -2.0) == (-0.02, 0.01)
    assert _scalar("leaky_relu", -2.0, 0.3) == (-0.6, 0.3)
    assert _scalar("relu", -2.0) == (0.0, 0.0)
    assert _scalar("relu", 2.0) == (2.0, 1.0)


def test_derivative_at_kinks_is_taken_from_the_left():
    assert _scalar("relu", 0.0) == (0.0, 0.0)
    assert _scalar("leaky_relu", 0.0, 0.2) == (0.0, 0.2)
    assert _scalar("elu", 0.0, 0.5) == (0.0, 0.5)


def test_default_alpha():
    assert ref.DEFAULT_ALPHA == {"leaky_relu": 0.01, "elu": 1.0}
    z = np.array([-3.0, 2.0])
    for name, alpha in ref.DEFAULT_ALPHA.items():
        np.testing.assert_array_equal(ref.activation_forward(name, z),
                                      ref.activation_forward(name, z, alpha))
    # alpha is ignored by the activations that take none
    np.testing.assert_array_equal(ref.activation_forward("relu", z, 5.0),
                                  ref.activation_forward("relu", z))


def test_activations_tuple():
    assert ref.ACTIVATIONS == ("identity", "sigmoid", "tanh", "relu", "leaky_relu",
                               "elu", "gelu", "silu", "softplus")


def test_unknown_activation_raises():
    with pytest.raises(ValueError, match="swish"):
        ref.activation_forward("swish", np.zeros(2))


GRID = np.linspace(-20.0, 20.0, 400_001)  # step 1e-4, contains 0 exactly


@pytest.mark.parametrize("name, alpha", NAME_ALPHA, ids=NAME_ALPHA_IDS)
def test_max_derivative_is_the_supremum(name, alpha):
    m = ref.max_derivative(name, alpha)
    assert type(m) is float
    _, d = _forward_and_derivative(name, GRID, alpha)
    grid_max = float(np.max(d))
    assert grid_max <= m * (1 + 1e-12)  # an upper bound...
    assert grid_max >= m - 1e-6         # ...and the least one


def test_max_derivative_values():
    assert ref.max_derivative("sigmoid") == 0.25
    for name in ("identity", "tanh", "relu", "softplus"):
        assert ref.max_derivative(name) == 1.0
    assert ref.max_derivative("leaky_relu") == 1.0
    assert ref.max_derivative("leaky_relu", 3.0) == 3.0
    assert ref.max_derivative("elu") == 1.0
    assert ref.max_derivative("elu", 2.0) == 2.0
    assert ref.max_derivative("gelu") == pytest.approx(1.1289, abs=1e-4)
    assert ref.max_derivative("silu") == pytest.approx(1.0998, abs=1e-4)
    # gelu'(z) peaks at z = sqrt(2), where gelu'' = pdf(z)(2 - z^2) = 0
    assert ref.max_derivative("gelu") == pytest.approx(
        _scalar("gelu", math.sqrt(2.0))[1], rel=1e-14)


# --------------------------------------------------------------------------
# extremes: huge, infinite and NaN input, every floating-point error raised
# --------------------------------------------------------------------------

# name -> (phi(+L), phi(-L), phi'(+L), phi'(-L)) for L = huge or inf; "z"
# stands for the input itself. alpha is the default one.
LIMITS = {
    "identity": ("z", "z", 1.0, 1.0),
    "sigmoid": (1.0, 0.0, 0.0, 0.0),
    "tanh": (1.0, -1.0, 0.0, 0.0),
    "relu": ("z", 0.0, 1.0, 0.0),
    "leaky_relu": ("z", "alpha*z", 1.0, 0.01),
    "elu": ("z", -1.0, 1.0, 0.0),
    "gelu": ("z", 0.0, 1.0, 0.0),
    "silu": ("z", 0.0, 1.0, 0.0),
    "softplus": ("z", 0.0, 1.0, 0.0),
}


def _expected(spec, z, dtype):
    if spec == "z":
        return z
    if spec == "alpha*z":
        return dtype(0.01) * z
    return dtype(spec)


@pytest.mark.parametrize("dtype, huge", [(np.float64, 1e300), (np.float32, 3e38)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("name", ref.ACTIVATIONS)
def test_extremes(name, dtype, huge):
    z = np.array([huge, -huge, np.inf, -np.inf, np.nan], dtype=dtype)
    dout = np.ones_like(z)
    with np.errstate(all="raise"):
        a, d = _forward_and_derivative(name, z)
        dinp = ref.activation_backward(name, dout, z, a)
    assert a.dtype == d.dtype == dinp.dtype == dtype
    f_pos, f_neg, d_pos, d_neg = LIMITS[name]
    for i in range(4):
        pos = z[i] > 0
        want_a = _expected(f_pos if pos else f_neg, z[i], dtype)
        want_d = _expected(d_pos if pos else d_neg, z[i], dtype)
        # equality, -0.0 == 0.0; inf == inf
        assert a[i] == want_a, (z[i], a[i], want_a)
        assert d[i] == want_d, (z[i], d[i], want_d)
        assert dinp[i] == want_d
    assert np.isnan(a[4]) and np.isnan(d[4]) and np.isnan(dinp[4])


@pytest.mark.parametrize("dtype, huge", [(np.float64, 1e300), (np.float32, 3e38)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("name, alpha, want_a, want_d", [
    ("leaky_relu", 3.0, [np.inf, -np.inf], [1.0, 3.0]),
    ("elu", 2.0, [np.inf, -2.0], [1.0, 0.0]),
])
def test_extremes_with_alpha_above_one(name, alpha, want_a, want_d, dtype, huge):
    # alpha * z of the unused branch must not overflow for z = +huge
    z = np.array([huge, np.inf, -np.inf, np.nan], dtype=dtype)
    with np.errstate(all="raise"):
        a, d = _forward_and_derivative(name, z, alpha)
    np.testing.assert_array_equal(a, np.array([huge] + want_a + [np.nan], dtype=dtype))
    np.testing.assert_array_equal(d, np.array([1.0] + want_d + [np.nan], dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ref.ACTIVATIONS)
def test_ordinary_values_raise_no_floating_point_error(name, dtype):
    z = np.array([-50.0, -8.0, -1.0, -0.0, 0.0, 1e-3, 1.0, 8.0, 50.0], dtype=dtype)
    with np.errstate(all="raise"):
        a, d = _forward_and_derivative(name, z)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(d))


def test_subnormal_results_are_not_flushed():
    tiny64 = np.finfo(np.float64).tiny
    with np.errstate(all="raise", under="ignore"):
        s = ref.activation_forward("sigmoid", np.array([-720.0]))[0]
        sp = ref.activation_forward("softplus", np.array([-720.0]))[0]
        s32 = ref.activation_forward("sigmoid", np.array([-100.0], dtype=np.float32))[0]
    assert 0.0 < s < tiny64
    assert s == pytest.approx(math.exp(-720.0), rel=1e-9)
    assert 0.0 < sp < tiny64
    assert sp == pytest.approx(math.exp(-720.0), rel=1e-9)
    assert s32.dtype == np.float32
    assert 0.0 < s32 < np.finfo(np.float32).tiny
    assert float(s32) == pytest.approx(math.exp(-100.0), rel=1e-3)


# --------------------------------------------------------------------------
# dtype preservation
# --------------------------------------------------------------------------

def _dense_arrays(dtype, B=3, C=4, OC=5, seed=0):
    rng = np.random.default_rng(seed)
    inp = rng.normal(size=(B, C)).astype(dtype)
    weight = rng.normal(size=(OC, C)).astype(dtype)
    bias = rng.normal(size=OC).astype(dtype)
    dout = rng.normal(size=(B, OC)).astype(dtype)
    return inp, weight, bias, dout


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, alpha", NAME_ALPHA, ids=NAME_ALPHA_IDS)
def test_dtype_is_preserved(name, alpha, dtype):
    inp, weight, bias, dout = _dense_arrays(dtype)
    if alpha is not None:
        alpha = np.float64(alpha)  # a float64 alpha must not promote float32
    z = ref.dense_forward(inp, weight, bias)
    a = ref.activation_forward(name, z, alpha)
    d = ref.activation_derivative(name, z, a, alpha)
    dz = ref.activation_backward(name, dout, z, a, alpha)
    grads = ref.dense_backward(dout, inp, weight)
    z2, a2 = ref.dense_act_forward(inp, weight, bias, name, alpha)
    grads2 = ref.dense_act_backward(dout, inp, weight, z2, a2, name, alpha)
    dpred = ref.mse_backward(a, dout)
    for arr in (z, a, d, dz, *grads, z2, a2, *grads2, dpred):
        assert arr.dtype == dtype
    assert type(ref.mse_forward(a, dout)) is float


@pytest.mark.parametrize("name, alpha", NAME_ALPHA, ids=NAME_ALPHA_IDS)
@settings(max_examples=50, deadline=None)
@given(z=hnp.arrays(np.float32, st.integers(1, 16),
                    elements=st.floats(-20.0, 20.0, width=32)))
def test_float32_agrees_with_float64(name, alpha, z):
    a32, d32 = _forward_and_derivative(name, z, alpha)
    a64, d64 = _forward_and_derivative(name, z.astype(np.float64), alpha)
    assert a32.dtype == d32.dtype == np.float32
    # derivatives from the output (sigmoid, tanh) lose digits near saturation
    np.testing.assert_allclose(a32, a64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(d32, d64, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# dense layer and loss against finite differences
# --------------------------------------------------------------------------

SHAPES = [(3, 4, 5), (1, 1, 1), (2, 7, 3)]


@pytest.mark.parametrize("B, C, OC", SHAPES)
def test_dense_forward_shape_and_value(B, C, OC):
    inp, weight, bias, _ = _dense_arrays(np.float64, B, C, OC)
    out = ref.dense_forward(inp, weight, bias)
    assert out.shape == (B, OC)
    # entry (b, o) is sum_c inp[b, c] * weight[o, c] + bias[o]
    b, o = B - 1, OC - 1
    assert out[b, o] == pytest.approx(
        sum(inp[b, c] * weight[o, c] for c in range(C)) + bias[o], rel=1e-14)


@pytest.mark.parametrize("B, C, OC", SHAPES)
def test_dense_backward_matches_finite_differences(B, C, OC):
    inp, weight, bias, dout = _dense_arrays(np.float64, B, C, OC)

    def loss():
        return float(np.sum(dout * ref.dense_forward(inp, weight, bias)))

    dinp, dweight, dbias = ref.dense_backward(dout, inp, weight)
    assert (dinp.shape, dweight.shape, dbias.shape) == ((B, C), (OC, C), (OC,))
    _assert_grad_close(dinp, _numerical_gradient(loss, inp))
    _assert_grad_close(dweight, _numerical_gradient(loss, weight))
    _assert_grad_close(dbias, _numerical_gradient(loss, bias))


@pytest.mark.parametrize("B, C, OC", SHAPES)
@pytest.mark.parametrize("name, alpha", NAME_ALPHA, ids=NAME_ALPHA_IDS)
def test_dense_act_backward_matches_finite_differences(name, alpha, B, C, OC):
    inp, weight, bias, dout = _dense_arrays(np.float64, B, C, OC, seed=1)
    z, a = ref.dense_act_forward(inp, weight, bias, name, alpha)
    np.testing.assert_array_equal(z, ref.dense_forward(inp, weight, bias))
    np.testing.assert_array_equal(a, ref.activation_forward(name, z, alpha))
    if name in KINKED:  # the FD stencil must not straddle the kink
        assert np.min(np.abs(z)) > 1e-3

    def loss():
        _, act = ref.dense_act_forward(inp, weight, bias, name, alpha)
        return float(np.sum(dout * act))

    def loss_of_z():
        return float(np.sum(dout * ref.activation_forward(name, z, alpha)))

    dinp, dweight, dbias, dz = ref.dense_act_backward(dout, inp, weight, z, a, name, alpha)
    _assert_grad_close(dz, _numerical_gradient(loss_of_z, z))
    _assert_grad_close(dinp, _numerical_gradient(loss, inp))
    _assert_grad_close(dweight, _numerical_gradient(loss, weight))
    _assert_grad_close(dbias, _numerical_gradient(loss, bias))


def test_mse_forward_by_hand():
    assert ref.mse_forward(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]])) == 2.5
    # B = 2: (1 + 4) / (2 * 2)
    assert ref.mse_forward(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]])) == 1.25
    # B = 1, one output: the seed network's 0.5 * (y_true - y_pred)**2
    assert ref.mse_forward(np.array([[0.75]]), np.array([[0.25]])) == 0.125
    assert ref.mse_forward(np.array([[1.0, 2.0]], dtype=np.float32),
                           np.array([[0.0, 0.0]], dtype=np.float32)) == 2.5


@pytest.mark.parametrize("B, N", [(3, 5), (1, 1), (4, 2)])
def test_mse_backward_matches_finite_differences(B, N):
    rng = np.random.default_rng(2)
    pred = rng.normal(size=(B, N))
    target = rng.normal(size=(B, N))
    dpred = ref.mse_backward(pred, target)
    assert dpred.shape == (B, N)
    _assert_grad_close(dpred, _numerical_gradient(lambda: ref.mse_forward(pred, target), pred))


# ----------------------------------------------------------------------------
# the network, ensemble and training functions against finite differences
# (not only against the engine, which shares their author)


def _fd(f, p, h=1e-6):
    """Central finite differences of the scalar f() with respect to every entry of p (in place)."""
    g = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        keep = p[i]
        p[i] = keep + h
        up = f()
        p[i] = keep - h
        down = f()
        p[i] = keep
        g[i] = (up - down) / (2 * h)
    return g


def _fd_net(seed=0):
    r = np.random.default_rng(seed)
    n = [3, 5, 5, 2]
    W = [r.normal(0, 0.8, (n[l], n[l - 1])) for l in range(1, 4)]
    b = [r.normal(0, 0.3, n[l]) for l in range(1, 4)]
    x, t = r.normal(size=(4, 3)), r.normal(size=(4, 2))
    bn = [None, (r.uniform(0.5, 1.5, 5), r.normal(0, 0.2, 5)), None]
    kw = dict(alphas=[0.2, 0.5, None], batchnorm=bn, skips=[None, None, None], scales=[1, 0.7, 1])
    kw["skips"][2 - 1] = 1  # h_2 = h_1 + 0.7 * elu(BN(z_2))
    return W, b, ["leaky_relu", "elu", "identity"], x, t, kw


def test_network_forward_backward_matches_finite_differences():
    W, b, acts, x, t, kw = _fd_net()
    out = ref.network_forward_backward(W, b, acts, x, t, **kw)

    def loss():
        return ref.network_forward_backward(W, b, acts, x, t, **kw)["loss"]

    assert out["loss"] > 0.01
    for l in range(3):
        np.testing.assert_allclose(out["dW"][l], _fd(loss, W[l]), rtol=1e-6, atol=1e-8, err_msg=f"dW[{l}]")
        np.testing.assert_allclose(out["db"][l], _fd(loss, b[l]), rtol=1e-6, atol=1e-8, err_msg=f"db[{l}]")
    gamma, beta = kw["batchnorm"][1]
    np.testing.assert_allclose(out["dgamma"][1], _fd(loss, gamma), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(out["dbeta"][1], _fd(loss, beta), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(out["dh"][0], _fd(loss, x), rtol=1e-6, atol=1e-8)
    assert out["grad_x"] == pytest.approx(np.linalg.norm(_fd(loss, x)), rel=1e-6)
    np.testing.assert_allclose(out["stats"]["grad_W"], [np.linalg.norm(_fd(loss, w)) for w in W], rtol=1e-6)
    # the alphas matter: the defaults give other gradients
    other = ref.network_forward_backward(W, b, acts, x, t, **{**kw, "alphas": None})
    assert not np.allclose(other["dW"][0], out["dW"][0])


def test_ensemble_forward_backward_matches_finite_differences():
    r = np.random.default_rng(1)
    E, n = 3, [2, 4, 4, 1]
    W = [r.normal(0, 0.9, (E, n[l], n[l - 1])) for l in range(1, 4)]
    b = [r.normal(0, 0.2, (E, n[l])) for l in range(1, 4)]
    acts, alphas = ["elu", "leaky_relu", "tanh"], [0.5, 0.2, None]
    x, t = r.normal(size=(5, 2)), r.normal(size=(5, 1))
    out = ref.ensemble_forward_backward(W, b, acts, x, t, alphas)
    for m in range(E):
        def loss(m=m):
            return ref.ensemble_forward_backward(W, b, acts, x, t, alphas)["loss"][m]

        gW = [np.linalg.norm(_fd(loss, Wl[m])) for Wl in W]
        gb = [np.linalg.norm(_fd(loss, bl[m])) for bl in b]
        np.testing.assert_allclose(out["stats"]["grad_W"][m], gW, rtol=1e-6)
        np.testing.assert_allclose(out["stats"]["grad_b"][m], gb, rtol=1e-6)
        # the input gradient of member m: x perturbed for every member, member m's loss
        assert out["grad_x"][m] == pytest.approx(np.linalg.norm(_fd(loss, x)), rel=1e-6)
        y = x
        for Wl, bl, a, al in zip(W, b, acts, alphas):
            y = ref.activation_forward(a, y @ Wl[m].T + bl[m], al)
        assert out["loss"][m] == pytest.approx(0.5 * np.sum((y - t) ** 2) / len(x), rel=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_train_steps_follow_finite_difference_gradients(optimizer):
    W, b, acts, X, T, kw = _fd_net(2)
    W0, b0 = [w.copy() for w in W], [v.copy() for v in b]
    start = W[0].copy()
    idx = np.array([[0, 1, 2], [1, 2, 3]])
    lr, wd, mom = 0.05, 0.01, 0.9
    params = W0 + b0
    gamma, beta = (a.copy() for a in kw["batchnorm"][1])
    kw0 = {**kw, "batchnorm": [None, (gamma, beta), None]}
    everything = params + [gamma, beta]
    vel = [np.zeros_like(p) for p in everything]
    m1, m2 = [np.zeros_like(p) for p in everything], [np.zeros_like(p) for p in everything]
    for k, rows in enumerate(idx):
        def loss(rows=rows):
            return ref.network_forward_backward(W0, b0, acts, X[rows], T[rows], **kw0)["loss"]

        grads = [_fd(loss, p) + wd * p for p in everything]
        for p, g, v, a, s in zip(everything, grads, vel, m1, m2):
            if optimizer == "adam":
                a[...] = 0.9 * a + 0.1 * g
                s[...] = 0.999 * s + 0.001 * g * g
                p -= lr * (a / (1 - 0.9 ** (k + 1))) / (np.sqrt(s / (1 - 0.999 ** (k + 1))) + 1e-8)
            else:
                v[...] = (mom if optimizer == "momentum" else 0.0) * v + g
                p -= lr * v
    out = ref.train(W, b, acts, X, T, idx, lr, optimizer="adam" if optimizer == "adam" else "sgd",
                    momentum=mom if optimizer == "momentum" else 0.0, weight_decay=wd, **kw)
    assert len(out["loss"]) == 2
    for got, want in zip(W + b + list(kw["batchnorm"][1]), everything):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    assert np.abs(W[0] - start).max() > 1e-3  # the steps moved the weights
