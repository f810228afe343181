"""pyvanish.plot: every figure renders, and what it draws is the report's data."""
import doctest
import importlib
import io
import sys
import warnings

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.patches import StepPatch  # noqa: E402

import pyvanish  # noqa: E402
from pyvanish import plot, theory  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_pyplot_figures():
    yield
    if "matplotlib.pyplot" in sys.modules:   # figures are only registered when pyplot is in use
        sys.modules["matplotlib.pyplot"].close("all")


def _render(ax, path):
    ax.figure.savefig(path, dpi=40)
    assert path.read_bytes()[:8] == PNG


def _line(ax, label):
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return line


def _stairs(ax):
    return [p for p in ax.patches if isinstance(p, StepPatch)]


@pytest.fixture(scope="module")
def cmp():
    return pyvanish.compare(depth=8, width=16, batch=16)


def test_gradient_flow_draws_every_report_array(cmp, tmp_path):
    ax = plot.gradient_flow(cmp)
    _render(ax, tmp_path / "flow.png")
    assert ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 2 * len(cmp.names)
    for name, rep in zip(cmp.names, cmp.reports):
        h, W = _line(ax, f"{name}: grad_h"), _line(ax, f"{name}: grad_W")
        assert h.get_ydata().tolist() == rep.grad_h.tolist()           # 0..L: input first
        assert h.get_xdata().tolist() == list(range(rep.depth + 1))
        assert W.get_ydata().tolist() == rep.grad_W.tolist()
        assert W.get_xdata().tolist() == list(range(1, rep.depth + 1))
        assert h.get_color() == W.get_color() and h.get_linestyle() != W.get_linestyle()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "tutorial (vanishing)" in legend and "relu+he (healthy)" in legend


def test_gradient_flow_single_report_dict_and_errors(cmp):
    rep = cmp["relu+he"]
    ax = plot.gradient_flow(rep, metric="z")
    assert [ln.get_label() for ln in ax.get_lines()] == ["grad_z"]
    assert ax.get_lines()[0].get_ydata().tolist() == rep.grad_z.tolist()
    ax = plot.gradient_flow({"a": rep, "b": cmp["tutorial"]}, metric=["grad_b"])
    assert _line(ax, "b: grad_b").get_ydata().tolist() == cmp["tutorial"].grad_b.tolist()
    with pytest.raises(ValueError, match="metric"):
        plot.gradient_flow(rep, metric="grad_q")
    with pytest.raises(TypeError, match="GradientReport"):
        plot.gradient_flow([rep])


def test_gradient_flow_of_extreme_gradients_renders_without_warnings(tmp_path):
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 4)), rng.standard_normal((4, 1))
    reports = {"tiny": pyvanish.Network([4] * 600 + [1], activation="sigmoid", init="normal", seed=0),   # to 1e-323
               "huge": pyvanish.Network([4] * 300 + [1], activation="identity", init="normal", sw=3.0, seed=0),
               "inf": pyvanish.Network([4] * 330 + [1], activation="identity", init="normal", sw=8.0, seed=0)}
    reports = {k: net.gradient_report(x, t) for k, net in reports.items()}
    assert reports["tiny"].grad_h[0] < 1e-300 and reports["huge"].grad_h.max() > 1e250
    assert reports["inf"].nonfinite.sum() > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # matplotlib's log-axis margins and ticks would overflow
        ax = plot.gradient_flow(reports)
        _render(ax, tmp_path / "extreme.png")
    lo, hi = ax.get_ylim()
    assert 0 < lo < 1e-300 and 1e250 < hi < np.inf
    assert ax.get_title() == "Gradient norm per layer"          # depths differ


def test_gradient_flow_draws_into_given_axes(cmp):
    from matplotlib.figure import Figure

    fig = Figure()
    ax0, ax1 = fig.subplots(1, 2)
    assert plot.gradient_flow(cmp["relu+he"], ax=ax1) is ax1
    assert not ax0.get_lines() and ax1.get_lines()


