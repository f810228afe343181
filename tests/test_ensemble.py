"""The ensemble engine: equal to the single-network engine member by member,
to the vectorised NumPy reference, and independent of the thread count."""
import math
import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pyvanish
from pyvanish import reference as ref

ACTS = list(pyvanish.ACTIVATIONS)


@pytest.fixture
def threads():
    before = pyvanish.num_threads()
    yield
    pyvanish.set_num_threads(0)
    assert pyvanish.num_threads() >= 1
    pyvanish.set_num_threads(before)


def close(a, b, dtype):
    np.testing.assert_allclose(a, b, rtol=2e-4 if dtype == np.float32 else 1e-11, atol=0)


# non-default alphas beside the defaults (leaky_relu 0.01, elu 1.0)
ALPHAS = {"leaky_relu": [0.01, 0.2], "elu": [1.0, 0.5]}


@st.composite
def ensembles(draw):
    depth = draw(st.integers(1, 4))
    width = draw(st.integers(1, 40))
    widths = [draw(st.integers(1, 40))] + [width] * depth
    widths[-1] = draw(st.integers(1, 40)) if depth > 1 else widths[-1]
    acts = draw(st.lists(st.sampled_from(ACTS), min_size=depth, max_size=depth))
    alphas = [draw(st.sampled_from(ALPHAS.get(a, [0.0]))) for a in acts]
    return (widths, acts, alphas, draw(st.booleans()), draw(st.integers(1, 40)), draw(st.integers(1, 16)),
            draw(st.booleans()), draw(st.integers(0, 2**31)))


