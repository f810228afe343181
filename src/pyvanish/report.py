"""GradientReport: what one forward/backward pass says about gradient flow.

Indexing: a network has layers ``l = 1..L``. ``grad_h`` has ``L + 1`` entries,
``grad_h[l] = |dL/dh_l|`` with ``grad_h[0] = |dL/dx|`` (the input gradient);
every other per-layer array has ``L`` entries, entry ``l - 1`` for layer ``l``.
Norms are L2 over the whole batch (Frobenius for weights).

The verdict
-----------
Two ratios, both reported, and both computed by the engine in the same call:

- the **signal ratio** ``|dL/dh_1| / |dL/dh_L|``: how much the backward signal
  shrinks (or grows) between the output and the first layer;
- the **weight ratio** ``|dL/dW_1| / |dL/dW_L|``: how much the first layer can
  learn relative to the last (the *vanishing ratio*).

For ReLU-like activations the weight gradient ``dL/dW_l = dz_l^T h_{l-1}``
carries a forward factor that can cancel the backward one, so a verdict from
the weight ratio alone can call an exploding network healthy. The verdict:

- ``"exploding"`` if any activation or gradient is NaN/Inf, or either ratio
  exceeds ``10**THRESHOLD_DECADES``;
- ``"vanishing"`` if either ratio is below ``10**-THRESHOLD_DECADES``;
- ``"healthy"`` otherwise; ``"undetermined"`` if the output gradient is exactly
  zero (a perfect fit leaves nothing to propagate).

``THRESHOLD_DECADES = 2``: two orders of magnitude between first and last layer.
The verdict is computed in one place, the engine (``csrc/engine/stats.hpp``),
for single networks and for every member of an ensemble alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, Optional

import numpy as np

from . import _html
from ._engine import STAT, STAT_NAMES, THRESHOLD_DECADES
from ._text import format_table

MEAN_DPHI = "mean phi'"
_new, _set_dict = object.__new__, object.__setattr__

# every per-layer statistic but grad_h (which has L + 1 entries), with the gain after the norms
LAYER_FIELDS = STAT_NAMES[1:4] + ("gain",) + STAT_NAMES[4:]


def _column(name: str, counts: bool, doc: str) -> property:
    """A report property reading one statistic's column of ``stats`` (as int64 for counts)."""
    key = (slice(None), STAT[name])
    if counts:
        return property(lambda self: self.stats[key].astype(np.int64), doc=doc)
    return property(lambda self: self.stats[key], doc=doc)


def log10_of(r: float) -> float:
    """log10 of a ratio: -inf for 0, inf for inf, NaN for NaN."""
    if math.isnan(r):
        return math.nan
    if r == 0.0:
        return -math.inf
    if math.isinf(r):
        return math.inf
    return math.log10(r)


