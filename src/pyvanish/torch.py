"""PyTorch interop: a model to a :class:`pyvanish.Network` and back.

Imported on first use: ``import pyvanish`` never imports PyTorch;
``pyvanish.torch``, :meth:`pyvanish.Network.from_torch` and
:meth:`pyvanish.Network.to_torch` do.

:func:`from_torch` reads a model made of ``nn.Sequential`` (nested, or a
subclass that keeps Sequential's ``forward``) holding the modules below, and
maps them onto the engine's layers (see :mod:`pyvanish.architecture`)::

    [LayerNorm]  Linear  [BatchNorm1d | LayerNorm]  [activation]    one layer l
    Residual(block, scale)                                           h_l = h_s + scale * block(h_s)

A ``LayerNorm`` right after a ``Linear`` is that layer's ``layernorm``;
after a layer's activation (or an ``nn.Identity`` in its place), or first in a
``Residual`` block, it normalises the next Linear's input (``prenorm``). :func:`to_torch` writes the
same form back, so ``from_torch(to_torch(net), loss=net.loss)`` rebuilds
``net`` exactly.

Examples
--------
>>> import torch, pyvanish
>>> from pyvanish.torch import Residual, from_torch, to_torch
>>> model = torch.nn.Sequential(
...     torch.nn.Linear(4, 8), torch.nn.ReLU(),
...     Residual(torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Tanh())),
...     torch.nn.Linear(8, 1)).double()
>>> net = from_torch(model)
>>> net.widths, net.activations, net.skips
((4, 8, 8, 1), ('relu', 'tanh', 'identity'), (None, 1, None))
>>> x = torch.randn(3, 4, dtype=torch.float64)
>>> bool(abs(net.forward(x.numpy()) - model(x).detach().numpy()).max() < 1e-12)
True
>>> to_torch(net)
Sequential(
  (0): Linear(in_features=4, out_features=8, bias=True)
  (1): ReLU()
  (2): Residual(
    scale=1.0
    (block): Sequential(
      (0): Linear(in_features=8, out_features=8, bias=True)
      (1): Tanh()
    )
  )
  (3): Linear(in_features=8, out_features=1, bias=True)
)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("pyvanish.torch needs PyTorch (pip install torch)") from exc

from .architecture import Architecture
from .network import Network

__all__ = ["Residual", "from_torch", "to_torch", "SOFTPLUS_THRESHOLD"]

#: Each activation's module and the attribute holding its ``alpha`` (None: no alpha);
#: read both ways (the identity activation is no module, or ``nn.Identity``).
_ACTIVATIONS: dict[str, tuple[type, str | None]] = {
    "sigmoid": (nn.Sigmoid, None),
    "tanh": (nn.Tanh, None),
    "relu": (nn.ReLU, None),
    "leaky_relu": (nn.LeakyReLU, "negative_slope"),
    "elu": (nn.ELU, "alpha"),
    "gelu": (nn.GELU, None),
    "silu": (nn.SiLU, None),
    "softplus": (nn.Softplus, None),
}
#: The ``threshold`` of the ``nn.Softplus`` that :func:`to_torch` writes: above it
#: PyTorch returns ``x`` itself, which equals ``log(1 + e^x)`` in float32 and float64.
SOFTPLUS_THRESHOLD = 40.0
_SUPPORTED = (
    "Linear, BatchNorm1d, LayerNorm, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, GELU(approximate='none'), SiLU, "
    "Softplus(beta=1), Identity, Dropout, Flatten, Sequential (nested, or a subclass keeping its forward), "
    "pyvanish.torch.Residual"
)


class Residual(nn.Module):
    """A residual (skip) connection: ``forward(x) = x + scale * block(x)``.

    The PyTorch form of the engine's residual layers: in
    :func:`from_torch`, the last ``Linear`` of ``block`` takes its skip from
    the input of the block's first ``Linear`` (``h_l = h_s + scale *
    phi(u_l)``), so ``block`` must start with a ``Linear`` (or a
    ``LayerNorm`` before it: the pre-norm block ``x + F(LN(x))``), end with
    that last layer's activation, and keep the width. A network has one
    ``residual_scale``, so every ``Residual`` of a model needs the same
    ``scale``. :func:`to_torch` writes the engine's skips as these blocks.

    Parameters
    ----------
    block : torch.nn.Module
        The residual branch ``F``.
    scale : float
        The scale of the branch (default 1; SkipInit/NFNet-style < 1).

    Examples
    --------
    >>> import torch
    >>> from pyvanish.torch import Residual
    >>> r = Residual(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU()), scale=0.5)
    >>> with torch.no_grad():
    ...     _ = r.block[0].weight.copy_(torch.eye(2)); _ = r.block[0].bias.zero_()
    >>> r(torch.tensor([[1.0, -1.0]])).tolist()           # x + 0.5 * relu(x)
    [[1.5, -1.0]]
    """

    def __init__(self, block: nn.Module, scale: float = 1.0) -> None:
        super().__init__()
        if not isinstance(block, nn.Module):
            raise TypeError(f"Residual: block must be a torch.nn.Module, got {type(block).__name__}")
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not math.isfinite(scale):
            raise ValueError(f"Residual: scale must be a finite number, got {scale!r}")
        self.block: nn.Module = block
        self.scale: float = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.scale * self.block(x)

    def extra_repr(self) -> str:
        return f"scale={self.scale}"


#: The modules from_torch reads (a subclass of one only if it keeps its forward).
_READ: tuple = (Residual, nn.Sequential, nn.Linear, nn.BatchNorm1d, nn.LayerNorm, nn.Identity, nn.Dropout, nn.Flatten)
_READ += tuple(cls for cls, _ in _ACTIVATIONS.values())


# ---------------------------------------------------------------- from_torch
def from_torch(module, *, loss: str = "mse", dtype=None) -> Network:
    """A :class:`pyvanish.Network` equal to a PyTorch model (parameters copied).

    Parameters
    ----------
    module : torch.nn.Module
        An ``nn.Sequential`` (nested ones are read in order; a subclass of it
        only if it keeps Sequential's ``forward``) or a bare ``nn.Linear``,
        made of:

        - ``Linear`` (a missing bias is a zero bias);
        - one activation per Linear: ``Sigmoid``, ``Tanh``, ``ReLU``,
          ``LeakyReLU``, ``ELU``, ``GELU(approximate="none")``, ``SiLU``,
          ``Softplus(beta=1)`` with a ``threshold`` above which ``x`` equals
          ``log(1 + e^x)`` in the network's dtype (>= 18 in float32, >= 38 in
          float64: PyTorch's default 20 only in float32; see
          :data:`SOFTPLUS_THRESHOLD`); no activation is the identity;
        - ``BatchNorm1d`` after a Linear (before its activation): affine or
          not; its weight, bias and running statistics are copied, its mode
          (batch statistics when training or not tracking running
          statistics) sets ``net.training`` and its ``momentum``
          ``net.bn_momentum``, so every batch norm needs the same mode,
          momentum and ``eps``;
        - ``LayerNorm`` over the last dimension (with or without affine
          parameters or bias; one ``eps``): right after a Linear it is that
          layer's ``layernorm``, elsewhere before a Linear that Linear's
          ``prenorm``;
        - :class:`Residual` blocks (one ``scale`` for the model);
        - no-ops: ``Identity``, ``Flatten`` of 2-d input, ``Dropout``
          (treated as in evaluation mode, the identity, whatever the
          model's mode: the study measures the deterministic network).

        A custom module's ``forward`` cannot be read: build the model as an
        ``nn.Sequential`` of these modules.
    loss : str
        The network's loss (see :data:`pyvanish.LOSSES`; default ``"mse"``).
    dtype : float32 or float64, optional
        The network's dtype; default float64 for a float64 model, else float32.

    Returns
    -------
    Network

    Raises
    ------
    TypeError
        If ``module`` is not a ``torch.nn.Module``.
    ValueError
        For a module pyvanish cannot express, naming its path in the model
        (as in ``named_modules``), its type and what is supported.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from pyvanish.torch import Residual, from_torch
    >>> model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1),
    ...                       Residual(nn.Sequential(nn.Linear(16, 16), nn.GELU()), scale=0.5),
    ...                       nn.Linear(16, 2))
    >>> net = from_torch(model.eval())
    >>> net.dtype, net.batchnorm, net.skips, net.training
    (dtype('float32'), (True, False, False), (None, 1, None), False)
    >>> from_torch(nn.Sequential(nn.Linear(2, 2), nn.Conv1d(2, 2, 1)))
    Traceback (most recent call last):
    ...
    ValueError: from_torch: module '1' (Conv1d) is not supported; supported: Linear, ...
    """
    return _from_torch(module, loss, dtype, "from_torch", Network)


@dataclass
class _Layer:
    """One engine layer as read from the model."""

    linear: Any
    path: str
    pre: tuple | None = None  # (LayerNorm, path): prenorm
    norm: tuple | None = None  # (BatchNorm1d or LayerNorm, path)
    act: str | None = None  # None while the layer still takes a norm or an activation
    alpha: float | None = None
    soft: bool = False  # its identity activation is an nn.Identity that a real activation may replace
    end: str = ""  # what ended the layer, for messages
    skip: int | None = None
    skip_path: str = ""


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _name(path: str, mod) -> str:
    return f"module {path!r} ({type(mod).__name__})" if path else f"the model ({type(mod).__name__})"


def _is(mod, cls) -> bool:
    """``mod`` is a ``cls`` that computes what ``cls`` computes (its forward not overridden)."""
    return isinstance(mod, cls) and type(mod).forward is cls.forward


def _walk(mod, path: str):
    """(event, path, module) in forward order: "open"/"close" around a Residual's block, "leaf" otherwise."""
    if _is(mod, Residual):
        yield "open", path, mod
        yield from _walk(mod.block, _join(path, "block"))
        yield "close", path, mod
    elif _is(mod, nn.Sequential):
        for name, child in mod.named_children():
            yield from _walk(child, _join(path, name))
    else:
        yield "leaf", path, mod


