"""Rich display: every result's _repr_html_ (verdict badge, sparkline of its data, escaped text) and
short plain reprs."""
import pickle
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import pyvanish
from pyvanish import _html
from pyvanish.ensemble import LogSummary, _summary

SVG = "{http://www.w3.org/2000/svg}"


def parse(html: str) -> ET.Element:
    """The HTML is well-formed (so every tag closes and every text is escaped)."""
    return ET.fromstring(html)


def series_list(root: ET.Element) -> list:
    """(label, x, y) of every sparkline series in order, read back from its data attributes."""
    out = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "pyvanish-series":
            x = np.array([float(v) for v in g.get("data-x").split()])
            y = np.array([float(v) for v in g.get("data-y").split()])
            out.append((g.get("data-label"), x, y))
    return out


def series(root: ET.Element) -> dict:
    """label -> (x, y) of every sparkline series (labels unique)."""
    out = {label: (x, y) for label, x, y in series_list(root)}
    assert len(out) == len(series_list(root))
    return out


def badges(root: ET.Element) -> list:
    return [e.text for e in root.iter("span") if e.get("class") == "pyvanish-verdict"]


def assert_log10(y, values):
    np.testing.assert_allclose(y, np.round(np.log10(np.abs(np.asarray(values, np.float64))), 4), atol=1e-4)


def short_repr(obj, limit=400):
    r = repr(obj)
    assert len(r) <= limit and r.count("\n") <= 2, r
    assert "array(" not in r
    return r


@pytest.fixture(scope="module")
def report():
    net = pyvanish.Network([16] * 15 + [1], activation="sigmoid", init="xavier", seed=0)
    return net.gradient_report(*net.architecture.default_batch(16, seed=0))


def test_gradient_report_html_and_repr(report):
    root = parse(report._repr_html_())
    assert badges(root) == ["vanishing"] == [report.verdict]
    s = series(root)
    x, y = s["log10 |dL/dh_l|, l = 0..L"]
    assert x.tolist() == list(range(report.depth + 1))
    assert_log10(y, report.grad_h)
    x, y = s["log10 |dL/dW_l|, l = 1..L"]
    assert x.tolist() == list(range(1, report.depth + 1))
    assert_log10(y, report.grad_W)
    rows = list(root.iter("tr"))
    assert len(rows) == 1 + 12                                   # header + 16 rows elided to 12
    assert any("rows elided" in (e.get("title") or "") for e in root.iter("i"))
    r = short_repr(report)
    assert "vanishing" in r and f"{report.log10_signal_ratio:+.2f}" in r and "15 layers" in r


def test_deep_report_display_stays_small():
    net = pyvanish.Network([8] * 400 + [1], activation="tanh", seed=0)
    rep = net.gradient_report(*net.architecture.default_batch(4, seed=0))
    html = rep._repr_html_()
    root = parse(html)
    assert len(html) < 20_000                                    # thinned sparkline, elided table
    x, _ = series(root)["log10 |dL/dh_l|, l = 0..L"]
    assert x[0] == 0 and x[-1] == rep.depth and len(x) <= 180
    assert [td.text for td in list(root.iter("tr"))[-1]][0] == str(rep.depth)   # the last layer is shown
    short_repr(rep)


def test_comparison_html_escapes_names_and_shows_each_verdict():
    cmp = pyvanish.compare(["sigmoid,xavier", "relu,he", {"name": "<script>x & y</script>", "activation": "tanh"}],
                           depth=6, width=8, batch=8)
    html = cmp._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;x &amp; y&lt;/script&gt;" in html
    root = parse(html)
    assert badges(root) == [r.verdict for r in cmp.reports]
    s = series(root)
    for name, rep in zip(cmp.names, cmp.reports):
        x, y = s[f"{name}: log10 |dL/dW_l|"]
        assert x.tolist() == list(range(1, 8))
        assert_log10(y, rep.grad_W)
    r = short_repr(cmp)
    assert "sigmoid+xavier vanishing" in r and "3 configurations" in r


def test_ensemble_report_html_band_and_repr():
    rep = pyvanish.ensemble([8] * 7 + [1], n=300, activation="tanh", init="normal", sw=1.0, seed=0)
    root = parse(rep._repr_html_())
    assert badges(root) == ["healthy"] and rep.fraction("healthy") > 0.5       # the most common verdict
    sh, sw = rep.summary("grad_h"), rep.summary("grad_W")
    s = series(root)
    np.testing.assert_allclose(s["median log10 |dL/dh_l| (band: 5-95 % of members)"][1], np.round(sh["q50"], 4),
                               atol=1e-4)
    np.testing.assert_allclose(s["median log10 |dL/dW_l|"][1], np.round(sw["q50"], 4), atol=1e-4)
    (band,) = [e for e in root.iter(f"{SVG}polygon") if e.get("class") == "pyvanish-band"]
    assert len(band.get("points").split()) == 2 * (rep.depth + 1)           # q95 along, q05 back
    r = short_repr(rep)
    assert "300 networks" in r and f"healthy {100 * rep.fraction('healthy'):.1f} %" in r
    assert len(repr(rep)) < 300                                    # never the per-member arrays


