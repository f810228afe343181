"""Mean-field theory of signal and gradient propagation in deep networks.

A wide fully connected network with weights ``W_ij ~ N(0, sw2 / fan_in)`` and
biases ``b_i ~ N(0, sb2)`` propagates, layer by layer, a pre-activation
variance ``q`` and a correlation ``c`` between two inputs through
deterministic maps (Poole et al. 2016, "Exponential expressivity in deep
neural networks through transient chaos"; Schoenholz et al. 2017, "Deep
information propagation"; Pennington et al. 2017, "Resurrecting the sigmoid in
deep learning through dynamical isometry"):

* the length map ``q_{l+1} = sw2 * E[phi(sqrt(q_l) z)^2] + sb2`` with
  ``z ~ N(0, 1)``, whose stable fixed point is ``q*``;
* the correlation map ``c_{l+1} = (sw2 * E[phi(u1) phi(u2)] + sb2) / q*``,
  ``(u1, u2)`` jointly Gaussian with variances ``q*`` and correlation
  ``c_l``; its stable fixed point is ``c*`` (``c* = 1`` in the ordered phase);
* ``chi1 = sw2 * E[phi'(sqrt(q*) z)^2]``, the mean squared backward gain of one
  layer: ``|dL/dh_l|^2`` is proportional to ``chi1^(L - l)``, so gradients
  vanish for ``chi1 < 1`` (ordered phase), explode for ``chi1 > 1`` (chaotic
  phase) and are preserved on the critical line ``chi1 = 1``;
* depth scales ``xi = -1 / ln(chi)`` (Schoenholz et al. 2017, eqs. 5, 9):
  ``xi_q`` with ``chi_q = sw2 * E[phi'^2 + phi phi'']`` (the slope of the
  length map at ``q*``), ``xi_c`` with ``chi_c = sw2 * E[phi'(u1) phi'(u2)]``
  at ``c*`` (the slope of the correlation map; ``chi_c = chi1`` when
  ``c* = 1``), and ``xi_grad`` with ``chi1``.

Everything here is pure NumPy; the activations come from
:mod:`pyvanish.reference` (names in ``reference.ACTIVATIONS``; ``swish`` is an
alias of ``silu``; ``alpha`` is the slope of ``leaky_relu`` and the scale of
``elu`` and is ignored by the other activations).

Quadrature
----------
``E[f(sqrt(q) z)]`` is computed by composite Gauss--Legendre quadrature (20
nodes per panel) of ``f(sqrt(q) z) pdf(z)`` on ``|z| <= 10`` (the Gaussian
mass beyond is ``1.5e-23``). The panels are split at ``z = 0``, where every
built-in activation has its kink, so a kink costs no accuracy; they are unit
panels for ``|z| >= 1`` and, towards 0, panels graded geometrically (halving)
down to a width ``<= 1 / sqrt(q)``, so that ``sqrt(q) z`` -- the argument of
the activation -- never crosses more than one unit of its own scale inside
one panel, however large ``q`` is (``tanh(sqrt(q) z)`` becomes a step of width
``1 / sqrt(q)``). A fixed-order Gauss--Hermite rule cannot do this: for
``E[tanh'(sqrt(q) z)^2]`` order 100 is off by ``2e-6`` at ``q = 2``, ``1e-3``
at ``q = 5`` and 60% at ``q = 50`` (order 200: ``9e-6`` at ``q = 5``, 20% at
``q = 50``). The rule for each
level of grading is computed once and cached; ``q <= 1`` uses 400 nodes,
``q = 1e4`` 680 nodes. Measured against 50-digit ``mpmath`` quadrature for
``phi^2`` and ``phi'^2`` of every built-in activation at ``q`` from ``1e-6``
to ``1e8``: relative error below ``1e-14``. The rule assumes ``f`` is smooth
on each side of ``0`` on the scale of one unit of its argument, and grows at
most polynomially.

For the piecewise-linear activations (identity, relu, leaky_relu) the
theory uses the closed forms ``E[phi^2] = k q`` and ``E[phi'^2] = k`` with
``k = 1, 1/2, (1 + alpha^2) / 2`` instead of quadrature, so for relu
``q* = sb2 / (1 - sw2 / 2)`` and ``chi1 = sw2 / 2`` exactly.

The limits are part of the definition: ``q = 0`` gives
``(f(0+) + f(0-)) / 2`` (the limit ``q -> 0+``; e.g. ``E[relu'(0 z)^2] =
1/2``), ``q = inf`` gives ``(f(+inf) + f(-inf)) / 2``. So ``q* = 0`` (e.g.
tanh with ``sb2 = 0``, ``sw2 <= 1``) and ``q* = inf`` (e.g. relu with
``sw2 > 2``) give the limiting ``chi1``.

The bivariate expectations of the correlation map use the same rule for
``z1`` and, for ``u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2)``, a rule in ``z2``
split and graded at the kink ``u2 = 0`` for each node ``z1``.

Examples
--------
>>> from pyvanish import theory
>>> round(theory.chi1("relu", sw2=1.5, sb2=0.1), 12)
0.75
>>> round(theory.critical_sw2("tanh", sb2=0.05), 3)
1.761
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from functools import cache
from typing import Callable, NamedTuple

import numpy as np

from . import reference
from ._activations import DEFAULT_ALPHA, canonical_activation
from ._text import progress as _progress

__all__ = [
    "DepthScales",
    "gaussian_expectation",
    "length_map",
    "fixed_point",
    "chi1",
    "c_star",
    "chi_c",
    "depth_scales",
    "critical_sw2",
    "critical_line",
    "phase_diagram",
    "gradient_profile",
    "phase",
]

# --------------------------------------------------------------------------
# quadrature
# --------------------------------------------------------------------------

_K = 10  # the rule covers |z| <= _K; the Gaussian mass beyond is 1.5e-23
_NGL = 20  # Gauss-Legendre nodes per panel
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_NGL)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TINY = 1e-300  # f(+-_TINY) stands for f(0+-) in the q = 0 limit
_EPS = float(np.finfo(np.float64).eps)


def _panels(breaks):
    """Gauss-Legendre nodes and pdf-weights on the panels between ``breaks``.

    ``breaks`` has shape (..., P + 1), sorted along the last axis; the result
    has shape (..., P * _NGL). Zero-width panels get zero weights.
    """
    a = breaks[..., :-1, None]
    b = breaks[..., 1:, None]
    half = 0.5 * (b - a)
    z = 0.5 * (a + b) + half * _GL_X
    w = half * _GL_W * np.exp(-0.5 * z * z) * _INV_SQRT2PI
    shape = breaks.shape[:-1] + (-1,)
    return z.reshape(shape), w.reshape(shape)


def _offsets(level):
    """Sorted breakpoints in [0, _K]: 0, 2^-level, ..., 1/2, 1, 2, ..., _K."""
    graded = [2.0**-j for j in range(level, 0, -1)]
    return np.array([0.0] + graded + [float(i) for i in range(1, _K + 1)])


@cache
def _rule(level):
    """Nodes and weights of E[g(z)], z ~ N(0, 1), graded at 0 down to 2^-level."""
    half = _offsets(level)
    z, w = _panels(np.concatenate([-half[:0:-1], half]))
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


def _level(scale):
    """Grading level whose smallest panel is <= 1 / scale (0 for scale <= 1)."""
    if scale <= 1.0:
        return 0
    return max(0, math.ceil(math.log2(scale)))


def _expect(f, q):
    """E[f(sqrt(q) z)] for one float q in [0, inf]; f elementwise on arrays."""
    with np.errstate(over="ignore", under="ignore"):
        if q == 0.0:
            x = np.array([_TINY, -_TINY])
        elif q == math.inf:
            x = np.array([math.inf, -math.inf])
        else:
            rq = math.sqrt(q)
            z, w = _rule(_level(rq))
            return float(np.dot(np.broadcast_to(f(rq * z), z.shape), w))
        return float(0.5 * np.sum(np.broadcast_to(f(x), x.shape)))


def _expect_pair(fa, fb, q, c):
    """E[fa(u1) fb(u2)], u1, u2 ~ N(0, q) with correlation c in [0, 1).

    u1 = sqrt(q) z1, u2 = m + sigma z2 with m = sqrt(q) c z1 and
    sigma = sqrt(q (1 - c^2)). The z1 rule is graded at 0 also on the scale
    sqrt(1 - c^2) on which E[fb(u2) | z1] changes near z1 = 0; the z2 rule is
    graded, for each z1, at the kink z2 = -m / sigma of fb.
    """
    rq = math.sqrt(q)
    s = math.sqrt((1.0 - c) * (1.0 + c))
    z1, w1 = _rule(max(_level(rq), _level(1.0 / s)))
    sigma = rq * s
    m = rq * c * z1
    with np.errstate(over="ignore", under="ignore"):
        kink = np.clip(-m / sigma, -2.0 * _K, 2.0 * _K)
        half = _offsets(_level(sigma))[:-1]  # 0, graded..., 1, ..., _K - 1
        around = np.concatenate([-half[:0:-1], half])
        grid = np.arange(-_K, _K + 1, dtype=np.float64)
        breaks = np.concatenate(
            [np.clip(kink[:, None] + around, -_K, _K), np.broadcast_to(grid, (z1.size, grid.size))], axis=1
        )
        breaks.sort(axis=1)
        z2, w2 = _panels(breaks)
        u2 = m[:, None] + sigma * z2
        inner = np.sum(np.broadcast_to(fb(u2), u2.shape) * w2, axis=1)
        return float(np.dot(np.broadcast_to(fa(rq * z1), z1.shape) * inner, w1))


# --------------------------------------------------------------------------
# activations and input checks
# --------------------------------------------------------------------------


class _Act(NamedTuple):
    name: str
    alpha: float | None
    slope2: float | None  # (phi'(0+)^2 + phi'(0-)^2) / 2 if phi is piecewise linear

    def phi(self, x):
        return reference.activation_forward(self.name, x, self.alpha)

    def dphi(self, x):
        out = reference.activation_forward(self.name, x, self.alpha)
        return reference.activation_derivative(self.name, x, out, self.alpha)

    def phi2(self, x):
        a = self.phi(x)
        return a * a

    def dphi2(self, x):
        d = self.dphi(x)
        return d * d

    def phi_dphi_x(self, x):
        """phi(x) phi'(x) x: E of it over x = sqrt(q) z, divided by q, is
        E[phi'^2 + phi phi''] (Gaussian integration by parts)."""
        out = reference.activation_forward(self.name, x, self.alpha)
        return out * reference.activation_derivative(self.name, x, out, self.alpha) * x

    # Closed forms for identity, relu and leaky_relu (E[phi^2] = slope2 q,
    # E[phi'^2] = slope2), quadrature for the others.
    def mean_phi2(self, q):
        return self.slope2 * q if self.slope2 is not None else _expect(self.phi2, q)

    def mean_dphi2(self, q):
        return self.slope2 if self.slope2 is not None else _expect(self.dphi2, q)

    def length_slope(self, q):
        """d/dq E[phi(sqrt(q) z)^2] = E[phi'^2 + phi phi''], for 0 < q < inf."""
        if self.slope2 is not None:
            return self.slope2
        return _expect(self.phi_dphi_x, q) / q


def _activation(fn, activation, alpha):
    key = canonical_activation(activation, fn)
    if alpha is None:
        alpha = DEFAULT_ALPHA.get(key)
    else:
        alpha = _real(fn, "alpha", alpha, minimum=None)
        if abs(alpha) > _ALPHA_MAX:
            # phi^2 and phi'^2 of a larger slope or scale overflow float64
            raise ValueError(f"{fn}: |alpha| must be <= {_ALPHA_MAX:g} (its square must fit a float64), got {alpha:g}")
    slope2 = {"identity": 1.0, "relu": 0.5}.get(key)
    if key == "leaky_relu":
        slope2 = 0.5 * (1.0 + alpha * alpha)
    return _Act(key, alpha, slope2)


def _real(fn, name, value, minimum=0.0, allow_inf=False):
    """``value`` as a Python float: a real number, not NaN, >= minimum."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if math.isnan(v):
        raise ValueError(f"{fn}: {name} is NaN")
    if math.isinf(v) and not allow_inf:
        raise ValueError(f"{fn}: {name} must be finite, got {v}")
    if minimum is not None and v < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum:g}, got {v:g}")
    return v


def _reals(fn, name, values, allow_inf=False):
    """``values`` as a float64 array of numbers >= 0 (not NaN)."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{fn}: {name} must be real numbers (int or float), got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if np.isnan(arr).any():
        raise ValueError(f"{fn}: {name} contains NaN")
    if not allow_inf and np.isinf(arr).any():
        raise ValueError(f"{fn}: {name} contains Inf")
    if (arr < 0).any():
        raise ValueError(f"{fn}: {name} must be >= 0, got min {arr.min():g}")
    return arr


def _params(fn, activation, sw2, sb2, alpha):
    act = _activation(fn, activation, alpha)
    return act, _real(fn, "sw2", sw2), _real(fn, "sb2", sb2)


def _q0(fn, q0):
    """A starting variance in [0, _Q_MAX] (beyond, phi(sqrt(q0) z)^2 overflows)."""
    q0 = _real(fn, "q0", q0)
    if q0 > _Q_MAX:
        raise ValueError(f"{fn}: q0 must be <= {_Q_MAX:g} (the largest variance the maps resolve), got {q0:g}")
    return q0


def _solved(fn, activation, sw2, sb2, alpha, q0):
    """Validated (act, sw2, sb2) and the fixed point q* from q0."""
    act, sw2, sb2 = _params(fn, activation, sw2, sb2, alpha)
    return act, sw2, sb2, _fixed_point(act, sw2, sb2, _q0(fn, q0), 1e-12, 200, fn)


# --------------------------------------------------------------------------
# root finding
# --------------------------------------------------------------------------


def _brentq(f, xa, xb, fa, fb, rtol, maxiter, fn):
    """A root of f in [xa, xb], f(xa) and f(xb) of opposite signs (or zero).

    Brent's method (inverse quadratic interpolation, secant, bisection) as in
    Brent, "Algorithms for minimization without derivatives" (1973), ch. 4;
    stops when the bracket is below ``rtol * |x|`` (plus a few ulps).
    """
    xpre, xcur, fpre, fcur = xa, xb, fa, fb
    if fpre == 0:
        return xpre
    if fcur == 0:
        return xcur
    xblk = fblk = spre = scur = 0.0
    rtol = max(rtol, 4 * _EPS)
    for _ in range(maxiter):
        if fpre != 0 and fcur != 0 and (fpre < 0) != (fcur < 0):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = 0.5 * (1e-300 + rtol * abs(xcur))
        sbis = 0.5 * (xblk - xcur)
        if fcur == 0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:  # secant
                stry = -fcur * (xcur - xpre) / (fcur - fpre)
            else:  # inverse quadratic interpolation
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            if 2 * abs(stry) < min(abs(spre), 3 * abs(sbis) - delta):
                spre, scur = scur, stry
            else:
                spre = scur = sbis
        else:
            spre = scur = sbis
        xpre, fpre = xcur, fcur
        xcur += scur if abs(scur) > delta else math.copysign(delta, sbis)
        fcur = f(xcur)
    raise RuntimeError(f"{fn}: root finding did not converge in {maxiter} iterations")


# --------------------------------------------------------------------------
# the maps (internal: validated arguments, Python floats)
# --------------------------------------------------------------------------

# The length map of the built-in activations is asymptotically
# L(q) ~ sw2 * s q (+ lower order) as q -> 0 and as q -> inf, with s the limit
# of E[phi'^2] there. Beyond these bounds the sign of L(q) - q no longer
# changes, so the search stops: at 0 if sw2 * s(0) <= 1, at inf if
# sw2 * s(inf) >= 1. _Q_MIN and _Q_MAX end the search in any case.
_Q_ASYM_LO = 1e-8
_Q_ASYM_HI = 1e8
_Q_MIN = 1e-280
_Q_MAX = 1e300
# |alpha| beyond this overflows alpha^2 (leaky_relu's slope2, elu's phi^2).
_ALPHA_MAX = 1e100
# gradient_profile returns depth + 1 floats: 10**8 is 800 MB.
_DEPTH_MAX = 10**8
# The correlation map's quadrature is graded at 0 on the scale 1/sqrt(q*): its
# size grows like log2(q*)^2. Beyond this q* (2^80) it would need more than
# _PAIR_MAX_BYTES, so c_star/chi_c/depth_scales refuse it up front.
_PAIR_MAX_BYTES = 256 << 20


def _fixed_point(act, sw2, sb2, q0, tol, max_iter, fn):
    """The limit of q <- L(q) from q0: bracket it, then Brent.

    The length map of the built-in activations is increasing in q, so the
    iterates move monotonically towards the nearest fixed point in the
    direction of h(q0) = L(q0) - q0 and never pass it. Probes 4x further
    out bracket that point; an iteration step from a probe is a second, safe
    bound. Values of h within rounding of 0 resolve no sign and are skipped.
    """

    def length(q):
        return sw2 * act.mean_phi2(q) + sb2

    def h(q):
        return length(q) - q

    def sign(v, q):
        return 0 if abs(v) <= 8 * _EPS * q else (1 if v > 0 else -1)

    def solve(a, b, fa, fb):
        return _brentq(h, a, b, fa, fb, tol, max_iter, fn)

    l0 = length(0.0)
    if math.isnan(l0) or math.isnan(length(q0)):  # pragma: no cover - bounded alpha and q0 keep L finite
        raise ValueError(f"{fn}: the length map is NaN (sw2 = {sw2:g}, sb2 = {sb2:g}, q0 = {q0:g})")
    if q0 == 0.0:
        if l0 == 0.0:
            return 0.0
        q0 = l0  # the first step of the iteration
    h0 = h(q0)
    if sign(h0, q0) == 0:  # q0 is itself fixed (a neutral map)
        return q0
    probe = q0
    if h0 > 0:  # upwards: lo <= q*
        lo, hlo = q0, h0
        if l0 > q0:  # L increasing: every fixed point is >= L(0) (sb2 >= 1e250 needs no 500 probes)
            hl0 = h(l0)
            if sign(hl0, l0) < 0:  # pragma: no cover - L(l0) >= L(0) = l0
                return solve(lo, l0, hlo, hl0)
            if sign(hl0, l0) == 0:
                return l0
            lo, hlo, probe = l0, hl0, l0
        diverges_at_inf = sw2 * act.mean_dphi2(math.inf) >= 1.0
        while True:
            probe = 4.0 * max(probe, lo)
            if not probe <= _Q_MAX:
                return math.inf
            hp = h(probe)
            sp = sign(hp, probe)
            if sp < 0:
                return solve(lo, probe, hlo, hp)
            if sp > 0:
                if probe >= _Q_ASYM_HI and diverges_at_inf:
                    return math.inf
                nxt = length(probe)  # probe <= L(probe) <= q*
                if not nxt <= _Q_MAX:
                    return math.inf
                hn = h(nxt)
                sn = sign(hn, nxt)
                if sn < 0:
                    return solve(probe, nxt, hp, hn)
                lo, hlo = (nxt, hn) if sn > 0 else (probe, hp)
    else:  # downwards: hi >= q*
        hi, hhi = q0, h0
        vanishes_at_0 = l0 == 0.0 and sw2 * act.mean_dphi2(0.0) <= 1.0
        while True:
            probe = 0.25 * min(probe, hi)
            if probe < _Q_MIN:
                return 0.0
            hp = h(probe)
            sp = sign(hp, probe)
            if sp > 0:
                return solve(probe, hi, hp, hhi)
            if sp == 0 and l0 == 0.0:
                return 0.0  # no sign left that rounding can resolve
            if sp < 0:
                if probe <= _Q_ASYM_LO and vanishes_at_0:
                    return 0.0
                nxt = length(probe)  # q* <= L(probe) <= probe
                if nxt == 0.0:
                    return 0.0
                hn = h(nxt)
                sn = sign(hn, nxt)
                if sn > 0:
                    return solve(nxt, probe, hn, hp)
                hi, hhi = (nxt, hn) if sn < 0 else (probe, hp)


def _pair_bytes(q):
    """About the bytes _expect_pair allocates at q (its z1 rule x its z2 panels, 4 arrays)."""
    lv = _level(math.sqrt(q))
    n1 = 2 * (max(lv, 23) + _K) * _NGL  # c up to 1 - 2^-45: 1 / sqrt(1 - c^2) ~ 2^22.5
    n2 = (2 * (lv + _K) + 2 * _K + 1) * _NGL
    return 4 * 8 * n1 * n2


def _check_pair(q, fn):
    """Refuse a correlation map whose quadrature would not fit _PAIR_MAX_BYTES."""
    need = _pair_bytes(q)
    if need > _PAIR_MAX_BYTES:
        raise ValueError(
            f"{fn}: the correlation map at q* = {q:.3g} needs a quadrature of {need:,} bytes "
            f"(more than {_PAIR_MAX_BYTES >> 20} MiB); q* up to about 1e24 is supported (lower sw2 or sb2)"
        )


def _chi1_at(act, sw2, q):
    return sw2 * act.mean_dphi2(q)


def _c_star_at(act, sw2, sb2, q, chi, fn):
    """The stable fixed point of the correlation map, given q* and chi1."""
    if not (0.0 < q < math.inf) or chi <= 1.0:
        return 1.0  # ordered (or critical) phase: c* = 1
    _check_pair(q, fn)

    def g(c):
        return (sw2 * _expect_pair(act.phi, act.phi, q, c) + sb2) / q - c

    # g(0) = (sw2 E[phi]^2 + sb2) / q* >= 0 and g < 0 just below c = 1 (slope
    # chi1 > 1 there): scan c = 1 - 2^-k up to the first negative value.
    lo = 0.0
    glo = (sw2 * _expect(act.phi, q) ** 2 + sb2) / q
    if glo <= 8 * _EPS:
        glo = 0.0
    for k in range(1, 46):
        hi = 1.0 - 2.0**-k
        ghi = g(hi)
        if ghi < 0:
            return _brentq(g, lo, hi, glo, ghi, 1e-13, 200, fn)
        lo, glo = hi, ghi
    return 1.0  # c* within 3e-14 of 1


def _chi_c_at(act, sw2, q, c, chi):
    if c >= 1.0 or not (0.0 < q < math.inf):
        return chi
    return sw2 * _expect_pair(act.dphi, act.dphi, q, c)


def _xi(chi):
    """-1 / ln(chi): inf at chi = 1, 0 at chi = 0, negative for chi > 1."""
    if math.isnan(chi):
        return math.nan
    if chi == 1.0:
        return math.inf
    if chi <= 0.0:  # chi is a mean of squares: a negative one is rounding
        return 0.0
    return -1.0 / math.log(chi)


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------


def phase(chi1: float, depth: int | None = None) -> str:
    """The phase of a random network in words, judged against its depth.

    Through ``L`` layers the mean squared gradient changes by ``chi1^L =
    exp(-L / xi)`` with the depth scale ``xi = -1 / ln chi1``. A network no
    deeper than ``|xi|`` is *critical*: its gradients change by at most a
    factor ``e`` (in the mean square), however far ``chi1`` is from 1 in the
    phase diagram. Only a network deeper than ``|xi|`` is ordered (``chi1 < 1``,
    gradients vanish) or chaotic (``chi1 > 1``, gradients explode).

    Parameters
    ----------
    chi1 : float
        The gradient factor per layer (:func:`chi1`).
    depth : int, optional
        The network's number of layers ``L``. Without it, the text says from
        which depth on the gradients vanish or explode.

    Returns
    -------
    str
        ``"critical: ..."``, ``"ordered: ..."`` or ``"chaotic: ..."``, with
        ``|xi|`` in layers.

    Examples
    --------
    >>> phase(0.9998, depth=20)
    'critical: gradients neither vanish nor explode over 20 layers (depth scale xi = 4999 layers)'
    >>> phase(0.5, depth=20)
    'ordered: gradients vanish over 20 layers (depth scale xi = 1.443 layers, shorter than the network)'
    >>> phase(1.5)
    'chaotic (chi1 > 1): gradients explode in networks deeper than the depth scale xi = 2.466 layers'
    """
    fn = "phase"
    if isinstance(chi1, numbers.Real) and not isinstance(chi1, (bool, np.bool_)) and math.isnan(chi1):
        return "undetermined: chi1 is NaN"
    chi = _real(fn, "chi1", chi1, allow_inf=True)
    if depth is not None and (
        isinstance(depth, (bool, np.bool_)) or not isinstance(depth, numbers.Integral) or depth < 0
    ):
        raise ValueError(f"{fn}: depth must be a non-negative integer, got {depth!r}")
    xi = abs(_xi(chi)) if chi != math.inf else 0.0
    scale = f"depth scale xi = {xi:.4g} layers"
    if depth is not None:
        if xi >= depth:
            return f"critical: gradients neither vanish nor explode over {depth} layers ({scale})"
        verb = "vanish" if chi < 1 else "explode"
        name = "ordered" if chi < 1 else "chaotic"
        return f"{name}: gradients {verb} over {depth} layers ({scale}, shorter than the network)"
    if chi == 1.0:
        return f"critical: gradients neither vanish nor explode at any depth ({scale})"
    if chi < 1:
        return f"ordered (chi1 < 1): gradients vanish in networks deeper than the {scale}"
    return f"chaotic (chi1 > 1): gradients explode in networks deeper than the {scale}"


def gaussian_expectation(f: Callable, q):
    """Gaussian expectation ``E[f(sqrt(q) z)]``, ``z ~ N(0, 1)``.

    Composite Gauss--Legendre quadrature split at ``z = 0`` and graded
    towards it on the scale ``1 / sqrt(q)`` (see the module docstring):
    relative error below ``1e-14`` for the built-in activations, their
    squares and derivatives, for any ``q`` from ``1e-6`` to ``1e8`` and beyond
    (a fixed-order Gauss--Hermite rule loses accuracy from about ``q = 2`` on
    for kinks or saturations).

    Parameters
    ----------
    f : callable
        Elementwise function of an ndarray (like a NumPy ufunc), smooth on
        each side of 0 on a scale of about one unit of its argument, growing at
        most polynomially.
    q : float or array_like
        Variance(s) ``>= 0``. ``q = 0`` gives the limit ``q -> 0+``,
        ``(f(0+) + f(0-)) / 2``; ``q = inf`` gives ``(f(+inf) + f(-inf)) / 2``.

    Returns
    -------
    float or ndarray
        A float for a scalar ``q``, else an array of ``q``'s shape.

    Examples
    --------
    >>> import numpy as np
    >>> round(gaussian_expectation(np.square, 2.5), 12)
    2.5
    >>> np.round(gaussian_expectation(lambda x: np.maximum(x, 0) ** 2, [1.0, 500.0]), 10)
    array([  0.5, 250. ])
    >>> gaussian_expectation(lambda x: (x > 0) * 1.0, 0.0)  # the limit q -> 0+
    0.5
    """
    fn = "gaussian_expectation"
    if not callable(f):
        raise TypeError(f"{fn}: f must be callable, got {type(f).__name__}")
    qs = _reals(fn, "q", q, allow_inf=True)
    try:
        out = np.array([_expect(f, float(v)) for v in qs.ravel()]).reshape(qs.shape)
    except ValueError as exc:
        raise ValueError(f"{fn}: f must be elementwise on ndarrays ({exc})") from None
    return float(out) if qs.ndim == 0 else out


def length_map(activation: str, q, sw2: float, sb2: float, alpha: float | None = None):
    """One step of the length map: ``sw2 * E[phi(sqrt(q) z)^2] + sb2``.

    Parameters
    ----------
    activation : str
        One of ``pyvanish.reference.ACTIVATIONS`` (``swish`` = ``silu``).
    q : float or array_like
        Pre-activation variance(s) of the previous layer, ``>= 0``.
    sw2, sb2 : float
        Weight and bias variances, ``Var(W_ij) = sw2 / fan_in``,
        ``Var(b_i) = sb2``; both ``>= 0``.
    alpha : float, optional
        ``leaky_relu`` slope / ``elu`` scale (defaults 0.01 / 1.0).

    Returns
    -------
    float or ndarray
        ``q_next``, shaped like ``q``.

    Examples
    --------
    >>> length_map("relu", 2.0, sw2=2.0, sb2=0.5)  # relu: sw2 q / 2 + sb2
    2.5
    >>> round(length_map("tanh", 1.0, sw2=1.0, sb2=0.0), 6)
    0.394294
    """
    act, sw2, sb2 = _params("length_map", activation, sw2, sb2, alpha)
    qs = _reals("length_map", "q", q, allow_inf=True)
    out = np.array([sw2 * act.mean_phi2(float(v)) + sb2 for v in qs.ravel()])
    out = out.reshape(qs.shape)
    return float(out) if qs.ndim == 0 else out


def fixed_point(
    activation: str,
    sw2: float,
    sb2: float,
    alpha: float | None = None,
    q0: float = 1.0,
    tol: float = 1e-12,
    max_iter: int = 200,
) -> float:
    """Fixed point ``q*`` of the length map reached from ``q0``.

    The limit of ``q_{l+1} = sw2 * E[phi(sqrt(q_l) z)^2] + sb2`` from
    ``q_0 = q0``: the stable fixed point (the nearest one in the direction the
    iteration moves; the length map of every built-in activation is
    increasing in ``q``). Plain iteration converges at the rate ``chi_q``,
    which is slow near criticality, so the point is bracketed with a few
    iteration steps and solved with Brent's method.

    Parameters
    ----------
    activation : str
        One of ``pyvanish.reference.ACTIVATIONS``.
    sw2, sb2 : float
        Weight and bias variances (``>= 0``).
    alpha : float, optional
        ``leaky_relu`` slope / ``elu`` scale.
    q0 : float, optional
        Starting variance (default 1, standardised inputs).
    tol : float, optional
        Relative tolerance on ``q*``.
    max_iter : int, optional
        Maximum number of Brent iterations.

    Returns
    -------
    float
        ``q*``; ``inf`` if the iteration diverges (e.g. relu with ``sw2 > 2``,
        identity with ``sw2 >= 1`` and ``sb2 > 0``, or beyond ``1e300``);
        ``0.0`` if it converges to 0 (e.g. tanh with ``sb2 = 0``,
        ``sw2 <= 1``) or below ``1e-280``; ``q0`` itself if the map is
        neutral there (relu with ``sw2 = 2``, ``sb2 = 0``).

    Examples
    --------
    >>> round(fixed_point("relu", sw2=1.5, sb2=0.1), 12)  # sb2 / (1 - sw2/2)
    0.4
    >>> fixed_point("relu", sw2=2.5, sb2=0.1)
    inf
    >>> fixed_point("tanh", sw2=0.5, sb2=0.0)
    0.0
    >>> round(fixed_point("tanh", sw2=1.76, sb2=0.05), 4)
    0.5695
    """
    fn = "fixed_point"
    act, sw2, sb2 = _params(fn, activation, sw2, sb2, alpha)
    q0 = _q0(fn, q0)
    tol = _real(fn, "tol", tol)
    if tol <= 0:
        raise ValueError(f"{fn}: tol must be > 0, got {tol:g}")
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, numbers.Integral):
        raise TypeError(f"{fn}: max_iter must be an integer, got {type(max_iter).__name__}")
    if max_iter < 1:
        raise ValueError(f"{fn}: max_iter must be >= 1, got {max_iter}")
    return _fixed_point(act, sw2, sb2, q0, tol, int(max_iter), fn)