class _Reader:
    """The model's modules, read in forward order into engine layers."""

    def __init__(self, fn: str) -> None:
        self.fn = fn
        self.layers: list[_Layer] = []
        self.pending: tuple | None = None  # a LayerNorm waiting for its Linear (prenorm)
        self.open: list[tuple] = []  # (s, path, Residual) of the blocks being read
        self.residuals: list[tuple] = []  # (path, Residual)
        self.softplus: list[tuple] = []  # (path, Softplus): checked against the dtype at the end

    def error(self, message: str) -> ValueError:
        return ValueError(f"{self.fn}: {message}")

    def width(self) -> int | None:
        """The width of the current output h (None before any Linear)."""
        return self.layers[-1].linear.out_features if self.layers else None

    def finish(self, end: str) -> None:
        """End the current layer (no activation: the identity)."""
        if self.layers:
            last = self.layers[-1]
            if last.act is None:
                last.act, last.alpha = "identity", None
            last.soft, last.end = False, end

    def read(self, module) -> None:
        for event, path, mod in _walk(module, ""):
            if event == "open":
                self.start_block(path, mod)
            elif event == "close":
                self.end_block(path, mod)
            else:
                self.leaf(path, mod)
        if self.pending is not None:
            raise self.error(
                f"{_name(self.pending[1], self.pending[0])} ends the model: pyvanish normalises a layer's dense "
                "output or a Linear's input, not the network's output"
            )
        if not self.layers:
            raise self.error(f"{_name('', module)} has no Linear layer")
        self.finish("the end of the model")

    def leaf(self, path: str, mod) -> None:
        if _is(mod, nn.Linear):
            self.linear(path, mod)
        elif _is(mod, nn.BatchNorm1d):
            self.batchnorm(path, mod)
        elif _is(mod, nn.LayerNorm):
            self.layernorm(path, mod)
        elif _is(mod, nn.Identity):
            last = self.layers[-1] if self.layers else None
            if last is not None and last.act is None:  # in the activation's place: the identity
                last.act, last.alpha, last.soft, last.end = "identity", None, True, f"the Identity at {path!r}"
        elif _is(mod, nn.Dropout):
            pass  # evaluation mode: the identity
        elif _is(mod, nn.Flatten):
            if mod.start_dim not in (1, -1) or mod.end_dim not in (1, -1):
                raise self.error(
                    f"{_name(path, mod)} with start_dim={mod.start_dim}, end_dim={mod.end_dim} is not supported: "
                    "only a Flatten that leaves a (batch, features) input as it is (start_dim=1)"
                )
        else:
            for act, (cls, attr) in _ACTIVATIONS.items():
                if _is(mod, cls):
                    self.activation(path, mod, act, None if attr is None else getattr(mod, attr))
                    return
            raise self.unsupported(path, mod)

    def unsupported(self, path: str, mod) -> ValueError:
        hint = ""
        if not type(mod).__module__.startswith("torch."):
            bases = [c for c in _READ if isinstance(mod, c)]
            if bases:
                hint = f" (it overrides {bases[0].__name__}.forward, which pyvanish cannot read)"
            else:
                hint = (
                    " (pyvanish cannot read a custom module's forward: build the model as an nn.Sequential of "
                    "supported modules, with pyvanish.torch.Residual for skip connections)"
                )
        return self.error(f"{_name(path, mod)} is not supported{hint}; supported: {_SUPPORTED}")

    def linear(self, path: str, mod) -> None:
        n = self.width()
        self.finish(f"the Linear at {path!r}")
        if n is not None and mod.in_features != n:
            raise self.error(f"{_name(path, mod)} has in_features={mod.in_features}, but its input has width {n}")
        pre, self.pending = self.pending, None
        if pre is not None and tuple(pre[0].normalized_shape) != (mod.in_features,):
            raise self.error(
                f"{_name(pre[1], pre[0])} normalises width {pre[0].normalized_shape[0]}, but the Linear after "
                f"it ({path!r}) has in_features={mod.in_features}"
            )
        self.layers.append(_Layer(mod, path, pre=pre))

    def norm_target(self, path: str, mod, width: int) -> _Layer:
        """The open layer a batch or layer norm normalises (checked)."""
        last = self.layers[-1]
        if last.norm is not None:
            raise self.error(
                f"{_name(path, mod)} follows {_name(last.norm[1], last.norm[0])}: a layer has one normalisation"
            )
        if width != last.linear.out_features:
            raise self.error(
                f"{_name(path, mod)} normalises width {width}, but the Linear before it ({last.path!r}) has "
                f"out_features={last.linear.out_features}"
            )
        return last

    def batchnorm(self, path: str, mod) -> None:
        if not self.layers or self.layers[-1].act is not None:
            where = f"follows {self.layers[-1].end}" if self.layers else "comes before any Linear"
            raise self.error(
                f"{_name(path, mod)} {where}: pyvanish's batch norm normalises a Linear's output, before the "
                "activation (Linear, BatchNorm1d, activation)"
            )
        self.norm_target(path, mod, mod.num_features).norm = (mod, path)

    def layernorm(self, path: str, mod) -> None:
        shape = tuple(mod.normalized_shape)
        if len(shape) != 1:
            raise self.error(f"{_name(path, mod)} normalises shape {shape}: only one dimension (the features)")
        if self.layers and self.layers[-1].act is None:
            self.norm_target(path, mod, shape[0]).norm = (mod, path)
        elif self.pending is not None:
            raise self.error(f"{_name(path, mod)} follows {_name(self.pending[1], self.pending[0])}")
        else:
            self.pending = (mod, path)

    def activation(self, path: str, mod, act: str, alpha) -> None:
        last = self.layers[-1] if self.layers else None
        what = None
        if last is None:
            what = "comes before any Linear"
        elif self.pending is not None:
            what = (
                f"follows {_name(self.pending[1], self.pending[0])}, which after a layer's activation is read as "
                "the next Linear's input norm"
            )
        elif last.act is not None and not last.soft:
            what = f"follows {last.end}"
        if what is not None:
            raise self.error(
                f"{_name(path, mod)} {what}: an activation must follow a Linear or its norm "
                "(one activation per Linear; inside a Residual block, before the skip is added)"
            )
        assert last is not None
        if act == "gelu" and mod.approximate != "none":
            raise self.error(
                f"{_name(path, mod)} with approximate={mod.approximate!r} is not supported: pyvanish's gelu is the "
                "exact erf form (approximate='none')"
            )
        if act == "softplus":
            if mod.beta != 1:
                raise self.error(f"{_name(path, mod)} with beta={mod.beta} is not supported: only beta=1")
            self.softplus.append((path, mod))
        last.act, last.alpha, last.soft, last.end = act, alpha, False, f"the {type(mod).__name__} at {path!r}"

    def start_block(self, path: str, mod) -> None:
        if self.pending is not None:
            raise self.error(
                f"{_name(self.pending[1], self.pending[0])} comes right before the Residual block {path!r}, so it "
                "would normalise the skip too (LN(x) + F(LN(x))); pyvanish's pre-norm block is x + F(LN(x)): put "
                "the LayerNorm inside the block"
            )
        self.finish(f"the start of the Residual block {path!r}")
        self.open.append((len(self.layers), path, mod))

    def end_block(self, path: str, mod) -> None:
        s, _, _ = self.open.pop()
        if self.pending is not None:
            raise self.error(
                f"{_name(self.pending[1], self.pending[0])} ends the Residual block {path!r}: pyvanish's residual "
                "branch ends with its last Linear's activation"
            )
        l = len(self.layers)
        if l == s:
            raise self.error(f"the Residual block {path!r} holds no Linear layer")
        self.finish(f"the Residual block {path!r}")
        last = self.layers[-1]
        if last.skip is not None:
            raise self.error(
                f"the Residual blocks {path!r} and {last.skip_path!r} both end at layer {l} ({last.path!r}): "
                "pyvanish gives each layer one skip; end the outer block with a Linear of its own"
            )
        n_s = self.layers[s - 1].linear.out_features if s > 0 else self.layers[0].linear.in_features
        if n_s != last.linear.out_features:
            raise self.error(
                f"the Residual block {path!r} maps width {n_s} to {last.linear.out_features}: a residual block "
                "keeps its width"
            )
        last.skip, last.skip_path = s, path
        self.residuals.append((path, mod))

    def one(self, what: str, values: list[tuple]):
        """The one value every (path, value) pair shares, or None if there are none."""
        for path, v in values[1:]:
            if v != values[0][1]:
                raise self.error(
                    f"{what} differs between {values[0][0]!r} ({values[0][1]}) and {path!r} ({v}): "
                    f"pyvanish has one {what} per network"
                )
        return values[0][1] if values else None

    def check_softplus(self, dtype: np.dtype) -> None:
        info = np.finfo(dtype)
        lowest = math.ceil(-math.log(float(info.eps) / 4))  # exp(-t) below half a unit in the last place of 1 - 0
        for path, mod in self.softplus:
            t = float(mod.threshold)
            if not lowest <= t < math.log(float(info.max)):
                raise self.error(
                    f"{_name(path, mod)} with threshold={mod.threshold} is not supported in {dtype.name}: PyTorch "
                    f"returns x above the threshold (and overflows above {math.log(float(info.max)):.0f}), which "
                    f"is log(1 + e^x) in {dtype.name} only for a threshold from {lowest} to "
                    f"{math.floor(math.log(float(info.max)))}"
                )