def test_summary_is_still_a_dict_of_arrays_and_displays_as_a_table():
    rep = pyvanish.ensemble([4] * 4 + [1], n=50, seed=0)
    s = rep.summary("grad_W")
    assert isinstance(s, dict) and isinstance(s, LogSummary) and list(s) == ["mean", "std", "q05", "q50", "q95"]
    want = _summary(rep.grad_W)  # mean and std from the engine's run: the same to rounding
    for k in want:
        np.testing.assert_allclose(s[k], want[k], rtol=1e-13, atol=1e-15)
    text = repr(s)
    assert text.splitlines()[0] == "log10 grad_W per layer across 50 members"
    assert text.splitlines()[3].split() == ["1"] + [f"{s[k][0]:.3f}" for k in s]
    assert repr(rep.summary("grad_h")).splitlines()[3].split()[0] == "x"          # grad_h starts at the input
    back = pickle.loads(pickle.dumps(s))
    assert type(back) is LogSummary and back.statistic == "grad_W" and np.array_equal(back["q50"], s["q50"])
    parse(s._repr_html_())


def test_training_history_html_and_repr():
    X, T = pyvanish.teacher_task(128, 8, seed=0)
    net = pyvanish.Network([8, 16, 16, 16, 1], activation="sigmoid", seed=0)
    h = pyvanish.train(net, X, T, steps=400, batch_size=16, lr=0.1, progress=False)
    r = short_repr(h, limit=300)                                   # was 18 KB of arrays
    assert "400 steps of sgd" in r and f"{h.loss[0]:.4g} -> {h.final_loss:.4g}" in r
    root = parse(h._repr_html_())
    s = series(root)
    x, y = s["log10 loss per recorded step"]
    assert x.tolist() == h.step[np.linspace(0, 399, 180).round().astype(int)].tolist()   # thinned to the width
    assert_log10(y, h.loss[x.astype(int)])
    assert_log10(s["log10 |W_l(end) - W_l(start)| / |W_l(start)|"][1], h.moved)
    assert_log10(s["log10 |dL/dW_l| at the last record"][1], h.grad_W[-1])
    assert "completed" in h._repr_html_()
    bad = pyvanish.train(pyvanish.Network([8, 16, 1], activation="relu", init="he", seed=0), X, T, steps=30, lr=1e6,
                         progress=False)
    assert bad.stopped and "stopped early" in bad._repr_html_() and "stopped early" in repr(bad)


def test_sweep_result_html_and_repr():
    res = pyvanish.sweep({"activation": ["sigmoid", "relu"]}, depth=6, width=8, batch=8, seeds=(0, 1),
                         progress=False)
    r = short_repr(res)
    assert r == "<SweepResult 2 configurations, 4 runs, 28 rows: vanishing 2, healthy 2>"
    root = parse(res._repr_html_())
    assert badges(root) == [run["verdict"] for run in res.runs()]
    drawn = series_list(root)
    assert len(drawn) == 4
    for (_, x, y), run in zip(drawn, res.runs()):
        rows = [rec for rec in res.records if rec["config"] == run["config"] and rec["seed"] == run["seed"]]
        assert x.tolist() == [rec["layer"] for rec in rows]
        assert_log10(y, [rec["grad_W"] for rec in rows])


def test_jacobian_spectrum_html_and_repr():
    x = np.random.default_rng(0).standard_normal((16, 8))
    spec = pyvanish.Network([8] * 6, init="orthogonal", seed=0).jacobian_spectrum(x)
    r = short_repr(spec)
    assert f"{spec.normalised_variance:.4g}" in r and "16 samples x 8 singular values" in r
    root = parse(spec._repr_html_())
    x_, y = series(root)["median log10 s_k over samples (band: min to max)"]
    assert x_.tolist() == list(range(1, 9))
    np.testing.assert_allclose(y, np.round(np.median(np.log10(spec.singular_values), axis=0), 4), atol=1e-4)
    assert f"<b>{spec.normalised_variance:.4g}</b>" in spec._repr_html_()


def test_network_html():
    net = pyvanish.Network([4, 8, 8, 8, 1], activation="relu", init="he", residual=True, batchnorm=True, seed=0)
    root = parse(net._repr_html_())
    assert_log10(series(root)["log10 |W_l|_F"][1], [np.linalg.norm(W) for W in net.weights])
    cells = [[td.text for td in tr] for tr in root.iter("tr")][1:]
    assert [c[4] for c in cells] == [None, "h_1", "h_2", None]         # hidden layers 2, 3 are residual
    assert [c[3] for c in cells] == ["yes", "yes", "yes", None]        # batch norm on the hidden layers


def test_sparkline_gaps_and_nothing_to_draw():
    svg = _html.sparkline([("a", [0, 1, 2, 3, 4], [0.0, 1.0, np.nan, 2.0, 3.0])])
    root = parse(svg)
    assert len(list(root.iter(f"{SVG}polyline"))) == 2                 # NaN splits the line
    assert series(root)["a"][1][2] != series(root)["a"][1][2]          # kept as NaN in the data
    assert _html.sparkline([("a", [0, 1], [np.nan, np.nan])]) == ""
    np.testing.assert_array_equal(_html.log10([0.0, 10.0, np.inf, -100.0]), [np.nan, 1.0, np.nan, 2.0])
    assert _html.text("<a & 'b'>") == "&lt;a &amp; &#x27;b&#x27;&gt;"
    assert _html.elide(list(range(5))) == [0, 1, 2, 3, 4]
