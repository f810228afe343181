"""The fixes side by side: one depth, width, data and seed, several configurations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import _html
from ._activations import ACTIVATIONS, canonical_activation
from ._text import format_table
from ._validate import int_seed
from .architecture import MAX_DEPTH, default_data
from .init import canonical
from .network import Network
from .report import THRESHOLD_DECADES, GradientReport, fields_equal

#: The recipes people use, by name: the tutorial's problem, then the fixes as
#: practised (a name is a configuration of its own, see :func:`parse_config`).
RECIPES = {
    "tutorial": "sigmoid,xavier",  # the plain sigmoid network of the tutorial
    "relu+he": "relu,he",
    "relu+he+bn": "relu,he,bn",
    "resnet": "relu,he,bn,res",  # ReLU, He, batch norm and residual blocks
    "transformer": "gelu,xavier,preln,res",  # pre-LayerNorm residual blocks h + F(LN(h)), GELU
    "isometry": "tanh,orthogonal,gain=1",  # tanh at the mean-field critical point, orthogonal W
}
#: compare's and train's default configurations: every recipe.
DEFAULT_CONFIGS = tuple(RECIPES)
METRICS = {"W": "grad_W", "h": "grad_h", "z": "grad_z", "b": "grad_b"}
_TITLES = {"grad_W": "|dL/dW_l|", "grad_h": "|dL/dh_l|", "grad_z": "|dL/dz_l|", "grad_b": "|dL/db_l|"}


def parse_config(spec) -> tuple[str, dict]:
    """``(name, Network keyword arguments)`` of a configuration.

    A string is the name of a recipe (:data:`RECIPES`: ``tutorial``,
    ``relu+he``, ``relu+he+bn``, ``resnet``, ``transformer``, ``isometry``) or
    comma-separated: the hidden activation, then optionally an
    initialisation, ``bn`` (batch norm on hidden layers), ``ln`` (layer norm on
    hidden layers), ``res`` (residual hidden layers; ``resK`` for blocks of K
    layers), ``preln`` (layer norm of each residual block's input: the
    pre-norm block ``h + F(LN(h))``), ``scale=S`` (the residual scale),
    ``gain=G`` (the initialisation's gain) and ``sb=S`` (bias scale). E.g.
    ``"tanh,xavier,bn"``, ``"sigmoid,xavier,res2,scale=0.5"``. A dict is
    passed to :class:`Network` as it is (``name`` names it).

    Examples
    --------
    >>> parse_config("sigmoid,xavier,bn")
    ('sigmoid+xavier+bn', {'activation': 'sigmoid', 'init': 'xavier_uniform', 'batchnorm': True})
    >>> parse_config("transformer")[1]
    {'activation': 'gelu', 'init': 'xavier_uniform', 'prenorm': True, 'residual': True, 'residual_block': 1}
    """
    fn = "compare"
    if isinstance(spec, str) and spec.strip().lower() in RECIPES:
        name = spec.strip().lower()
        return name, parse_config(RECIPES[name])[1]
    if isinstance(spec, dict):
        given = dict(spec)
        name = str(given.pop("name", ", ".join(f"{k}={v}" for k, v in given.items())))
        return name, given
    if not isinstance(spec, str) or not spec.strip():
        raise TypeError(f"{fn}: a configuration is a string like 'tanh,xavier,bn' or a dict, got {spec!r}")
    tokens = [s.strip().lower() for s in spec.split(",") if s.strip()]
    if not tokens:
        raise ValueError(
            f"{fn}: configuration {spec!r} is empty; it must start with an activation, one of {', '.join(ACTIVATIONS)}"
        )
    try:
        canonical_activation(tokens[0], fn)
    except ValueError:
        raise ValueError(
            f"{fn}: configuration {spec!r} must start with an activation, one of {', '.join(ACTIVATIONS)}"
        ) from None
    act = tokens[0].replace("-", "_")
    kw: dict = {"activation": act}
    for tok in tokens[1:]:
        if tok in ("bn", "batchnorm"):
            kw["batchnorm"] = True
        elif tok in ("ln", "layernorm"):
            kw["layernorm"] = True
        elif tok in ("preln", "prenorm"):
            kw["prenorm"] = True
        elif tok.startswith("res"):
            block = tok[len("residual") :] if tok.startswith("residual") else tok[3:]
            if block and not block.isdigit():
                raise ValueError(f"{fn}: {tok!r} in {spec!r}: expected res or resK (K an integer)")
            kw["residual"] = True
            kw["residual_block"] = int(block) if block else 1
        elif tok.startswith(("scale=", "gain=", "sb=")):
            key, _, value = tok.partition("=")
            try:
                kw[{"scale": "residual_scale", "gain": "gain", "sb": "sb"}[key]] = float(value)
            except ValueError:
                raise ValueError(f"{fn}: {tok!r} in {spec!r}: expected {key}=<number>") from None
        else:
            kw["init"] = canonical(tok, fn)
    return "+".join(tokens), kw


@dataclass(frozen=True)
class Comparison:
    """Gradient reports of several configurations on the same network shape and data.

    ``str(comparison)`` is a table with a row per layer and a column per
    configuration (the chosen ``metric``), then both ratios and the verdict
    of each. ``reports`` maps each configuration's name to its
    :class:`GradientReport`.
    """

    names: tuple
    reports: tuple
    metric: str
    widths: tuple
    batch: int
    seed: int

    __eq__ = fields_equal  # by value: arrays, NaN == NaN (pickle round trips compare equal)

    def __getitem__(self, name: str) -> GradientReport:
        return self.reports[self.names.index(name)]

    def to_dict(self) -> dict:
        """JSON-safe: per configuration its report's :meth:`GradientReport.to_dict`."""
        return {
            "metric": self.metric,
            "widths": list(self.widths),
            "batch": self.batch,
            "seed": self.seed,
            "configs": {n: r.to_dict() for n, r in zip(self.names, self.reports)},
        }

    def to_frame(self):
        """A pandas DataFrame: rows are layers, columns configurations (the metric)."""
        import pandas as pd

        return pd.DataFrame(
            {n: _metric(r, self.metric) for n, r in zip(self.names, self.reports)},
            index=pd.Index(_rows(self.metric, len(self.widths) - 1), name="layer"),
        )

    def __str__(self) -> str:
        L = len(self.widths) - 1
        cols = [_metric(r, self.metric) for r in self.reports]
        rows = [[str(row)] + [f"{c[i]:.3e}" for c in cols] for i, row in enumerate(_rows(self.metric, L))]
        rows.append([""] * (1 + len(cols)))
        for label, attr in (("log10 signal", "log10_signal_ratio"), ("log10 weight", "log10_weight_ratio")):
            rows.append([label] + [f"{getattr(r, attr):.2f}" for r in self.reports])
        rows.append(["verdict"] + [r.verdict for r in self.reports])
        lines = [
            f"Comparison: {L} layers, widths {_short(self.widths)}, batch {self.batch}, seed {self.seed}",
            f"per-layer {_TITLES[self.metric]}, same data and seed for every column",
            "",
            format_table(["layer", *self.names], rows, align="l" + "r" * len(cols)),
        ]
        lines += [
            "",
            "log10 signal = log10 |dL/dh_1| / |dL/dh_L|  (the backward chain)",
            "log10 weight = log10 |dL/dW_1| / |dL/dW_L|  (how much the first layer learns vs the last)",
            f"verdict: exploding if NaN/Inf or either ratio > 10^{THRESHOLD_DECADES:g}, "
            f"vanishing if either < 10^-{THRESHOLD_DECADES:g}, else healthy",
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        L = len(self.widths) - 1
        shown = ", ".join(f"{n} {r.verdict}" for n, r in zip(self.names[:6], self.reports[:6]))
        more = f", ... ({len(self.names) - 6} more)" if len(self.names) > 6 else ""
        return (
            f"<Comparison {len(self.names)} configurations, {L} layers, widths {_short(self.widths)}, "
            f"batch {self.batch}, seed {self.seed}: {shown}{more}>"
        )

    def _repr_html_(self) -> str:
        """In Jupyter: a row per configuration with its verdict, both log10 ratios and a sparkline
        of log10 of the per-layer metric."""
        L = len(self.widths) - 1
        x = np.arange(L + 1) if self.metric == "grad_h" else np.arange(1, L + 1)  # grad_h: 0 is the input
        rows = []
        for name, rep in zip(self.names, self.reports):
            y = _metric(rep, self.metric)
            rows.append(
                [
                    name,
                    _html.badge(rep.verdict),
                    f"{rep.log10_signal_ratio:.2f}",
                    f"{rep.log10_weight_ratio:.2f}",
                    _html.sparkline([(f"{name}: log10 {_TITLES[self.metric]}", x, _html.log10(y))], height=24),
                ]
            )
        return _html.card(
            f"Comparison: {L} layers, widths {_short(self.widths)}, batch {self.batch}, seed {self.seed}",
            _html.table(
                ["configuration", "verdict", "log10 signal", "log10 weight", f"log10 {_TITLES[self.metric]} per layer"],
                rows,
                align="llrrl",
            ),
            "log10 signal = log10 |dL/dh_1| / |dL/dh_L|; log10 weight = log10 |dL/dW_1| / |dL/dW_L|",
        )


def _rows(metric: str, L: int) -> list:
    return (["x"] if metric == "grad_h" else []) + list(range(1, L + 1))


def _metric(rep: GradientReport, metric: str) -> np.ndarray:
    return np.asarray(getattr(rep, metric))


def _short(w) -> str:
    return "-".join(map(str, w)) if len(w) <= 8 else f"{w[0]}-{w[1]}-...-{w[-2]}-{w[-1]}"


def compare(
    configs: Sequence = DEFAULT_CONFIGS,
    x=None,
    t=None,
    *,
    depth: int = 20,
    width: int = 64,
    input_width: int | None = None,
    output_width: int = 1,
    batch: int = 64,
    seed: int = 0,
    metric: str = "W",
    dtype=np.float64,
    loss: str = "mse",
) -> Comparison:
    """Run several configurations on the same network shape, data and seed.

    Parameters
    ----------
    configs : sequence of str or dict
        See :func:`parse_config`. Default: every recipe of :data:`RECIPES` —
        the tutorial's sigmoid + xavier, ReLU + He, ReLU + He + batch norm, the
        ResNet recipe (+ residual), the transformer recipe (pre-LayerNorm
        residual blocks with GELU) and dynamical isometry (tanh at the
        mean-field critical point with orthogonal weights).
    x, t : array_like, optional
        Inputs ``(B, n_0)`` and targets ``(B, n_L)``; default ``N(0, 1)``
        draws from ``seed``.
    depth, width, input_width, output_width : int
        ``depth`` hidden layers of ``width`` units (``L = depth + 1`` layers).
    batch, seed : int
        Batch size of the generated data; seed of the data and every network
        (``None``: a fresh one, recorded in ``Comparison.seed``).
    metric : {"W", "h", "z", "b"}
        The per-layer column of the table: ``|dL/dW_l|`` (default),
        ``|dL/dh_l|``, ``|dL/dz_l|`` or ``|dL/db_l|``.
    dtype : float32 or float64
    loss : str
        Every network's loss (:data:`pyvanish.LOSSES`); the default data's
        targets follow it (:func:`pyvanish.architecture.default_data`).

    Examples
    --------
    >>> import pyvanish
    >>> cmp = pyvanish.compare(depth=20, width=32, batch=32)
    >>> cmp.names
    ('tutorial', 'relu+he', 'relu+he+bn', 'resnet', 'transformer', 'isometry')
    >>> [cmp[n].verdict for n in cmp.names]     # batch norm alone explodes with depth at this width
    ['vanishing', 'healthy', 'exploding', 'healthy', 'healthy', 'healthy']
    """
    if metric not in METRICS and metric not in METRICS.values():
        raise ValueError(f"compare: metric must be one of {', '.join(METRICS)}, got {metric!r}")
    metric = METRICS.get(metric, metric)
    for name, v in (("depth", depth), ("width", width), ("output_width", output_width), ("batch", batch)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"compare: {name} must be a positive integer, got {v!r}")
    if depth > MAX_DEPTH:
        raise ValueError(f"compare: depth must be <= {MAX_DEPTH:,}, got {depth}")
    if isinstance(configs, (str, dict)):
        configs = [configs]
    if not isinstance(configs, (list, tuple)):
        raise TypeError(f"compare: configs must be a configuration (str or dict) or a list of them, got {configs!r}")
    if input_width is not None and (
        isinstance(input_width, bool) or not isinstance(input_width, (int, np.integer)) or input_width < 1
    ):
        raise ValueError(f"compare: input_width must be a positive integer, got {input_width!r}")
    seed = int_seed(seed, "compare")
    parsed = [parse_config(c) for c in configs]
    if not parsed:
        raise ValueError("compare: configs is empty")
    names = [n for n, _ in parsed]
    if len(set(names)) != len(names):
        raise ValueError(f"compare: configuration names must differ, got {names}")
    widths = [input_width or width] + [width] * depth + [output_width]
    if x is None or t is None:
        x0, t0 = default_data(widths[0], widths[-1], batch, seed, loss)
        x, t = (x0 if x is None else x), (t0 if t is None else t)
    reports = []
    for _name, kw in parsed:
        kw = {"init": "xavier", "loss": loss, **kw, "seed": seed, "dtype": dtype}
        net = Network(widths, **kw)
        reports.append(net.gradient_report(x, t))
    return Comparison(tuple(names), tuple(reports), metric, tuple(widths), int(reports[0].batch), int(seed))