def chi1(activation: str, sw2: float, sb2: float, alpha: float | None = None, q0: float = 1.0) -> float:
    """``chi1 = sw2 * E[phi'(sqrt(q*) z)^2]``: the mean squared backward gain.

    ``chi1 < 1``: gradients vanish with depth (ordered phase); ``chi1 > 1``:
    they explode (chaotic phase); ``chi1 = 1``: critical. For relu
    ``chi1 = sw2 / 2`` whatever ``q*``; at ``q* = 0`` or ``inf`` the limit is
    used (see :func:`gaussian_expectation`).

    Parameters
    ----------
    activation : str
        One of ``pyvanish.reference.ACTIVATIONS``.
    sw2, sb2 : float
        Weight and bias variances (``>= 0``).
    alpha : float, optional
        ``leaky_relu`` slope / ``elu`` scale.
    q0 : float, optional
        Starting variance for :func:`fixed_point`.

    Returns
    -------
    float

    Examples
    --------
    >>> chi1("relu", sw2=2.0, sb2=0.0)
    1.0
    >>> round(chi1("tanh", sw2=1.0, sb2=0.0), 12)   # q* = 0, tanh'(0) = 1
    1.0
    >>> round(chi1("tanh", sw2=1.05, sb2=2.01e-5), 6)  # Pennington et al. 2017
    1.0
    >>> round(chi1("tanh", sw2=4.0, sb2=0.05), 4)   # chaotic: exploding gradients
    1.3424
    """
    act, sw2, _, q = _solved("chi1", activation, sw2, sb2, alpha, q0)
    return _chi1_at(act, sw2, q)


