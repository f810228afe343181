"""Regenerate the README's figures.

    python tools/make_figures.py docs/figures

writes ``gradient_flow.png`` (the four default configurations of
``pyvanish.compare()``: depth 20, width 64, batch 64, seed 0),
``ensemble_bands.png`` (three tanh ensembles - ordered, critical, chaotic -
next to mean-field theory) and ``phase_diagram.png`` (tanh's chi1 over
(sigma_w^2, sigma_b^2) with the critical line). Deterministic: the same
PNGs byte for byte on the same matplotlib version (no timestamp metadata).
Needs matplotlib (``pip install '.[plot]'``).
"""
from __future__ import annotations

import argparse
import os
import sys

import pyvanish
from pyvanish import plot

DPI = 100


def _save(ax, path: str) -> None:
    ax.figure.savefig(path, dpi=DPI, metadata={"Software": None})
    print(f"wrote {path} ({os.path.getsize(path) / 1024:.0f} KiB)")


def gradient_flow(out: str) -> None:
    cmp = pyvanish.compare(depth=20, width=64, batch=64, seed=0)
    ax = plot.gradient_flow(cmp)
    ax.set_title("The fixes side by side: depth 20, width 64, batch 64, same data and seed")
    _save(ax, os.path.join(out, "gradient_flow.png"))


def ensemble_bands(out: str) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ax, handles = None, []
    for sw, phase in ((0.8, "ordered"), (1.0, "critical"), (2.0, "chaotic")):
        rep = pyvanish.ensemble([32] * 31 + [1], n=500, activation="tanh", init="normal", sw=sw, seed=0)
        ax = plot.ensemble_bands(rep, ax=ax, label=phase)
        chi1 = rep.compare_theory().chi1
        handles.append(Line2D([], [], color=ax.get_lines()[-1].get_color(), linewidth=6, alpha=0.6,
                              label=rf"{phase}: $\sigma_w^2$ = {sw * sw:.3g}, $\chi_1$ = {chi1:.3g}"))
    handles += [Line2D([], [], color="0.3", marker="o", markersize=3, label="median"),
                Patch(color="0.3", alpha=0.25, label="5-95 % of members"),
                Line2D([], [], color="0.3", linestyle="none", marker="x", label="root-mean-square"),
                Line2D([], [], color="0.3", linestyle="--", label="mean-field theory")]
    ax.set_title("Random tanh networks, depth 30, width 32, 500 each: measured vs theory")
    plot.legend_outside(ax, handles=handles)      # to the right of the data, never over it
    _save(ax, os.path.join(out, "ensemble_bands.png"))


def phase_diagram(out: str) -> None:
    ax = plot.phase_diagram("tanh")
    _save(ax, os.path.join(out, "phase_diagram.png"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", default=os.path.join("docs", "figures"), help="output folder")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for make in (gradient_flow, ensemble_bands, phase_diagram):
        make(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
