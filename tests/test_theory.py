"""Checks of the mean-field theory module (pyvanish.theory).

The quadrature is checked against closed forms and against an independent
composite Simpson rule written here; the maps against closed forms (relu,
identity), published critical points (Pennington et al. 2017, Schoenholz et
al. 2017), their defining equations (a fixed point is fixed, chi_q is the
slope of the length map, c* solves the correlation map) and finite
differences.
"""

import doctest
import math

import numpy as np
import pytest

from pyvanish import reference as ref
from pyvanish import theory as th

QS = [0.01, 1.0, 5.0, 50.0, 500.0]


# --------------------------------------------------------------------------
# an independent quadrature: composite Simpson on [-12, 12], split at 0
# --------------------------------------------------------------------------

def simpson_expectation(f, q, n=1 << 16, zmax=12.0):
    """E[f(sqrt(q) z)] by composite Simpson on each half line, split at 0.

    The node at 0 takes the one-sided limit of f (f(+-1e-300)), so a jump of
    f at 0 (relu', leaky_relu') costs no accuracy.
    """
    total = 0.0
    h = zmax / n
    w = np.full(n + 1, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    for side in (1.0, -1.0):
        z = side * np.linspace(0.0, zmax, n + 1)
        z[0] = side * 1e-300
        g = np.asarray(f(math.sqrt(q) * z), dtype=np.float64) * np.exp(-0.5 * z * z)
        total += h / 3.0 * np.dot(w, g) / math.sqrt(2.0 * math.pi)
    return total


def phi(name, x, alpha=None):
    return ref.activation_forward(name, x, alpha)


def dphi(name, x, alpha=None):
    return ref.activation_derivative(name, x, ref.activation_forward(name, x, alpha), alpha)


@pytest.mark.parametrize("name", ref.ACTIVATIONS)
def test_quadrature_against_simpson(name):
    for q in QS:
        for label, f in (("phi^2", lambda x: phi(name, x) ** 2),
                         ("phi'^2", lambda x: dphi(name, x) ** 2)):
            got = th.gaussian_expectation(f, q)
            want = simpson_expectation(f, q)
            assert abs(got - want) <= 1e-8 * abs(want), (name, label, q, got, want)


def test_quadrature_against_closed_forms():
    Phi = lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0))  # noqa: E731
    for q in QS + [1e-6, 1e4, 1e8]:
        rq = math.sqrt(q)
        cases = [
            (np.square, q),
            (lambda x: x ** 4, 3 * q * q),
            (lambda x: np.maximum(x, 0) ** 2, q / 2),
            (lambda x: dphi("relu", x) ** 2, 0.5),
            (lambda x: phi("leaky_relu", x, 0.3) ** 2, q * (1 + 0.09) / 2),
            # Stein: E[x Phi(x)] = q E[pdf(x)] = q / sqrt(2 pi (1 + q))
            (lambda x: phi("gelu", x), q / math.sqrt(2 * math.pi * (1 + q))),
            # sigmoid(x) - 1/2 is odd
            (lambda x: phi("sigmoid", x), 0.5),
            # softplus(x) - softplus(-x) = x
            (lambda x: (phi("softplus", x) - phi("softplus", -x)) * x, q),
            (lambda x: np.abs(x), rq * math.sqrt(2 / math.pi)),
        ]
        if 0.01 <= q <= 500:  # (the closed form cancels badly for small q)
            # E[elu(x)] = E[x; x > 0] + E[e^x - 1; x < 0]
            cases.append((lambda x: phi("elu", x),
                          rq / math.sqrt(2 * math.pi) + math.exp(q / 2) * Phi(-rq) - 0.5))
        for f, want in cases:
            got = th.gaussian_expectation(f, q)
            assert abs(got - want) <= 1e-12 * max(abs(want), 1e-300) + 1e-300, (q, got, want)
        # an odd function integrates to (rounding) zero
        assert abs(th.gaussian_expectation(lambda x: phi("tanh", x), q)) < 1e-15


