"""Input-output Jacobians, their spectra, and ensembles against mean-field theory."""
import io
import json
import math

import numpy as np
import pytest

import pyvanish
from pyvanish import theory
from pyvanish.cli import main


def fd_jacobian(net, x, h=1e-6):
    x = np.asarray(x, dtype=np.float64)
    B, n0 = x.shape
    nL = net.widths[-1]
    J = np.zeros((B, nL, n0))
    for i in range(n0):
        xp, xm = x.copy(), x.copy()
        xp[:, i] += h
        xm[:, i] -= h
        J[:, :, i] = (net.forward(xp) - net.forward(xm)) / (2 * h)
    return J


@pytest.mark.parametrize("kw", [
    dict(activation="tanh"),
    dict(activation="gelu", residual=True, residual_scale=0.5),
    dict(activation="softplus", residual=True, residual_block=2),
    dict(activation="silu", batchnorm=True),
])
def test_jacobian_against_finite_differences(kw, simd_path):
    net = pyvanish.Network([3, 5, 5, 5, 5, 2], init="xavier_normal", sb=0.2, seed=3, **kw)
    x = np.random.default_rng(0).standard_normal((4, 3))
    if kw.get("batchnorm"):
        net.gradient_report(x, np.zeros((4, 2)))       # some running statistics
        with pytest.raises(ValueError, match="needs evaluation mode"):
            net.jacobian(x)
        net.training = False
    J = net.jacobian(x)
    assert J.shape == (4, 2, 3)
    np.testing.assert_allclose(J, fd_jacobian(net, x), rtol=1e-6, atol=1e-9)


def test_jacobian_rows_are_the_backward_pass():
    # with B = 1 and t = y - e_i, dL/dx is row i of J: the engine's two paths agree
    net = pyvanish.Network([4, 6, 6, 3], activation="elu", residual=True, seed=1)
    x = np.random.default_rng(2).standard_normal((1, 4))
    J = net.jacobian(x)[0]
    y = net.forward(x)
    for i in range(3):
        e = np.zeros((1, 3)); e[0, i] = 1.0
        row = net.gradient_report(x, y - e, return_grads=True).grads["h"][0][0]
        np.testing.assert_allclose(row, J[i], rtol=1e-12, atol=1e-15)


def test_dynamical_isometry_orthogonal_vs_gaussian():
    # tanh at criticality (sw2 = 1, sb2 = 0): orthogonal weights keep the
    # spectrum narrow, Gaussian ones do not (Pennington et al. 2017)
    x = np.random.default_rng(0).standard_normal((4, 128)) * 0.1
    nv = {}
    for init in ("orthogonal", "xavier_normal"):
        vals = []
        for seed in range(3):
            net = pyvanish.Network([128] * 33, activation="tanh", output_activation="tanh", init=init, seed=seed)
            vals.append(net.jacobian_spectrum(x).normalised_variance)
        nv[init] = np.mean(vals)
    assert nv["orthogonal"] < 0.5 < 5 < nv["xavier_normal"]


def test_relu_cannot_be_isometric():
    x = np.random.default_rng(0).standard_normal((4, 64))
    s = pyvanish.Network([64] * 11, activation="relu", output_activation="relu", init="orthogonal",
                         gain=np.sqrt(2), seed=0).jacobian_spectrum(x)
    # inactive units leave directions with no gradient at all: below the SVD's precision, flagged
    assert s.below_precision > 0 and math.isnan(s.min) and s.condition_is_lower_bound
    assert s.min_measured < 1e-6 * s.max and s.condition > 1e6
    assert s.normalised_variance > 1.0


def test_singular_values_below_precision_are_flagged_not_reported():
    # a deep Gaussian network: its smallest singular values are ~1e-18 of the largest, below the SVD's precision
    x = np.random.default_rng(0).standard_normal((2, 32))
    s = pyvanish.Network([32] * 41, activation="tanh", init="normal", sw=1.0, seed=0).jacobian_spectrum(x)
    assert s.below_precision > 0 and math.isnan(s.min) and s.condition_is_lower_bound
    assert s.min_measured >= float(np.max(s.tolerance))
    assert "below precision" in str(s) and "condition >=" in str(s)
    d = s.to_dict()
    assert d["below_precision"] == s.below_precision and d["condition_is_lower_bound"] is True
    # an isometric network: every value measured
    iso = pyvanish.Network([8] * 6, activation="tanh", init="orthogonal", seed=0).jacobian_spectrum(np.zeros((2, 8)))
    assert iso.below_precision == 0 and iso.min == pytest.approx(1.0) and not iso.condition_is_lower_bound
    assert "below precision" not in str(iso)


def test_mean_squared_singular_value_tracks_chi1_power_L():
    # E[mean s^2] = chi1^L once q is at its fixed point: start there
    sw2, sb2, L, n = 1.3, 0.05, 8, 400
    q_star = theory.fixed_point("tanh", sw2, sb2)
    chi = theory.chi1("tanh", sw2, sb2)
    rng = np.random.default_rng(0)
    vals = []
    for seed in range(3):
        net = pyvanish.Network([n] * (L + 1), activation="tanh", output_activation="tanh", init="normal",
                               sw=np.sqrt(sw2), sb=np.sqrt(sb2), seed=seed)
        # inputs whose first pre-activation variance is q*: mean x^2 = (q* - sb2) / sw2
        x = rng.standard_normal((3, n)) * np.sqrt((q_star - sb2) / sw2)
        vals.append(net.jacobian_spectrum(x).mean_squared)
    assert np.mean(vals) == pytest.approx(chi ** L, rel=0.08)


def test_wide_tanh_ensemble_ratio_of_squared_norms_is_chi1():
    # away from criticality, in the middle of a wide network, |dL/dh_{l-1}|^2 / |dL/dh_l|^2 -> chi1
    sw2, sb2 = 1.6, 0.1
    chi = theory.chi1("tanh", sw2, sb2)
    ens = pyvanish.Ensemble([512] * 21 + [1], 8, activation="tanh", init="normal", sw=np.sqrt(sw2),
                            sb=np.sqrt(sb2), seed=0)
    rep = ens.run(np.random.default_rng(0).standard_normal((8, 512)), np.zeros((8, 1)))
    g2 = np.mean(rep.grad_h ** 2, axis=0)
    ratios = g2[8:18] / g2[9:19]             # layers well past the input, before the output
    assert np.mean(ratios) == pytest.approx(chi, rel=0.02)
    cmp = rep.compare_theory()
    assert np.max(np.abs(cmp.relative_error[5:])) < 0.05
    assert cmp.chi1 == pytest.approx(chi)


def test_cli_ensemble_and_theory():
    out = io.StringIO()
    assert main(["ensemble", "--depth", "6", "--width", "8", "-n", "500", "--theory"], out=out) == 0
    text = out.getvalue()
    assert "500 networks" in text and "mean-field theory: tanh" in text and "predicted" in text
    out = io.StringIO()
    assert main(["theory", "--activation", "tanh", "--sb2", "0.05", "--critical"], out=out) == 0
    assert "1.76" in out.getvalue()
    out = io.StringIO()
    assert main(["theory", "--activation", "relu", "--sw2", "2", "--json", "--depth", "3"], out=out) == 0
    d = json.loads(out.getvalue())
    assert d["chi1"] == pytest.approx(1.0) and d["gradient_profile"] == pytest.approx([1.0] * 4)
    assert main(["theory", "--activation", "tanh"], out=io.StringIO()) == 2