@pytest.fixture(scope="module")
def ens():
    return pyvanish.ensemble([16] * 9 + [1], n=300, activation="tanh", init="normal", sw=1.2, seed=0)


def test_ensemble_bands_median_band_rms_and_theory(ens, tmp_path):
    ax = plot.ensemble_bands(ens)
    _render(ax, tmp_path / "bands.png")
    s, L = ens.summary("grad_h"), ens.depth
    x = np.arange(L + 1)
    med = _line(ax, "median")
    assert med.get_xdata().tolist() == x.tolist()
    np.testing.assert_allclose(med.get_ydata(), 10.0 ** s["q50"], rtol=1e-13)
    # the band: at each layer the polygon spans exactly [10**q05, 10**q95]
    (band,) = [c for c in ax.collections if c.get_label() == "5-95 % of members"]
    verts = band.get_paths()[0].vertices
    for i in x:
        ys = verts[verts[:, 0] == i, 1]
        np.testing.assert_allclose([ys.min(), ys.max()], [10.0 ** s["q05"][i], 10.0 ** s["q95"][i]], rtol=1e-13)
    # root-mean-square over members, and theory anchored to it at the last hidden layer
    rms = _line(ax, "root-mean-square").get_ydata()
    np.testing.assert_allclose(rms, np.sqrt(np.mean(ens.grad_h ** 2, axis=0)), rtol=1e-13)
    tc = ens.compare_theory()
    (th,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("mean-field theory")]
    assert th.get_xdata().tolist() == list(range(L))
    np.testing.assert_allclose(th.get_ydata(), tc.predicted * rms[L - 1], rtol=1e-13)
    assert th.get_ydata()[L - 1] == rms[L - 1]
    np.testing.assert_allclose(th.get_ydata(), rms[:L], rtol=0.15)     # theory tracks the measurement
    assert f"{tc.chi1:.4g}" in th.get_label()


def test_ensemble_bands_other_quantities_and_theory_switch(ens):
    ax = plot.ensemble_bands(ens, quantity="grad_W", label="A", color="C3")
    assert [ln.get_label() for ln in ax.get_lines()] == ["A: median"]          # no theory for grad_W
    assert _line(ax, "A: median").get_xdata().tolist() == list(range(1, ens.depth + 1))
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), 10.0 ** ens.summary("grad_W")["q50"], rtol=1e-13)
    assert len(plot.ensemble_bands(ens, theory=False).get_lines()) == 1
    with pytest.raises(ValueError, match="theory=False"):
        plot.ensemble_bands(ens, quantity="gain", theory=True)
    const = pyvanish.ensemble([4, 4, 4, 1], n=20, init="constant", value=0.3)
    assert len(plot.ensemble_bands(const).get_lines()) == 1                   # theory does not apply: skipped
    with pytest.raises(ValueError, match="compare_theory"):
        plot.ensemble_bands(const, theory=True)
    with pytest.raises(TypeError, match="EnsembleReport"):
        plot.ensemble_bands(pyvanish.compare(depth=2, width=4, batch=4)["relu+he"])


def test_histograms_count_every_value_of_each_layer(tmp_path):
    net = pyvanish.Network([8, 8, 8, 8, 1], activation="tanh", seed=0)
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((32, 8)), rng.standard_normal((32, 1))
    hs = net.forward(x, all_layers=True)
    dh = net.gradient_report(x, t, return_grads=True).grads["h"]
    ax_h, ax_g = plot.histograms(net, x, t, bins=20, scale="linear")
    _render(ax_h, tmp_path / "hist.png")
    for ax, values in ((ax_h, [hs[0], hs[1], hs[2]]), (ax_g, [dh[1], dh[2], dh[3]])):   # hidden layers 1..3
        stairs = _stairs(ax)
        assert [p.get_label() for p in stairs] == ["layer 1", "layer 2", "layer 3"]
        edges = stairs[0].get_data().edges
        for p, v in zip(stairs, values):
            counts, e = p.get_data().values, p.get_data().edges
            assert counts.sum() == v.size == 32 * 8
            assert e.tolist() == edges.tolist()                               # shared bins
            assert counts.tolist() == np.histogram(v.ravel(), edges)[0].tolist()
    # log scale: log10 |dL/dh_l| of the nonzero entries
    _, ax_g = plot.histograms(net, x, t, layers=[1, 4], bins=10)
    for p, g in zip(_stairs(ax_g), (dh[1], dh[4])):
        assert p.get_data().values.sum() == np.count_nonzero(g)
        lg = np.log10(np.abs(g[g != 0]))
        assert p.get_data().values.tolist() == np.histogram(lg, p.get_data().edges)[0].tolist()
    with pytest.raises(ValueError, match="layers must be in 1..4"):
        plot.histograms(net, x, t, layers=[0])