def test_quadrature_arrays_and_limits():
    q = np.array([[0.0, 1.0], [4.0, np.inf]])
    got = th.gaussian_expectation(np.square, q)
    assert got.shape == (2, 2)
    np.testing.assert_allclose(got, [[0.0, 1.0], [4.0, np.inf]], rtol=1e-13)
    # q = 0 is the limit q -> 0+: the mean of the one-sided values at 0
    assert th.gaussian_expectation(lambda x: dphi("relu", x) ** 2, 0.0) == 0.5
    assert th.gaussian_expectation(lambda x: dphi("sigmoid", x), 0.0) == 0.25
    # q = inf: the mean of the limits at +-inf
    assert th.gaussian_expectation(lambda x: phi("sigmoid", x), np.inf) == 0.5
    assert th.gaussian_expectation(lambda x: phi("tanh", x) ** 2, np.inf) == 1.0
    assert isinstance(th.gaussian_expectation(np.square, 2.0), float)
    # a constant function may return a scalar
    assert th.gaussian_expectation(lambda x: 3.0, 7.0) == pytest.approx(3.0, rel=1e-14)


# --------------------------------------------------------------------------
# the length map and its fixed point
# --------------------------------------------------------------------------

def test_length_map():
    assert th.length_map("relu", 2.0, sw2=2.0, sb2=0.5) == 2.5
    q = np.array([0.5, 1.0, 3.0])
    np.testing.assert_allclose(th.length_map("identity", q, 0.7, 0.1), 0.7 * q + 0.1, rtol=1e-15)
    want = 1.3 * simpson_expectation(lambda x: phi("tanh", x) ** 2, 2.0) + 0.2
    assert th.length_map("tanh", 2.0, 1.3, 0.2) == pytest.approx(want, rel=1e-10)
    assert th.length_map("swish", 1.0, 1.0, 0.0) == th.length_map("SiLU", 1.0, 1.0, 0.0)


@pytest.mark.parametrize("sw2", [0.5, 1.0, 1.5, 1.99, 1.999999])
@pytest.mark.parametrize("sb2", [0.0, 0.05, 1.0])
def test_relu_closed_forms(sw2, sb2):
    q = th.fixed_point("relu", sw2, sb2)
    assert q == pytest.approx(sb2 / (1 - sw2 / 2), rel=1e-10, abs=0.0)
    assert abs(th.chi1("relu", sw2, sb2) - sw2 / 2) <= 1e-10
    assert abs(th.depth_scales("relu", sw2, sb2).xi_grad - (-1 / math.log(sw2 / 2))) <= 1e-6


@pytest.mark.parametrize("sw2", [2.0, 2.5, 4.0])
def test_relu_chi1_beyond_the_fixed_point(sw2):
    # sb2 > 0 and sw2 >= 2: q* diverges, chi1 = sw2/2 all the same
    assert th.fixed_point("relu", sw2, 0.1) == math.inf
    assert th.chi1("relu", sw2, 0.1) == sw2 / 2
    assert th.chi1("leaky_relu", sw2, 0.1, alpha=0.5) == pytest.approx(sw2 * 1.25 / 2, rel=1e-15)


@pytest.mark.parametrize("name, sw2, sb2", [
    ("tanh", 1.76, 0.05), ("tanh", 1.5, 0.0), ("tanh", 30.0, 2.0), ("sigmoid", 20.0, 0.1),
    ("elu", 1.5, 0.0), ("gelu", 1.5, 0.3), ("silu", 2.0, 0.1), ("softplus", 1.9, 0.0),
    ("leaky_relu", 1.0, 0.2), ("tanh", 1.05, 2.01e-5),
])
def test_fixed_point_is_fixed(name, sw2, sb2):
    q = th.fixed_point(name, sw2, sb2)
    assert 0 < q < math.inf
    assert abs(th.length_map(name, q, sw2, sb2) - q) <= 1e-11 * q
    # and stable: the slope of the length map there is below 1
    assert th.depth_scales(name, sw2, sb2).chi_q < 1


def test_fixed_point_is_the_limit_of_the_iteration():
    q = 1.0
    for _ in range(300):
        q = th.length_map("tanh", q, 1.76, 0.05)
    assert th.fixed_point("tanh", 1.76, 0.05) == pytest.approx(q, rel=1e-10)
    # from below as from above
    assert th.fixed_point("tanh", 1.76, 0.05, q0=1e-3) == pytest.approx(q, rel=1e-10)
    assert th.fixed_point("tanh", 1.76, 0.05, q0=100.0) == pytest.approx(q, rel=1e-10)