def c_star(activation: str, sw2: float, sb2: float, alpha: float | None = None, q0: float = 1.0) -> float:
    """Stable fixed point ``c*`` of the correlation map (Poole et al. 2016).

    ``c_{l+1} = (sw2 * E[phi(u1) phi(u2)] + sb2) / q*`` with ``u1, u2``
    jointly Gaussian, variances ``q*``, correlation ``c_l``. ``c* = 1`` in the
    ordered phase (``chi1 <= 1``): inputs become perfectly correlated; in the
    chaotic phase ``0 <= c* < 1``. NaN if ``q*`` is infinite.

    Parameters
    ----------
    activation, sw2, sb2, alpha, q0
        As in :func:`chi1`.

    Returns
    -------
    float

    Examples
    --------
    >>> c_star("tanh", sw2=1.2, sb2=0.05)
    1.0
    >>> round(c_star("tanh", sw2=4.0, sb2=0.0), 10)  # odd phi, no bias: c* = 0
    0.0
    >>> round(c_star("tanh", sw2=4.0, sb2=0.05), 4)
    0.1651
    """
    act, sw2, sb2, q = _solved("c_star", activation, sw2, sb2, alpha, q0)
    if q == math.inf:
        return math.nan
    return _c_star_at(act, sw2, sb2, q, _chi1_at(act, sw2, q), "c_star")