def _same(a: Any, b: Any) -> bool:
    """Value equality for report fields: arrays by shape, dtype and values (NaN
    equal to NaN), floats with NaN equal to NaN, tuples/lists/dicts element-wise."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (tuple, list)) and type(a) is type(b):
        return len(a) == len(b) and all(_same(u, v) for u, v in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def fields_equal(self: Any, other: Any) -> bool:
    """``__eq__`` of the frozen result dataclasses (they hold NumPy arrays, which
    the generated ``__eq__`` cannot compare): same class and every compared field
    equal by value (:func:`_same`), so a pickled and unpickled result equals the original."""
    if other.__class__ is not self.__class__:
        return NotImplemented
    return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self) if f.compare)


def _json_float(v: float) -> Any:
    v = float(v)
    if math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


@dataclass(frozen=True)
class GradientReport:
    """Per-layer gradient statistics of one forward/backward pass.

    Build one with :meth:`pyvanish.Network.gradient_report`. ``str(report)``
    is a readable table; :meth:`to_dict` is JSON-safe (non-finite floats
    become the strings ``"nan"``, ``"inf"``, ``"-inf"``); :meth:`to_frame`
    gives a pandas DataFrame, a row per layer.

    Attributes
    ----------
    widths, activations : tuple
        The network's widths ``n_0..n_L`` and the activation of each layer.
    loss : float
        ``1/(2B) sum |y - t|^2``.
    grad_h : ndarray (L + 1,)
        ``|dL/dh_l|``, ``l = 0..L`` (``0``: the input).
    grad_z, grad_W, grad_b : ndarray (L,)
        ``|dL/dz_l|``, ``|dL/dW_l|_F``, ``|dL/db_l|``.
    gain : ndarray (L,)
        ``|dL/dh_{l-1}| / |dL/dh_l|``: the backward gain of each layer.
    mean_dphi, saturated, dead : ndarray (L,)
        Mean ``phi'(z_l)``; fraction of unit-samples with ``|phi'| <= 1%`` of
        its maximum (leaky_relu's negative side counts); fraction of units
        with ``phi' == 0`` on every sample.
    nonfinite_act, nonfinite_grad : ndarray (L,) of int
        NaN/Inf counts in ``z_l, h_l`` and in ``dL/dh_l, dL/dz_l, dL/dW_l, dL/db_l``.
    tiny_grad_W : ndarray (L,) of int
        Entries of ``dL/dW_l`` that are exactly 0 or subnormal (underflowed).
    grad_gamma, grad_beta : ndarray (L,)
        ``|dL/dgamma_l|``, ``|dL/dbeta_l|`` of batch-norm layers (NaN elsewhere).
    signal_ratio : float
        ``|dL/dh_1| / |dL/dh_L|`` (the backward signal, the tutorial's chain).
    weight_ratio : float
        ``|dL/dW_1| / |dL/dW_L|``: how much the first layer learns relative to the last.
    verdict : str
        ``"vanishing"``, ``"exploding"``, ``"healthy"`` or ``"undetermined"`` (see the module docs).
    grads : dict or None
        With ``return_grads=True``: lists ``"W"``, ``"b"``, ``"gamma"``,
        ``"beta"`` (per layer; None where no batch norm), ``"h"``
        (``dL/dh_l``, ``l = 0..L``), ``"u"`` (``dL/du_l``), ``"z"``.
    """

    widths: tuple
    activations: tuple
    dtype: str
    batch: int
    loss: float
    grad_x: float
    stats: np.ndarray = field(repr=False)  # (L, len(STAT_NAMES)) from the engine, read-only
    signal_ratio: float = math.nan
    weight_ratio: float = math.nan
    verdict: str = "undetermined"
    grads: Optional[dict] = field(default=None, repr=False, compare=False)

    __eq__ = fields_equal  # by value: arrays, NaN == NaN (pickle round trips compare equal)

    @classmethod
    def _of(cls, labels: Mapping[str, Any], values: dict) -> GradientReport:
        """The engine's fast path: ``values`` (the engine's dict: batch, loss, grad_x,
        stats, grad_h, signal_ratio, weight_ratio, verdict, grads) plus the network's
        ``labels`` become the report's ``__dict__`` as they are, without the constructor's
        per-field frozen ``__setattr__`` calls (the report of a tutorial network must cost
        about what its engine call costs). ``grad_h`` arrives computed."""
        values.update(labels)
        rep = _new(cls)
        _set_dict(rep, "__dict__", values)
        return rep

    @cached_property
    def grad_h(self) -> np.ndarray:
        out = np.concatenate([[self.grad_x], self.stats[:, STAT["grad_h"]]])
        out.flags.writeable = False
        return out

    @cached_property
    def gain(self) -> np.ndarray:
        g = self.grad_h
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = g[:-1] / g[1:]
        out.flags.writeable = False
        return out

    grad_z = _column("grad_z", False, doc="``|dL/dz_l|``, layers 1..L")
    grad_W = _column("grad_W", False, doc="``|dL/dW_l|_F``, layers 1..L")
    grad_b = _column("grad_b", False, doc="``|dL/db_l|``, layers 1..L")
    mean_dphi = _column("mean_dphi", False, doc="mean ``phi'(z_l)``, layers 1..L")
    saturated = _column("saturated", False, doc="saturated fraction, layers 1..L")
    dead = _column("dead", False, doc="dead-unit fraction, layers 1..L")
    nonfinite_act = _column("nonfinite_act", True, doc="NaN/Inf count in ``z_l`` and ``h_l``")
    nonfinite_grad = _column("nonfinite_grad", True, doc="NaN/Inf count in the gradients of layer l")
    tiny_grad_W = _column("tiny_grad_W", True, doc="entries of ``dL/dW_l`` that are 0 or subnormal")
    grad_gamma = _column("grad_gamma", False, doc="``|dL/dgamma_l|`` of batch-norm layers (NaN elsewhere)")
    grad_beta = _column("grad_beta", False, doc="``|dL/dbeta_l|`` of batch-norm layers (NaN elsewhere)")

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    @property
    def nonfinite(self) -> np.ndarray:
        """NaN/Inf count per layer, activations and gradients together."""
        return self.nonfinite_act + self.nonfinite_grad

    @property
    def log10_signal_ratio(self) -> float:
        """log10 of :attr:`signal_ratio`."""
        return log10_of(self.signal_ratio)

    @property
    def log10_weight_ratio(self) -> float:
        """log10 of :attr:`weight_ratio`."""
        return log10_of(self.weight_ratio)

    def to_dict(self) -> dict:
        """A JSON-safe dict: per-layer lists, the ratios and the verdict."""
        out = {
            "widths": list(self.widths),
            "activations": list(self.activations),
            "dtype": self.dtype,
            "batch": self.batch,
            "loss": _json_float(self.loss),
            "grad_h": [_json_float(v) for v in self.grad_h],
        }
        for name in LAYER_FIELDS:
            arr = getattr(self, name)
            out[name] = [int(v) if arr.dtype.kind == "i" else _json_float(v) for v in arr]
        out.update(
            signal_ratio=_json_float(self.signal_ratio),
            weight_ratio=_json_float(self.weight_ratio),
            log10_signal_ratio=_json_float(self.log10_signal_ratio),
            log10_weight_ratio=_json_float(self.log10_weight_ratio),
            verdict=self.verdict,
        )
        return out

    def to_frame(self):
        """A pandas DataFrame with a row per layer ``1..L`` (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("GradientReport.to_frame needs pandas: pip install pandas") from None
        cols = {
            "layer": np.arange(1, self.depth + 1),
            "width": list(self.widths[1:]),
            "activation": list(self.activations),
            "grad_h": self.grad_h[1:],
        }
        cols.update({name: getattr(self, name) for name in LAYER_FIELDS})
        return pd.DataFrame(cols).set_index("layer")

    def _rows(self) -> list:
        """The text table's rows: the input, then a row per layer (cells formatted)."""
        rows = [["x", self.widths[0], "(input)", f"{self.grad_h[0]:.3e}", "", "", "", "", ""]]
        for l in range(1, self.depth + 1):
            i = l - 1
            rows.append(
                [
                    l,
                    self.widths[l],
                    self.activations[i],
                    f"{self.grad_h[l]:.3e}",
                    f"{self.grad_W[i]:.3e}",
                    f"{self.gain[i]:.3g}",
                    f"{self.mean_dphi[i]:.3g}",
                    f"{100 * self.saturated[i]:.1f}",
                    f"{100 * self.dead[i]:.1f}",
                ]
            )
        return rows

    def _title(self) -> str:
        return (
            f"GradientReport: {self.depth} layers, widths {_widths(self.widths)}, "
            f"batch {self.batch}, {self.dtype}, loss {self.loss:.6g}"
        )

    def _ratio_lines(self) -> list:
        lines = [
            f"signal ratio |dL/dh_1| / |dL/dh_L| = {self.signal_ratio:.3e}  (log10 {self.log10_signal_ratio:+.2f})",
            f"weight ratio |dL/dW_1| / |dL/dW_L| = {self.weight_ratio:.3e}  (log10 {self.log10_weight_ratio:+.2f})",
        ]
        nf = int(self.nonfinite.sum())
        tiny = int(self.tiny_grad_W.sum())
        if nf:
            lines.append(f"non-finite values: {nf} (NaN/Inf in activations or gradients)")
        if tiny:
            lines.append(f"underflow: {tiny} weight-gradient entries are exactly 0 or subnormal")
        return lines

    def __str__(self) -> str:
        lines = [format_table(_HEADERS, self._rows(), align="rrlrrrrrr", title=self._title()), ""]
        lines += self._ratio_lines()
        lines.append(f"verdict: {self.verdict}  (threshold: {THRESHOLD_DECADES:g} decades)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"<GradientReport {self.depth} layers, widths {short_widths(self.widths)}, "
            f"batch {self.batch}, {self.dtype}: "
            f"{self.verdict} (log10 signal ratio {self.log10_signal_ratio:+.2f}, "
            f"log10 weight ratio {self.log10_weight_ratio:+.2f}), loss {self.loss:.6g}>"
        )

    def _repr_html_(self) -> str:
        """The report in Jupyter: the verdict, both ratios, a sparkline of ``log10 |dL/dh_l|`` and
        ``|dL/dW_l|`` per layer, and the per-layer table (the middle elided for deep networks)."""
        L = self.depth
        labels = ("log10 |dL/dh_l|, l = 0..L", "log10 |dL/dW_l|, l = 1..L")
        spark = _html.sparkline(
            [
                (labels[0], np.arange(L + 1), _html.log10(self.grad_h)),
                (labels[1], np.arange(1, L + 1), _html.log10(self.grad_W)),
            ]
        )
        verdict = _html.Html(
            f"verdict: {_html.badge(self.verdict)} "
            f"(exploding if NaN/Inf or either ratio &gt; 10^{THRESHOLD_DECADES:g}, "
            f"vanishing if either &lt; 10^-{THRESHOLD_DECADES:g})"
        )
        return _html.card(
            self._title(),
            verdict,
            *self._ratio_lines(),
            _html.Html(f"{spark} {_html.legend(labels)}"),
            _html.table(_HEADERS, _html.elide(self._rows()), align="rrlrrrrrr"),
        )


_HEADERS = ("layer", "width", "activation", "|dL/dh|", "|dL/dW|", "gain", MEAN_DPHI, "sat %", "dead %")


def short_widths(w) -> str:
    """``64-64-...-64-1``: all widths of a shallow network, the first and last two of a deep one."""
    return "-".join(str(v) for v in w) if len(w) <= 8 else f"{w[0]}-{w[1]}-...-{w[-2]}-{w[-1]}"


def _widths(w) -> str:
    if len(w) <= 8:
        return "-".join(str(v) for v in w)
    return f"{w[0]}-{w[1]}-...-{w[-2]}-{w[-1]} ({len(w) - 1} layers)"