def test_fixed_point_limits():
    inf = math.inf
    assert th.fixed_point("relu", 2.5, 0.1) == inf
    assert th.fixed_point("relu", 2.5, 0.0) == inf
    assert th.fixed_point("relu", 2.0, 0.1) == inf            # neutral, pushed by the bias
    assert th.fixed_point("identity", 1.0, 0.1) == inf
    assert th.fixed_point("identity", 1.5, 0.0) == inf
    assert th.fixed_point("softplus", 2.1, 0.0) == inf
    assert th.fixed_point("gelu", 3.0, 0.0) == inf
    assert th.fixed_point("identity", 0.5, 0.1) == pytest.approx(0.2, rel=1e-14)
    # neutral maps keep their start
    assert th.fixed_point("relu", 2.0, 0.0) == 1.0
    assert th.fixed_point("relu", 2.0, 0.0, q0=3.0) == 3.0
    assert th.fixed_point("identity", 1.0, 0.0, q0=0.25) == 0.25
    # convergence to 0: no bias, phi(0) = 0, sub-critical
    for name, sw2 in [("tanh", 0.5), ("tanh", 1.0), ("relu", 1.9), ("gelu", 2.0), ("elu", 0.9)]:
        assert th.fixed_point(name, sw2, 0.0) == 0.0, name
    assert th.fixed_point("tanh", 3.0, 0.0, q0=0.0) == 0.0    # 0 is fixed (if unstable)
    assert th.fixed_point("sigmoid", 0.0, 0.0) == 0.0
    assert th.fixed_point("sigmoid", 0.0, 0.3) == 0.3


def test_tanh_at_sw2_1_sb2_0():
    # q* = 0 and chi1 = sw2 * tanh'(0)^2 = 1
    assert th.fixed_point("tanh", 1.0, 0.0) == 0.0
    assert abs(th.chi1("tanh", 1.0, 0.0) - 1.0) < 1e-6
    d = th.depth_scales("tanh", 1.0, 0.0)
    assert d.chi_q == d.chi1 == d.chi_c == pytest.approx(1.0, abs=1e-12)
    assert d.c_star == 1.0


def test_published_tanh_critical_point():
    # (sw2, sb2) = (1.05, 2.01e-5) sits on the critical line (Pennington et
    # al. 2017, Schoenholz et al. 2017); 50-digit mpmath gives
    # q* = 0.025920840045473 and chi1 = 1.000000192000087.
    q = th.fixed_point("tanh", 1.05, 2.01e-5)
    assert q == pytest.approx(0.025920840045473, rel=1e-10)
    chi = th.chi1("tanh", 1.05, 2.01e-5)
    assert abs(chi - 1.0) < 1e-6
    assert chi == pytest.approx(1.000000192000087, rel=1e-12)
    # chi1 = sw2 E[tanh'^2] at q*, by the independent rule
    want = 1.05 * simpson_expectation(lambda x: dphi("tanh", x) ** 2, q)
    assert chi == pytest.approx(want, rel=1e-10)


# --------------------------------------------------------------------------
# the critical line and the phase diagram
# --------------------------------------------------------------------------

def test_critical_sw2():
    s = th.critical_sw2("tanh", 0.05)
    assert abs(s - 1.76) < 0.01
    assert abs(th.chi1("tanh", s, 0.05) - 1.0) < 1e-9
    assert abs(th.critical_sw2("tanh", 0.0) - 1.0) < 1e-6
    for sb2 in (0.0, 0.3, 2.0):
        assert th.critical_sw2("relu", sb2) == 2.0
    assert th.critical_sw2("leaky_relu", 0.1, alpha=0.5) == pytest.approx(2 / 1.25, rel=1e-12)
    assert th.critical_sw2("identity", 0.1) == 1.0
    # elu's chi1 crosses 1 before it returns to 1 at sw2 = 2 (q* -> inf): the first crossing
    s = th.critical_sw2("elu", 1.0)
    assert 1.8 < s < 1.9 and abs(th.chi1("elu", s, 1.0) - 1.0) < 1e-9


def test_critical_sw2_without_a_crossing():
    # gelu at sb2 = 0 (from q0 = 1): q* jumps from 0 to inf, chi1 from 0.59 to 1.18
    with pytest.raises(ValueError, match=r"^critical_sw2: chi1 jumps across 1"):
        th.critical_sw2("gelu", 0.0)