def test_histograms_default_layers_of_a_deep_network():
    net = pyvanish.Network([4] * 20 + [1], activation="relu", init="he", seed=1)
    x = np.random.default_rng(1).standard_normal((16, 4))
    ax_h, ax_g = plot.histograms(net, x, np.zeros((16, 1)), bins=8)
    assert [p.get_label() for p in _stairs(ax_h)] == [f"layer {l}" for l in (1, 6, 10, 14, 19)]


@pytest.fixture(scope="module")
def histories():
    X, T = pyvanish.teacher_task(64, 4, seed=0)
    out = {}
    for act in ("sigmoid", "tanh"):
        net = pyvanish.Network([4, 8, 8, 8, 1], activation=act, seed=0)
        out[act] = pyvanish.train(net, X, T, steps=30, batch_size=16, lr=0.1, record_every=3)
    return out


def test_training_heatmap_is_the_history_array(histories, tmp_path):
    h = histories["sigmoid"]
    ax = plot.training_heatmap(h)
    _render(ax, tmp_path / "heat.png")
    (mesh,) = ax.collections
    arr = mesh.get_array()
    assert arr.shape == (4, len(h.step))                                    # layers x recorded steps
    np.testing.assert_array_equal(np.ma.getdata(arr), h.update_ratio.T)
    assert not np.ma.getmaskarray(arr).any()
    assert type(mesh.norm).__name__ == "LogNorm"
    ax = plot.training_heatmap(h, quantity="grad_h")
    np.testing.assert_array_equal(np.ma.getdata(ax.collections[0].get_array()), h.grad_h.T)
    ax = plot.training_heatmap(h, quantity="saturated")
    assert type(ax.collections[0].norm).__name__ == "Normalize"
    with pytest.raises(ValueError, match="quantity"):
        plot.training_heatmap(h, quantity="loss")


def test_loss_curves(histories, tmp_path):
    ax = plot.loss_curves(histories)
    _render(ax, tmp_path / "loss.png")
    for name, h in histories.items():
        line = _line(ax, name)
        assert line.get_xdata().tolist() == h.step.tolist()
        assert line.get_ydata().tolist() == h.loss.tolist()
    assert len(plot.loss_curves(histories["tanh"]).get_lines()) == 1
    # a diverging run ends with a marker naming why it stopped
    X, T = pyvanish.teacher_task(64, 4, seed=0)
    bad = pyvanish.train(pyvanish.Network([4, 8, 8, 1], activation="relu", init="he", seed=0), X, T,
                         steps=50, lr=1e6)
    assert bad.stopped
    ax = plot.loss_curves({"diverged": bad})
    assert [c.get_label() for c in ax.collections] == [f"diverged: {bad.stopped}"]


