"""The verdict at its edges, for GradientReport and the ensemble's per-member codes.

Networks ``x -> a x + b1 -> c h1 + b2`` with identity activations and one unit
per layer give ratios by hand (B = 1, t the target):

    dL/dh_2 = y - t,  dL/dh_1 = c (y - t),  dL/dW_2 = (y - t) h_1,  dL/dW_1 = c (y - t) x
    signal ratio = |c|,  weight ratio = |c x| / |h_1|

so each case sets the two ratios (exactly 10^+-2, just beyond, 0, inf, NaN)
and the expected verdict: exploding when either ratio exceeds 10^2 or a value
is NaN/Inf, vanishing when either is below 10^-2, "undetermined" when the
output gradient is exactly zero (both ratios 0/0), healthy otherwise; a NaN
ratio is ignored.
"""
import math

import numpy as np
import pytest

import pyvanish
from pyvanish.report import THRESHOLD_DECADES

# (a, b1, c, b2, x, t) -> (signal ratio, weight ratio, verdict)
CASES = {
    "signal exactly 10^2": ((100.0, 0.0, 100.0, 0.0, 1.0, 0.0), (100.0, 1.0, "healthy")),
    "signal just above 10^2": ((100.001, 0.0, 100.001, 0.0, 1.0, 0.0), (100.001, 1.0, "exploding")),
    "signal exactly 10^-2": ((0.01, 0.0, 0.01, 0.0, 1.0, 0.0), (0.01, 1.0, "healthy")),
    "signal just below 10^-2": ((0.00999, 0.0, 0.00999, 0.0, 1.0, 0.0), (0.00999, 1.0, "vanishing")),
    "weight exactly 10^2": ((0.01, 0.0, 1.0, 0.0, 1.0, 0.0), (1.0, 100.0, "healthy")),
    "weight just above 10^2": ((0.00999, 0.0, 1.0, 0.0, 1.0, 0.0), (1.0, 1 / 0.00999, "exploding")),
    "weight exactly 10^-2": ((100.0, 0.0, 1.0, 0.0, 1.0, 0.0), (1.0, 0.01, "healthy")),
    "weight just below 10^-2": ((100.001, 0.0, 1.0, 0.0, 1.0, 0.0), (1.0, 1 / 100.001, "vanishing")),
    "both ratios 0": ((2.0, 0.0, 0.0, 0.0, 1.0, 1.0), (0.0, 0.0, "vanishing")),
    "weight ratio inf": ((1.0, -1.0, 1.0, 1.0, 1.0, 0.0), (1.0, math.inf, "exploding")),
    "weight NaN, signal healthy": ((1.0, 0.0, 3.0, 1.0, 0.0, 0.0), (3.0, math.nan, "healthy")),
    "weight NaN, signal exploding": ((1.0, 0.0, 1000.0, 1.0, 0.0, 0.0), (1000.0, math.nan, "exploding")),
    "weight NaN, signal vanishing": ((1.0, 0.0, 0.001, 1.0, 0.0, 0.0), (0.001, math.nan, "vanishing")),
    "zero output gradient": ((2.0, 0.5, 3.0, 0.25, 1.0, 7.75), (math.nan, math.nan, "undetermined")),
    "an infinite activation": ((1e200, 0.0, 1e200, 0.0, 1e10, 0.0), (None, None, "exploding")),
}


def _network(a, b1, c, b2):
    return pyvanish.Network([1, 1, 1], activation="identity", weights=[[[a]], [[c]]], biases=[[b1], [b2]])


def _close(got, want):
    if want is None:
        return True
    if math.isnan(want):
        return math.isnan(got)
    return got == pytest.approx(want, rel=1e-12)


def test_threshold_is_two_decades():
    assert THRESHOLD_DECADES == 2


@pytest.mark.parametrize("case", list(CASES))
def test_gradient_report_verdict(case):
    (a, b1, c, b2, x, t), (signal, weight, verdict) = CASES[case]
    rep = _network(a, b1, c, b2).gradient_report([[x]], [[t]], check_finite=False)
    assert _close(rep.signal_ratio, signal) and _close(rep.weight_ratio, weight), (rep.signal_ratio, rep.weight_ratio)
    assert rep.verdict == verdict


def test_exactly_ten_to_the_two_is_exact():
    """The boundary cases really sit on 10^+-2 (else they would not test the boundary)."""
    rep = _network(100.0, 0.0, 100.0, 0.0).gradient_report([[1.0]], [[0.0]])
    assert rep.signal_ratio == 100.0 and rep.weight_ratio == 1.0
    rep = _network(0.01, 0.0, 1.0, 0.0).gradient_report([[1.0]], [[0.0]])
    assert rep.weight_ratio == pytest.approx(100.0, rel=1e-15)


def test_ensemble_codes_equal_the_report_verdicts():
    """The ensemble engine's vectorised verdict, every case a member (batch-norm
    ensembles take each member's GradientReport verdict, tested above)."""
    names = list(CASES)
    E = len(names)
    ens = pyvanish.Ensemble([1, 1, 1], E, activation="identity", seed=0)
    assert ens._engine is not None
    x, t = np.empty((E, 1, 1)), np.empty((E, 1, 1))
    for m, name in enumerate(names):
        (a, b1, c, b2, xm, tm), _ = CASES[name]
        ens.weights[0][m, 0, 0], ens.biases[0][m, 0], ens.weights[1][m, 0, 0], ens.biases[1][m, 0] = a, b1, c, b2
        x[m], t[m] = xm, tm
    rep = ens.run(x, t, check_finite=False)
    want = [CASES[n][1][2] for n in names]
    assert list(rep.verdicts) == want
    for verdict in ("healthy", "vanishing", "exploding", "undetermined"):
        assert rep.fraction(verdict) == want.count(verdict) / E
    assert rep.fraction("undetermined") > 0
