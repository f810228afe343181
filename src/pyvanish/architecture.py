"""The architecture spec: what a dense network is, validated once.

:class:`Architecture` is the single description of a network's structure that
every entry point builds and reads: :class:`pyvanish.Network`,
:class:`pyvanish.Ensemble`, :func:`pyvanish.sweep`, :func:`pyvanish.compare`,
the CLI and :meth:`pyvanish.Network.from_torch`. It is validated when it is
made (every message names the public function and the argument) and frozen
afterwards, so nothing downstream checks it again: the engine receives it as
it is.

Layer ``l = 1..L`` computes (row-major, batch first)::

    v_l = LN'_l(h_{l-1})                 where prenorm[l-1]; else v_l = h_{l-1}
    z_l = v_l W_l^T + b_l                W_l is (n_l, n_{l-1}), like torch.nn.Linear
    u_l = BN_l(z_l) or LN_l(z_l)         where batchnorm[l-1] or layernorm[l-1]
    a_l = phi_l(u_l)
    h_l = h_s + residual_scale * a_l     where skips[l-1] = s is not None; else h_l = a_l

and the loss compares ``y = h_L`` with the targets (see :data:`LOSSES`).
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from dataclasses import InitVar, dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from ._activations import alpha_for, canonical_activation

__all__ = ["Architecture", "ArchitectureProperties", "LOSSES"]

#: The losses (engine order). ``"mse"``: ``1/(2B) sum |y - t|^2``; ``"cross_entropy"``:
#: softmax over the outputs with the negative log-likelihood, mean over the batch
#: (``torch.nn.functional.cross_entropy``); ``"bce"``: sigmoid with binary cross-entropy,
#: mean over every output (``binary_cross_entropy_with_logits``).
LOSSES = ("mse", "cross_entropy", "bce")
_LOSS_ALIASES = {"ce": "cross_entropy", "binary_cross_entropy": "bce", "mean_squared_error": "mse"}

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
#: The deepest network any entry point builds (a deeper one is refused by name, before any work).
MAX_DEPTH = 100_000
#: The seed stream of the default data (x, t) drawn for a seed: default_rng([seed, 1]).
_DATA_STREAM = 1


@dataclass(frozen=True)
class Architecture:
    """A dense network's structure: widths, activations, batch norm, residuals, dtype.

    Build one with :meth:`build` (the keyword arguments of
    :class:`pyvanish.Network`), or directly from its fields. It is validated
    once, when made, and is immutable; :meth:`replace` gives a modified copy.

    Attributes
    ----------
    widths : tuple of int
        ``(n_0, n_1, ..., n_L)``.
    activations : tuple of str
        The activation of each layer ``1..L`` (canonical names).
    alphas : tuple of float
        Per layer: leaky_relu's slope / elu's scale (0.0 where unused).
    batchnorm : tuple of bool
        Per layer: batch normalisation between the dense step and the activation.
    bn_eps : float
        Batch-norm epsilon.
    layernorm : tuple of bool
        Per layer: layer normalisation (over the layer's units, per sample)
        between the dense step and the activation; not with batch norm.
    prenorm : tuple of bool
        Per layer: layer normalisation of the layer's input ``h_{l-1}`` before
        its dense step (with a residual, the transformer's pre-norm block
        ``h + F(LN(h))``).
    ln_eps : float
        Layer-norm epsilon.
    loss : str
        One of :data:`LOSSES`.
    skips : tuple of (int or None)
        Per layer ``l``: the index ``s < l`` of its residual source ``h_s``, or None.
    residual_scale : float
        The scale of every residual branch.
    dtype : numpy.dtype
        float32 or float64.

    Examples
    --------
    >>> import pyvanish
    >>> arch = pyvanish.Architecture.build([8, 8, 8, 1], activation="relu", residual=True)
    >>> arch.depth, arch.activations, arch.skips
    (3, ('relu', 'relu', 'identity'), (None, 1, None))
    >>> arch.n_params
    153
    """

    widths: tuple
    activations: tuple
    alphas: tuple = ()
    batchnorm: tuple = ()
    bn_eps: float = 1e-5
    skips: tuple = ()
    residual_scale: float = 1.0
    dtype: Any = field(default=np.dtype(np.float64))
    layernorm: tuple = ()
    prenorm: tuple = ()
    ln_eps: float = 1e-5
    loss: str = "mse"
    fn: InitVar[str] = "Architecture"
    # widths, activations, dtype name: computed once, recorded by every report (see labels)
    _labels: ClassVar[dict]

    def __post_init__(self, fn: str) -> None:
        widths = _widths(self.widths, fn)
        L = len(widths) - 1
        acts = self.activations
        if isinstance(acts, str) or not isinstance(acts, Sequence) or len(acts) != L:
            raise ValueError(f"{fn}: activations needs one name per layer ({L}), got {acts!r}")
        acts = tuple(canonical_activation(a, fn) for a in acts)
        given: Any = self.alphas  # () or None: the defaults; a number: every layer; else one per layer
        if given is None or (isinstance(given, (tuple, list)) and len(given) == 0):
            per_layer: list = [None] * L
        elif isinstance(given, (tuple, list, np.ndarray)):
            per_layer = list(given)
            if len(per_layer) != L:
                raise ValueError(f"{fn}: alpha needs one value per layer ({L}) or a single value, got {given!r}")
        else:
            per_layer = [given] * L
        alphas = tuple(alpha_for(a, al, fn) for a, al in zip(acts, per_layer))
        bn = (False,) * L if self.batchnorm in ((), None) else _flags(self.batchnorm, L, fn, "batchnorm")
        skips: tuple = (None,) * L if self.skips in ((), None) else tuple(self.skips)
        if len(skips) != L:
            raise ValueError(f"{fn}: skips needs one entry per layer ({L}), got {len(skips)}")
        for l, s in enumerate(skips, start=1):
            if s is None:
                continue
            if isinstance(s, bool) or not isinstance(s, numbers.Integral) or not 0 <= int(s) < l:
                raise ValueError(f"{fn}: layer {l}'s residual source must be an earlier h_s (0 <= s < {l}), got {s!r}")
            if widths[s] != widths[l]:
                raise ValueError(
                    f"{fn}: layer {l} is residual (h_{l} = h_{s} + F(h_{s})) but its widths differ: "
                    f"h_{s} has width {widths[s]}, h_{l} has width {widths[l]}"
                )
        ln = (False,) * L if self.layernorm in ((), None) else _flags(self.layernorm, L, fn, "layernorm")
        pre = (False,) * L if self.prenorm in ((), None) else _flags(self.prenorm, L, fn, "prenorm")
        both = [l for l in range(1, L + 1) if bn[l - 1] and ln[l - 1]]
        if both:
            raise ValueError(f"{fn}: layer {both[0]} has both batch norm and layer norm; choose one")
        bn_eps = _finite(self.bn_eps, fn, "bn_eps")
        if bn_eps <= 0:
            raise ValueError(f"{fn}: bn_eps must be positive, got {bn_eps}")
        ln_eps = _finite(self.ln_eps, fn, "ln_eps")
        if ln_eps <= 0:
            raise ValueError(f"{fn}: ln_eps must be positive, got {ln_eps}")
        loss = _loss(self.loss, fn)
        if loss == "cross_entropy" and widths[-1] < 2:
            raise ValueError(
                f"{fn}: loss='cross_entropy' needs at least 2 output units (a softmax over one unit is "
                "constant); use loss='bce' for one binary output"
            )
        scale = _finite(self.residual_scale, fn, "residual_scale")
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype is None or dtype not in _DTYPES:  # (np.dtype == None compares as float64)
            raise TypeError(f"{fn}: dtype must be float32 or float64, got {self.dtype!r}")
        for name, value in (
            ("widths", widths),
            ("activations", acts),
            ("alphas", alphas),
            ("batchnorm", bn),
            ("bn_eps", bn_eps),
            ("skips", tuple(None if s is None else int(s) for s in skips)),
            ("residual_scale", scale),
            ("dtype", dtype),
            ("layernorm", ln),
            ("prenorm", pre),
            ("ln_eps", ln_eps),
            ("loss", loss),
        ):
            object.__setattr__(self, name, value)
        # computed once: reports record these on every engine call
        labels = {"widths": widths, "activations": acts, "dtype": dtype.name}
        object.__setattr__(self, "_labels", labels)

    @classmethod
    def build(
        cls,
        widths: Sequence[int],
        activation: str = "tanh",
        output_activation: str = "identity",
        *,
        activations: Sequence[str] | None = None,
        alpha=None,
        batchnorm=False,
        bn_eps: float = 1e-5,
        residual=False,
        residual_block: int = 1,
        residual_scale: float = 1.0,
        dtype=np.float64,
        layernorm=False,
        prenorm=False,
        ln_eps: float = 1e-5,
        loss: str = "mse",
        fn: str = "Architecture.build",
    ) -> Architecture:
        """An architecture from :class:`pyvanish.Network`'s keyword arguments.

        Parameters
        ----------
        widths : sequence of int
            ``[n_0, n_1, ..., n_L]``.
        activation, output_activation : str
            The hidden layers' activation and the output layer's.
        activations : sequence of str, optional
            One activation per layer, instead of the two above.
        alpha : float or sequence of float, optional
            leaky_relu's slope (default 0.01) / elu's scale (default 1.0).
        batchnorm : bool or sequence of bool
            ``True``: every hidden layer ``1..L-1``; or one flag per layer.
        bn_eps : float
            Batch-norm epsilon.
        residual : bool or sequence of bool
            ``True``: the hidden layers ``2..L-1`` in consecutive blocks of
            ``residual_block`` layers, each block adding its input to its
            output; or one flag per layer (a flagged layer ``l`` takes its
            skip from ``h_{l - residual_block}``).
        residual_block : int
            Layers per residual block.
        residual_scale : float
            The scale of the residual branch.
        dtype : float32 or float64
        layernorm : bool or sequence of bool
            Layer norm between the dense step and the activation. ``True``:
            every hidden layer ``1..L-1``; or one flag per layer.
        prenorm : bool or sequence of bool
            Layer norm of a layer's input, before its dense step. ``True``: the
            first layer of every residual block (the transformer's pre-norm
            block ``h + F(LN(h))``; needs ``residual``) and the output layer
            (the pre-norm transformer's final norm before its head); or one
            flag per layer.
        ln_eps : float
            Layer-norm epsilon.
        loss : str
            One of :data:`LOSSES` (default ``"mse"``).
        fn : str
            The public function named in error messages.

        Examples
        --------
        >>> import pyvanish
        >>> pyvanish.Architecture.build([4, 4, 4, 4, 1], residual=True, residual_block=2).skips
        (None, None, 1, None)
        """
        ws = _widths(widths, fn)
        L = len(ws) - 1
        if activations is None:
            canonical_activation(activation, fn)  # checked even when there is no hidden layer to use it
            activations = [activation] * (L - 1) + [output_activation]
        bn = _flags(batchnorm, L, fn, "batchnorm", default=[True] * (L - 1) + [False])
        ln = _flags(layernorm, L, fn, "layernorm", default=[True] * (L - 1) + [False])
        skips = _skips(residual, residual_block, ws, fn)
        starts = [False] * L  # the first layer of each residual block
        for s in skips:
            if s is not None:
                starts[s] = True  # layer s + 1 (index s) reads h_s, the block's input
        if isinstance(prenorm, (bool, np.bool_)) and prenorm and not any(starts):
            raise ValueError(
                f"{fn}: prenorm=True normalises the input of each residual block, but there are none "
                "(set residual=True, or give one prenorm flag per layer)"
            )
        pre = _flags(prenorm, L, fn, "prenorm", default=starts[: L - 1] + [True])  # and the head's input
        return cls(
            ws,
            activations if isinstance(activations, str) else tuple(activations),  # type: ignore[arg-type]
            alpha,
            bn,
            bn_eps,
            skips,
            residual_scale,
            dtype,
            ln,
            pre,
            ln_eps,
            loss,
            fn,
        )

    # ------------------------------------------------------------ derived facts
    @property
    def depth(self) -> int:
        """``L``, the number of weight layers."""
        return len(self.widths) - 1

    @property
    def residual(self) -> tuple:
        """Per layer: whether it is residual."""
        return tuple(s is not None for s in self.skips)

    @property
    def residual_block(self) -> int:
        """The layers per residual block (1 when there are none or they differ)."""
        ks = {l - s for l, s in enumerate(self.skips, start=1) if s is not None}
        return ks.pop() if len(ks) == 1 else 1

    @property
    def n_params(self) -> int:
        """Weights, biases and normalisation scales and shifts (an exact Python int)."""
        w = self.widths
        return sum(
            w[l] * w[l - 1]
            + w[l]
            + (2 * w[l] if self.batchnorm[l - 1] or self.layernorm[l - 1] else 0)
            + (2 * w[l - 1] if self.prenorm[l - 1] else 0)
            for l in range(1, len(w))
        )

    @property
    def normed(self) -> tuple:
        """Per layer: whether ``u_l`` is normalised (batch or layer norm), so it has ``gamma``, ``beta``."""
        return tuple(b or n for b, n in zip(self.batchnorm, self.layernorm))

    @property
    def hidden_activation(self) -> str:
        """The hidden layers' activation(s), ``/``-joined; ``-`` without hidden layers."""
        acts = sorted(set(self.activations[:-1]))
        return "/".join(acts) if acts else "-"

    def replace(self, **changes) -> Architecture:
        """A copy with some fields changed (validated like any new one).

        Examples
        --------
        >>> import numpy as np, pyvanish
        >>> pyvanish.Architecture.build([2, 3, 1]).replace(dtype=np.float32).dtype
        dtype('float32')
        """
        return replace(self, **changes)

    def default_batch(self, batch: int, seed) -> tuple:
        """The default data of a seed: ``x ~ N(0, 1)`` of shape (batch, n_0) and
        targets of shape (batch, n_L) for the loss (``t ~ N(0, 1)`` for MSE; see
        :func:`default_data`), from ``default_rng([seed, 1])``.

        The one rule by which :func:`pyvanish.ensemble`, :func:`pyvanish.compare`,
        :func:`pyvanish.sweep` and the CLI make data when none is given.

        Examples
        --------
        >>> import pyvanish
        >>> x, t = pyvanish.Architecture.build([3, 5, 2]).default_batch(4, seed=0)
        >>> x.shape, t.shape
        ((4, 3), (4, 2))
        """
        return default_data(self.widths[0], self.widths[-1], batch, seed, self.loss)

    def check_memory(self, fn: str, copies: int = 1, extra_bytes: int = 0, gradients: bool = True) -> None:
        """Refuse up front (``MemoryError`` naming ``fn`` and the bytes) what cannot fit in memory.

        ``copies`` networks' parameters and (``gradients``) their gradients, and
        ``extra_bytes`` more (optimiser state for training, the draws of an
        ensemble's layer: the caller counts them).
        """
        need = (2 if gradients else 1) * copies * self.n_params * self.dtype.itemsize + extra_bytes
        have = _physical_memory()
        if need > have:
            what = "the parameters and gradients" if gradients else "the parameters"
            raise MemoryError(
                f"{fn}: {what} need {need:,} bytes ({need / 2**30:.3g} GiB), "
                f"more than this machine's {have / 2**30:.3g} GiB of memory"
            )

    def labels(self) -> dict:
        """``widths``, ``activations`` and the dtype's name: the structure every report records."""
        return dict(self._labels)

    def describe(self, init: str | None = None) -> str:
        """One line: widths, activations, (the ``init`` given), batch norm, residual connections, dtype."""
        w = self.widths
        widths = str(list(w)) if len(w) <= 8 else f"[{w[0]}, {w[1]}, ..., {w[-2]}, {w[-1]}] ({len(w)} widths)"
        extra = ""
        if any(self.batchnorm):
            extra += f", batchnorm={sum(self.batchnorm)} layers"
        if any(self.layernorm):
            extra += f", layernorm={sum(self.layernorm)} layers"
        if any(self.prenorm):
            extra += f", prenorm={sum(self.prenorm)} layers"
        if any(self.residual):
            extra += f", residual={sum(self.residual)} layers (block {self.residual_block})"
        if self.loss != "mse":
            extra += f", loss={self.loss}"
        init_part = f", init={init}" if init is not None else ""
        return (
            f"widths={widths}, hidden={self.hidden_activation}, output={self.activations[-1]}"
            f"{init_part}{extra}, dtype={self.dtype.name}"
        )


class ArchitectureProperties:
    """The read-only structure of a network or an ensemble, read from its :class:`Architecture`.

    Shared by :class:`pyvanish.Network` and :class:`pyvanish.Ensemble` (the
    architecture is kept in ``self._arch``).
    """

    _arch: Architecture

    @property
    def architecture(self) -> Architecture:
        """The :class:`pyvanish.Architecture` (immutable)."""
        return self._arch

    @property
    def widths(self) -> tuple:
        """``(n_0, n_1, ..., n_L)``."""
        return self._arch.widths

    @property
    def depth(self) -> int:
        """``L``, the number of weight layers."""
        return self._arch.depth

    @property
    def activations(self) -> tuple:
        """The activation of each layer ``1..L``."""
        return self._arch.activations

    @property
    def dtype(self) -> np.dtype:
        """float32 or float64."""
        return self._arch.dtype

    @property
    def batchnorm(self) -> tuple:
        """Per layer: whether it has batch normalisation."""
        return self._arch.batchnorm

    @property
    def skips(self) -> tuple:
        """Per layer: the index ``s`` of its residual source ``h_s``, or None."""
        return self._arch.skips

    @property
    def layernorm(self) -> tuple:
        """Per layer: whether it has layer normalisation (between its dense step and activation)."""
        return self._arch.layernorm

    @property
    def prenorm(self) -> tuple:
        """Per layer: whether its input is layer-normalised before its dense step."""
        return self._arch.prenorm

    @property
    def loss(self) -> str:
        """The loss: one of :data:`pyvanish.LOSSES`."""
        return self._arch.loss


# ---------------------------------------------------------------- helpers
def default_data(n_in: int, n_out: int, batch: int, seed, loss: str = "mse") -> tuple:
    """``x ~ N(0, 1)`` (batch, n_in), then ``g ~ N(0, 1)`` (batch, n_out), from
    ``default_rng([seed, 1])`` (seed 0 unless ``seed`` is an integer): the
    default data of a seed (see :meth:`Architecture.default_batch`).

    The targets follow the loss: ``t = g`` for MSE; for cross-entropy the
    one-hot row of ``argmax g`` (a uniformly random class); for BCE ``g > 0``
    (fair coin flips). The draws are the same whatever the loss.
    """
    s = seed if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) else 0
    rng = np.random.default_rng([int(s), _DATA_STREAM])
    x, g = rng.standard_normal((batch, n_in)), rng.standard_normal((batch, n_out))
    if loss == "cross_entropy":
        return x, np.eye(n_out)[np.argmax(g, axis=1)]
    if loss == "bce":
        return x, (g > 0).astype(np.float64)
    return x, g


def _physical_memory() -> int:
    try:
        import os

        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return 2**63 - 1


def _loss(value, fn: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{fn}: loss must be one of {', '.join(LOSSES)}, got {value!r}")
    name = _LOSS_ALIASES.get(value.lower().replace("-", "_"), value.lower().replace("-", "_"))
    if name not in LOSSES:
        raise ValueError(f"{fn}: loss must be one of {', '.join(LOSSES)}, got {value!r}")
    return name


def _finite(value, fn: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{fn}: {name} must be a finite number, got {value!r}")
    return float(value)


def _widths(widths, fn: str) -> tuple:
    if isinstance(widths, (str, bytes)):
        raise TypeError(f"{fn}: widths must be a sequence of positive integers, got {widths!r}")
    try:
        widths = list(widths)
        ws = [int(w) if float(w) == int(w) else None for w in widths]
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"{fn}: widths must be a sequence of positive integers, got {widths!r}") from None
    if len(ws) < 2:
        raise ValueError(f"{fn}: widths needs at least 2 entries (input and output width), got {widths!r}")
    if len(ws) > MAX_DEPTH + 1:
        raise ValueError(f"{fn}: widths has {len(ws) - 1:,} layers, more than the {MAX_DEPTH:,} pyvanish supports")
    for i, w in enumerate(ws):
        if w is None or w < 1:
            raise ValueError(f"{fn}: widths[{i}] is {widths[i]!r}, expected a positive integer")
    return tuple(ws)


def _flags(value, L: int, fn: str, name: str, default=None) -> tuple:
    """A per-layer tuple of bools from True/False or a sequence of L flags."""
    if isinstance(value, (bool, np.bool_)):
        return tuple(bool(v) for v in (default if default is not None else [True] * L)) if value else (False,) * L
    try:
        flags = [bool(v) for v in value]
    except TypeError:
        raise TypeError(f"{fn}: {name} must be a bool or a sequence of {L} bools, got {value!r}") from None
    if len(flags) != L:
        raise ValueError(f"{fn}: {name} needs one flag per layer ({L}), got {len(flags)}")
    return tuple(flags)


def _skips(residual, block, widths: tuple, fn: str) -> tuple:
    """Per layer: the index of its residual source h_s, or None."""
    L = len(widths) - 1
    if isinstance(block, (bool, np.bool_)):
        raise ValueError(f"{fn}: residual_block must be a positive integer, got {block!r}")
    try:
        block = operator.index(block)
    except TypeError:
        raise ValueError(f"{fn}: residual_block must be a positive integer, got {block!r}") from None
    if block < 1:
        raise ValueError(f"{fn}: residual_block must be a positive integer, got {block!r}")
    if isinstance(residual, (bool, np.bool_)):
        ends = {1 + j * block for j in range(1, L)} if residual else set()
        flags = [l in ends and l <= L - 1 for l in range(1, L + 1)]
    else:
        flags = list(_flags(residual, L, fn, "residual"))
    skips: list = []
    for l, flag in enumerate(flags, start=1):
        if not flag:
            skips.append(None)
            continue
        s = l - block
        if s < 0:
            raise ValueError(f"{fn}: layer {l} cannot be residual with residual_block={block}: there is no h_{s}")
        if widths[s] != widths[l]:
            raise ValueError(
                f"{fn}: layer {l} is residual (h_{l} = h_{s} + F(h_{s})) but its widths differ: "
                f"h_{s} has width {widths[s]}, h_{l} has width {widths[l]}"
            )
        skips.append(s)
    return tuple(skips)
