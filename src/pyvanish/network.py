"""pyvanish.Network: a dense network whose whole gradient chain runs in C++."""
from __future__ import annotations

import math
import threading
from typing import Sequence

import numpy as np

from . import _core
from ._validate import ACTIVATIONS, activation_code, alpha_for, as_arrays, check_seed
from .init import canonical, init_weight
from .report import GradientReport

_ENGINES = {np.dtype(np.float32): _core.Network32, np.dtype(np.float64): _core.Network64}


def _dtype(dtype, fn: str) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in _ENGINES:
        raise TypeError(f"{fn}: dtype must be float32 or float64, got {dtype!r}")
    return dt


def _widths(widths, fn: str) -> tuple:
    try:
        ws = [int(w) if float(w) == int(w) else None for w in widths]
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"{fn}: widths must be a sequence of positive integers, got {widths!r}") from None
    if len(ws) < 2:
        raise ValueError(f"{fn}: widths needs at least 2 entries (input and output width), got {list(widths)!r}")
    for i, w in enumerate(ws):
        if w is None or w < 1:
            raise ValueError(f"{fn}: widths[{i}] is {widths[i]!r}, expected a positive integer")
    return tuple(ws)


class Network:
    """A dense network ``x -> h_1 -> ... -> h_L = y`` with MSE loss.

    Layer ``l`` computes ``h_l = phi_l(h_{l-1} W_l^T + b_l)`` with ``W_l`` of
    shape ``(n_l, n_{l-1})`` like ``torch.nn.Linear``. The forward pass, the
    loss, the backward pass and every per-layer statistic run in one C++ call
    (:meth:`gradient_report`); the engine owns the parameters and its
    workspace, so repeated calls allocate almost nothing.

    Parameters
    ----------
    widths : sequence of int
        ``[n_0, n_1, ..., n_L]``: input width, hidden widths, output width.
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

    def __init__(self, widths: Sequence[int], activation: str = "tanh",
                 output_activation: str = "identity", *, activations: Sequence[str] | None = None,
                 init: str = "xavier", sw: float = 1.0, sb: float = 0.0, gain: float | None = None,
                 value: float = 0.0, alpha: float | None = None, weights=None, biases=None,
                 batchnorm=False, bn_eps: float = 1e-5, residual=False, residual_block: int = 1,
                 residual_scale: float = 1.0, seed=None, dtype=np.float64):
        fn = "Network"
        self._widths = _widths(widths, fn)
        L = len(self._widths) - 1
        if activations is None:
            activations = [activation] * (L - 1) + [output_activation]
        elif isinstance(activations, str) or len(activations) != L:
            raise ValueError(f"{fn}: activations needs one name per layer ({L}), got {activations!r}")
        codes = [activation_code(a, fn) for a in activations]
        self._activations = tuple(ACTIVATIONS[c] for c in codes)
        if alpha is None or np.ndim(alpha) == 0:
            alpha = [alpha] * L
        elif len(alpha) != L:
            raise ValueError(f"{fn}: alpha needs one value per layer ({L}) or a single value, got {alpha!r}")
        self._alphas = tuple(alpha_for(a, al, fn) for a, al in zip(self._activations, alpha))
        self._dtype = _dtype(dtype, fn)
        for name, v in (("sw", sw), ("sb", sb), ("value", value)) + ((("gain", gain),) if gain is not None else ()):
            if not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
                raise ValueError(f"{fn}: {name} must be a finite number, got {v!r}")
        if sw < 0 or sb < 0:
            raise ValueError(f"{fn}: sw and sb are standard deviations, expected >= 0, got sw={sw}, sb={sb}")
        if gain is not None and gain < 0:
            raise ValueError(f"{fn}: gain must be >= 0, got {gain}")
        seed = check_seed(seed, fn)
        self._init = canonical(init, fn) if weights is None else "explicit"
        self._lock = threading.Lock()
        self._bn = _per_layer(batchnorm, L, fn, "batchnorm", default=[True] * (L - 1) + [False])
        self._skips = _skips(residual, residual_block, self._widths, fn)
        for name, v in (("bn_eps", bn_eps), ("residual_scale", residual_scale)):
            if not isinstance(v, (int, float, np.floating, np.integer)) or not math.isfinite(v):
                raise ValueError(f"{fn}: {name} must be a finite number, got {v!r}")
        if bn_eps <= 0:
            raise ValueError(f"{fn}: bn_eps must be positive, got {bn_eps}")
        self._bn_eps, self._residual_scale = float(bn_eps), float(residual_scale)
        self._engine = _ENGINES[self._dtype](
            list(self._widths), codes, list(self._alphas), list(self._bn), [self._bn_eps] * L,
            [-1 if s is None else s for s in self._skips], [self._residual_scale] * L)
        params = self._engine.params
        self._W = tuple(params[self._engine.weight_offset(l):self._engine.bias_offset(l)]
                        .reshape(self._widths[l], self._widths[l - 1]) for l in range(1, L + 1))
        self._b = tuple(params[self._engine.bias_offset(l):self._engine.bias_offset(l) + self._widths[l]]
                        for l in range(1, L + 1))
        grads = self._engine.grads
        self._dW = tuple(grads[self._engine.weight_offset(l):self._engine.bias_offset(l)]
                         .reshape(self._widths[l], self._widths[l - 1]) for l in range(1, L + 1))
        self._db = tuple(grads[self._engine.bias_offset(l):self._engine.bias_offset(l) + self._widths[l]]
                         for l in range(1, L + 1))
        e, n = self._engine, self._widths
        self._gamma = tuple(params[e.gamma_offset(l):e.gamma_offset(l) + n[l]] if self._bn[l - 1] else None
                            for l in range(1, L + 1))
        self._beta = tuple(params[e.beta_offset(l):e.beta_offset(l) + n[l]] if self._bn[l - 1] else None
                           for l in range(1, L + 1))
        self._dgamma = tuple(grads[e.gamma_offset(l):e.gamma_offset(l) + n[l]] if self._bn[l - 1] else None
                             for l in range(1, L + 1))
        self._dbeta = tuple(grads[e.beta_offset(l):e.beta_offset(l) + n[l]] if self._bn[l - 1] else None
                            for l in range(1, L + 1))
        state = e.state
        self._running = tuple((state[e.state_offset(l):e.state_offset(l) + n[l]],
                               state[e.state_offset(l) + n[l]:e.state_offset(l) + 2 * n[l]])
                              if self._bn[l - 1] else None for l in range(1, L + 1))
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        with np.errstate(over="ignore"):  # scales beyond float32: caught after the draws
            self._draw(rng, L, weights, biases, sw, sb, gain, value)
        if weights is not None:
            self.set_weights(weights)
        if biases is not None:
            self.set_biases(biases)
        if not np.isfinite(self._engine.params).all():
            raise ValueError(f"{fn}: the initial parameters do not fit in {self._dtype.name} "
                             f"(sw={sw}, sb={sb}, value={value}): choose smaller scales or float64")

    def _draw(self, rng, L, weights, biases, sw, sb, gain, value):
        for l in range(1, L + 1):
            if weights is None:
                self._W[l - 1][...] = init_weight(rng, self._init, self._widths[l], self._widths[l - 1],
                                                  sw=float(sw), gain=gain, value=float(value))
            if biases is None and sb > 0:
                self._b[l - 1][...] = rng.normal(0.0, float(sb), self._widths[l])

    # ------------------------------------------------------------ structure
    @property
    def widths(self) -> tuple:
        """``(n_0, n_1, ..., n_L)``."""
        return self._widths

    @property
    def depth(self) -> int:
        """``L``, the number of weight layers."""
        return len(self._widths) - 1

    @property
    def activations(self) -> tuple:
        """The activation of each layer ``1..L``."""
        return self._activations

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def weights(self) -> tuple:
        """``W_1..W_L``, writable views into the engine (``W_l`` is ``(n_l, n_{l-1})``)."""
        return self._W

    @property
    def biases(self) -> tuple:
        """``b_1..b_L``, writable views into the engine."""
        return self._b

    @property
    def batchnorm(self) -> tuple:
        """Per layer: whether it has batch normalisation."""
        return self._bn

    @property
    def skips(self) -> tuple:
        """Per layer: the index ``s`` of its residual source ``h_s``, or None."""
        return self._skips

    @property
    def gammas(self) -> tuple:
        """Batch-norm scales per layer (writable views; None where no batch norm)."""
        return self._gamma

    @property
    def betas(self) -> tuple:
        """Batch-norm shifts per layer (writable views; None where no batch norm)."""
        return self._beta

    @property
    def running_stats(self) -> tuple:
        """Per batch-norm layer ``(running_mean, running_var)`` (unbiased), else None.

        Updated by every training-mode pass with momentum 0.1 (PyTorch's
        convention); used instead of batch statistics in evaluation mode.
        """
        return self._running

    @property
    def training(self) -> bool:
        """Batch-norm mode: True (batch statistics) or False (running statistics)."""
        return self._engine.training

    @training.setter
    def training(self, value: bool) -> None:
        self._engine.training = bool(value)

    def set_weights(self, weights) -> None:
        """Copy ``L`` weight matrices in (any array-likes of the right shapes)."""
        self._set(weights, self._W, "weights")

    def set_biases(self, biases) -> None:
        """Copy ``L`` bias vectors in."""
        self._set(biases, self._b, "biases")

    def _set(self, values, targets, name):
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
        for a, t in zip(arrays, targets):
            t[...] = a

    def copy(self) -> "Network":
        """An independent network with the same structure, parameters and state."""
        net = Network(self._widths, activations=self._activations, alpha=self._alphas,
                      weights=self._W, biases=self._b, batchnorm=self._bn, bn_eps=self._bn_eps,
                      residual=[s is not None for s in self._skips], residual_block=self._block(),
                      residual_scale=self._residual_scale, dtype=self._dtype)
        net._engine.params[...] = self._engine.params
        net._engine.state[...] = self._engine.state
        net.training = self.training
        return net

    def _block(self) -> int:
        ks = {l - s for l, s in enumerate(self._skips, start=1) if s is not None}
        return ks.pop() if len(ks) == 1 else 1

    def __repr__(self) -> str:
        acts = sorted(set(self._activations[:-1]))
        hidden = acts[0] if len(acts) == 1 else "/".join(acts) if acts else "-"
        w = self._widths
        widths = str(list(w)) if len(w) <= 8 else f"[{w[0]}, {w[1]}, ..., {w[-2]}, {w[-1]}] ({len(w)} widths)"
        extra = ""
        if any(self._bn):
            extra += f", batchnorm={sum(self._bn)} layers"
        if any(s is not None for s in self._skips):
            extra += f", residual={sum(s is not None for s in self._skips)} layers (block {self._block()})"
        return (f"Network(widths={widths}, hidden={hidden}, output={self._activations[-1]}, "
                f"init={self._init}{extra}, dtype={self._dtype.name}, params={self._engine.params.size})")

    # ------------------------------------------------------------ running
    def _inputs(self, x, t, fn, check_finite):
        """x, t as C-contiguous (B, n_0), (B, n_L) arrays of the network's dtype."""
        x, t = as_arrays(fn, False, x=x, t=t)
        with np.errstate(over="ignore"):  # float64 beyond float32's range: caught just below
            x, t = x.astype(self._dtype, copy=False), t.astype(self._dtype, copy=False)
        if check_finite:
            for name, a in (("x", x), ("t", t)):
                if not np.isfinite(a).all():
                    raise ValueError(f"{fn}: {name} contains NaN or Inf (in {self._dtype.name}; "
                                     "pass check_finite=False to allow)")
        n0, nL = self._widths[0], self._widths[-1]
        x = _as_batch(x, n0, "x", fn)
        t = _as_batch(t, nL, "t", fn)
        if x.shape[0] != t.shape[0]:
            raise ValueError(f"{fn}: x has {x.shape[0]} samples (shape {x.shape}) but t has "
                             f"{t.shape[0]} (shape {t.shape})")
        return np.ascontiguousarray(x), np.ascontiguousarray(t)

    def _input(self, x, fn, check_finite):
        """x alone, as a C-contiguous (B, n_0) array of the network's dtype."""
        (x,) = as_arrays(fn, False, x=x)
        with np.errstate(over="ignore"):
            x = x.astype(self._dtype, copy=False)
        if check_finite and not np.isfinite(x).all():
            raise ValueError(f"{fn}: x contains NaN or Inf (in {self._dtype.name}; pass check_finite=False to allow)")
        return np.ascontiguousarray(_as_batch(x, self._widths[0], "x", fn))

    def _run(self, x, t, fn, check_finite):
        """One engine call. Arrays already in the engine's layout skip the
        conversions (the binding checks shapes, layout and finiteness in C++);
        anything else goes through the input policy first."""
        dt = self._dtype
        if not (type(x) is np.ndarray and type(t) is np.ndarray and x.dtype == dt and t.dtype == dt):
            x, t = self._inputs(x, t, fn, check_finite)
        try:
            return x, t, self._engine.run(x, t, check_finite)
        except (ValueError, TypeError) as exc:
            x2, t2 = self._inputs(x, t, fn, check_finite)   # raises the policy's message if it has one
            if x2 is x and t2 is t:  # nothing to convert: the engine's complaint stands
                raise type(exc)(f"{fn}: {exc}") from None
            return x2, t2, self._engine.run(x2, t2, check_finite)

    def gradient_report(self, x, t, *, return_grads: bool = False, check_finite: bool = True) -> GradientReport:
        """Forward, loss, backward and per-layer statistics on one batch.

        Parameters
        ----------
        x : array_like, shape (B, n_0)
            Inputs (a 1-d array is one sample, or a column when ``n_0 == 1``).
        t : array_like, shape (B, n_L)
            Targets.
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
        self._acquire(fn)
        try:
            x, t, (loss, stats, grad_x) = self._run(x, t, fn, check_finite)
            grads = None
            if return_grads:
                grads = {"W": [w.copy() for w in self._dW], "b": [b.copy() for b in self._db],
                         "h": self._engine.buffers("dh"), "z": self._engine.buffers("dz"),
                         "u": self._engine.buffers("du"),
                         "gamma": [None if g is None else g.copy() for g in self._dgamma],
                         "beta": [None if g is None else g.copy() for g in self._dbeta]}
        finally:
            self._lock.release()
        return _report(self, x.shape[0], loss, stats, grad_x, grads)

    def _acquire(self, fn: str) -> None:
        """One call at a time per network, run and read-out together: a second
        thread is refused, never handed the first one's buffers."""
        if not self._lock.acquire(blocking=False):
            raise RuntimeError(f"{fn}: this network is running in another thread; "
                               "use one network per thread (Network.copy())")

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
        x = self._input(x, fn, check_finite)
        self._acquire(fn)
        try:
            self._run(x, np.zeros((x.shape[0], self._widths[-1]), self._dtype), fn, False)
            hs = self._engine.buffers("h")
        finally:
            self._lock.release()
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
        x = self._input(x, fn, check_finite)
        self._acquire(fn)
        try:
            return self._engine.jacobian(x, check_finite)
        except ValueError as exc:
            raise ValueError(f"{fn}: {exc}") from None
        finally:
            self._lock.release()

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
    def from_torch(cls, module, dtype=None) -> "Network":
        """Copy an ``nn.Sequential`` of ``nn.Linear`` and supported activations.

        Supported: Identity, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, GELU
        (``approximate="none"``), SiLU, Softplus (``beta=1``). Each Linear may
        be followed by at most one activation. Needs PyTorch (only here).
        """
        fn = "Network.from_torch"
        try:
            import torch.nn as nn
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError(f"{fn} needs PyTorch") from None
        simple = {nn.Identity: "identity", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu",
                  nn.SiLU: "silu"}
        widths, acts, alphas, Ws, bs = [], [], [], [], []
        pending = None
        for i, mod in enumerate(module):
            if isinstance(mod, nn.Linear):
                if pending is not None:
                    acts.append("identity"); alphas.append(None)
                widths.append(mod.in_features) if not widths else None
                widths.append(mod.out_features)
                Ws.append(mod.weight.detach().cpu().double().numpy())
                bs.append(mod.bias.detach().cpu().double().numpy() if mod.bias is not None
                          else np.zeros(mod.out_features))
                pending = i
                continue
            if pending is None:
                raise ValueError(f"{fn}: module {i} ({type(mod).__name__}) does not follow a Linear layer")
            if type(mod) in simple:
                name, a = simple[type(mod)], None
            elif isinstance(mod, nn.LeakyReLU):
                name, a = "leaky_relu", mod.negative_slope
            elif isinstance(mod, nn.ELU):
                name, a = "elu", mod.alpha
            elif isinstance(mod, nn.GELU) and mod.approximate == "none":
                name, a = "gelu", None
            elif isinstance(mod, nn.Softplus) and mod.beta == 1:
                name, a = "softplus", None
            else:
                raise ValueError(f"{fn}: module {i} ({mod!r}) is not supported")
            acts.append(name); alphas.append(a)
            pending = None
        if not Ws:
            raise ValueError(f"{fn}: the module has no Linear layer")
        if pending is not None:
            acts.append("identity"); alphas.append(None)
        if dtype is None:
            dtype = np.float32 if Ws and module[0].weight.dtype.is_floating_point and \
                module[0].weight.element_size() == 4 else np.float64
        return cls(widths, activations=acts, alpha=alphas, weights=Ws, biases=bs, dtype=dtype)


