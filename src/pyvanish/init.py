"""Weight initialisations, seeded and reproducible.

Convention: ``W_l`` has shape ``(fan_out, fan_in)``; ``sigma_w`` (``sw``) sets
``Var(W_ij) = sw**2 / fan_in`` for ``"normal"``; biases are ``N(0, sb**2)``
(``sb = 0``: zero biases) for every scheme.

=====================  ===============================================  ================
name (aliases)         weights                                          gain default
=====================  ===============================================  ================
normal                 N(0, sw^2 / fan_in)                              (uses sw = 1)
xavier_uniform         U(-a, a), a = gain sqrt(6 / (fan_in + fan_out))  1
(xavier, glorot,
glorot_uniform)
xavier_normal          N(0, gain^2 2 / (fan_in + fan_out))              1
(glorot_normal)
he_normal              N(0, gain^2 / fan_in)                            sqrt(2)
(he, kaiming,
kaiming_normal)
he_uniform             U(-a, a), a = gain sqrt(3 / fan_in)              sqrt(2)
(kaiming_uniform)
lecun_normal (lecun)   N(0, gain^2 / fan_in)                            1
lecun_uniform          U(-a, a), a = gain sqrt(3 / fan_in)              1
orthogonal             gain * (semi-)orthogonal (QR of a Gaussian)      1
constant               every weight = value                             —
=====================  ===============================================  ================
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["INITS", "ALIASES", "canonical", "init_weight", "weight_variance"]

#: Other names of the initialisations (lower case, ``-`` read as ``_``).
ALIASES = {
    "xavier": "xavier_uniform",
    "glorot": "xavier_uniform",
    "glorot_uniform": "xavier_uniform",
    "glorot_normal": "xavier_normal",
    "he": "he_normal",
    "kaiming": "he_normal",
    "kaiming_normal": "he_normal",
    "kaiming_uniform": "he_uniform",
    "lecun": "lecun_normal",
    "gaussian": "normal",
}
#: The initialisations' canonical names (also ``pyvanish.INITS``).
INITS = (
    "normal",
    "xavier_uniform",
    "xavier_normal",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "orthogonal",
    "constant",
)
DEFAULT_GAIN = {"he_normal": math.sqrt(2.0), "he_uniform": math.sqrt(2.0)}
DEFAULT_GAIN_SQUARED = {"he_normal": 2.0, "he_uniform": 2.0}


def canonical(name: str, fn: str = "Network") -> str:
    """The canonical initialisation name for ``name`` (aliases resolved)."""
    if not isinstance(name, str):
        raise TypeError(f"{fn}: init must be a string, one of {', '.join(INITS)}")
    key = name.lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in INITS:
        raise ValueError(
            f"{fn}: unknown init {name!r}, expected one of {', '.join(INITS)} "
            f"(or an alias: {', '.join(sorted(ALIASES))})"
        )
    return key


def init_weight(
    rng: np.random.Generator,
    init: str,
    fan_out: int,
    fan_in: int,
    *,
    sw: float = 1.0,
    gain: float | None = None,
    value: float = 0.0,
    members: int | None = None,
) -> np.ndarray:
    """One float64 weight matrix of shape (fan_out, fan_in), or a stack of
    ``members`` independent ones, shape (members, fan_out, fan_in).

    Examples
    --------
    >>> import numpy as np
    >>> from pyvanish.init import init_weight
    >>> init_weight(np.random.default_rng(0), "constant", 2, 3, value=0.5).tolist()
    [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
    >>> init_weight(np.random.default_rng(0), "he_normal", 4, 4, members=10).shape
    (10, 4, 4)
    """
    g = DEFAULT_GAIN.get(init, 1.0) if gain is None else float(gain) + 0.0  # -0.0 -> 0.0 for uniform(-a, a)
    lead = () if members is None else (int(members),)
    shape = lead + (fan_out, fan_in)
    if init == "normal":
        return rng.normal(0.0, (sw + 0.0) / math.sqrt(fan_in), shape)  # -0.0 -> 0.0
    if init == "xavier_uniform":
        a = g * math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, shape)
    if init == "xavier_normal":
        return rng.normal(0.0, g * math.sqrt(2.0 / (fan_in + fan_out)), shape)
    if init in ("he_normal", "lecun_normal"):
        return rng.normal(0.0, g / math.sqrt(fan_in), shape)
    if init in ("he_uniform", "lecun_uniform"):
        a = g * math.sqrt(3.0 / fan_in)
        return rng.uniform(-a, a, shape)
    if init == "orthogonal":
        n, m = max(fan_out, fan_in), min(fan_out, fan_in)
        q, r = np.linalg.qr(rng.standard_normal(lead + (n, m)))
        q = q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]  # the Haar measure (Mezzadri 2007)
        return g * (q if fan_out >= fan_in else np.swapaxes(q, -1, -2))
    if init == "constant":
        return np.full(shape, float(value))
    raise ValueError(f"init_weight: unknown init {init!r}")  # pragma: no cover


def weight_variance(
    init: str, fan_out: int, fan_in: int, *, sw: float = 1.0, gain: float | None = None
) -> float | None:
    """``fan_in * Var(W_ij)``, the mean-field ``sigma_w**2`` of a scheme (None for constant).

    Examples
    --------
    >>> weight_variance("he_normal", 64, 64)
    2.0
    """
    g2 = DEFAULT_GAIN_SQUARED.get(init, 1.0) if gain is None else float(gain) * float(gain)
    if init == "normal":
        return float(sw) * float(sw)  # inf, not OverflowError, for sw > 1e154
    if init in ("xavier_uniform", "xavier_normal"):
        return g2 * 2.0 * fan_in / (fan_in + fan_out)
    if init in ("he_normal", "he_uniform", "lecun_normal", "lecun_uniform"):
        return g2
    if init == "orthogonal":
        return g2 * min(1.0, fan_in / fan_out)
    return None


def check_init_args(init: str, sw, sb, gain, value, fn: str) -> str:
    """Validate the initialisation arguments of a network or ensemble; the canonical init name.

    ``sw``, ``sb``, ``value`` (and ``gain`` unless None) must be finite
    numbers; ``sw``, ``sb`` and ``gain`` are scales (>= 0).
    """
    named = [("sw", sw), ("sb", sb), ("value", value)] + ([("gain", gain)] if gain is not None else [])
    for name, v in named:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
            raise ValueError(f"{fn}: {name} must be a finite number, got {v!r}")
    if sw < 0 or sb < 0:
        raise ValueError(f"{fn}: sw and sb are standard deviations, expected >= 0, got sw={sw}, sb={sb}")
    if gain is not None and gain < 0:
        raise ValueError(f"{fn}: gain must be >= 0, got {gain}")
    return canonical(init, fn)