def test_phase_diagram_is_theory(tmp_path):
    import time

    sw2, sb2 = np.linspace(0.5, 4, 60), np.linspace(0, 0.3, 40)
    t0 = time.perf_counter()
    ax = plot.phase_diagram("tanh", sw2, sb2)
    _render(ax, tmp_path / "phase.png")
    assert time.perf_counter() - t0 < 10
    (mesh,) = [c for c in ax.collections if hasattr(c, "get_coordinates")]
    np.testing.assert_array_equal(np.ma.getdata(mesh.get_array()), theory.phase_diagram("tanh", sw2, sb2))
    line = _line(ax, "critical line")
    np.testing.assert_array_equal(line.get_xdata(), theory.critical_line("tanh", sb2))
    np.testing.assert_array_equal(line.get_ydata(), sb2)
    assert mesh.norm(1.0) == pytest.approx(0.5)                              # centred at chi1 = 1
    assert mesh.norm(mesh.norm.vmin) == pytest.approx(0.0) and mesh.norm(mesh.norm.vmax) == pytest.approx(1.0)
    ax = plot.phase_diagram("relu", [1.0, 2.0, 3.0], [0.0, 0.1], critical=False)
    assert ax.collections[0].get_array().tolist() == [[0.5, 1.0, 1.5], [0.5, 1.0, 1.5]]
    assert not ax.get_lines()


def test_jacobian_histogram_counts_every_singular_value(tmp_path):
    x = np.random.default_rng(0).standard_normal((16, 8))
    spectra = {i: pyvanish.Network([8] * 7, init=i, seed=0).jacobian_spectrum(x)
               for i in ("orthogonal", "xavier_normal")}
    ax = plot.jacobian_histogram(spectra, bins=15)
    _render(ax, tmp_path / "jac.png")
    assert ax.get_xscale() == "log"
    for p, (name, s) in zip(_stairs(ax), spectra.items()):
        assert p.get_label().startswith(name)
        assert p.get_data().values.sum() == s.singular_values.size == 16 * 8
        assert p.get_data().values.tolist() == np.histogram(s.singular_values.ravel(), p.get_data().edges)[0].tolist()
    # ReLU leaves exact zeros: left out on the log axis, counted in the legend
    relu = pyvanish.Network([8, 8, 8, 8], activation="relu", output_activation="relu", init="he", seed=0)
    s = relu.jacobian_spectrum(x)
    zeros = int(np.sum(s.singular_values == 0))
    assert zeros > 0
    (p,) = _stairs(plot.jacobian_histogram(s, bins=10))
    assert p.get_data().values.sum() == s.singular_values.size - zeros and f"{zeros} zero" in p.get_label()
    (p,) = _stairs(plot.jacobian_histogram(s, bins=10, log=False))
    assert p.get_data().values.sum() == s.singular_values.size


def test_docstring_examples_run():
    res = doctest.testmod(plot, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted >= 8


def test_missing_matplotlib_import_works_and_calls_say_how_to_install(monkeypatch):
    """pyvanish.plot imports without matplotlib; each function names the extra to install when called."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "pyvanish.plot")
    monkeypatch.delattr(pyvanish, "plot")          # the import below sets it: restored afterwards
    bare = importlib.import_module("pyvanish.plot")
    assert bare is not plot and callable(bare.gradient_flow)
    for name in ("gradient_flow", "ensemble_bands", "histograms", "training_heatmap", "training_heatmaps",
                 "loss_curves", "phase_diagram", "jacobian_histogram"):
        with pytest.raises(ImportError, match=r"pip install 'pyvanish\[plot\]'"):
            getattr(bare, name)(*[None] * (3 if name == "histograms" else 1))


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _legends_clear_of_data(axes, path):
    """Every legend of these axes is drawn, inside the figure and outside every axes' data area."""
    axes = list(np.ravel(axes))
    fig = axes[0].figure
    fig.savefig(path, dpi=60)
    legends = [ax.get_legend() for ax in axes if ax.get_legend() is not None]
    assert legends
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)                 # the layout as saved, measured in pixels
    canvas.draw()
    renderer = canvas.get_renderer()
    figbox = fig.bbox
    for ax in axes:                               # titles are not cut off either
        if ax.get_title():
            box = ax.title.get_window_extent(renderer)
            assert figbox.x0 - 1 <= box.x0 and box.x1 <= figbox.x1 + 1, ax.get_title()
    for leg in legends:
        box = leg.get_window_extent(renderer)
        assert figbox.x0 - 1 <= box.x0 and box.x1 <= figbox.x1 + 1 and figbox.y0 - 1 <= box.y0 <= box.y1 <= figbox.y1 + 1
        for ax in axes:
            assert not _overlaps(box, ax.get_window_extent(renderer)), (leg, ax)
    return legends


