"""Sweeps: gradient reports over a grid of configurations and seeds, as one tidy table.

:func:`sweep` runs :meth:`Network.gradient_report` for every combination of
the grid's values and every seed, serially or on any
:class:`concurrent.futures.Executor` (threads, processes, a Dask cluster's
``client.get_executor()``), and returns a :class:`SweepResult`: one row per
configuration x seed x layer, in a fixed order whatever the executor.

The table
---------
Columns, in this order (``SweepResult.columns``):

``config``
    Index of the grid point (0-based, grid order).
``depth, width, activation, init, batchnorm, residual``
    Always present: the grid's value, else the keyword default of :func:`sweep`.
*other grid keys*
    Any other key of the grid (e.g. ``sw``, ``sb``, ``residual_scale``),
    in the grid's order. The :class:`Network` keyword ``gain`` (of the
    initialisation) is the column ``init_gain``: ``gain`` is the backward gain.
``seed``
    The seed of the network's initialisation.
``layer, width_l``
    Layer ``l = 1..L`` (``L = depth + 1``) and its width ``n_l``.
``grad_h, grad_z, grad_W, grad_b, gain, mean_dphi, saturated, dead``
    The :class:`GradientReport` arrays at layer ``l``: ``|dL/dh_l|``,
    ``|dL/dz_l|``, ``|dL/dW_l|_F``, ``|dL/db_l|``, the backward gain
    ``|dL/dh_{l-1}| / |dL/dh_l|`` (so ``|dL/dx| = gain * grad_h`` at layer
    1), the mean of ``phi'``, the saturated and dead fractions (floats).
``nonfinite``
    NaN/Inf count in layer ``l``'s activations and gradients (int).
``loss, signal_ratio, weight_ratio, verdict``
    Per configuration and seed, repeated on each of its rows: the loss,
    ``|dL/dh_1| / |dL/dh_L|``, ``|dL/dW_1| / |dL/dW_L|`` and the verdict (str).

Rows are ordered by grid point (``itertools.product`` of the grid's lists
in the grid's key order, the last key fastest), then seed (in the order
given), then layer.

Network shape and data
----------------------
Grid point ``(depth, width, ...)`` is
``Network([input_width or width] + [width] * depth + [output_width], ..., seed=seed)``:
``depth`` hidden layers, ``L = depth + 1`` weight layers, output width 1 by
default - the shape of :func:`pyvanish.compare`. The data are
``x ~ N(0, 1)`` of shape ``(batch, n_0)`` and then ``t ~ N(0, 1)`` of shape
``(batch, n_L)``, drawn from ``numpy.random.default_rng([data_seed, 1])``:
the same for every grid point (with that input width and batch), and the
same as :func:`pyvanish.compare` draws with ``seed=data_seed``, so a sweep
reproduces ``compare``'s reports exactly.
"""

from __future__ import annotations

import csv
import inspect
import itertools
import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _html
from ._text import progress as progress_bar
from .architecture import MAX_DEPTH, default_data

#: Grid keys that every table has (the grid's value, else the default).
CONFIG_KEYS = ("depth", "width", "activation", "init", "batchnorm", "residual")
#: Per-layer columns (after the grid keys).
LAYER_COLUMNS = (
    "seed",
    "layer",
    "width_l",
    "grad_h",
    "grad_z",
    "grad_W",
    "grad_b",
    "gain",
    "mean_dphi",
    "saturated",
    "dead",
    "nonfinite",
)
#: Per-configuration columns, repeated on each of its rows.
RUN_COLUMNS = ("loss", "signal_ratio", "weight_ratio", "verdict")
_STATS = ("grad_z", "grad_W", "grad_b", "gain", "mean_dphi", "saturated", "dead")
_FLOAT_COLUMNS = frozenset(("grad_h",) + _STATS + ("loss", "signal_ratio", "weight_ratio"))
_INT_COLUMNS = frozenset(("config", "seed", "layer", "width_l", "nonfinite"))
_SHAPE_KEYS = ("depth", "width", "input_width", "output_width", "batch", "dtype")
_NOT_GRID = ("widths", "activations", "weights", "biases", "seed", "dtype")
_FORMAT = "pyvanish.sweep"
_COLUMN_OF = {"gain": "init_gain"}  # a grid key whose name a statistic already has