def chi_c(activation: str, sw2: float, sb2: float, alpha: float | None = None, q0: float = 1.0) -> float:
    """Slope ``chi_c = sw2 * E[phi'(u1) phi'(u2)]`` of the correlation map at ``c*``.

    Equal to :func:`chi1` when ``c* = 1`` (the ordered phase); below 1 at the
    chaotic phase's ``c* < 1``. NaN if ``q*`` is infinite.

    Parameters
    ----------
    activation, sw2, sb2, alpha, q0
        As in :func:`chi1`.

    Returns
    -------
    float

    Examples
    --------
    >>> round(chi_c("tanh", sw2=1.2, sb2=0.05), 6) == round(chi1("tanh", sw2=1.2, sb2=0.05), 6)
    True
    >>> round(chi_c("tanh", sw2=4.0, sb2=0.05), 4)
    0.8665
    """
    return depth_scales(activation, sw2, sb2, alpha, q0=q0, _fn="chi_c").chi_c


@dataclass(frozen=True)
class DepthScales:
    """Mean-field fixed points, slopes and depth scales of one (phi, sw2, sb2).

    Attributes
    ----------
    q_star : float
        Fixed point of the length map (0 or inf in the limiting cases).
    chi1 : float
        ``sw2 * E[phi'(sqrt(q*) z)^2]``.
    chi_q : float
        Slope of the length map at ``q*``: ``sw2 * E[phi'^2 + phi phi'']``,
        computed without ``phi''`` as ``sw2 * E[phi(x) phi'(x) x] / q*``
        (Gaussian integration by parts, ``x = sqrt(q*) z``); at ``q* = 0`` it is
        ``chi1``; at ``q* = inf`` the asymptotic slope.
    c_star : float
        Stable fixed point of the correlation map (1 in the ordered phase,
        NaN if ``q*`` is infinite).
    chi_c : float
        Slope of the correlation map at ``c*`` (``chi1`` when ``c* = 1``).
    xi_q, xi_c, xi_grad : float
        ``-1 / ln(chi_q)``, ``-1 / ln(chi_c)``, ``-1 / ln(chi1)`` (Schoenholz et
        al. 2017): the depths over which the length, the correlation and the
        squared gradient norm relax by a factor ``e``. ``inf`` at ``chi = 1``
        (criticality); negative when ``chi > 1`` (``xi_grad < 0``: squared
        gradient norms grow by ``e`` every ``|xi_grad|`` layers); ``xi_q``
        is NaN when ``q*`` is infinite.
    """

    q_star: float
    chi1: float
    chi_q: float
    c_star: float
    chi_c: float
    xi_q: float
    xi_c: float
    xi_grad: float

    def phase(self, depth: int | None = None) -> str:
        """The phase in words, for a network of ``depth`` layers if given (see :func:`phase`)."""
        return phase(self.chi1, depth)

    def __str__(self) -> str:
        lines = [f"  {label:<44} {getattr(self, name):.6g}" for name, label in _LABELS]
        return "\n".join(lines + [f"  phase: {self.phase()}"])