def _from_torch(module, loss, dtype, fn: str, cls) -> Network:
    if not isinstance(module, nn.Module):
        raise TypeError(f"{fn}: module must be a torch.nn.Module, got {type(module).__name__}")
    r = _Reader(fn)
    r.read(module)
    layers = r.layers
    if dtype is None:
        dtype = np.float64 if layers[0].linear.weight.dtype == torch.float64 else np.float32
    bns = [(ly.norm[1], ly.norm[0]) for ly in layers if ly.norm is not None and _is(ly.norm[0], nn.BatchNorm1d)]
    lns = [ly.norm for ly in layers if ly.norm is not None and _is(ly.norm[0], nn.LayerNorm)]
    lns += [ly.pre for ly in layers if ly.pre is not None]
    bn_eps = r.one("bn_eps (BatchNorm1d eps)", [(p, m.eps) for p, m in bns])
    ln_eps = r.one("ln_eps (LayerNorm eps)", [(p, m.eps) for m, p in lns])
    scale = r.one("residual_scale (Residual scale)", [(p, m.scale) for p, m in r.residuals])
    batch_stats = r.one(
        "batch-norm mode (training, or not tracking running statistics)",
        [(p, bool(m.training or not m.track_running_stats)) for p, m in bns],
    )
    tracking = [(p, m) for p, m in bns if m.track_running_stats]
    for p, m in tracking:
        if m.momentum is None:
            raise r.error(
                f"{_name(p, m)} has momentum=None (a cumulative average), which pyvanish does not have: give it "
                "a momentum in [0, 1]"
            )
    momentum = r.one("bn_momentum (BatchNorm1d momentum)", [(p, m.momentum) for p, m in tracking])
    fields: dict = {
        "widths": [layers[0].linear.in_features] + [ly.linear.out_features for ly in layers],
        "activations": tuple(ly.act for ly in layers),
        "alphas": tuple(ly.alpha for ly in layers),
        "batchnorm": tuple(ly.norm is not None and _is(ly.norm[0], nn.BatchNorm1d) for ly in layers),
        "bn_eps": 1e-5 if bn_eps is None else bn_eps,
        "skips": tuple(ly.skip for ly in layers),
        "residual_scale": 1.0 if scale is None else scale,
        "dtype": dtype,
        "layernorm": tuple(ly.norm is not None and _is(ly.norm[0], nn.LayerNorm) for ly in layers),
        "prenorm": tuple(ly.pre is not None for ly in layers),
        "ln_eps": 1e-5 if ln_eps is None else ln_eps,
        "loss": loss,
    }
    arch = Architecture(**fields, fn=fn)
    r.check_softplus(arch.dtype)
    if momentum is not None and not 0 <= momentum <= 1:
        raise r.error(f"bn_momentum (BatchNorm1d momentum) must be in [0, 1], got {momentum}")
    arch.check_memory(fn)
    net = cls(arch, init="constant")
    copy = _Copier(fn, arch.dtype)
    for l, ly in enumerate(layers):
        copy(ly.path, ly.linear, "weight", net.weights[l])
        copy(ly.path, ly.linear, "bias", net.biases[l])
        if ly.norm is not None:
            norm, path = ly.norm
            copy(path, norm, "weight", net.gammas[l])
            copy(path, norm, "bias", net.betas[l])
            if _is(norm, nn.BatchNorm1d) and norm.track_running_stats:
                copy(path, norm, "running_mean", net.running_stats[l][0])
                copy(path, norm, "running_var", net.running_stats[l][1])
        if ly.pre is not None:
            copy(ly.pre[1], ly.pre[0], "weight", net.pre_gammas[l])
            copy(ly.pre[1], ly.pre[0], "bias", net.pre_betas[l])
    if batch_stats is not None:
        net.training = batch_stats
    if momentum is not None:
        net.bn_momentum = momentum
    return net