def _network_keys() -> tuple:
    from .network import Network

    return tuple(p for p in inspect.signature(Network).parameters if p not in _NOT_GRID)


def _plain(value, where: str):
    """A plain, JSON-able scalar (str, int, float, bool or None) or TypeError."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"sweep: {where} must be a str, int, float, bool or None, got {value!r}")


def _grid(grid, defaults: dict) -> tuple:
    """``(keys, points, lists)``: the table's grid columns, every grid point as a dict, the value lists."""
    if not isinstance(grid, Mapping):
        raise TypeError(f"sweep: grid must be a dict of lists, e.g. {{'depth': [10, 20]}}, got {type(grid).__name__}")
    allowed = _SHAPE_KEYS + _network_keys()
    for key in list(grid) + list(defaults):
        if key not in allowed:
            raise ValueError(f"sweep: unknown parameter {key!r}; expected one of {', '.join(allowed)}")
    lists = {}
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        if key == "dtype":
            values = [_dtype_name(v) for v in values]
        values = [_plain(v, f"grid[{key!r}] values") for v in values]
        if not values:
            raise ValueError(f"sweep: grid[{key!r}] is empty")
        lists[key] = values
    keys = CONFIG_KEYS + tuple(k for k in lists if k not in CONFIG_KEYS)
    points = []
    for combo in itertools.product(*lists.values()):
        point = {k: defaults.get(k) for k in CONFIG_KEYS}
        point.update(zip(lists, combo))
        points.append(point)
    return keys, points, lists


def _dtype_name(dtype) -> str:
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name not in ("float32", "float64"):
        raise TypeError(f"sweep: dtype must be float32 or float64, got {dtype!r}")
    return name


def _spec(point: dict, defaults: dict, data_seed: int) -> dict:
    """The plain-data description of one grid point that a worker runs."""
    kw = {**defaults, **point}
    shape = {k: kw.pop(k) for k in _SHAPE_KEYS}
    for k in ("depth", "width", "input_width", "output_width", "batch"):
        v = shape[k]
        if (v is not None or k != "input_width") and (type(v) is not int or v < 1):
            raise ValueError(f"sweep: {k} must be an integer >= 1, got {v!r} (grid point {point})")
    if shape["depth"] > MAX_DEPTH:
        raise ValueError(f"sweep: depth must be <= {MAX_DEPTH:,}, got {shape['depth']} (grid point {point})")
    depth, width = shape["depth"], shape["width"]
    widths = [shape["input_width"] or width] + [width] * depth + [shape["output_width"]]
    return {"widths": widths, "network": kw, "batch": shape["batch"], "dtype": shape["dtype"], "data_seed": data_seed}


def data(widths, batch: int, data_seed: int) -> tuple:
    """The sweep's inputs and targets for a network of these widths: ``(x, t)``.

    ``x ~ N(0, 1)`` of shape ``(batch, widths[0])``, then ``t ~ N(0, 1)`` of
    shape ``(batch, widths[-1])``, from ``default_rng([data_seed, 1])`` (the
    draws of :func:`pyvanish.compare` with ``seed=data_seed``).

    Examples
    --------
    >>> x, t = data([4, 8, 1], batch=3, data_seed=0)
    >>> x.shape, t.shape
    ((3, 4), (3, 1))
    """
    return default_data(widths[0], widths[-1], batch, data_seed)