def test_critical_line():
    sb2 = np.array([[0.0, 0.05], [0.1, 0.2]])
    got = th.critical_line("tanh", sb2)
    assert got.shape == (2, 2) and got.dtype == np.float64
    for i in range(2):
        for j in range(2):
            assert got[i, j] == th.critical_sw2("tanh", sb2[i, j])
    assert np.all(np.diff(got.ravel()) > 0)       # more bias needs more weight variance


def test_phase_diagram_orientation():
    sw2 = [0.5, 1.0, 1.5, 2.5]
    sb2 = [0.0, 0.05, 0.2]
    out = th.phase_diagram("tanh", sw2, sb2)
    assert out.shape == (3, 4)
    for i, b in enumerate(sb2):
        for j, w in enumerate(sw2):
            assert out[i, j] == th.chi1("tanh", w, b)
    np.testing.assert_array_equal(th.phase_diagram("relu", sw2, sb2), np.tile(np.divide(sw2, 2), (3, 1)))


# --------------------------------------------------------------------------
# correlations and depth scales
# --------------------------------------------------------------------------

def bivariate_simpson(f, g, q, c, n=2000, zmax=10.0):
    """E[f(u1) g(u2)] by a tensor Simpson rule (smooth f, g only)."""
    z = np.linspace(-zmax, zmax, n + 1)
    w = np.full(n + 1, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    w *= (2 * zmax / n) / 3 * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    s = math.sqrt(1 - c * c)
    u1 = math.sqrt(q) * z[:, None]
    u2 = math.sqrt(q) * (c * z[:, None] + s * z[None, :])
    return float(w @ (f(u1) * g(u2)) @ w)


def test_c_star_chaotic_tanh():
    sw2, sb2 = 4.0, 0.05
    d = th.depth_scales("tanh", sw2, sb2)
    assert 0 < d.c_star < 1 and d.chi1 > 1
    assert d.c_star == pytest.approx(th.c_star("tanh", sw2, sb2), rel=1e-15)
    tanh = lambda x: phi("tanh", x)  # noqa: E731
    dtanh = lambda x: dphi("tanh", x)  # noqa: E731
    cmap = (sw2 * bivariate_simpson(tanh, tanh, d.q_star, d.c_star) + sb2) / d.q_star
    assert cmap == pytest.approx(d.c_star, abs=1e-8)
    chic = sw2 * bivariate_simpson(dtanh, dtanh, d.q_star, d.c_star)
    assert d.chi_c == pytest.approx(chic, rel=1e-8)
    assert d.chi_c < 1                                   # c* is stable
    assert d.xi_c == pytest.approx(-1 / math.log(d.chi_c), rel=1e-14)
    assert d.xi_grad < 0                                 # exploding gradients


def test_c_star_phases():
    # odd phi, no bias, chaotic: c* = 0
    assert th.c_star("tanh", 4.0, 0.0) == pytest.approx(0.0, abs=1e-12)
    # ordered: c* = 1 and chi_c = chi1
    for name, sw2, sb2 in [("tanh", 1.2, 0.05), ("relu", 1.5, 0.1), ("sigmoid", 4.0, 0.0)]:
        assert th.c_star(name, sw2, sb2) == 1.0
        assert th.chi_c(name, sw2, sb2) == th.chi1(name, sw2, sb2)
    # q* = inf: no correlation fixed point
    assert math.isnan(th.c_star("relu", 3.0, 0.1))
    assert math.isnan(th.chi_c("relu", 3.0, 0.1))


@pytest.mark.parametrize("name, sw2, sb2", [
    ("tanh", 1.5, 0.05), ("tanh", 4.0, 0.05), ("sigmoid", 20.0, 0.1), ("elu", 1.5, 0.0),
    ("gelu", 1.5, 0.3), ("softplus", 1.9, 0.0), ("relu", 1.5, 0.1),
])
def test_chi_q_is_the_slope_of_the_length_map(name, sw2, sb2):
    d = th.depth_scales(name, sw2, sb2)
    h = 1e-5 * d.q_star
    slope = (th.length_map(name, d.q_star + h, sw2, sb2)
             - th.length_map(name, d.q_star - h, sw2, sb2)) / (2 * h)
    assert d.chi_q == pytest.approx(slope, rel=1e-7)
    assert d.xi_q == pytest.approx(-1 / math.log(d.chi_q), rel=1e-14)
    assert d.xi_grad == pytest.approx(-1 / math.log(d.chi1), rel=1e-14)


def test_depth_scales_limits():
    d = th.depth_scales("relu", 2.0, 0.0)
    assert (d.chi1, d.xi_grad, d.xi_c, d.xi_q) == (1.0, math.inf, math.inf, math.inf)
    d = th.depth_scales("relu", 3.0, 0.1)
    assert d.q_star == math.inf and d.chi1 == 1.5
    assert math.isnan(d.xi_q) and math.isnan(d.c_star) and math.isnan(d.xi_c)
    assert d.xi_grad == pytest.approx(-1 / math.log(1.5), rel=1e-15)
    d = th.depth_scales("tanh", 0.0, 0.5)
    assert d.q_star == 0.5 and d.chi1 == 0.0 and d.xi_grad == 0.0
    with pytest.raises(Exception):
        d.chi1 = 2.0                                     # frozen


# --------------------------------------------------------------------------
# the gradient profile
# --------------------------------------------------------------------------

def test_gradient_profile_indexing():
    L = 6
    prof = th.gradient_profile("relu", 1.0, 0.0, depth=L)
    assert prof.shape == (L + 1,) and prof.dtype == np.float64
    assert prof[L] == 1.0                       # entry L: the output layer
    for l in range(L + 1):                     # entry l: layer l, chi1 = 1/2
        assert prof[l] == pytest.approx(0.5 ** ((L - l) / 2), rel=1e-15)
    assert np.all(np.diff(prof) > 0)           # vanishing towards the input
    chi = th.chi1("tanh", 4.0, 0.05)
    prof = th.gradient_profile("tanh", 4.0, 0.05, depth=3)
    np.testing.assert_allclose(prof, chi ** (np.array([3, 2, 1, 0]) / 2), rtol=1e-14)
    assert np.all(np.diff(prof) < 0)           # exploding towards the input
    np.testing.assert_array_equal(th.gradient_profile("relu", 2.0, 0.0, depth=0), [1.0])
    np.testing.assert_array_equal(th.gradient_profile("relu", 2.0, 0.1, depth=3), np.ones(4))
    big = th.gradient_profile("relu", 4.0, 0.0, depth=3000)
    assert big[0] == math.inf and big[-1] == 1.0


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------

@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: th.fixed_point("tanh", -1.0, 0.0), ValueError, r"^fixed_point: sw2 must be >= 0"),
    (lambda: th.fixed_point("tanh", 1.0, -0.1), ValueError, r"^fixed_point: sb2 must be >= 0"),
    (lambda: th.chi1("tanh", float("nan"), 0.0), ValueError, r"^chi1: sw2 is NaN"),
    (lambda: th.chi1("tanh", 1.0, float("inf")), ValueError, r"^chi1: sb2 must be finite"),
    (lambda: th.chi1("tanhh", 1.0, 0.0), ValueError, r"^chi1: unknown activation 'tanhh'"),
    (lambda: th.chi1(None, 1.0, 0.0), TypeError, r"^chi1: activation must be a string"),
    (lambda: th.chi1("tanh", True, 0.0), TypeError, r"^chi1: sw2 must be a real number"),
    (lambda: th.chi1("tanh", "1.0", 0.0), TypeError, r"^chi1: sw2 must be a real number"),
    (lambda: th.chi1("tanh", 1 + 2j, 0.0), TypeError, r"^chi1: sw2 must be a real number"),
    (lambda: th.chi1("elu", 1.0, 0.0, alpha=float("nan")), ValueError, r"^chi1: alpha is NaN"),
    (lambda: th.fixed_point("tanh", 1.0, 0.0, q0=-1.0), ValueError, r"^fixed_point: q0 must be >= 0"),
    (lambda: th.fixed_point("tanh", 1.0, 0.0, tol=0.0), ValueError, r"^fixed_point: tol must be > 0"),
    (lambda: th.fixed_point("tanh", 1.0, 0.0, max_iter=0), ValueError, r"^fixed_point: max_iter"),
    (lambda: th.fixed_point("tanh", 1.0, 0.0, max_iter=2.5), TypeError, r"^fixed_point: max_iter"),
    (lambda: th.gaussian_expectation(3.0, 1.0), TypeError, r"^gaussian_expectation: f must be callable"),
    (lambda: th.gaussian_expectation(np.square, -1.0), ValueError, r"^gaussian_expectation: q must be >= 0"),
    (lambda: th.gaussian_expectation(np.square, [1.0, np.nan]), ValueError, r"^gaussian_expectation: q contains NaN"),
    (lambda: th.gaussian_expectation(np.square, "a"), TypeError, r"^gaussian_expectation: q must be real"),
    (lambda: th.length_map("relu", -1.0, 1.0, 0.0), ValueError, r"^length_map: q must be >= 0"),
    (lambda: th.critical_sw2("tanh", -0.1), ValueError, r"^critical_sw2: sb2 must be >= 0"),
    (lambda: th.critical_line("tanh", [0.1, -0.1]), ValueError, r"^critical_line: sb2_values must be >= 0"),
    (lambda: th.critical_line("tanh", [0.1, np.inf]), ValueError, r"^critical_line: sb2_values contains Inf"),
    (lambda: th.phase_diagram("tanh", [[1.0]], [0.1]), ValueError, r"^phase_diagram: sw2_values must be 1-d"),
    (lambda: th.phase_diagram("tanh", [1.0], [1j]), TypeError, r"^phase_diagram: sb2_values must be real"),
    (lambda: th.gradient_profile("tanh", 1.0, 0.0, depth=-1), ValueError, r"^gradient_profile: depth must be >= 0"),
    (lambda: th.gradient_profile("tanh", 1.0, 0.0, depth=2.0), TypeError, r"^gradient_profile: depth must be an integer"),
    (lambda: th.depth_scales("tanh", 1.0, -1.0), ValueError, r"^depth_scales: sb2"),
    (lambda: th.c_star("tanh", -1.0, 0.0), ValueError, r"^c_star: sw2"),
    (lambda: th.chi_c("tanh", -1.0, 0.0), ValueError, r"^chi_c: sw2"),
])
def test_errors(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_inputs_accepted():
    assert th.chi1("ReLU", np.float32(1.5), np.int64(0)) == 0.75
    assert th.chi1("relu", np.array(1.5), 0) == 0.75
    assert th.chi1("swish", 1.0, 0.1) == th.chi1("silu", 1.0, 0.1)
    assert th.chi1("leaky-relu", 1.0, 0.1) == th.chi1("leaky_relu", 1.0, 0.1)


def test_doctests():
    res = doctest.testmod(th, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 20


# ---------------------------------------------------------------------------
# the phase in words, against the network's depth
# ---------------------------------------------------------------------------

def test_phase_is_critical_when_the_depth_scale_exceeds_the_depth():
    xi = -1 / math.log(0.9998)                                       # 4999.5 layers
    assert th.phase(0.9998, depth=20) == (
        f"critical: gradients neither vanish nor explode over 20 layers (depth scale xi = {xi:.4g} layers)")
    assert th.phase(0.9998, depth=10_000) == (
        f"ordered: gradients vanish over 10000 layers (depth scale xi = {xi:.4g} layers, shorter than the network)")
    assert th.phase(1.5, depth=20).startswith("chaotic: gradients explode over 20 layers (depth scale xi = 2.466")
    assert th.phase(1.5, depth=2).startswith("critical: ")             # 2 layers < xi = 2.47
    assert th.phase(0.9998) == f"ordered (chi1 < 1): gradients vanish in networks deeper than the depth scale xi = {xi:.4g} layers"
    assert th.phase(1.0, depth=10**6).startswith("critical: ") and "xi = inf" in th.phase(1.0)
    assert th.phase(0.0, depth=1).startswith("ordered: ") and th.phase(math.inf, depth=1).startswith("chaotic: ")
    assert th.phase(math.nan) == "undetermined: chi1 is NaN"
    with pytest.raises(ValueError, match="^phase: depth must be a non-negative integer"):
        th.phase(0.5, depth=-1)
    with pytest.raises(TypeError, match="^phase: chi1 must be a real number"):
        th.phase("0.5")


def test_depth_scales_text_and_phase():
    d = th.depth_scales("tanh", 0.9998, 0.0)
    assert d.chi1 == pytest.approx(0.9998, rel=1e-12)
    assert d.phase(20).startswith("critical: gradients neither vanish nor explode over 20 layers")
    lines = str(d).splitlines()
    assert [ln.split()[0] for ln in lines] == ["q*", "chi1", "c*", "chi_c", "xi_q", "xi_c", "xi_grad", "phase:"]
    assert lines[1].split()[-1] == f"{d.chi1:.6g}"
    assert lines[-1] == f"  phase: {d.phase()}" and "ordered (chi1 < 1)" in lines[-1]