#: The fields of :class:`DepthScales` and their labels in text.
_LABELS = (
    ("q_star", "q*      length fixed point"),
    ("chi1", "chi1    gradient factor per layer"),
    ("c_star", "c*      correlation fixed point"),
    ("chi_c", "chi_c   correlation slope"),
    ("xi_q", "xi_q    length depth scale"),
    ("xi_c", "xi_c    correlation depth scale"),
    ("xi_grad", "xi_grad = -1/ln chi1, gradient depth scale"),
)


def depth_scales(
    activation: str, sw2: float, sb2: float, alpha: float | None = None, q0: float = 1.0, *, _fn: str = "depth_scales"
) -> DepthScales:
    """Fixed points, slopes and depth scales (Schoenholz et al. 2017).

    Parameters
    ----------
    activation, sw2, sb2, alpha, q0
        As in :func:`chi1`.

    Returns
    -------
    DepthScales
        ``q_star, chi1, chi_q, c_star, chi_c, xi_q, xi_c, xi_grad``.

    Examples
    --------
    >>> d = depth_scales("tanh", sw2=1.5, sb2=0.05)
    >>> round(d.chi1, 4), round(d.xi_grad, 2), d.c_star
    (0.9386, 15.79, 1.0)
    >>> d = depth_scales("relu", sw2=2.0, sb2=0.0)   # critical: no decay at all
    >>> d.chi1, d.xi_grad
    (1.0, inf)
    """
    act, sw2, sb2, q = _solved(_fn, activation, sw2, sb2, alpha, q0)
    chi = _chi1_at(act, sw2, q)
    chiq = chi if q in (0.0, math.inf) else sw2 * act.length_slope(q)
    if q == math.inf:
        c, chic = math.nan, math.nan
    else:
        c = _c_star_at(act, sw2, sb2, q, chi, _fn)
        chic = _chi_c_at(act, sw2, q, c, chi)
    return DepthScales(
        q_star=q,
        chi1=chi,
        chi_q=chiq,
        c_star=c,
        chi_c=chic,
        xi_q=math.nan if q == math.inf else _xi(chiq),
        xi_c=_xi(chic),
        xi_grad=_xi(chi),
    )