def _per_layer(value, L: int, fn: str, name: str, default) -> tuple:
    """A per-layer tuple of bools from True/False or a sequence of L flags."""
    if isinstance(value, (bool, np.bool_)):
        return tuple(bool(v) for v in default) if value else (False,) * L
    try:
        flags = [bool(v) for v in value]
    except TypeError:
        raise TypeError(f"{fn}: {name} must be a bool or a sequence of {L} bools, got {value!r}") from None
    if len(flags) != L:
        raise ValueError(f"{fn}: {name} needs one flag per layer ({L}), got {len(flags)}")
    return tuple(flags)


def _skips(residual, block, widths, fn: str) -> tuple:
    """Per layer: the index of its residual source h_s, or None."""
    L = len(widths) - 1
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"{fn}: residual_block must be a positive integer, got {block!r}")
    if isinstance(residual, (bool, np.bool_)):
        ends = [1 + j * block for j in range(1, L)] if residual else []
        flags = [l in ends and l <= L - 1 for l in range(1, L + 1)]
    else:
        flags = list(_per_layer(residual, L, fn, "residual", default=[]))
    skips = []
    for l, flag in enumerate(flags, start=1):
        if not flag:
            skips.append(None)
            continue
        s = l - block
        if s < 0:
            raise ValueError(f"{fn}: layer {l} cannot be residual with residual_block={block}: "
                             f"there is no h_{s}")
        if widths[s] != widths[l]:
            raise ValueError(f"{fn}: layer {l} is residual (h_{l} = h_{s} + F(h_{s})) but its "
                             f"widths differ: h_{s} has width {widths[s]}, h_{l} has width {widths[l]}")
        skips.append(s)
    return tuple(skips)


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


def _report(net: Network, batch: int, loss: float, stats: np.ndarray, grad_x: float, grads) -> GradientReport:
    stats.flags.writeable = False
    return GradientReport(widths=net.widths, activations=net.activations, dtype=net.dtype.name,
                          batch=batch, loss=loss, grad_x=grad_x, stats=stats, grads=grads)
