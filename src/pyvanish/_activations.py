"""The activation table of the Python layer: names, aliases, default alpha.

The one place these facts live on the Python side. The engine's table (the
derivative bound, the saturation threshold, the forward/derivative pairs) is
``csrc/kernels/activations.hpp``; ``ACTIVATIONS`` is in the engine's enum
order, which ``tests/test_package.py`` checks against the compiled module.
NumPy only, so that :mod:`pyvanish.reference` and :mod:`pyvanish.theory` can
use it without the engine.
"""

from __future__ import annotations

import math
import numbers

#: Every activation, in the engine's order (its integer code is the index).
ACTIVATIONS: tuple[str, ...] = (
    "identity",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
    "softplus",
)

#: Other names accepted for an activation.
ALIASES: dict[str, str] = {"swish": "silu"}

#: ``alpha`` of the activations that take one (leaky_relu's slope, elu's
#: scale); the other activations ignore ``alpha``.
DEFAULT_ALPHA: dict[str, float] = {"leaky_relu": 0.01, "elu": 1.0}


def canonical_activation(name: object, fn: str) -> str:
    """The canonical name of activation ``name`` (case, ``-`` and aliases resolved).

    Raises ``TypeError`` for a non-string and ``ValueError`` for an unknown
    name, both starting with ``fn``.

    Examples
    --------
    >>> canonical_activation("Leaky-ReLU", "Network"), canonical_activation("swish", "Network")
    ('leaky_relu', 'silu')
    """
    if not isinstance(name, str):
        raise TypeError(f"{fn}: activation must be a string, one of {', '.join(ACTIVATIONS)}; got {name!r}")
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in ACTIVATIONS:
        raise ValueError(f"{fn}: unknown activation {name!r}, expected one of {', '.join(ACTIVATIONS)}")
    return key


def activation_code(name: object, fn: str) -> int:
    """The engine's integer code of activation ``name``."""
    return ACTIVATIONS.index(canonical_activation(name, fn))


def alpha_for(name: str, alpha: object, fn: str) -> float:
    """``alpha`` for activation ``name`` as a finite float: its default when None, 0.0 if unused."""
    key = canonical_activation(name, fn)
    if alpha is None:
        return DEFAULT_ALPHA.get(key, 0.0)
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"{fn}: alpha must be a real number, got {alpha!r}")
    value = float(alpha)
    if not math.isfinite(value):
        raise ValueError(f"{fn}: alpha must be finite, got {value}")
    return value