def run_point(spec: dict, seed: int) -> dict:
    """One grid point and seed: the per-layer lists and per-run values of the table.

    A module-level function of plain data (picklable for any executor).

    Examples
    --------
    >>> spec = {"widths": [4, 4, 1], "network": {"activation": "tanh"}, "batch": 8,
    ...         "dtype": "float64", "data_seed": 0}
    >>> out = run_point(spec, seed=0)
    >>> out["layer"], out["width_l"], out["verdict"]
    ([1, 2], [4, 1], 'healthy')
    """
    from .network import Network

    widths = spec["widths"]
    net = Network(widths, **spec["network"], seed=seed, dtype=spec["dtype"])
    x, t = data(widths, spec["batch"], spec["data_seed"])
    rep = net.gradient_report(x, t)
    L = rep.depth
    out = {
        "layer": list(range(1, L + 1)),
        "width_l": [int(w) for w in widths[1:]],
        "grad_h": [float(v) for v in rep.grad_h[1:]],
    }
    for name in _STATS:
        out[name] = [float(v) for v in getattr(rep, name)]
    out["nonfinite"] = [int(v) for v in rep.nonfinite]
    out.update(
        loss=float(rep.loss),
        signal_ratio=float(rep.signal_ratio),
        weight_ratio=float(rep.weight_ratio),
        verdict=rep.verdict,
    )
    return out


def _run_chunk(units: list) -> list:
    """Work unit for executors: ``[(index, spec, seed), ...]`` -> ``[(index, result or error), ...]``."""
    out = []
    for index, spec, seed in units:
        try:
            out.append((index, run_point(spec, seed)))
        except Exception as exc:  # reported by the parent with the configuration's name
            out.append((index, {"error": type(exc).__name__, "message": str(exc)}))
    return out


class _Progress:
    """A progress bar (:func:`pyvanish._text.progress`), or a callable ``f(done, total)``."""

    def __init__(self, progress, total: int):
        self.total, self.done = total, 0
        self.call = progress if callable(progress) else None
        enabled = (None if total > 1 else False) if progress is None else bool(progress)
        self.bar = progress_bar(total, desc="sweep", unit="run", enabled=False if self.call else enabled)

    def update(self, n: int) -> None:
        self.done += n
        self.bar.update(n)
        if self.call is not None:
            self.call(self.done, self.total)

    def close(self) -> None:
        self.bar.close()