def critical_sw2(activation: str, sb2: float, alpha: float | None = None, q0: float = 1.0) -> float:
    """The weight variance ``sw2`` with ``chi1 = 1`` at bias variance ``sb2``.

    The smallest such ``sw2``: ``chi1 <= sw2 * max(phi')^2``, so the search
    starts at ``sw2 = 1 / max(phi')^2`` (where ``chi1 <= 1``), increases
    ``sw2`` in steps of ``2^(1/8)`` (then of 2, up to ``2^40`` times the
    start) until ``chi1 >= 1`` and solves ``chi1 = 1`` with Brent's method.

    Parameters
    ----------
    activation : str
        One of ``pyvanish.reference.ACTIVATIONS``.
    sb2 : float
        Bias variance (``>= 0``).
    alpha : float, optional
        ``leaky_relu`` slope / ``elu`` scale.
    q0 : float, optional
        Starting variance for :func:`fixed_point`.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If no such ``sw2`` exists in the bracket, or ``chi1`` jumps across 1
        (``q*`` changes discontinuously with ``sw2``, as for gelu at
        ``sb2 = 0``).

    Examples
    --------
    >>> critical_sw2("relu", sb2=0.3)
    2.0
    >>> round(critical_sw2("tanh", sb2=0.0), 6)
    1.0
    >>> round(critical_sw2("tanh", sb2=0.05), 3)
    1.761
    """
    fn = "critical_sw2"
    act = _activation(fn, activation, alpha)
    return _critical_sw2(act, _real(fn, "sb2", sb2), _q0(fn, q0), fn)