def test_legends_are_outside_the_data(cmp, ens, histories, tmp_path):
    (leg,) = _legends_clear_of_data(plot.ensemble_bands(ens), tmp_path / "b.png")
    assert [t.get_text() for t in leg.get_texts()][:2] == ["median", "5-95 % of members"]
    _legends_clear_of_data(plot.gradient_flow(cmp), tmp_path / "f.png")
    _legends_clear_of_data(plot.loss_curves(histories), tmp_path / "l.png")
    net = pyvanish.Network([8, 8, 8, 8, 1], activation="tanh", seed=0)
    x = np.random.default_rng(0).standard_normal((32, 8))
    (leg,) = _legends_clear_of_data(plot.histograms(net, x, np.zeros((32, 1)), bins=8), tmp_path / "h.png")
    assert [t.get_text() for t in leg.get_texts()] == ["layer 1", "layer 2", "layer 3"]
    spectra = {i: pyvanish.Network([8] * 6, init=i, seed=0).jacobian_spectrum(x) for i in ("orthogonal", "xavier_normal")}
    _legends_clear_of_data(plot.jacobian_histogram(spectra, bins=10), tmp_path / "j.png")
    # the phase diagram has no legend over its map: the key is in the title and on the colour bar
    ax = plot.phase_diagram("relu", [1.0, 2.0, 3.0], [0.0, 0.1])
    assert ax.get_legend() is None and not ax.texts
    assert "ordered" in ax.get_title() and "chaotic" in ax.get_title() and "critical line" in ax.get_title()
    _render(ax, tmp_path / "p.png")
    box = ax.title.get_window_extent()
    assert ax.figure.bbox.x0 <= box.x0 and box.x1 <= ax.figure.bbox.x1
    bar_ax = [a for a in ax.figure.axes if a is not ax][0]
    assert [ln.get_ydata()[0] for ln in bar_ax.get_lines()] == [1.0]       # chi1 = 1 marked on the colour bar


def test_training_heatmaps_share_one_colour_scale(histories, tmp_path):
    axes = plot.training_heatmaps(histories)
    _render(axes[0], tmp_path / "heats.png")
    meshes = [ax.collections[0] for ax in axes]
    for mesh, (name, h), ax in zip(meshes, histories.items(), axes):
        np.testing.assert_array_equal(np.ma.getdata(mesh.get_array()), h.update_ratio.T)
        assert ax.get_title() == name
    allv = np.concatenate([h.update_ratio.ravel() for h in histories.values()])
    allv = allv[np.isfinite(allv) & (allv > 0)]
    assert {(m.norm.vmin, m.norm.vmax) for m in meshes} == {(allv.min(), allv.max())}
    # each history alone has a narrower range: separate scales would differ
    assert len({(plot.training_heatmap(h).collections[0].norm.vmin) for h in histories.values()}) == 2
    assert len(axes[0].figure.axes) == len(histories) + 1                  # one colour bar for all panels
    with pytest.raises(ValueError, match="2 histories"):
        plot.training_heatmaps(histories, axes=[axes[0]])


def test_cli_train_plot_uses_one_colour_scale(tmp_path, monkeypatch):
    """`pyvanish train --plot`: the heat maps of the configurations share one colour scale."""
    from pyvanish import cli

    drawn = []
    real = plot.training_heatmaps
    monkeypatch.setattr(plot, "training_heatmaps", lambda *a, **k: drawn.append(real(*a, **k)) or drawn[-1])
    code = cli.main(["train", "--depth", "2", "--width", "4", "--steps", "10", "--samples", "32",
                     "--plot", str(tmp_path / "t.png")], out=io.StringIO())
    assert code == 0 and (tmp_path / "t.png").read_bytes()[:8] == PNG
    (axes,) = drawn
    assert len(axes) == 6 and len({(ax.collections[0].norm.vmin, ax.collections[0].norm.vmax) for ax in axes}) == 1