@given(case=ensembles())
def test_members_equal_the_single_network_engine(case, dtype, simd_path):
    widths, acts, alphas, residual, E, B, per_member, seed = case
    ens = pyvanish.Ensemble(widths, E, activations=acts, alpha=alphas, residual=residual, init="xavier_normal",
                            sb=0.3, seed=seed, dtype=dtype)
    assert ens.architecture.alphas == tuple(alphas)
    rng = np.random.default_rng(seed)
    shape = (E, B) if per_member else (B,)
    x = rng.standard_normal(shape + (widths[0],)).astype(dtype)
    t = rng.standard_normal(shape + (widths[-1],)).astype(dtype)
    rep = ens.run(x, t)
    assert rep.grad_h.shape == (E, len(widths)) and rep.grad_W.shape == (E, len(widths) - 1)
    for m in sorted({0, E // 2, E - 1}):
        single = ens.member(m).gradient_report(x[m] if per_member else x, t[m] if per_member else t)
        close(rep.grad_h[m], single.grad_h, dtype)
        close(rep.stats[m], single.stats, dtype)
        close(rep.loss[m], single.loss, dtype)


def test_non_default_alphas_match_vectorised_reference(dtype, simd_path):
    """leaky_relu with slope 0.2 and elu with scale 0.5: the ensemble engine against the reference."""
    acts, alphas = ["leaky_relu", "elu", "leaky_relu", "elu"], [0.2, 0.5, 0.2, 0.5]
    ens = pyvanish.Ensemble([5, 33, 33, 17, 2], 20, activations=acts, alpha=alphas, init="he", sb=0.2, seed=3,
                            dtype=dtype)
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((16, 5)).astype(dtype), rng.standard_normal((16, 2)).astype(dtype)
    rep = ens.run(x, t)
    W, b = [W.copy() for W in ens.weights], [b.copy() for b in ens.biases]
    want = ref.ensemble_forward_backward(W, b, acts, x, t, alphas)
    default = ref.ensemble_forward_backward(W, b, acts, x, t)
    rtol = 2e-4 if dtype == np.float32 else 1e-10
    assert not np.allclose(default["stats"]["grad_W"], want["stats"]["grad_W"], rtol=100 * rtol)  # alphas matter
    for name in ("grad_h", "grad_z", "grad_W", "grad_b", "mean_dphi", "saturated", "dead"):
        got = rep.grad_h[:, 1:] if name == "grad_h" else getattr(rep, name)
        np.testing.assert_allclose(got, want["stats"][name], rtol=rtol, err_msg=name)
    np.testing.assert_allclose(rep.loss, want["loss"], rtol=rtol)


@pytest.mark.parametrize("residual", [False, True])
def test_ensemble_matches_vectorised_reference(dtype, residual, simd_path):
    widths = [3, 6, 6, 6, 2]
    ens = pyvanish.Ensemble(widths, 50, activation="tanh", residual=residual, init="he", sb=0.1, seed=4,
                            dtype=dtype)
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((5, 2)).astype(dtype)
    rep = ens.run(x, t)
    want = ref.ensemble_forward_backward([W.copy() for W in ens.weights], [b.copy() for b in ens.biases],
                                         list(ens.activations), x, t, skips=list(ens.architecture.skips))
    for name in ("grad_h", "grad_z", "grad_W", "grad_b", "mean_dphi", "saturated", "dead"):
        got = rep.grad_h[:, 1:] if name == "grad_h" else getattr(rep, name)
        np.testing.assert_allclose(got, want["stats"][name], rtol=2e-4 if dtype == np.float32 else 1e-11)
    close(rep.grad_x, want["grad_x"], dtype)
    close(rep.loss, want["loss"], dtype)


def test_bitwise_identical_for_any_thread_count(threads):
    ens = pyvanish.Ensemble([4, 8, 8, 8, 1], 203, activation="gelu", residual=True, init="he", seed=1)
    x, t = np.random.default_rng(0).standard_normal((6, 4)), np.zeros((6, 1))
    out = []
    for n in (1, 2, 3):
        pyvanish.set_num_threads(n)
        r = ens.run(x, t)
        out.append((r.stats.copy(), r.grad_x.copy(), r.loss.copy()))
    for o in out[1:]:
        for a, b in zip(out[0], o):
            np.testing.assert_array_equal(a, b)


def test_batchnorm_ensembles_run_member_by_member():
    ens = pyvanish.Ensemble([3, 5, 5, 1], 6, activation="relu", batchnorm=True, init="he", seed=2)
    x, t = np.random.default_rng(1).standard_normal((4, 3)), np.zeros((4, 1))
    rep = ens.run(x, t)
    for m in range(6):
        np.testing.assert_array_equal(rep.stats[m], ens.member(m).gradient_report(x, t).stats)
    gamma = rep.stats[:, :, list(pyvanish._engine.STAT_NAMES).index("grad_gamma")]
    assert np.isfinite(gamma[:, :2]).all() and np.isnan(gamma[:, 2]).all()   # BN on hidden layers only


def test_summary_fractions_and_report():
    ens = pyvanish.Ensemble([1, 1, 1, 1, 1], 2000, activation="sigmoid", output_activation="sigmoid",
                            init="normal", seed=0)
    rep = ens.run([[1.0]], [[0.0]])
    s = rep.summary("grad_W")
    lw = np.log10(rep.grad_W)
    np.testing.assert_allclose(s["q50"], np.median(lw, axis=0))
    np.testing.assert_allclose(s["q05"], np.quantile(lw, 0.05, axis=0))
    np.testing.assert_allclose(s["mean"], lw.mean(axis=0))
    np.testing.assert_allclose(s["std"], lw.std(axis=0))
    # each member's verdict is what its own GradientReport says
    for m in (0, 1, 2, 3, 500, 1999):
        assert rep.verdicts[m] == ens.member(m).gradient_report([[1.0]], [[0.0]]).verdict
    total = sum(rep.fraction(v) for v in ("vanishing", "exploding", "healthy", "undetermined"))
    assert total == pytest.approx(1.0)
    assert rep.fraction("vanishing") > 0.5        # the tutorial network vanishes in distribution
    text = str(rep)
    assert "2000 networks" in text and "verdicts:" in text
    d = rep.to_dict()
    assert d["members"] == 2000 and len(d["log10_grad_h"]["q50"]) == 5


def test_ensemble_errors():
    with pytest.raises(ValueError, match="n .the number of members. must be a positive integer"):
        pyvanish.Ensemble([2, 2], 0)
    ens = pyvanish.Ensemble([2, 3, 1], 4)
    with pytest.raises(ValueError, match=r"x has shape \(3, 3\), expected \(B, 2\) or \(4, B, 2\)"):
        ens.run(np.ones((3, 3)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="x contains NaN"):
        ens.run([[np.nan, 1.0]], [[0.0]])
    with pytest.raises(IndexError):
        ens.member(4)


def test_long_runs_release_the_gil():
    ens = pyvanish.Ensemble([32] + [32] * 30 + [1], 400, activation="tanh", seed=0)
    x, t = np.ones((16, 32)), np.zeros((16, 1))
    count = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1

    th = threading.Thread(target=spin)
    th.start()
    time.sleep(0.01)
    c0 = count[0]
    t0 = time.perf_counter()
    ens.run(x, t)
    elapsed = time.perf_counter() - t0
    c1 = count[0]
    stop.set()
    th.join()
    assert elapsed > 0.02                      # long enough to matter
    assert c1 - c0 > 1000                      # the other thread ran meanwhile


def quantile(col, q):
    """numpy.quantile's linear rule, written out, with infinite ends kept
    (numpy returns NaN when interpolating next to -inf)."""
    s = np.sort(col)
    pos = q * (len(s) - 1)
    lo = int(np.floor(pos)); hi = min(lo + 1, len(s) - 1); t = pos - lo
    a, b = s[lo], s[hi]
    if a == b or t == 0:
        return a
    if a == -np.inf:
        return -np.inf
    if b == np.inf:
        return np.inf
    return a + (b - a) * t if t < 0.5 else b - (b - a) * (1 - t)


def numpy_summary(v):
    with np.errstate(divide="ignore", invalid="ignore"):
        lv = np.log10(v)
    fin = np.where(np.isfinite(lv), lv, np.nan)
    lq = np.where(np.isnan(lv), -np.inf, lv)
    out = {"mean": np.nanmean(fin, axis=0), "std": np.nanstd(fin, axis=0)}
    for name, q in (("q05", 0.05), ("q50", 0.5), ("q95", 0.95)):
        out[name] = np.array([quantile(lq[:, c], q) for c in range(v.shape[1])])
        finite_cols = np.isfinite(lq).all(axis=0)
        np.testing.assert_allclose(out[name][finite_cols], np.quantile(lq[:, finite_cols], q, axis=0))
    return out


@pytest.mark.parametrize("E", [1, 2, 7, 20, 1001])
def test_log10_summary_matches_numpy(E, threads):
    from pyvanish.ensemble import _summary

    rng = np.random.default_rng(E)
    v = 10.0 ** rng.uniform(-300, 300, (E, 4))
    v[rng.random((E, 4)) < 0.1] = 0.0           # underflowed gradients: log10 = -inf
    v[:, 3] = 2.5                                # a constant column
    if E > 3:
        v[1, 1] = np.inf
        v[2, 1] = np.nan
    for n in (1, 2):
        pyvanish.set_num_threads(n)
        got = _summary(v)
        want = numpy_summary(v)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=k)


def test_exploding_members_are_counted_like_the_single_engine():
    # sw = 1e200: every layer from the second on overflows
    ens = pyvanish.Ensemble([4] + [8] * 12 + [2], 40, activation="relu", init="normal", sw=1e200, seed=0)
    x, t = np.ones((3, 4)), np.zeros((3, 2))
    rep = ens.run(x, t)
    assert (rep.nonfinite.sum(axis=1) > 0).any()
    for m in (0, 17, 39):
        single = ens.member(m).gradient_report(x, t)
        # which overflowed sums become inf and which NaN depends on the
        # summation order (and on FMA): the counts may differ, not the verdict
        assert (rep.nonfinite[m] > 0).tolist() == (single.nonfinite > 0).tolist()
        assert rep.verdicts[m] == single.verdict == "exploding"


@pytest.mark.parametrize("widths", [[1, 1, 1, 1], [5, 7, 3], [16, 16, 16, 4]])
@pytest.mark.parametrize("per_member", [False, True])
def test_tiles_gathered_and_inputs_broadcast_change_no_bit(widths, per_member, dtype, simd_path):
    # tiles of 16 members out of 70: each tile's stored parameters are gathered into a
    # buffer of its own (Ensemble::gathers), a shared x broadcast to the tile's lanes, and
    # width-1 layers take the one-output lane loops; one tile of all 70 does none of the
    # gathering. Every lane's sums are the same operations in the same order: bitwise equal,
    # and equal to the single-network engine's.
    E = 70
    ens = pyvanish.Ensemble(widths, E, activation="tanh", init="xavier_normal", sb=0.3, seed=3, dtype=dtype)
    rng = np.random.default_rng(5)
    shape = (E, 4) if per_member else (4,)
    x = rng.standard_normal(shape + (widths[0],)).astype(dtype)
    t = rng.standard_normal(shape + (widths[-1],)).astype(dtype)
    ens._engine.tile = 16
    small = ens.run(x, t)
    ens._engine.tile = 256
    whole = ens.run(x, t)
    np.testing.assert_array_equal(small.stats, whole.stats)
    np.testing.assert_array_equal(small.loss, whole.loss)
    np.testing.assert_array_equal(small.grad_x, whole.grad_x)
    np.testing.assert_array_equal(small.moments, whole.moments)
    for m in (0, 17, 69):
        single = ens.member(m).gradient_report(x[m] if per_member else x, t[m] if per_member else t)
        close(small.stats[m], single.stats, dtype)
        close(small.loss[m], single.loss, dtype)


@pytest.mark.parametrize("sw", [0.2, 1.0, 3.0, 6.0])
def test_every_verdict_follows_the_rule_from_the_statistics(sw):
    """The engine's vectorised verdicts (64 members at a time) are the documented rule
    applied to each member's own statistics: any NaN/Inf exploding; else log10 of the
    signal and weight ratios (NaN ignored) against +-2 decades."""
    ens = pyvanish.Ensemble([4] * 9, 333, activation="tanh", init="normal", sw=sw, seed=3)
    rep = ens.run(*ens.architecture.default_batch(3, 0))
    names = list(pyvanish._engine.STAT_NAMES)
    st = rep.stats
    nonfinite = st[:, :, names.index("nonfinite_act")].sum(1) + st[:, :, names.index("nonfinite_grad")].sum(1)
    expected = []
    for m in range(ens.members):
        logs = []
        for s in ("grad_h", "grad_W"):
            with np.errstate(divide="ignore", invalid="ignore"):
                r = st[m, 0, names.index(s)] / st[m, -1, names.index(s)]
            if r >= 0:
                logs.append(math.log10(r) if r > 0 else -math.inf)
        if nonfinite[m] > 0:
            expected.append("exploding")
        elif not logs:
            expected.append("undetermined")
        else:
            expected.append("exploding" if max(logs) > 2 else ("vanishing" if min(logs) < -2 else "healthy"))
    assert list(rep.verdicts) == expected
    for m in (0, 64, 332):
        assert rep.verdicts[m] == ens.member(m).gradient_report(*ens.architecture.default_batch(3, 0)).verdict


def test_verdicts_of_ratios_within_the_band_of_the_threshold():
    """Members whose signal ratio sits within a relative 1e-9 of 10^+-2 (where the
    vectorised comparisons defer to log10): the verdicts are log10's, the same as each
    member's own report. Identity layers 1 -> 1 -> 1 with w_2 = r and w_1 = r make the
    signal ratio |dL/dh_1| / |dL/dh_2| = r (to the last bit) and the weight ratio 1."""
    rs = [100.0 * (1 + 1e-11), 100.0, 100.0 * (1 - 1e-11), 0.01 * (1 - 1e-11), 0.01, 0.01 * (1 + 1e-11), 7.0]
    want = ["exploding", "healthy", "healthy", "vanishing", "healthy", "healthy", "healthy"]
    ens = pyvanish.Ensemble([1, 1, 1], len(rs), activation="identity", output_activation="identity", seed=0)
    for m, r in enumerate(rs):
        ens.weights[0][m] = r
        ens.weights[1][m] = r
        ens.biases[0][m] = 0.0
        ens.biases[1][m] = 0.0
    x, t = np.array([[1.0]]), np.array([[0.5]])
    rep = ens.run(x, t)
    names = list(pyvanish._engine.STAT_NAMES)
    ratio = rep.stats[:, 0, names.index("grad_h")] / rep.stats[:, -1, names.index("grad_h")]
    assert all(abs(q / r - 1) < 1e-9 for q, r in zip(ratio, rs))   # in the band, as meant
    assert list(rep.verdicts) == want
    for m in range(len(rs)):
        assert ens.member(m).gradient_report(x, t).verdict == want[m]