def sweep(
    grid,
    *,
    seeds=(0,),
    depth: int = 20,
    width: int = 64,
    input_width: int | None = None,
    output_width: int = 1,
    batch: int = 64,
    data_seed: int = 0,
    dtype: str = "float64",
    executor=None,
    chunksize: int | None = None,
    progress=None,
    **network_kwargs,
) -> SweepResult:
    """Gradient reports for every grid point and seed, as one tidy table.

    Parameters
    ----------
    grid : dict
        Parameter name -> list of values (a single value is a list of one);
        every combination is run. Names: ``depth``, ``width``,
        ``input_width``, ``output_width``, ``batch``, ``dtype`` and any
        keyword of :class:`pyvanish.Network` (``activation``, ``init``,
        ``sw``, ``sb``, ``gain``, ``alpha``, ``batchnorm``, ``residual``,
        ``residual_block``, ``residual_scale``, ...). Values are scalars
        (str, int, float, bool or None).
    seeds : sequence of int
        Initialisation seeds; each grid point runs once per seed.
    depth, width, input_width, output_width, batch, dtype
        Defaults for what the grid does not set (see the module docs for
        the network shape). ``dtype`` is ``"float32"`` or ``"float64"``.
    data_seed : int
        Seed of the inputs and targets, shared by every grid point.
    executor : concurrent.futures.Executor, optional
        Runs the work (e.g. ``ProcessPoolExecutor``,
        ``ThreadPoolExecutor``, ``distributed.Client(...).get_executor()``).
        Work units are module-level functions of plain data; the result is
        identical to the serial run's, row for row. Default: in this process.
    chunksize : int, optional
        Runs per submitted task (default: enough for about 64 tasks).
    progress : bool or callable, optional
        A progress bar on stderr (tqdm if installed). Default: when stderr
        is a terminal. A callable is called as ``progress(done, total)``.
    **network_kwargs
        Fixed :class:`Network` keywords for every grid point (``sw=1.2``, ...).

    Returns
    -------
    SweepResult

    Raises
    ------
    ValueError, TypeError
        An unknown parameter, a non-scalar value, or a grid point that
        :class:`Network` rejects (the message names the grid point and seed).

    Examples
    --------
    >>> import pyvanish
    >>> res = pyvanish.sweep({"activation": ["sigmoid", "relu"], "init": ["xavier", "he"]},
    ...                depth=5, width=16, batch=16, seeds=(0, 1))
    >>> len(res.records), res.columns[:7]          # 4 configurations x 2 seeds x 6 layers
    (48, ('config', 'depth', 'width', 'activation', 'init', 'batchnorm', 'residual'))
    >>> runs = [(r["activation"], r["init"], r["verdict"]) for r in res.runs() if r["seed"] == 0]
    >>> runs  # doctest: +NORMALIZE_WHITESPACE
    [('sigmoid', 'xavier', 'vanishing'), ('sigmoid', 'he', 'vanishing'), ('relu', 'xavier', 'healthy'),
     ('relu', 'he', 'healthy')]
    """
    defaults = {
        "depth": depth,
        "width": width,
        "input_width": input_width,
        "output_width": output_width,
        "batch": batch,
        "dtype": _dtype_name(dtype),
        "activation": "tanh",
        "init": "xavier",
        "batchnorm": False,
        "residual": False,
    }
    for k, v in (
        ("depth", depth),
        ("width", width),
        ("input_width", input_width),
        ("output_width", output_width),
        ("batch", batch),
        ("data_seed", data_seed),
    ):
        _plain(v, k)
    defaults.update({k: _plain(v, k) for k, v in network_kwargs.items()})
    keys, points, lists = _grid(grid, defaults)
    seeds = [seeds] if isinstance(seeds, numbers.Integral) else list(seeds)
    if not seeds or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"sweep: seeds must be a non-empty sequence of integers, got {seeds!r}")
    seeds = [int(s) for s in seeds]
    specs = [_spec(p, defaults, int(data_seed)) for p in points]
    units = [(i * len(seeds) + j, specs[i], s) for i in range(len(specs)) for j, s in enumerate(seeds)]
    results = [None] * len(units)
    bar = _Progress(progress, len(units))
    try:
        if executor is None:
            for unit in units:
                _store(results, _run_chunk([unit]), points, seeds)
                bar.update(1)
        else:
            _run_on(executor, units, results, points, seeds, chunksize, bar)
    finally:
        bar.close()
    records = []
    for c, point in enumerate(points):
        for j, seed in enumerate(seeds):
            out: Any = results[c * len(seeds) + j]
            base = {"config": c, **{_COLUMN_OF.get(k, k): point[k] for k in keys}}
            for i in range(len(out["layer"])):
                row = dict(base, seed=seed)
                for name in LAYER_COLUMNS[1:]:
                    row[name] = out[name][i]
                for name in RUN_COLUMNS:
                    row[name] = out[name]
                records.append(row)
    columns = ("config",) + tuple(_COLUMN_OF.get(k, k) for k in keys) + LAYER_COLUMNS + RUN_COLUMNS
    settings = {"grid": lists, "seeds": seeds, "data_seed": int(data_seed), "defaults": defaults}
    return SweepResult(records, columns, settings)


