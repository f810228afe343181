"""Figures of gradient flow: per-layer norms, ensemble bands, histograms, training, theory.

Every function draws into ``ax`` (or ``axes``) when given one, else into a
new figure, and returns the axes; ``ax.figure.savefig("flow.png")`` writes
it. A new figure comes from :func:`matplotlib.pyplot.subplots` when the
caller has imported ``matplotlib.pyplot`` (so notebooks and ``plt.show()``
see it), otherwise it is a bare :class:`matplotlib.figure.Figure`: no GUI
backend is loaded and nothing is registered globally, which suits scripts,
servers and the command line.

Needs matplotlib (``pip install 'pyvanish[plot]'``) when a function is
called; ``pyvanish.plot`` itself imports without it, and the rest of pyvanish
never needs it. Every function plots the report's own arrays, unchanged (the
tests read them back from the axes). Legends sit outside the axes, to the
right, so they never cover data; panels that compare configurations share one
colour scale (:func:`training_heatmaps`).

Examples
--------
>>> import pyvanish
>>> from pyvanish import plot
>>> ax = plot.gradient_flow(pyvanish.compare(depth=10, width=16, batch=16))
>>> ax.get_yscale(), len(ax.get_lines())
('log', 12)
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from functools import cache
from types import SimpleNamespace

import numpy as np

from . import theory as _theory

#: Axis labels of the per-layer statistics.
LABELS = {
    "grad_h": r"$\|\partial L/\partial h_l\|$",
    "grad_z": r"$\|\partial L/\partial z_l\|$",
    "grad_W": r"$\|\partial L/\partial W_l\|_F$",
    "grad_b": r"$\|\partial L/\partial b_l\|$",
    "gain": r"gain $\|\partial L/\partial h_{l-1}\| / \|\partial L/\partial h_l\|$",
    "mean_dphi": r"mean $\varphi'(z_l)$",
    "saturated": "saturated fraction",
    "dead": "dead-unit fraction",
    "update_ratio": r"$\|\Delta W_l\| / \|W_l\|$ per step",
}
_SHORT = {"h": "grad_h", "z": "grad_z", "W": "grad_W", "b": "grad_b"}
_LINESTYLES = ("-", "--", ":", "-.")


# ---------------------------------------------------------------- helpers
@cache
def _mpl() -> SimpleNamespace:
    """matplotlib's pieces, imported on the first call of a plotting function (ImportError naming
    the extra to install when matplotlib is missing)."""
    try:
        import matplotlib
        from matplotlib.colors import FuncNorm, LogNorm, Normalize
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
        from matplotlib.ticker import LogLocator, MaxNLocator
    except ImportError:  # depends on the environment (tested with matplotlib hidden)
        raise ImportError("pyvanish.plot needs matplotlib: pip install 'pyvanish[plot]'") from None

    class SafeLogLocator(LogLocator):
        """matplotlib's LogLocator, minus the ticks past the float64 range that it
        computes (with an overflow warning) when the limits span hundreds of decades."""

        def tick_values(self, vmin, vmax):
            with np.errstate(over="ignore", under="ignore"):
                ticks = np.asarray(super().tick_values(vmin, vmax))
            return ticks[np.isfinite(ticks) & (ticks > 0)]

    return SimpleNamespace(
        matplotlib=matplotlib,
        FuncNorm=FuncNorm,
        LogNorm=LogNorm,
        Normalize=Normalize,
        Figure=Figure,
        Line2D=Line2D,
        MaxNLocator=MaxNLocator,
        SafeLogLocator=SafeLogLocator,
    )


def _axes(ax, nrows=1, ncols=1, figsize=(9.0, 4.5)):
    """``ax`` as given, or new axes (pyplot's if pyplot is imported, else a bare Figure's)."""
    if ax is not None:
        return ax
    if "matplotlib.pyplot" in sys.modules:
        _, new = sys.modules["matplotlib.pyplot"].subplots(nrows, ncols, figsize=figsize, layout="constrained")
    else:
        fig = _mpl().Figure(figsize=figsize, layout="constrained")
        new = fig.subplots(nrows, ncols)
    return tuple(np.ravel(new)) if nrows * ncols > 1 else new


def legend_outside(ax, **kwargs):
    """The axes' legend outside the data: to the right of the axes, top-aligned.

    ``kwargs`` go to :meth:`matplotlib.axes.Axes.legend` (``handles=...``,
    ``title=...``). A figure with constrained layout (every figure this module
    makes) shrinks the axes to make room for it.
    """
    kwargs = {"fontsize": "small", "loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0, **kwargs}
    return ax.legend(**kwargs)


def _metric(name: str, fn: str) -> str:
    name = _SHORT.get(name, name)
    if name not in ("grad_h", "grad_z", "grad_W", "grad_b"):
        raise ValueError(f"{fn}: metric must be grad_h, grad_W, grad_z or grad_b (or h, W, z, b), got {name!r}")
    return name


def _named(obj, cls_name: str, fn: str) -> list:
    """``[(name, obj), ...]`` from one object, a mapping name -> object, or a Comparison."""
    if hasattr(obj, "names") and hasattr(obj, "reports"):  # pyvanish.Comparison
        return list(zip(obj.names, obj.reports))
    if isinstance(obj, Mapping):
        if not obj:
            raise ValueError(f"{fn}: got an empty mapping")
        return [(str(k), v) for k, v in obj.items()]
    if type(obj).__name__ == cls_name:
        return [("", obj)]
    raise TypeError(
        f"{fn}: expected a {cls_name}, a dict name -> {cls_name}"
        f"{' or a Comparison' if cls_name == 'GradientReport' else ''}, got {type(obj).__name__}"
    )


def _layers(quantity: str, n: int) -> np.ndarray:
    """x positions: grad_h has entries for layers 0..L, the rest for 1..L."""
    return np.arange(n) if quantity == "grad_h" else np.arange(1, n + 1)


def _log_scale(ax, axis: str = "y") -> None:
    """Log scale on ``axis``, with autoscale margins that cannot overflow.

    Gradients of 1e-300 and 1e300 are results here; matplotlib's default 5 %
    margin, taken in log space, would step past the float64 range (an
    overflow warning, then infinite limits). The margin shrinks as the
    data's extremes approach 1e+-307, over all the data on the axes (so
    later calls drawing onto the same axes stay consistent).
    """
    lim = ax.dataLim
    lo, hi = (lim.minposy, lim.y1) if axis == "y" else (lim.minposx, lim.x1)
    if 0 < lo <= hi < math.inf:
        llo, lhi = math.log10(lo), math.log10(hi)
        span = lhi - llo
        if span > 0:
            base = float(_mpl().matplotlib.rcParams[f"axes.{axis}margin"])
            margin = min(base, max(0.0, (307 - lhi) / span), max(0.0, (llo + 307) / span))
            ax.margins(**{axis: margin})
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(_mpl().SafeLogLocator())
    target.set_minor_locator(_mpl().SafeLogLocator(subs="auto"))


def _integer_layers(ax) -> None:
    ax.xaxis.set_major_locator(_mpl().MaxNLocator(integer=True))


# ---------------------------------------------------------------- reports
def gradient_flow(reports, ax=None, metric=("grad_h", "grad_W")):
    """Per-layer gradient norms of one or several configurations, on a log axis.

    Parameters
    ----------
    reports : GradientReport, dict name -> GradientReport, or Comparison
        One report, several (the legend uses the names), or the result of
        :func:`pyvanish.compare`.
    ax : matplotlib Axes, optional
        Draw here; default a new figure.
    metric : str or sequence of str
        ``"grad_h"`` (``|dL/dh_l|``, layers 0..L where 0 is the input ``x``),
        ``"grad_W"`` (``|dL/dW_l|_F``, layers 1..L), ``"grad_z"``, ``"grad_b"``
        (or ``"h"``, ``"W"``, ``"z"``, ``"b"``). Default both ``grad_h`` and
        ``grad_W``.

    Returns
    -------
    Axes
        One line per configuration and metric, y-data the report's array,
        labelled ``"<name>: <metric>"``; colour = configuration (its verdict
        in the legend), line style = metric.

    Examples
    --------
    >>> import pyvanish
    >>> cmp = pyvanish.compare(["sigmoid,xavier", "relu,he"], depth=8, width=16, batch=16)
    >>> ax = gradient_flow(cmp, metric="W")
    >>> [line.get_label() for line in ax.get_lines()]
    ['sigmoid+xavier: grad_W', 'relu+he: grad_W']
    >>> ax.get_lines()[0].get_ydata().tolist() == cmp["sigmoid+xavier"].grad_W.tolist()
    True
    """
    _mpl()  # matplotlib, or ImportError naming the extra, before any work
    fn = "gradient_flow"
    metrics = [_metric(m, fn) for m in ([metric] if isinstance(metric, str) else metric)]
    if not metrics:
        raise ValueError(f"{fn}: metric is empty")
    named = _named(reports, "GradientReport", fn)
    Line2D = _mpl().Line2D
    ax = _axes(ax)
    handles = []
    for name, rep in named:
        color = None
        for k, m in enumerate(metrics):
            y = np.asarray(getattr(rep, m))
            (line,) = ax.plot(
                _layers(m, len(y)),
                y,
                linestyle=_LINESTYLES[k % 4],
                marker="o",
                markersize=3,
                color=color,
                label=f"{name}: {m}" if name else m,
            )
            color = line.get_color()
        handles.append(
            Line2D([], [], color=color, marker="o", markersize=3, label=f"{name or 'report'} ({rep.verdict})")
        )
    if len(metrics) > 1 or len(named) == 1:
        handles += [
            Line2D([], [], color="0.3", linestyle=_LINESTYLES[k % 4], label=LABELS[m]) for k, m in enumerate(metrics)
        ]
    _log_scale(ax, "y")
    ax.set_xlabel("layer $l$ (0 = input $x$, $L$ = output)")
    ax.set_ylabel(("gradient norm" if len(metrics) > 1 else LABELS[metrics[0]]) + " (log scale)")
    depths = {r.depth for _, r in named}
    ax.set_title("Gradient norm per layer" + (f", {depths.pop()} layers" if len(depths) == 1 else ""))
    _integer_layers(ax)
    ax.grid(True, which="major", alpha=0.3)
    legend_outside(ax, handles=handles)
    return ax


def ensemble_bands(rep, ax=None, quantity="grad_h", theory=None, *, label=None, color=None):
    """Median and 5-95 % band across an ensemble's members, per layer, on a log axis.

    Draws ``10**q50`` and the band ``10**q05 .. 10**q95`` of
    :meth:`EnsembleReport.summary` (the quantiles of ``log10`` of the
    statistic across members) for each layer.

    With the mean-field overlay (``grad_h`` only): mean-field theory is a
    statement about the mean *square* over random networks,
    ``E|dL/dh_l|^2 ∝ prod_k chi_k`` (:meth:`EnsembleReport.compare_theory`),
    and it predicts only how the gradient changes from layer to layer, not
    its absolute size; the output layer has its own width and activation.
    So two more curves are drawn: the measured root-mean-square over members,
    ``sqrt(mean_m |dL/dh_l|^2)`` (``x`` markers), and the predicted ratios
    ``|dL/dh_l| / |dL/dh_{L-1}|`` for layers ``0..L-1`` multiplied by that
    root-mean-square at the last hidden layer ``L-1``, where the two meet.
    Theory should follow the ``x`` markers. The median can lie well below
    them in the chaotic phase, where the spread across members grows with
    depth and a few large members dominate the mean square.

    Parameters
    ----------
    rep : EnsembleReport
    ax : Axes, optional
    quantity : str
        ``"grad_h"`` (layers 0..L), ``"grad_W"``, ``"grad_z"``, ``"grad_b"``,
        ``"gain"`` (layers 1..L).
    theory : bool, optional
        Overlay mean-field theory (``grad_h`` only). None (default): when it
        applies (``grad_h``, one hidden activation, Gaussian-like weights);
        True: always (raises ``ValueError`` if it does not apply).
    label, color : optional
        Legend prefix and colour, to draw several ensembles on one axes.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import pyvanish
    >>> rep = pyvanish.ensemble([16] * 9 + [1], n=200, activation="tanh", init="normal", sw=1.2)
    >>> ax = ensemble_bands(rep)
    >>> [line.get_label()[:17] for line in ax.get_lines()]
    ['median', 'root-mean-square', 'mean-field theory']
    """
    _mpl()  # matplotlib, or ImportError naming the extra, before any work
    fn = "ensemble_bands"
    if type(rep).__name__ != "EnsembleReport":
        raise TypeError(f"{fn}: expected an EnsembleReport, got {type(rep).__name__}")
    if quantity not in ("grad_h", "grad_z", "grad_W", "grad_b", "gain"):
        raise ValueError(f"{fn}: quantity must be grad_h, grad_W, grad_z, grad_b or gain, got {quantity!r}")
    if theory and quantity != "grad_h":
        raise ValueError(f"{fn}: mean-field theory predicts grad_h only, not {quantity!r}: pass theory=False")
    tc = None
    if theory or (theory is None and quantity == "grad_h"):
        try:
            tc = rep.compare_theory()
        except ValueError:
            if theory:
                raise
    s = rep.summary(quantity)
    x = _layers(quantity, len(s["q50"]))
    lo, med, hi = (10.0 ** np.asarray(s[k], dtype=np.float64) for k in ("q05", "q50", "q95"))
    ax = _axes(ax)
    prefix = f"{label}: " if label else ""
    (line,) = ax.plot(x, med, marker="o", markersize=3, color=color, label=f"{prefix}median")
    color = line.get_color()
    ax.fill_between(x, lo, hi, color=color, alpha=0.25, linewidth=0, label=f"{prefix}5-95 % of members")
    if tc is not None:
        rms = _rms(rep.grad_h)
        ax.plot(x, rms, linestyle="none", marker="x", markersize=4, color=color, label=f"{prefix}root-mean-square")
        L = rep.depth
        ax.plot(
            np.arange(L),
            tc.predicted * rms[L - 1],
            linestyle="--",
            color=color,
            label=rf"{prefix}mean-field theory, $\chi_1$ = {tc.chi1:.4g} ($\sigma_w^2$ = {tc.sigma_w2:.3g}, "
            rf"$\sigma_b^2$ = {tc.sigma_b2:.3g})",
        )
    _log_scale(ax, "y")
    ax.set_xlabel("layer $l$" + (" (0 = input $x$, $L$ = output)" if quantity == "grad_h" else ""))
    ax.set_ylabel(f"{LABELS[quantity]} (log scale)")
    acts = "/".join(sorted(set(rep.activations[:-1]))) or "-"
    ax.set_title(f"{rep.members} random {acts} networks: median and 5-95 % band")
    _integer_layers(ax)
    ax.grid(True, which="major", alpha=0.3)
    legend_outside(ax)
    return ax


def _rms(g: np.ndarray) -> np.ndarray:
    """Root-mean-square over members (axis 0), scaled so the squares cannot overflow."""
    g = np.abs(np.asarray(g, dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.max(g, axis=0)
        m = np.where(m > 0, m, 1.0)
        return m * np.sqrt(np.mean((g / m) ** 2, axis=0))


def histograms(net, x, t, axes=None, layers=None, bins=50, *, scale="log"):
    """Per-layer histograms of activations and back-propagated gradients.

    The figure of Glorot & Bengio (2010): left, the distribution of the
    activations ``h_l`` (from ``net.forward(x, all_layers=True)``); right,
    of the back-propagated gradients ``dL/dh_l`` (from
    ``net.gradient_report(x, t, return_grads=True).grads["h"]``), over all
    samples and units of each chosen layer. All layers share one set of bins
    per panel so their widths compare directly. Non-finite values are left
    out (a report counts them). Batch norm in training mode updates its
    running statistics on each of the two passes.

    Parameters
    ----------
    net : Network
    x, t : array_like
        A batch ``(B, n_0)`` and its targets ``(B, n_L)``.
    axes : pair of Axes, optional
    layers : sequence of int, optional
        Layers ``1..L`` to show; default the hidden layers ``1..L-1``, or 5
        of them evenly spaced (first and last included) when there are more.
    bins : int
        Bins per panel.
    scale : {"log", "linear"}
        Gradient panel: ``log10 |dL/dh_l|`` (default; zeros left out), where
        a vanishing gradient shows as each layer's histogram shifted decades
        to the left; or the values themselves (Glorot & Bengio's picture),
        where every layer but the last few collapses into a spike at 0.

    Returns
    -------
    (Axes, Axes)
        One ``StepPatch`` per layer in each (``.get_data()``: counts, edges).

    Examples
    --------
    >>> import numpy as np, pyvanish
    >>> net = pyvanish.Network([8, 8, 8, 8, 1], activation="tanh", seed=0)
    >>> x, t = np.random.default_rng(0).standard_normal((32, 8)), np.zeros((32, 1))
    >>> ax_h, ax_g = histograms(net, x, t, bins=20)
    >>> [int(p.get_data().values.sum()) for p in ax_h.patches]   # 32 samples x 8 units
    [256, 256, 256]
    """
    _mpl()  # matplotlib, or ImportError naming the extra, before any work
    fn = "histograms"
    if scale not in ("linear", "log"):
        raise ValueError(f"{fn}: scale must be 'linear' or 'log', got {scale!r}")
    L = net.depth
    if layers is None:
        hidden = list(range(1, L)) or [L]
        layers = hidden if len(hidden) <= 6 else sorted({int(round(v)) for v in np.linspace(1, L - 1, 5)})
    layers = [int(l) for l in layers]
    bad = [l for l in layers if not 1 <= l <= L]
    if bad or not layers:
        raise ValueError(f"{fn}: layers must be in 1..{L} (the network has {L} layers), got {layers}")
    grads = net.gradient_report(x, t, return_grads=True).grads["h"]
    hs = net.forward(x, all_layers=True)
    acts = [np.asarray(hs[l - 1], np.float64).ravel() for l in layers]
    gs = [np.asarray(grads[l], np.float64).ravel() for l in layers]
    if scale == "log":
        with np.errstate(divide="ignore"):
            gs = [np.log10(np.abs(g[g != 0])) for g in gs]
    if axes is None:
        axes = _axes(None, 1, 2, figsize=(12.0, 4.2))
    ax_h, ax_g = axes
    cmap = _mpl().matplotlib.colormaps["viridis"]
    colors = [cmap(k / max(1, len(layers) - 1) * 0.9) for k in range(len(layers))]
    for ax, values in ((ax_h, acts), (ax_g, gs)):
        values = [v[np.isfinite(v)] for v in values]
        edges = _edges(np.concatenate(values), bins)
        for l, v, c in zip(layers, values, colors):
            counts, _ = np.histogram(v, edges)
            ax.stairs(counts, edges, color=c, linewidth=1.4, label=f"layer {l}")
        ax.set_ylabel("count (samples x units)")
        ax.grid(True, alpha=0.3)
    legend_outside(ax_g)  # one key for both panels: the same layers in the same colours
    hidden_acts = "/".join(sorted(set(net.activations[:-1]))) or net.activations[-1]
    ax_h.set_xlabel("activation value $h_l$")
    ax_h.set_title(f"Activations ({hidden_acts}, {L} layers, batch {len(acts[0]) // net.widths[layers[0]]})")
    ax_g.set_xlabel(
        r"$\partial L/\partial h_l$" if scale == "linear" else r"$\log_{10} |\partial L/\partial h_l|$ (zeros left out)"
    )
    ax_g.set_title("Back-propagated gradients")
    return ax_h, ax_g


def _edges(values: np.ndarray, bins: int) -> np.ndarray:
    if values.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        pad = 0.5 if lo == 0 else abs(lo) * 0.5
        lo, hi = lo - pad, hi + pad
    return np.linspace(lo, hi, bins + 1)


# ---------------------------------------------------------------- training
_HEAT_QUANTITIES = ("update_ratio", "grad_W", "grad_h", "saturated", "dead")


def _heat(history, quantity: str, fn: str):
    """``(C, x_edges, y_edges, log)``: the masked (layers, R) array of a history and its mesh edges."""
    if quantity not in _HEAT_QUANTITIES:
        raise ValueError(f"{fn}: quantity must be update_ratio, grad_W, grad_h, saturated or dead, got {quantity!r}")
    data = np.asarray(getattr(history, quantity), dtype=np.float64).T  # (layers, R)
    if data.size == 0:
        raise ValueError(f"{fn}: the history has no recorded steps")
    log = quantity in ("update_ratio", "grad_W", "grad_h")
    bad = ~np.isfinite(data) | ((data <= 0) if log else False)
    C = np.ma.masked_array(data, mask=bad)
    first = 0 if quantity == "grad_h" else 1
    y_edges = np.arange(first, first + data.shape[0] + 1) - 0.5
    x_edges = _centres_to_edges(np.asarray(history.step, dtype=np.float64))
    return C, x_edges, y_edges, log


def _heat_norm(arrays: list, log: bool):
    """One colour scale spanning every unmasked value of ``arrays`` (None if all are masked)."""
    values = np.concatenate([np.ma.compressed(C) for C in arrays])
    if values.size == 0:
        return None
    lo, hi = float(values.min()), float(values.max())
    mpl = _mpl()
    if log:
        return mpl.LogNorm(vmin=lo, vmax=hi) if lo < hi else mpl.LogNorm(lo / 10, hi * 10)
    return mpl.Normalize(vmin=0.0, vmax=max(1e-12, hi))


def _heat_panel(ax, history, C, x_edges, y_edges, norm, quantity: str):
    mesh = ax.pcolormesh(x_edges, y_edges, C, norm=norm, cmap="magma", shading="flat")
    ax.set_xlabel("training step")
    ax.set_ylabel("layer $l$")
    ax.yaxis.set_major_locator(_mpl().MaxNLocator(integer=True))
    hidden = "/".join(sorted(set(history.activations[:-1]))) or "-"
    ax.set_title(
        f"{LABELS[quantity]}: {hidden}, {history.optimizer} lr {history.lr:g}"
        + (f" (stopped at step {history.steps_done})" if history.stopped else "")
    )
    return mesh


def training_heatmap(history, ax=None, quantity="update_ratio", *, norm=None):
    """A layer x recorded-step heat map of a training run (log colour scale).

    Parameters
    ----------
    history : TrainingHistory
    ax : Axes, optional
    quantity : str
        ``"update_ratio"`` (``|dW_l| / |W_l|`` of each step's update),
        ``"grad_W"``, ``"grad_h"`` (layers 0..L) on a log colour scale;
        ``"saturated"`` or ``"dead"`` (fractions) on a linear one. Zero and
        non-finite entries are masked (blank).
    norm : matplotlib Normalize, optional
        The colour scale (default: this history's range). To compare runs, use
        :func:`training_heatmaps`, which gives every panel one scale.

    Returns
    -------
    Axes
        Holding one ``QuadMesh`` whose array is ``getattr(history, quantity).T``
        (rows = layers, columns = recorded steps), and a colour bar.

    Examples
    --------
    >>> import pyvanish
    >>> X, T = pyvanish.teacher_task(64, 4, seed=0)
    >>> net = pyvanish.Network([4, 8, 8, 1], activation="sigmoid", seed=0)
    >>> h = pyvanish.train(net, X, T, steps=20, batch_size=16, lr=0.1)
    >>> ax = training_heatmap(h)
    >>> ax.collections[0].get_array().shape          # layers x recorded steps
    (3, 20)
    """
    _mpl()  # matplotlib, or ImportError naming the extra, before any work
    C, x_edges, y_edges, log = _heat(history, quantity, "training_heatmap")
    norm = norm if norm is not None else _heat_norm([C], log)
    ax = _axes(ax)
    mesh = _heat_panel(ax, history, C, x_edges, y_edges, norm, quantity)
    ax.figure.colorbar(mesh, ax=ax, label=LABELS[quantity] + (" (log scale)" if log else ""))
    return ax


def training_heatmaps(histories, axes=None, quantity="update_ratio"):
    """Heat maps of several training runs on one shared colour scale, one panel per run.

    The same colour means the same value in every panel, so layers can be
    compared across configurations (a separate scale per panel would make the
    plain sigmoid network's frozen first layer look as bright as ReLU's).

    Parameters
    ----------
    histories : TrainingHistory or dict name -> TrainingHistory
    axes : sequence of Axes, optional
        One per run (default: a new figure, the panels stacked).
    quantity : str
        As in :func:`training_heatmap`.

    Returns
    -------
    tuple of Axes
        Each holding one ``QuadMesh`` (the run's ``getattr(history, quantity).T``),
        titled with the run's name; every mesh has the same ``norm``, spanning
        all runs, and one colour bar serves them all.

    Examples
    --------
    >>> import pyvanish
    >>> X, T = pyvanish.teacher_task(64, 4, seed=0)
    >>> runs = {a: pyvanish.train(pyvanish.Network([4, 8, 8, 1], activation=a, seed=0), X, T, steps=10, lr=0.1)
    ...         for a in ("tanh", "sigmoid")}
    >>> axes = training_heatmaps(runs)
    >>> len({(ax.collections[0].norm.vmin, ax.collections[0].norm.vmax) for ax in axes})   # one scale
    1
    """
    _mpl()  # matplotlib, or ImportError naming the extra, before any work
    fn = "training_heatmaps"
    named = _named(histories, "TrainingHistory", fn)
    heats = [_heat(h, quantity, fn) for _, h in named]
    log = heats[0][3]
    norm = _heat_norm([C for C, *_ in heats], log)
    if axes is None:
        axes = _axes(None, len(named), 1, figsize=(9.0, 1.0 + 2.4 * len(named)))
    axes = (axes,) if not isinstance(axes, (tuple, list, np.ndarray)) else tuple(np.ravel(axes))
    if len(axes) != len(named):
        raise ValueError(f"{fn}: got {len(axes)} axes for {len(named)} histories")
    mesh = None
    for ax, (name, h), (C, x_edges, y_edges, _) in zip(axes, named, heats):
        mesh = _heat_panel(ax, h, C, x_edges, y_edges, norm, quantity)
        if name:  # the quantity is on the shared colour bar
            ax.set_title(name + (f" (stopped at step {h.steps_done})" if h.stopped else ""))
    axes[0].figure.colorbar(
        mesh, ax=list(axes), label=LABELS[quantity] + (" (log scale, shared)" if log else " (shared)")
    )
    return axes


def _centres_to_edges(c: np.ndarray) -> np.ndarray:
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[:-1] + c[1:]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def loss_curves(histories, ax=None):
    """Training loss against step for one or several runs (log y axis).

    Parameters
    ----------
    histories : TrainingHistory or dict name -> TrainingHistory
    ax : Axes, optional

    Returns
    -------
    Axes
        A line per run (x = ``history.step``, y = ``history.loss``); a run
        that stopped early (diverged) ends with an ``x`` marker.

    Examples
    --------
    >>> import pyvanish
    >>> X, T = pyvanish.teacher_task(64, 4, seed=0)
    >>> runs = {a: pyvanish.train(pyvanish.Network([4, 8, 1], activation=a, seed=0), X, T, steps=10, lr=0.1)
    ...         for a in ("tanh", "sigmoid")}
    >>> [line.get_label() for line in loss_curves(runs).get_lines()]
    ['tanh', 'sigmoid']
    """
    _mpl()  # matplotlib, or ImportError naming the extra, before any work
    named = _named(histories, "TrainingHistory", "loss_curves")
    ax = _axes(ax)
    finite = []
    for name, h in named:
        loss = np.asarray(h.loss, dtype=np.float64)
        (line,) = ax.plot(h.step, loss, label=name or "loss")
        ok = loss[np.isfinite(loss)]
        finite.append(ok)
        if h.stopped and ok.size:
            ax.scatter(
                [h.step[-1]],
                [loss[-1] if np.isfinite(loss[-1]) else ok.max()],
                marker="x",
                color=line.get_color(),
                zorder=3,
                label=f"{name or 'run'}: {h.stopped}",
            )
    finite = np.concatenate(finite)
    positive = bool(finite.size and np.all(finite > 0))
    if positive:
        _log_scale(ax, "y")
    ax.set_xlabel("training step")
    ax.set_ylabel("minibatch loss" + (" (log scale)" if positive else ""))
    ax.set_title("Training loss")
    ax.grid(True, which="major", alpha=0.3)
    legend_outside(ax)
    return ax


# ---------------------------------------------------------------- theory
def phase_diagram(activation="tanh", sw2=None, sb2=None, ax=None, *, alpha=None, critical=True, progress=None):
    """Mean-field phase diagram: ``chi1`` over ``(sigma_w^2, sigma_b^2)`` and the critical line.

    ``chi1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]`` from
    :func:`pyvanish.theory.phase_diagram` on a diverging colour map centred
    at ``chi1 = 1``, log-scaled on each side (blue: ordered phase, gradients
    vanish; white: critical; red: chaotic phase, gradients explode), with the critical line ``chi1 = 1`` from
    :func:`pyvanish.theory.critical_line` drawn on top. The key is outside the
    data: the phases are named in the title, and the critical line is marked
    on the colour bar at ``chi1 = 1``.

    Parameters
    ----------
    activation : str
    sw2, sb2 : array_like, optional
        Grid of weight and bias variances (``Var W = sw2 / fan_in``, ``Var b = sb2``);
        defaults ``np.linspace(0.5, 4, 60)`` and ``np.linspace(0, 0.3, 40)``.
    ax : Axes, optional
    alpha : float, optional
        ``leaky_relu`` slope / ``elu`` scale.
    critical : bool
        Draw the critical line.
    progress : bool, optional
        A progress bar over the grid (see :func:`pyvanish.theory.phase_diagram`).

    Returns
    -------
    Axes
        A ``QuadMesh`` (array: ``chi1``, rows ``sb2``, columns ``sw2``) and,
        with ``critical``, a line labelled ``"critical line"`` with
        x = critical ``sw2``, y = ``sb2``.

    Examples
    --------
    >>> ax = phase_diagram("relu", sw2=[1.0, 2.0, 3.0], sb2=[0.0, 0.1])
    >>> ax.collections[0].get_array().tolist()
    [[0.5, 1.0, 1.5], [0.5, 1.0, 1.5]]
    >>> ax.get_lines()[0].get_xdata().tolist()
    [2.0, 2.0]
    """
    _mpl()  # matplotlib, or ImportError naming the extra, before any work
    sw2 = np.linspace(0.5, 4.0, 60) if sw2 is None else np.asarray(sw2, dtype=np.float64)
    sb2 = np.linspace(0.0, 0.3, 40) if sb2 is None else np.asarray(sb2, dtype=np.float64)
    chi = _theory.phase_diagram(activation, sw2, sb2, alpha=alpha, progress=progress)
    ok = np.isfinite(chi) & (chi > 0)
    C = np.ma.masked_array(chi, mask=~ok)
    lo = min(float(C.min()), 0.99) if ok.any() else 0.5
    hi = max(float(C.max()), 1.01) if ok.any() else 2.0
    ax = _axes(ax, figsize=(8.0, 5.0))
    mesh = ax.pcolormesh(
        sw2,
        sb2,
        C,
        norm=_centred_log_norm(lo, hi),
        cmap="RdBu_r",
        shading="nearest" if len(sw2) > 1 and len(sb2) > 1 else "auto",
    )
    bar = ax.figure.colorbar(mesh, ax=ax, label=r"$\chi_1$ (log scale each side of 1 = critical)")
    below = [v for v in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9) if v >= lo]
    above = [v for v in (1.1, 1.2, 1.3, 1.5, 2, 3, 5, 10, 20, 50, 100) if v <= hi]
    ticks = below[:: -(-len(below) // 5) or 1] + [1] + above[:: -(-len(above) // 5) or 1]
    bar.set_ticks(ticks, labels=[f"{v:g}" for v in ticks])
    bar.ax.minorticks_off()
    phases = []
    if (C < 1).any():
        phases.append("blue: ordered (vanish)")
    if (C > 1).any():
        phases.append("red: chaotic (explode)")
    if critical:
        line = _theory.critical_line(activation, sb2, alpha=alpha, progress=progress)
        ax.plot(line, sb2, color="k", linewidth=2, label="critical line")
        bar.ax.axhline(1.0, color="k", linewidth=2)
        phases.append(r"black: critical line")
        if len(sw2) > 1:
            ax.set_xlim(sw2.min(), sw2.max())
    ax.set_xlabel(r"$\sigma_w^2$  (Var $W_{ij}$ = $\sigma_w^2$ / fan_in)")
    ax.set_ylabel(r"$\sigma_b^2$  (Var $b_i$)")
    ax.set_title(
        f"Mean-field phase diagram, {activation}: " + r"$\chi_1$ at the fixed point $q^*$" + "\n" + "; ".join(phases),
        fontsize="medium",
    )
    return ax


def _centred_log_norm(lo: float, hi: float):
    """Maps ``[lo, 1]`` and ``[1, hi]`` (``lo < 1 < hi``) each logarithmically onto half the colour map."""
    a, b = -math.log(lo), math.log(hi)

    def forward(x):
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.log(x)
        return np.where(v < 0, v / a, v / b)

    def inverse(y):
        return np.exp(np.where(y < 0, y * a, y * b))

    return _mpl().FuncNorm((forward, inverse), vmin=lo, vmax=hi)


def jacobian_histogram(spectra, ax=None, bins=50, *, log=True):
    """Histograms of the singular values of input-output Jacobians ``J = dy/dx``.

    Parameters
    ----------
    spectra : JacobianSpectrum or dict name -> JacobianSpectrum
        From :meth:`pyvanish.Network.jacobian_spectrum`, e.g. orthogonal
        against Gaussian weights at criticality.
    ax : Axes, optional
    bins : int
        Number of bins, shared by all spectra.
    log : bool
        Log-spaced bins on a log x axis (default: spectra span decades);
        singular values that are exactly 0 (e.g. inactive ReLU units) are
        then left out and counted in the legend.

    Returns
    -------
    Axes
        One ``StepPatch`` per spectrum (``.get_data()``: counts, edges); the
        legend gives each spectrum's normalised variance of ``s**2`` (0 =
        dynamically isometric). A dotted line marks ``s = 1``.

    Examples
    --------
    >>> import numpy as np, pyvanish
    >>> x = np.random.default_rng(0).standard_normal((16, 8))
    >>> spectra = {i: pyvanish.Network([8] * 6, init=i, seed=0).jacobian_spectrum(x)
    ...            for i in ("orthogonal", "xavier_normal")}
    >>> ax = jacobian_histogram(spectra, bins=20)
    >>> [int(p.get_data().values.sum()) for p in ax.patches]   # 16 samples x 8 values
    [128, 128]
    """
    _mpl()  # matplotlib, or ImportError naming the extra, before any work
    named = _named(spectra, "JacobianSpectrum", "jacobian_histogram")
    values = [np.asarray(s.singular_values, np.float64).ravel() for _, s in named]
    values = [v[np.isfinite(v)] for v in values]
    zeros = [int(np.sum(v <= 0)) if log else 0 for v in values]
    if log:
        values = [v[v > 0] for v in values]
        allv = np.concatenate(values)
        lo, hi = (float(allv.min()), float(allv.max())) if allv.size else (0.1, 10.0)
        if lo == hi:
            lo, hi = lo / 1.5, hi * 1.5
        edges = np.logspace(math.log10(lo), math.log10(hi), bins + 1)
        edges[0], edges[-1] = lo, hi  # exact ends: the extremes are counted
    else:
        edges = _edges(np.concatenate(values), bins)
    ax = _axes(ax)
    for (name, spec), v, z in zip(named, values, zeros):
        counts, _ = np.histogram(v, edges)
        extra = f", {z} zero" if z else ""
        ax.stairs(
            counts,
            edges,
            linewidth=1.5,
            label=f"{name or 'spectrum'}: " + r"Var $s^2$ / mean$^2$ = " + f"{spec.normalised_variance:.3g}{extra}",
        )
    ax.axvline(1.0, color="0.4", linestyle=":", linewidth=1)
    if log:
        _log_scale(ax, "x")
    ax.set_xlabel(r"singular value $s$ of $J = \partial y/\partial x$" + (" (log scale)" if log else ""))
    ax.set_ylabel("count (samples x singular values)")
    ax.set_title("Input-output Jacobian spectrum (dynamical isometry: all $s$ near 1)")
    ax.grid(True, alpha=0.3)
    legend_outside(ax)
    return ax
