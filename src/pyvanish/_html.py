"""HTML for Jupyter: the pieces of every ``_repr_html_`` in pyvanish (no matplotlib).

One place for the markup: a card (a titled block), a table, a verdict badge and an
inline-SVG sparkline of per-layer log10 values. Every piece of text passes through
:func:`text` (HTML-escaped); markup built here is an :class:`Html` string, which the
table inserts as it is. Deep networks are elided to a few rows (:func:`elide`) and
long series are thinned to the sparkline's width, so a display stays a few kilobytes
whatever the depth.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Text and background colour of each verdict's badge (the same hues as the plots' conventions:
#: blue vanishing, red exploding, green healthy).
VERDICT_COLOURS = {
    "vanishing": ("#174a94", "#dbe7fa"),
    "exploding": ("#9c1c1c", "#fadcdc"),
    "healthy": ("#1b6b2b", "#d9f2de"),
    "undetermined": ("#555555", "#ececec"),
}
#: Line colours of a sparkline's series, in order.
SERIES_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
#: Rows a table keeps before eliding the middle (see :func:`elide`).
MAX_ROWS = 12

_FONT = "font-family: var(--jp-code-font-family, monospace); font-size: 12px"
_CELL = "padding: 1px 8px; border: none"


class Html(str):
    """A string that is already HTML (inserted unescaped by :func:`table` and :func:`card`)."""

    __slots__ = ()


def text(value: Any) -> Html:
    """``value`` as escaped HTML text (``str`` of it; an :class:`Html` string is kept)."""
    return value if isinstance(value, Html) else Html(html.escape(str(value), quote=True))


def badge(verdict: str) -> Html:
    """The verdict as a coloured badge (``<span class="pyvanish-verdict" ...>``)."""
    fg, bg = VERDICT_COLOURS.get(str(verdict), VERDICT_COLOURS["undetermined"])
    style = f"color: {fg}; background: {bg}; font-weight: bold; padding: 0 6px; border-radius: 4px"
    return Html(f'<span class="pyvanish-verdict" style="{style}">{text(verdict)}</span>')


def strong(value: Any) -> Html:
    """Bold text."""
    return Html(f"<b>{text(value)}</b>")


def log10(values) -> np.ndarray:
    """log10 of ``|values|`` (float64); NaN where a value is 0, NaN or infinite (nothing to draw)."""
    a = np.abs(np.asarray(values, dtype=np.float64))
    ok = np.isfinite(a) & (a > 0)
    out = np.full(a.shape, np.nan)
    np.log10(a, out=out, where=ok)
    return out


def _thin(x: np.ndarray, n: int) -> np.ndarray:
    """Indices of at most ``n`` points spread evenly over ``x`` (first and last kept)."""
    if len(x) <= n:
        return np.arange(len(x))
    return np.unique(np.linspace(0, len(x) - 1, n).round().astype(np.int64))


def sparkline(
    series: Sequence[tuple[str, Any, Any]],
    *,
    band: tuple[Any, Any, Any] | None = None,
    width: int = 180,
    height: int = 36,
) -> Html:
    """An inline SVG of one or more series of log10 values against their x positions.

    Parameters
    ----------
    series : sequence of (label, x, y)
        ``y`` are log10 values (NaN: a gap in the line); ``x`` their positions
        (e.g. layer numbers). Each series is a ``<polyline>`` whose
        ``data-x``/``data-y`` attributes hold the drawn points (y to 4 decimals),
        so a test can read them back; its ``<title>`` is the label and range.
    band : (x, lo, hi), optional
        A shaded band between two log10 series (e.g. the 5-95 % of an ensemble),
        drawn in the first series' colour behind the lines.
    width, height : int
        Size in pixels. Series longer than ``width`` points are thinned to
        that many (evenly spaced, first and last kept).

    Returns
    -------
    Html
        ``<svg class="pyvanish-sparkline" ...>...</svg>``; an empty string when
        no series has a finite value.
    """
    drawn = []
    for label, x, y in series:
        x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
        keep = _thin(x, width)
        drawn.append((str(label), x[keep], y[keep]))
    bands = None
    if band is not None:
        bx, lo, hi = (np.asarray(v, dtype=np.float64).ravel() for v in band)
        keep = _thin(bx, width)
        bands = (bx[keep], lo[keep], hi[keep])
    ys = [y[np.isfinite(y)] for _, _, y in drawn] + ([v[np.isfinite(v)] for v in bands[1:]] if bands else [])
    ys = [v for v in ys if v.size]
    if not ys:
        return Html("")
    ymin, ymax = float(min(v.min() for v in ys)), float(max(v.max() for v in ys))
    if ymax - ymin < 1e-12:
        ymin, ymax = ymin - 0.5, ymax + 0.5
    xs = [x for _, x, _ in drawn] + ([bands[0]] if bands else [])
    xmin, xmax = float(min(x.min() for x in xs if x.size)), float(max(x.max() for x in xs if x.size))
    span = xmax - xmin or 1.0
    pad = 2.0

    def px(x):
        return pad + (x - xmin) / span * (width - 2 * pad)

    def py(y):
        return pad + (ymax - y) / (ymax - ymin) * (height - 2 * pad)

    parts = [
        f'<svg class="pyvanish-sparkline" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="vertical-align: middle; background: #fafafa">'
    ]
    if bands is not None:
        bx, lo, hi = bands
        ok = np.isfinite(lo) & np.isfinite(hi)
        if ok.any():
            upper = [f"{px(a):.1f},{py(b):.1f}" for a, b in zip(bx[ok], hi[ok])]
            lower = [f"{px(a):.1f},{py(b):.1f}" for a, b in zip(bx[ok][::-1], lo[ok][::-1])]
            parts.append(
                f'<polygon class="pyvanish-band" points="{" ".join(upper + lower)}" '
                f'fill="{SERIES_COLOURS[0]}" fill-opacity="0.2" stroke="none"/>'
            )
    for k, (label, x, y) in enumerate(drawn):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        finite = y[np.isfinite(y)]
        rng = f": {finite.min():.3g} to {finite.max():.3g}" if finite.size else ": no finite value"
        segments, current = [], []
        for a, b in zip(x, y):
            if math.isfinite(b):
                current.append(f"{px(a):.1f},{py(b):.1f}")
            elif current:
                segments.append(current)
                current = []
        if current:
            segments.append(current)
        data_x = " ".join(f"{a:g}" for a in x)
        data_y = " ".join("nan" if not math.isfinite(b) else f"{b:.4f}" for b in y)
        parts.append(
            f'<g class="pyvanish-series" data-label="{text(label)}" data-x="{data_x}" data-y="{data_y}">'
            f"<title>{text(label + rng)}</title>"
        )
        for seg in segments:
            if len(seg) == 1:
                cx, cy = seg[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="1.5" fill="{colour}"/>')
            else:
                parts.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
        parts.append("</g>")
    parts.append("</svg>")
    return Html("".join(parts))


def legend(labels: Sequence[str]) -> Html:
    """The sparkline's key: each label in its series' colour."""
    return Html(
        " ".join(
            f'<span style="color: {SERIES_COLOURS[k % len(SERIES_COLOURS)]}">&#9473; {text(label)}</span>'
            for k, label in enumerate(labels)
        )
    )


def elide(rows: list, keep: int = MAX_ROWS) -> list:
    """The first and last rows of a long table with one ``⋮`` row between (all of them if few)."""
    if len(rows) <= keep:
        return rows
    head = keep // 2
    tail = keep - head - 1
    width = len(rows[0]) if rows else 1
    gap = [Html(f'<i title="{len(rows) - head - tail} rows elided">&#8942;</i>')] + [""] * (width - 1)
    return rows[:head] + [gap] + rows[len(rows) - tail :]


def table(headers: Sequence[Any], rows: Sequence[Sequence[Any]], *, align: str | None = None) -> Html:
    """An HTML table: a header row, then a row per entry (cells escaped unless :class:`Html`).

    ``align`` has one ``"l"`` or ``"r"`` per column (default: first column left, the rest right).
    """
    align = align or "l" + "r" * (len(headers) - 1)
    side = {"l": "left", "r": "right"}

    def cells(tag: str, values: Sequence[Any]) -> str:
        return "".join(
            f'<{tag} style="{_CELL}; text-align: {side[a]}">{text(v)}</{tag}>' for v, a in zip(values, align)
        )

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return Html(
        f'<table class="pyvanish-table" style="border-collapse: collapse; margin: 4px 0">'
        f"<thead><tr>{cells('th', headers)}</tr></thead><tbody>{body}</tbody></table>"
    )


def card(title: Any, *parts: Any) -> Html:
    """A titled block: the title in bold, then each part on its own line (text escaped, Html kept)."""
    lines = "".join(f"<div>{text(p)}</div>" for p in parts if p is not None and p != "")
    return Html(f'<div class="pyvanish" style="{_FONT}"><div><b>{text(title)}</b></div>{lines}</div>')