def _run_on(executor, units, results, points, seeds, chunksize, bar) -> None:
    from concurrent.futures import FIRST_COMPLETED, wait

    size = chunksize or max(1, -(-len(units) // 64))
    chunks = [units[i : i + size] for i in range(0, len(units), size)]
    pending = {executor.submit(_run_chunk, chunk) for chunk in chunks}
    try:
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                out = fut.result()
                _store(results, out, points, seeds)
                bar.update(len(out))
    finally:
        for fut in pending:
            fut.cancel()


def _store(results, out, points, seeds) -> None:
    for index, res in out:
        if "error" in res:
            point, seed = points[index // len(seeds)], seeds[index % len(seeds)]
            kind = {"ValueError": ValueError, "TypeError": TypeError}.get(res["error"], RuntimeError)
            raise kind(
                f"sweep: grid point {index // len(seeds)} {point} with seed {seed}: {res['error']}: {res['message']}"
            )
        results[index] = res


# ---------------------------------------------------------------- the result
class SweepResult:
    """The table of a :func:`sweep`: one row per configuration x seed x layer.

    Attributes
    ----------
    records : list of dict
        The rows, each a dict ``column -> value`` (plain Python scalars), in
        the sweep's order.
    columns : tuple of str
        Column names in order (see the module docs for the schema).
    settings : dict or None
        The grid, seeds, data seed and defaults of the run (kept by
        :meth:`to_json`; None after :meth:`read_csv` or :meth:`read_parquet`).

    Write with :meth:`to_csv`, :meth:`to_json`, :meth:`to_parquet`; read
    back with :meth:`read_csv`, :meth:`read_json`, :meth:`read_parquet`
    (values, types and order round-trip exactly; floats are written with
    ``repr``, non-finite ones as ``nan``/``inf``/``-inf``).
    """

    def __init__(self, records, columns, settings=None):
        self.records = list(records)
        self.columns = tuple(columns)
        self.settings = settings

    def __len__(self) -> int:
        return len(self.records)

    def __eq__(self, other) -> bool:
        """Same columns and the same rows (NaN equals NaN)."""
        if not isinstance(other, SweepResult):
            return NotImplemented
        return self.columns == other.columns and repr(self.records) == repr(other.records)

    def __repr__(self) -> str:
        runs = self.runs()
        n = len({r["config"] for r in runs})
        counts: dict = {}
        for r in runs:
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
        verdicts = ", ".join(f"{v} {c}" for v, c in counts.items())
        return f"<SweepResult {n} configurations, {len(runs)} runs, {len(self.records)} rows: {verdicts or 'no runs'}>"

    def _repr_html_(self) -> str:
        """In Jupyter: a row per configuration x seed with its verdict, both log10 ratios and a
        sparkline of log10 |dL/dW_l| per layer (the middle runs elided for long sweeps)."""
        keys = [k for k in self.columns if k not in set(LAYER_COLUMNS) | set(RUN_COLUMNS) | {"config"}]
        per_run: dict = {}
        for r in self.records:
            per_run.setdefault((r["config"], r["seed"]), []).append(r)
        rows = []
        for layers in per_run.values():
            r = layers[0]
            x = np.array([v["layer"] for v in layers])
            y = _html.log10([v["grad_W"] for v in layers])
            rows.append(
                [r[k] for k in keys]
                + [
                    r["seed"],
                    _html.badge(r["verdict"]),
                    f"{_log10(r['signal_ratio']):.2f}",
                    f"{_log10(r['weight_ratio']):.2f}",
                    _html.sparkline([("log10 |dL/dW_l|", x, y)], width=120, height=20),
                ]
            )
        heads = keys + ["seed", "verdict", "log10 signal", "log10 weight", "log10 |dL/dW_l| per layer"]
        return _html.card(
            repr(self)[1:-1],
            _html.table(heads, _html.elide(rows, 20), align="l" * len(heads)),
        )

    def runs(self) -> list:
        """One dict per configuration x seed: grid values, seed, loss, ratios and verdict."""
        skip = set(LAYER_COLUMNS[1:])
        out = []
        for r in self.records:
            if r["layer"] == 1:
                out.append({k: r[k] for k in self.columns if k not in skip})
        return out

    def __str__(self) -> str:
        runs = self.runs()
        keys = [k for k in self.columns if k not in set(LAYER_COLUMNS) | set(RUN_COLUMNS) | {"config"}]
        head = keys + ["seed", "log10 signal", "log10 weight", "verdict"]
        rows = [
            [str(r[k]) for k in keys]
            + [str(r["seed"]), f"{_log10(r['signal_ratio']):.2f}", f"{_log10(r['weight_ratio']):.2f}", r["verdict"]]
            for r in runs
        ]
        widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(head)]
        fmt = "  ".join(f"{{:>{w}}}" for w in widths)
        lines = [
            f"SweepResult: {len({r['config'] for r in runs})} configurations, {len(runs)} runs, "
            f"{len(self.records)} rows",
            fmt.format(*head),
        ]
        lines += [fmt.format(*row) for row in rows[:40]]
        if len(rows) > 40:
            lines.append(f"... {len(rows) - 40} more runs")
        return "\n".join(lines)

    # ---------------------------------------------------------------- frames
    def to_frame(self):
        """A pandas DataFrame with the table's columns in order (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("SweepResult.to_frame needs pandas: pip install 'pyvanish[frame]'") from None
        return pd.DataFrame.from_records(self.records, columns=list(self.columns))

    @classmethod
    def from_frame(cls, frame) -> SweepResult:
        """The inverse of :meth:`to_frame`."""
        columns = [str(c) for c in frame.columns]
        records = [{c: _typed(c, v) for c, v in zip(columns, row)} for row in frame.itertuples(index=False, name=None)]
        return cls(records, columns)

    def to_parquet(self, path) -> None:
        """Write a Parquet file (needs pandas and pyarrow)."""
        _need_pyarrow("SweepResult.to_parquet")
        self.to_frame().to_parquet(path, index=False)

    @classmethod
    def read_parquet(cls, path) -> SweepResult:
        """Read a file written by :meth:`to_parquet` (needs pandas and pyarrow)."""
        _need_pyarrow("SweepResult.read_parquet")
        import pandas as pd

        return cls.from_frame(pd.read_parquet(path))

    # ---------------------------------------------------------------- text
    def to_csv(self, path) -> None:
        """Write CSV: a header row, floats as ``repr`` (exact), None as an empty field."""
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(self.columns)
            for r in self.records:
                w.writerow(
                    ["" if r[c] is None else repr(r[c]) if isinstance(r[c], float) else r[c] for c in self.columns]
                )

    @classmethod
    def read_csv(cls, path) -> SweepResult:
        """Read a file written by :meth:`to_csv` (types from the schema; grid values inferred)."""
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        if not rows:
            raise ValueError(f"SweepResult.read_csv: {path} is empty")
        columns = rows[0]
        return cls([{c: _parse(c, v) for c, v in zip(columns, row)} for row in rows[1:]], columns)

    def to_json(self, path) -> None:
        """Write strict JSON: ``{"format", "version", "columns", "settings", "records"}``."""
        doc = {
            "format": _FORMAT,
            "version": 1,
            "columns": list(self.columns),
            "settings": self.settings,
            "records": [{c: _json(r[c]) for c in self.columns} for r in self.records],
        }
        with open(path, "w", encoding="utf-8") as f:
            json.dump(doc, f, allow_nan=False)

    @classmethod
    def read_json(cls, path) -> SweepResult:
        """Read a file written by :meth:`to_json`."""
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise ValueError(f"SweepResult.read_json: {path} is not a pyvanish sweep (no format {_FORMAT!r})")
        columns = doc["columns"]
        records = [{c: float(r[c]) if c in _FLOAT_COLUMNS else r[c] for c in columns} for r in doc["records"]]
        return cls(records, columns, doc.get("settings"))


def _need_pyarrow(fn: str) -> None:
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError(f"{fn} needs pandas and pyarrow: pip install 'pyvanish[frame]' pyarrow") from None


def _log10(v: float) -> float:
    if math.isnan(v):
        return math.nan
    return math.log10(v) if 0 < v < math.inf else (-math.inf if v == 0 else math.inf)


def _json(v):
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _parse(column: str, text: str):
    """A CSV field back to its value: by the schema, else inferred (grid values)."""
    if column in _FLOAT_COLUMNS:
        return float(text)
    if column in _INT_COLUMNS:
        return int(text)
    if column == "verdict":
        return text
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _typed(column: str, value):
    """A DataFrame cell back to a plain scalar."""
    if column in _FLOAT_COLUMNS:
        return float(value)
    if column in _INT_COLUMNS:
        return int(value)
    if value is None or (isinstance(value, float) and math.isnan(value) and column not in _FLOAT_COLUMNS):
        return None
    return _plain(value, column)
