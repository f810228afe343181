"""Input policy, in one place.

- Array-likes (lists, scalars, non-contiguous, big-endian arrays) are accepted
  and copied into C-contiguous native float32/float64 arrays.
- Integers become float64; float16 becomes float32; float32 and float64 keep
  their dtype; long double becomes float64. Arrays of one call share one dtype:
  float64 if any of them is float64.
- complex, bool, object, string and datetime arrays raise ``TypeError``.
- With ``check_finite=True``, NaN or Inf raise ``ValueError``.
- Targets of a ``loss="cross_entropy"`` network may be integer class indices
  (one per sample), which become one-hot rows (:func:`class_targets`).
Every message starts with the public function's name and names the argument.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_F64, _F32 = np.dtype(np.float64), np.dtype(np.float32)  # native byte order


def _float_dtype(arr: np.ndarray, fn: str, name: str) -> np.dtype:
    kind = arr.dtype.kind
    if kind in "iu":
        return np.dtype(np.float64)
    if kind == "f":
        if arr.dtype.itemsize <= 2:
            return np.dtype(np.float32)
        if arr.dtype.itemsize == 4:
            return np.dtype(np.float32)
        return np.dtype(np.float64)
    raise TypeError(f"{fn}: {name} has dtype {arr.dtype}, expected real numbers (float32, float64 or integers)")


OPTIONAL = frozenset({"bias"})  # the only array arguments that may be None


def as_arrays(fn: str, check_finite: bool = False, **named: Any) -> list[np.ndarray]:
    """Convert each named array-like under the input policy, to one dtype.

    ``None`` passes through for the optional arguments (``bias``); for any
    other it is a ``TypeError`` naming the function and the argument.
    """
    for name, value in named.items():
        if value is None and name not in OPTIONAL:
            raise TypeError(f"{fn}: {name} is required, got None")
    # Fast path: arrays already in the engine's layout (native float32 or
    # float64, one dtype, C-contiguous, aligned) are used as they are.
    vals = [v for v in named.values() if v is not None]
    if vals and all(type(v) is np.ndarray for v in vals):
        dt = vals[0].dtype
        if (dt == _F64 or dt == _F32) and all(v.dtype == dt and v.flags.c_contiguous and v.flags.aligned for v in vals):
            if check_finite:
                for name, v in named.items():
                    if v is not None and not np.isfinite(v).all():
                        raise ValueError(f"{fn}: {name} contains NaN or Inf (pass check_finite=False to allow)")
            return list(named.values())
    raw: dict[str, Any] = {}
    for name, value in named.items():
        if value is None:
            raw[name] = None
            continue
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{fn}: {name} is not a rectangular array of numbers ({exc})") from None
        raw[name] = (arr, _float_dtype(arr, fn, name))
    dtypes = {dt for item in raw.values() if item is not None for dt in [item[1]]}
    common = np.dtype(np.float64) if np.dtype(np.float64) in dtypes else np.dtype(np.float32)
    out: list[Any] = []
    for name, item in raw.items():
        if item is None:
            out.append(None)
            continue
        arr = np.require(item[0], dtype=common, requirements=["C", "A"])
        if check_finite and not np.isfinite(arr).all():
            raise ValueError(f"{fn}: {name} contains NaN or Inf (pass check_finite=False to allow)")
        out.append(arr)
    return out


def class_targets(t, loss: str, n_classes: int, fn: str, name: str = "t", members: bool = False):
    """Integer class indices as one-hot float64 rows, for a cross-entropy loss.

    Indices are a 1-d integer array, one per sample (``members=True``, an
    ensemble: also 2-d, one row of indices per member). Anything else
    (probability rows, integer one-hot rows, or another loss's targets) is
    returned as it is. An index outside ``[0, n_classes)`` is a ``ValueError``
    naming ``fn`` and the argument.

    Examples
    --------
    >>> class_targets([2, 0], "cross_entropy", 3, "f").tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    if loss != "cross_entropy":
        return t
    if (
        isinstance(t, (list, tuple))
        and t
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in t)
    ):
        t = np.asarray(t)
    if not (isinstance(t, np.ndarray) and t.dtype.kind in "iu"):
        return t
    if not (t.ndim == 1 or (members and t.ndim == 2 and t.shape[-1] != n_classes)):
        return t
    if t.size and (t.min() < 0 or t.max() >= n_classes):
        bad = t[(t < 0) | (t >= n_classes)].flat[0]
        raise ValueError(f"{fn}: {name} holds class index {int(bad)}, outside [0, {n_classes}) for {n_classes} outputs")
    return np.eye(n_classes, dtype=np.float64)[t]


def real_number(value, fn: str, name: str) -> float:
    """``value`` as a float; ``TypeError`` naming ``fn`` and ``name`` unless it is a real number."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{fn}: {name} must be a real number, got {value!r}")
    return float(value)


def check_seed(seed, fn: str):
    """``None``, a non-negative integer, a sequence of them, or a ``numpy.random.Generator``."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    items = seed if isinstance(seed, (list, tuple)) else [seed]
    for v in items:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{fn}: seed must be a non-negative integer (or a numpy Generator), got {seed!r}")
    return seed


def int_seed(seed, fn: str) -> int:
    """A seed that must be one integer (it seeds the data and every network):
    a non-negative integer, or ``None`` for a fresh one from the OS's entropy
    (returned, so that the run can be reproduced)."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(2, np.uint32).view(np.uint64)[0] >> np.uint64(1))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{fn}: seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)
