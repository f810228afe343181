"""pyvanish.Network: a dense network whose whole gradient chain runs in C++."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import _engine, _html
from ._validate import as_arrays, check_seed, class_targets
from .architecture import Architecture, ArchitectureProperties
from .init import check_init_args, init_weight
from .report import GradientReport

# The architecture arguments of Network/Ensemble and their defaults (an
# Architecture passed as `widths` replaces all of them).
_ARCH_DEFAULTS = {
    "activation": "tanh",
    "output_activation": "identity",
    "activations": None,
    "alpha": None,
    "batchnorm": False,
    "bn_eps": 1e-5,
    "residual": False,
    "residual_block": 1,
    "residual_scale": 1.0,
    "dtype": np.float64,
    "layernorm": False,
    "prenorm": False,
    "ln_eps": 1e-5,
    "loss": "mse",
}


def architecture_of(widths, fn: str, scope: dict) -> Architecture:
    """The architecture of a ``Network``/``Ensemble`` call: ``widths`` if it is an
    :class:`Architecture` (then every architecture argument in ``scope``, the
    caller's arguments, must keep its default), else ``Architecture.build``
    of those arguments."""
    kwargs = {k: scope[k] for k in _ARCH_DEFAULTS}
    if isinstance(widths, Architecture):
        given = [
            k
            for k, v in kwargs.items()
            if not (v is _ARCH_DEFAULTS[k] or (isinstance(v, (str, float, int, bool)) and v == _ARCH_DEFAULTS[k]))
        ]
        if given:
            raise TypeError(
                f"{fn}: widths is an Architecture, which fixes {', '.join(given)}; "
                "use Architecture.replace to change it"
            )
        return widths
    return Architecture.build(widths, fn=fn, **kwargs)


class Network(ArchitectureProperties):
    """A dense network ``x -> h_1 -> … -> h_L = y`` and its loss.

    Layer ``l`` computes ``h_l = phi_l(h_{l-1} W_l^T + b_l)`` with ``W_l`` of
    shape ``(n_l, n_{l-1})`` like ``torch.nn.Linear`` (with the batch norm,
    layer norm and residual connections asked for). The forward pass, the
    loss, the backward pass, every per-layer statistic, both ratios and the
    verdict run in one C++ call (:meth:`gradient_report`); the engine owns
    the parameters and its workspace, so repeated calls allocate almost
    nothing.

    Parameters
    ----------
    widths : sequence of int or Architecture
        ``[n_0, n_1, ..., n_L]``: input width, hidden widths, output width;
        or a whole :class:`pyvanish.Architecture` (then leave the other
        architecture arguments, ``activation`` to ``dtype``, at their defaults).
    activation : str
        Activation of the hidden layers (default ``"tanh"``); one of
        :data:`pyvanish.ACTIVATIONS` (``"swish"`` = ``"silu"``).
    output_activation : str
        Activation of the output layer (default ``"identity"``).
    activations : sequence of str, optional
        One activation per layer (``L`` names), instead of the two above.
    init : str
        Weight initialisation, see :mod:`pyvanish.init` (default ``"xavier"``).
    sw, sb : float
        ``Var(W) = sw**2 / fan_in`` for ``init="normal"``; biases ``~ N(0, sb**2)``.
    gain : float, optional
        Gain for xavier/he/lecun/orthogonal (their usual default if None).
    value : float
        The weight of ``init="constant"``.
    alpha : float or sequence of float, optional
        Slope of leaky_relu (default 0.01) / scale of elu (default 1.0); one
        value for every layer or one per layer.
    weights, biases : sequence of array_like, optional
        Explicit parameters (``L`` arrays each), overriding ``init``/``sb``.
    batchnorm : bool or sequence of bool
        Batch normalisation after the dense step, before the activation
        (``u = gamma * (z - mean) / sqrt(var + bn_eps) + beta``, training-mode
        batch statistics; ``gamma = 1``, ``beta = 0`` initially). ``True``:
        every hidden layer ``1..L-1``; or one flag per layer.
    bn_eps : float
        Batch-norm epsilon (default 1e-5).
    residual : bool or sequence of bool
        Residual (skip) connections ``h_l = h_{l-k} + residual_scale * phi(u_l)``,
        ``k = residual_block``. ``True``: the hidden layers ``2..L-1`` in
        consecutive blocks of ``k`` layers, each block adding its input to its
        output (``h = h_in + F(h_in)``); or one flag per layer (a flagged
        layer ``l`` takes its skip from ``h_{l-k}``). The two widths must match.
    residual_block : int
        Layers per residual block, ``k`` (default 1).
    residual_scale : float
        The scale of the residual branch (default 1; SkipInit/NFNet-style < 1).
    layernorm : bool or sequence of bool
        Layer normalisation after the dense step, before the activation
        (each sample over the layer's units, ``torch.nn.LayerNorm``; learnable
        ``gamma = 1``, ``beta = 0`` initially, in :attr:`gammas`/:attr:`betas`).
        ``True``: every hidden layer ``1..L-1``; or one flag per layer. Not
        with batch norm on the same layer.
    prenorm : bool or sequence of bool
        Layer normalisation of a layer's *input* before its dense step
        (parameters in :attr:`pre_gammas`/:attr:`pre_betas`). With
        ``residual=True`` this is the transformer's pre-norm block
        ``h = h + F(LN(h))``; ``True``: the first layer of every residual block
        and the output layer (the final norm before the head).
    ln_eps : float
        Layer-norm epsilon (default 1e-5).
    loss : str
        ``"mse"`` (default, ``1/(2B) sum |y - t|^2``), ``"cross_entropy"``
        (softmax over the outputs with the negative log-likelihood, mean over
        the batch, as ``torch.nn.functional.cross_entropy``; targets are class
        indices or probability rows; use ``output_activation="identity"``:
        the outputs are logits) or ``"bce"`` (sigmoid with binary
        cross-entropy, mean over every output, as
        ``binary_cross_entropy_with_logits``). See :data:`pyvanish.LOSSES`.
    seed : int or numpy.random.Generator, optional
        Seeds the initialisation (reproducible).
    dtype : float32 or float64

    Examples
    --------
    >>> import numpy as np, pyvanish
    >>> net = pyvanish.Network([4, 8, 8, 1], activation="sigmoid", init="normal", seed=0)
    >>> rep = net.gradient_report(np.ones((2, 4)), np.zeros((2, 1)))
    >>> rep.grad_h.shape, rep.grad_W.shape
    ((4,), (3,))
    """

    def __init__(
        self,
        widths: Sequence[int] | Architecture,
        activation: str = "tanh",
        output_activation: str = "identity",
        *,
        activations: Sequence[str] | None = None,
        init: str = "xavier",
        sw: float = 1.0,
        sb: float = 0.0,
        gain: float | None = None,
        value: float = 0.0,
        alpha=None,
        weights=None,
        biases=None,
        batchnorm=False,
        bn_eps: float = 1e-5,
        residual=False,
        residual_block: int = 1,
        residual_scale: float = 1.0,
        seed=None,
        dtype=np.float64,
        layernorm=False,
        prenorm=False,
        ln_eps: float = 1e-5,
        loss: str = "mse",
    ):
        fn = "Network"
        arch = architecture_of(widths, fn, locals())
        init_name = check_init_args(init, sw, sb, gain, value, fn)
        self._init = init_name if weights is None else "explicit"
        seed = check_seed(seed, fn)
        arch.check_memory(fn)
        self._arch = arch
        self._engine = e = _engine.network_engine(arch)
        n, L = arch.widths, arch.depth
        params, grads, state = e.params, e.grads, e.state

        def per_layer(buf, off, shape, where=None):
            return tuple(
                buf[off(l) : off(l) + int(np.prod(shape(l)))].reshape(shape(l))
                if where is None or where[l - 1]
                else None
                for l in range(1, L + 1)
            )

        matrix, vector = (lambda l: (n[l], n[l - 1])), (lambda l: (n[l],))
        self._W = per_layer(params, e.weight_offset, matrix)
        self._b = per_layer(params, e.bias_offset, vector)
        self._dW = per_layer(grads, e.weight_offset, matrix)
        self._db = per_layer(grads, e.bias_offset, vector)
        bn, normed, pre = arch.batchnorm, arch.normed, arch.prenorm
        self._gamma = per_layer(params, e.gamma_offset, vector, normed)
        self._beta = per_layer(params, e.beta_offset, vector, normed)
        self._dgamma = per_layer(grads, e.gamma_offset, vector, normed)
        self._dbeta = per_layer(grads, e.beta_offset, vector, normed)
        inputs = lambda l: (n[l - 1],)  # noqa: E731
        self._pre_gamma = per_layer(params, e.pre_gamma_offset, inputs, pre)
        self._pre_beta = per_layer(params, e.pre_beta_offset, inputs, pre)
        self._running = tuple(
            (
                state[e.state_offset(l) : e.state_offset(l) + n[l]],
                state[e.state_offset(l) + n[l] : e.state_offset(l) + 2 * n[l]],
            )
            if bn[l - 1]
            else None
            for l in range(1, L + 1)
        )
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        with np.errstate(over="ignore"):  # scales beyond float32: caught after the draws
            self._draw(rng, L, weights, biases, sw, sb, gain, value)
        if weights is not None:
            self.set_weights(weights)
        if biases is not None:
            self.set_biases(biases)
        if not np.isfinite(params).all():
            raise ValueError(
                f"{fn}: the initial parameters do not fit in {arch.dtype.name} "
                f"(sw={sw}, sb={sb}, value={value}): choose smaller scales or float64"
            )

    def _draw(self, rng, L, weights, biases, sw, sb, gain, value):
        n = self._arch.widths
        for l in range(1, L + 1):
            if weights is None:
                self._W[l - 1][...] = init_weight(
                    rng, self._init, n[l], n[l - 1], sw=float(sw), gain=gain, value=float(value)
                )
            if biases is None and sb > 0:
                self._b[l - 1][...] = rng.normal(0.0, float(sb), n[l])

    # ------------------------------------------------------------ structure
    @property
    def init(self) -> str:
        """The initialisation the weights were drawn with (``"explicit"`` if given)."""
        return self._init

    @property
    def weights(self) -> tuple:
        """``W_1..W_L``, writable views into the engine (``W_l`` is ``(n_l, n_{l-1})``)."""
        return self._W

    @property
    def biases(self) -> tuple:
        """``b_1..b_L``, writable views into the engine."""
        return self._b

    @property
    def gammas(self) -> tuple:
        """Batch- or layer-norm scales per layer (writable views; None where neither)."""
        return self._gamma

    @property
    def betas(self) -> tuple:
        """Batch- or layer-norm shifts per layer (writable views; None where neither)."""
        return self._beta

    @property
    def pre_gammas(self) -> tuple:
        """Scales of each pre-norm layer's input layer norm, ``(n_{l-1},)`` (writable views; None elsewhere)."""
        return self._pre_gamma

    @property
    def pre_betas(self) -> tuple:
        """Shifts of each pre-norm layer's input layer norm (writable views; None elsewhere)."""
        return self._pre_beta

    @property
    def running_stats(self) -> tuple:
        """Per batch-norm layer ``(running_mean, running_var)`` (unbiased), else None.

        Updated by every training-mode pass with :attr:`bn_momentum` (0.1,
        PyTorch's convention); used instead of batch statistics in evaluation mode.
        """
        return self._running

    @property
    def bn_momentum(self) -> float:
        """The momentum of the batch-norm running statistics (default 0.1)."""
        return self._engine.momentum

    @bn_momentum.setter
    def bn_momentum(self, value: float) -> None:
        try:
            self._engine.momentum = float(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"Network.bn_momentum: {exc}") from None

    @property
    def training(self) -> bool:
        """Batch-norm mode: True (batch statistics) or False (running statistics)."""
        return self._engine.training

    @training.setter
    def training(self, value: bool) -> None:
        self._engine.training = bool(value)

    @property
    def n_params(self) -> int:
        """The number of parameters (weights, biases, batch-norm scales and shifts)."""
        return self._arch.n_params

    def set_weights(self, weights) -> None:
        """Copy ``L`` weight matrices in (any array-likes of the right shapes)."""
        self._set(weights, self._W, "weights", self._engine.weight_offset)

    def set_biases(self, biases) -> None:
        """Copy ``L`` bias vectors in."""
        self._set(biases, self._b, "biases", self._engine.bias_offset)

    def _set(self, values, targets, name, offset):
        fn = f"Network.set_{name}"
        if not hasattr(values, "__len__") or isinstance(values, (str, bytes)):
            raise TypeError(f"{fn}: expected a sequence of {len(targets)} arrays, one per layer, got {values!r}")
        if isinstance(values, np.ndarray) or len(values) != len(targets):
            raise ValueError(f"{fn}: expected a sequence of {len(targets)} arrays, one per layer")
        arrays = []
        for l, (v, t) in enumerate(zip(values, targets), start=1):
            (a,) = as_arrays(fn, True, **{f"{name}[{l - 1}]": v})
            if a.shape != t.shape:
                raise ValueError(f"{fn}: {name}[{l - 1}] (layer {l}) has shape {a.shape}, expected {t.shape}")
            with np.errstate(over="ignore"):
                a = a.astype(t.dtype, copy=False)
            if not np.isfinite(a).all():
                raise ValueError(f"{fn}: {name}[{l - 1}] (layer {l}) does not fit in {t.dtype.name}")
            arrays.append(a)
        try:  # under the network's lock: never in the middle of another thread's run
            for l, a in enumerate(arrays, start=1):
                self._engine.assign(offset(l), np.ascontiguousarray(a).ravel())
        except RuntimeError as exc:
            raise RuntimeError(f"{fn}: {exc}") from None

    def copy(self) -> Network:
        """An independent network with the same structure, parameters and state."""
        net = Network(self._arch, init="constant")
        net._init = self._init
        net._engine.params[...] = self._engine.params
        net._engine.state[...] = self._engine.state
        net.training = self.training
        net.bn_momentum = self.bn_momentum
        return net

    def __repr__(self) -> str:
        return f"Network({self._arch.describe(init=self._init)}, params={self.n_params})"

    def _repr_html_(self) -> str:
        """In Jupyter: the architecture layer by layer with each weight matrix's Frobenius norm and
        a sparkline of log10 |W_l|_F (a network has no verdict until it sees data: see
        :meth:`gradient_report`)."""
        L, w = self.depth, self.widths
        norms = np.array([float(np.linalg.norm(np.asarray(W, dtype=np.float64))) for W in self._W])
        rows = [
            [
                l,
                f"{w[l - 1]} -> {w[l]}",
                self.activations[l - 1],
                "yes" if self.batchnorm[l - 1] else "",
                f"h_{self.skips[l - 1]}" if self.skips[l - 1] is not None else "",
                f"{norms[l - 1]:.4g}",
            ]
            for l in range(1, L + 1)
        ]
        label = ("log10 |W_l|_F",)
        return _html.card(
            repr(self),
            _html.Html(
                f"{_html.sparkline([(label[0], np.arange(1, L + 1), _html.log10(norms))])} {_html.legend(label)}"
            ),
            _html.table(["layer", "widths", "activation", "batch norm", "skip from", "|W_l|_F"], _html.elide(rows)),
            "gradient_report(x, t) runs it: per-layer gradient norms and the verdict",
        )

    def __reduce__(self):
        """Pickles as its Architecture, init name, a copy of its parameters and
        batch-norm state, its ``training`` flag and ``bn_momentum`` (the engine
        itself is not picklable; unpickling builds a new one)."""
        e = self._engine
        state = (self._init, e.params.copy(), e.state.copy(), self.training, self.bn_momentum)
        return (_unpickle_network, (self._arch, state))

    # ------------------------------------------------------------ running
    def _inputs(self, x, t, fn, name="t"):
        """x, t as C-contiguous (B, n_0), (B, n_L) arrays of the network's dtype
        (the input policy; class indices become one-hot rows; finiteness is the
        engine's single check). ``name``: what t is called in messages
        (``"grad_output"``: dL/dy itself, never class indices)."""
        if name == "t":
            t = class_targets(t, self._arch.loss, self._arch.widths[-1], fn)
        x, t = as_arrays(fn, False, **{"x": x, name: t})
        dt = self._arch.dtype
        with np.errstate(over="ignore"):  # float64 beyond float32's range: inf, refused by the engine's check
            x, t = x.astype(dt, copy=False), t.astype(dt, copy=False)
        x, t = self._batch(x, t, fn, name)
        return np.ascontiguousarray(x), np.ascontiguousarray(t)

    def _batch(self, x, t, fn, name="t"):
        """The policy's shape rules (and its messages): (B, n_0) and (B, n_L)."""
        x = _as_batch(x, self._arch.widths[0], "x", fn)
        t = _as_batch(t, self._arch.widths[-1], name, fn)
        if x.shape[0] != t.shape[0]:
            raise ValueError(
                f"{fn}: x has {x.shape[0]} samples (shape {x.shape}) but {name} has {t.shape[0]} (shape {t.shape})"
            )
        return x, t

    def _input(self, x, fn):
        """x alone, as a C-contiguous (B, n_0) array of the network's dtype."""
        (x,) = as_arrays(fn, False, x=x)
        with np.errstate(over="ignore"):
            x = x.astype(self._arch.dtype, copy=False)
        return np.ascontiguousarray(_as_batch(x, self._arch.widths[0], "x", fn))

    def _ready(self, a) -> bool:
        """Already in the engine's layout: a 2-d C-contiguous, aligned ndarray of the network's dtype
        (arrays from a Dask worker can be unaligned views into a received buffer)."""
        f = a.flags if type(a) is np.ndarray else None
        return f is not None and a.dtype == self._arch.dtype and a.ndim == 2 and f.c_contiguous and f.aligned

    def gradient_report(
        self, x, t=None, *, grad_output=None, return_grads: bool = False, check_finite: bool = True
    ) -> GradientReport:
        """Forward, loss, backward, per-layer statistics and the verdict on one batch.

        Parameters
        ----------
        x : array_like, shape (B, n_0)
            Inputs (a 1-d array is one sample, or a column when ``n_0 == 1``).
        t : array_like, shape (B, n_L)
            Targets of the network's :attr:`loss` (for ``"cross_entropy"`` also
            class indices, shape (B,)).
        grad_output : array_like, shape (B, n_L), optional
            Instead of ``t``: ``dL/dy`` itself, back-propagated as given (any
            loss of your own; the report's ``loss`` is then NaN).
        return_grads : bool
            Also return every per-layer gradient (``report.grads``).
        check_finite : bool
            Reject NaN/Inf in ``x`` and ``t`` (default). NaN/Inf *produced*
            by the network are counted in the report, never raised.

        Returns
        -------
        GradientReport

        Examples
        --------
        >>> import pyvanish
        >>> net = pyvanish.Network([1, 1, 1, 1, 1], activation="sigmoid", output_activation="sigmoid",
        ...                        init="normal", seed=0)
        >>> net.gradient_report([[1.0]], [[0.0]]).verdict
        'vanishing'
        """
        fn = "Network.gradient_report"
        kind, name = -1, "t"
        if grad_output is not None:
            if t is not None:
                raise TypeError(f"{fn}: give the targets t or grad_output (dL/dy), not both")
            t, kind, name = grad_output, _engine.LOSS_CODES["given"], "grad_output"
        elif t is None:
            raise TypeError(f"{fn}: t (the targets) is required, or grad_output (dL/dy)")
        # The engine takes 2-d arrays as they are and refuses (TypeError) another dtype or a
        # layout that is not C-contiguous and aligned; anything else goes through the policy.
        # Checking only the cheap part here keeps a tutorial network's report at engine cost.
        if type(x) is not np.ndarray or type(t) is not np.ndarray or x.ndim != 2 or t.ndim != 2:
            x, t = self._inputs(x, t, fn, name)
        try:
            try:
                out = self._engine.run(x, t, check_finite, return_grads, kind)
            except TypeError:
                if self._ready(x) and self._ready(t):
                    raise
                x, t = self._inputs(x, t, fn, name)
                out = self._engine.run(x, t, check_finite, return_grads, kind)
        except ValueError as exc:
            self._batch(x, t, fn, name)  # a shape problem: the policy's message
            raise ValueError(f"{fn}: {str(exc).replace('t contains', f'{name} contains', 1)}") from None
        except (TypeError, RuntimeError) as exc:
            raise type(exc)(f"{fn}: {exc}") from None
        except MemoryError as exc:
            raise MemoryError(f"{fn}: out of memory for a batch of {x.shape[0]} ({exc})") from None
        return _report(self, out) if return_grads else GradientReport._of(self._arch._labels, out)

    def forward(self, x, *, all_layers: bool = False, check_finite: bool = True):
        """The network's output ``y`` (B, n_L) for inputs ``x`` (B, n_0).

        With ``all_layers=True``: the list ``[h_1, ..., h_L]`` of every
        layer's output (``h_L = y``), e.g. for per-layer activation histograms.
        Batch norm uses batch statistics in training mode (and then updates
        its running statistics, as any training-mode pass does).

        Examples
        --------
        >>> import pyvanish
        >>> net = pyvanish.Network([2, 3, 1], activations=["relu", "identity"], init="constant", value=1.0)
        >>> net.forward([[1.0, -3.0]]).tolist(), [h.shape for h in net.forward([[1.0, 2.0]], all_layers=True)]
        ([[0.0]], [(1, 3), (1, 1)])
        """
        fn = "Network.forward"
        if not self._ready(x):
            x = self._input(x, fn)
        try:
            hs = self._engine.forward(x, check_finite)
        except (ValueError, TypeError, RuntimeError) as exc:
            raise type(exc)(f"{fn}: {exc}") from None
        except MemoryError as exc:
            raise MemoryError(f"{fn}: out of memory for a batch of {x.shape[0]} ({exc})") from None
        return hs if all_layers else hs[-1]

    def jacobian(self, x, *, check_finite: bool = True) -> np.ndarray:
        """The input-output Jacobian ``dy/dx`` of each sample: shape (B, n_L, n_0).

        Computed in C++ by forward propagation of ``dh_l/dx`` through the
        layers (``I + scale * dF/dh`` across residual connections). Batch
        norm must be in evaluation mode (``net.training = False``): in
        training mode the batch statistics couple the samples.

        Examples
        --------
        >>> import pyvanish
        >>> net = pyvanish.Network([2, 2], activations=["identity"], init="constant", value=0.5)
        >>> net.jacobian([[1.0, 2.0]]).tolist()
        [[[0.5, 0.5], [0.5, 0.5]]]
        """
        fn = "Network.jacobian"
        if not self._ready(x):
            x = self._input(x, fn)
        try:
            return self._engine.jacobian(x, check_finite)
        except (ValueError, TypeError, RuntimeError) as exc:
            raise type(exc)(f"{fn}: {exc}") from None
        except MemoryError as exc:
            raise MemoryError(f"{fn}: out of memory for a batch of {x.shape[0]} ({exc})") from None

    def jacobian_spectrum(self, x, *, check_finite: bool = True):
        """Singular values of :meth:`jacobian` and their summary (:class:`pyvanish.spectrum.JacobianSpectrum`).

        Examples
        --------
        >>> import numpy as np, pyvanish
        >>> net = pyvanish.Network([8, 8, 8], activation="tanh", init="orthogonal", seed=0)
        >>> s = net.jacobian_spectrum(np.zeros((4, 8)))
        >>> round(s.max, 6), round(s.min, 6)       # tanh'(0) = 1, orthogonal W: isometric
        (1.0, 1.0)
        """
        from .spectrum import spectrum_of

        return spectrum_of(self.jacobian(x, check_finite=check_finite))

    # ------------------------------------------------------------ interop
    @classmethod
    def from_torch(cls, module, dtype=None, *, loss: str = "mse") -> Network:
        """A network equal to a PyTorch model, parameters copied (see :func:`pyvanish.torch.from_torch`).

        Reads an ``nn.Sequential`` (nested ones too) of ``Linear``, the
        supported activations, ``BatchNorm1d``, ``LayerNorm``,
        :class:`pyvanish.torch.Residual` blocks and the no-ops ``Dropout``
        (as in evaluation mode), ``Identity`` and ``Flatten``; anything else
        is refused by its path in the model. Needs PyTorch (only here).

        Parameters
        ----------
        module : torch.nn.Module
        dtype : float32 or float64, optional
            Default: float64 for a float64 model, else float32.
        loss : str
            The network's loss (default ``"mse"``).

        Examples
        --------
        >>> import torch, pyvanish
        >>> model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
        >>> pyvanish.Network.from_torch(model).activations
        ('tanh', 'identity')
        """
        fn = "Network.from_torch"
        try:
            from .torch import _from_torch
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError(f"{fn} needs PyTorch (pip install torch)") from None
        return _from_torch(module, loss, dtype, fn, cls)

    def to_torch(self):
        """An equal ``torch.nn.Sequential``, parameters copied (see :func:`pyvanish.torch.to_torch`).

        Residual connections become :class:`pyvanish.torch.Residual` blocks;
        ``Network.from_torch(net.to_torch(), loss=net.loss)`` rebuilds the
        network exactly. Needs PyTorch (only here).

        Examples
        --------
        >>> import pyvanish
        >>> pyvanish.Network([2, 3, 1], activation="relu", seed=0).to_torch()
        Sequential(
          (0): Linear(in_features=2, out_features=3, bias=True)
          (1): ReLU()
          (2): Linear(in_features=3, out_features=1, bias=True)
        )
        """
        fn = "Network.to_torch"
        try:
            from .torch import _to_torch
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError(f"{fn} needs PyTorch (pip install torch)") from None
        return _to_torch(self, fn)


def _unpickle_network(arch: Architecture, state: tuple) -> Network:
    init, params, bn_state, training, momentum = state
    net = Network(arch, init="constant")
    net._init = init
    net._engine.params[...] = params
    net._engine.state[...] = bn_state
    net.training = training
    net.bn_momentum = momentum
    return net


def _as_batch(a: np.ndarray, n: int, name: str, fn: str) -> np.ndarray:
    if a.ndim == 0 and n == 1:
        return a.reshape(1, 1)
    if a.ndim == 1:
        if n == 1:
            return a.reshape(-1, 1)
        if a.shape[0] == n:
            return a.reshape(1, n)
    if a.ndim != 2 or a.shape[1] != n:
        raise ValueError(f"{fn}: {name} has shape {a.shape}, expected (B, {n})")
    return a


def _report(net: Network, out: dict) -> GradientReport:
    """A GradientReport around one engine call's results (the engine's dict of fields)."""
    g = out["grads"]
    if g is not None:
        flat = g["params_grad"]
        e, n, L = net._engine, net.widths, net.depth

        def layer(off, shape, where=(True,) * L):
            return [
                flat[off(l) : off(l) + int(np.prod(shape(l)))].reshape(shape(l)) if where[l - 1] else None
                for l in range(1, L + 1)
            ]

        vec, bn, pre = (lambda l: (n[l],)), net.architecture.normed, net.prenorm
        out["grads"] = {
            "W": layer(e.weight_offset, lambda l: (n[l], n[l - 1])),
            "b": layer(e.bias_offset, vec),
            "h": g["dh"],
            "z": g["dz"],
            "u": g["du"],
            "h_forward": g["h"],
            "z_forward": g["z"],
            "gamma": layer(e.gamma_offset, vec, bn),
            "beta": layer(e.beta_offset, vec, bn),
            "pre_gamma": layer(e.pre_gamma_offset, lambda l: (n[l - 1],), pre),
            "pre_beta": layer(e.pre_beta_offset, lambda l: (n[l - 1],), pre),
        }
    return GradientReport._of(net._arch._labels, out)