class _Copier:
    """Copies a module's tensor into a network's view, refusing values the dtype cannot hold."""

    def __init__(self, fn: str, dtype: np.dtype) -> None:
        self.fn, self.dtype = fn, dtype

    def __call__(self, path: str, mod, name: str, target: np.ndarray) -> None:
        tensor = getattr(mod, name, None)
        if tensor is None:  # no bias, no affine parameters: the engine's 0 / 1 stay
            return
        where = _join(path, name)
        if tensor.is_complex() or not tensor.is_floating_point():
            raise ValueError(f"{self.fn}: {where} has dtype {tensor.dtype}; expected real floating point")
        a = tensor.detach().to("cpu", torch.float64).numpy()
        with np.errstate(over="ignore"):
            b = a.astype(self.dtype)
        if not np.isfinite(b).all():
            problem = "has NaN or Inf values" if not np.isfinite(a).all() else f"does not fit in {self.dtype.name}"
            raise ValueError(f"{self.fn}: {where} {problem}")
        target[...] = b.reshape(target.shape)


# ---------------------------------------------------------------- to_torch
def to_torch(net: Network) -> nn.Sequential:
    """An ``nn.Sequential`` that computes what ``net`` computes (parameters copied).

    Each layer becomes ``[LayerNorm] Linear [BatchNorm1d | LayerNorm]
    [activation]`` (no module for the identity activation), in the
    network's dtype; a layer ``l`` with skip source ``h_s`` puts layers
    ``s+1..l`` in a :class:`Residual` block with the network's
    ``residual_scale``. Batch norm gets the running statistics,
    ``bn_momentum`` and ``training`` mode (``model.train(net.training)``);
    ``Softplus`` gets ``threshold=`` :data:`SOFTPLUS_THRESHOLD`.
    ``from_torch(to_torch(net), loss=net.loss)`` rebuilds the same
    architecture with bitwise-equal parameters (fields without effect, such as
    ``bn_eps`` without batch norm, take their defaults).

    Parameters
    ----------
    net : Network

    Returns
    -------
    torch.nn.Sequential

    Raises
    ------
    ValueError
        If two residual blocks overlap without one holding the other (not
        expressible as nested ``Residual`` modules), naming the layer.

    Examples
    --------
    >>> import pyvanish
    >>> from pyvanish.torch import to_torch
    >>> net = pyvanish.Network([3, 4, 4, 1], activation="leaky_relu", alpha=0.2, batchnorm=[True, False, False],
    ...                        residual=True, seed=0)
    >>> to_torch(net)
    Sequential(
      (0): Linear(in_features=3, out_features=4, bias=True)
      (1): BatchNorm1d(4, eps=1e-05, momentum=0.1, ...)
      (2): LeakyReLU(negative_slope=0.2)
      (3): Residual(
        scale=1.0
        (block): Sequential(
          (0): Linear(in_features=4, out_features=4, bias=True)
          (1): LeakyReLU(negative_slope=0.2)
        )
      )
      (4): Linear(in_features=4, out_features=1, bias=True)
    )
    """
    return _to_torch(net, "to_torch")