def _critical_sw2(act, sb2, q0, fn):
    def f(sw2):
        return _chi1_at(act, sw2, _fixed_point(act, sw2, sb2, q0, 1e-12, 200, fn)) - 1.0

    start = 1.0 / reference.max_derivative(act.name, act.alpha) ** 2
    lo, flo = start, f(start)
    if flo >= 0:  # only if phi'^2 = max everywhere (identity)
        return lo
    # chi1 need not be monotone in sw2 (elu: it crosses 1, then returns to 1
    # as q* -> inf at sw2 = 2), so scan finely for the first crossing:
    # steps of 2^(1/8) up to 2^12 * start, then doublings up to 2^40 * start.
    steps = [start * 2.0 ** (k / 8) for k in range(1, 97)]
    steps += [start * 2.0**k for k in range(13, 41)]
    for hi in steps:
        fhi = f(hi)
        if fhi > 0:
            break
        if fhi == 0:  # a root; look for an earlier crossing
            for x in np.linspace(lo, hi, 9)[1:-1]:
                fx = f(float(x))
                if fx >= 0:
                    hi, fhi = float(x), fx
                    break
            break
        lo, flo = hi, fhi
    else:
        raise ValueError(f"{fn}: no sw2 in [{start:g}, {hi:g}] gives chi1 = 1 for {act.name} at sb2 = {sb2:g}")
    root = _brentq(f, lo, hi, flo, fhi, 1e-13, 200, fn)
    if abs(f(root)) > 1e-7:
        raise ValueError(
            f"{fn}: chi1 jumps across 1 at sw2 = {root:.6g} for {act.name} at sb2 = {sb2:g} "
            "(the fixed point q* changes discontinuously): no critical sw2"
        )
    return root


def critical_line(
    activation: str, sb2_values, alpha: float | None = None, q0: float = 1.0, *, progress: bool | None = None
) -> np.ndarray:
    """Critical ``sw2`` (``chi1 = 1``) for each bias variance in ``sb2_values``.

    Parameters
    ----------
    activation : str
        One of ``pyvanish.reference.ACTIVATIONS``.
    sb2_values : array_like
        Bias variances (``>= 0``), any shape.
    alpha : float, optional
        ``leaky_relu`` slope / ``elu`` scale.
    q0 : float, optional
        Starting variance for :func:`fixed_point`.
    progress : bool, optional
        A progress bar, a step per ``sb2`` value (default: on a terminal or in
        Jupyter, once the call has run half a second; see :func:`pyvanish._text.progress`).

    Returns
    -------
    ndarray
        float64, the shape of ``sb2_values``; see :func:`critical_sw2`.

    Examples
    --------
    >>> critical_line("tanh", [0.0, 0.05, 0.1]).round(3)
    array([1.   , 1.761, 1.986])
    """
    fn = "critical_line"
    act = _activation(fn, activation, alpha)
    sb2 = _reals(fn, "sb2_values", sb2_values)
    q0 = _q0(fn, q0)
    out = []
    with _progress(sb2.size, desc=fn, unit="point", enabled=progress) as bar:
        for v in sb2.ravel():
            out.append(_critical_sw2(act, float(v), q0, fn))
            bar.update(1)
    return np.array(out, dtype=np.float64).reshape(sb2.shape)


def phase_diagram(
    activation: str,
    sw2_values,
    sb2_values,
    alpha: float | None = None,
    q0: float = 1.0,
    *,
    progress: bool | None = None,
) -> np.ndarray:
    """``chi1`` on a grid: rows are ``sb2`` values, columns ``sw2`` values.

    ``out[i, j] = chi1(activation, sw2_values[j], sb2_values[i])``, so
    ``plt.pcolormesh(sw2_values, sb2_values, out)`` draws it with ``sw2`` on
    the x axis (the convention of Poole et al. 2016 and Schoenholz et al.
    2017). ``out < 1``: ordered (vanishing gradients); ``> 1``: chaotic.

    Parameters
    ----------
    activation : str
        One of ``pyvanish.reference.ACTIVATIONS``.
    sw2_values, sb2_values : array_like
        1-d sequences of variances (``>= 0``).
    alpha : float, optional
        ``leaky_relu`` slope / ``elu`` scale.
    q0 : float, optional
        Starting variance for :func:`fixed_point`.
    progress : bool, optional
        A progress bar, a step per grid point (default: on a terminal or in
        Jupyter, once the call has run half a second; see :func:`pyvanish._text.progress`).

    Returns
    -------
    ndarray
        float64 of shape ``(len(sb2_values), len(sw2_values))``.

    Examples
    --------
    >>> phase_diagram("relu", [1.0, 2.0, 3.0], [0.0, 0.1])
    array([[0.5, 1. , 1.5],
           [0.5, 1. , 1.5]])
    """
    fn = "phase_diagram"
    act = _activation(fn, activation, alpha)
    sw2 = _reals(fn, "sw2_values", sw2_values)
    sb2 = _reals(fn, "sb2_values", sb2_values)
    for name, arr in (("sw2_values", sw2), ("sb2_values", sb2)):
        if arr.ndim != 1:
            raise ValueError(f"{fn}: {name} must be 1-d, got shape {arr.shape}")
    q0 = _q0(fn, q0)
    out = np.empty((sb2.size, sw2.size))
    with _progress(out.size, desc=fn, unit="point", enabled=progress) as bar:
        for i, b in enumerate(sb2):
            for j, w in enumerate(sw2):
                w, b = float(w), float(b)
                out[i, j] = _chi1_at(act, w, _fixed_point(act, w, b, q0, 1e-12, 200, fn))
            bar.update(sw2.size)
    return out


def gradient_profile(
    activation: str, sw2: float, sb2: float, depth: int, alpha: float | None = None, q0: float = 1.0
) -> np.ndarray:
    """Predicted ``|dL/dh_l| / |dL/dh_L|`` for ``l = 0..L``: ``chi1^((L - l) / 2)``.

    Mean-field theory predicts ``|dL/dh_l|^2`` proportional to
    ``chi1^(L - l)``. Entry ``l`` is layer ``l`` in the indexing of
    ``GradientReport.grad_h``: entry 0 is the input ``h_0 = x``, entry ``L``
    the output (ratio 1).

    Parameters
    ----------
    activation, sw2, sb2
        As in :func:`chi1`.
    depth : int
        The number of layers ``L >= 0``.
    alpha, q0
        As in :func:`chi1`.

    Returns
    -------
    ndarray
        float64 of shape ``(depth + 1,)``; ``inf`` where it overflows.

    Examples
    --------
    >>> gradient_profile("relu", sw2=1.0, sb2=0.0, depth=4)
    array([0.25      , 0.35355339, 0.5       , 0.70710678, 1.        ])
    """
    fn = "gradient_profile"
    if isinstance(depth, (bool, np.bool_)) or not isinstance(depth, numbers.Integral):
        raise TypeError(f"{fn}: depth must be an integer, got {type(depth).__name__}")
    if depth < 0:
        raise ValueError(f"{fn}: depth must be >= 0, got {depth}")
    if depth > _DEPTH_MAX:
        raise ValueError(f"{fn}: depth must be <= {_DEPTH_MAX:,} (the profile needs 8 bytes per layer), got {depth:,}")
    act, sw2, _, q = _solved(fn, activation, sw2, sb2, alpha, q0)
    chi = _chi1_at(act, sw2, q)
    exponent = (int(depth) - np.arange(int(depth) + 1)) / 2.0
    with np.errstate(over="ignore"):
        return np.power(chi, exponent)