def _to_torch(net, fn: str) -> nn.Sequential:
    if not isinstance(net, Network):
        raise TypeError(f"{fn}: net must be a pyvanish.Network, got {type(net).__name__}")
    arch = net.architecture
    L, n = arch.depth, arch.widths
    layernorm, prenorm, ln_eps = arch.layernorm, arch.prenorm, arch.ln_eps
    kw: dict = {"dtype": torch.float64 if arch.dtype == np.float64 else torch.float32}
    starts: dict = {}  # first layer of a block -> the blocks' last layers
    for l, s in enumerate(arch.skips, start=1):
        if s is not None:
            starts.setdefault(s + 1, []).append(l)
    model = nn.Sequential()
    stack: list = [(model, None, 0)]  # (container, its block's last layer, its first layer)
    with torch.no_grad():
        for l in range(1, L + 1):
            for end in sorted(starts.get(l, ()), reverse=True):  # the outer block first
                stack.append((nn.Sequential(), end, l))
            seq = stack[-1][0]
            if prenorm[l - 1]:
                seq.append(
                    _param(nn.LayerNorm(n[l - 1], eps=ln_eps, **kw), net.pre_gammas[l - 1], net.pre_betas[l - 1])
                )
            seq.append(_param(nn.Linear(n[l - 1], n[l], **kw), net.weights[l - 1], net.biases[l - 1]))
            if arch.batchnorm[l - 1]:
                bn = nn.BatchNorm1d(n[l], eps=arch.bn_eps, momentum=net.bn_momentum, **kw)
                seq.append(_param(bn, net.gammas[l - 1], net.betas[l - 1], *net.running_stats[l - 1]))
            elif layernorm[l - 1]:
                seq.append(_param(nn.LayerNorm(n[l], eps=ln_eps, **kw), net.gammas[l - 1], net.betas[l - 1]))
            act = arch.activations[l - 1]
            if act != "identity":
                cls, attr = _ACTIVATIONS[act]
                args = {attr: arch.alphas[l - 1]} if attr else {}
                seq.append(cls(threshold=SOFTPLUS_THRESHOLD) if act == "softplus" else cls(**args))
            elif l < L and prenorm[l]:  # marks the next LayerNorm as layer l+1's prenorm, not layer l's norm
                seq.append(nn.Identity())
            if arch.skips[l - 1] is not None:
                block, end, first = stack.pop()
                if end != l:
                    s = arch.skips[l - 1]
                    raise ValueError(
                        f"{fn}: layer {l}'s skip from h_{s} (a block of layers {s + 1}..{l}) and layer {end}'s skip "
                        f"from h_{first - 1} (layers {first}..{end}) overlap without one holding the other, which "
                        "nested Residual blocks cannot express"
                    )
                stack[-1][0].append(Residual(block, arch.residual_scale))
    return model.train(net.training)


def _param(mod, *values):
    """``mod`` with its weight, bias (and running mean and variance) copied from NumPy, exactly."""
    for name, value in zip(("weight", "bias", "running_mean", "running_var"), values):
        getattr(mod, name).copy_(torch.from_numpy(np.array(value)))
    return mod
