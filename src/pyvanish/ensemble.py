"""Ensembles: statistics over thousands of randomly initialised networks at once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Optional

import numpy as np

from . import _engine, _html
from ._text import format_table
from ._text import progress as progress_bar
from ._validate import as_arrays, check_seed, class_targets, int_seed
from .architecture import Architecture, ArchitectureProperties
from .init import DEFAULT_GAIN, check_init_args, init_weight, weight_variance
from .network import Network, architecture_of
from .report import _json_float, fields_equal

STAT = _engine.STAT
VERDICTS = _engine.VERDICTS


class Ensemble(ArchitectureProperties):
    """``n`` independently initialised networks of one architecture.

    Takes the same architecture and initialisation arguments as
    :class:`Network`. Member ``m``'s parameters are slice ``m`` of stacked
    draws (``weights[l]`` has shape ``(n, n_l, n_{l-1})``), reproducible from
    ``seed``; :meth:`member` returns member ``m`` as a :class:`Network`.
    :meth:`run` evaluates every member on one batch in one C++ call, laid
    out member-innermost so that narrow networks vectorise across members,
    split over threads (:func:`pyvanish.set_num_threads`); results do not
    depend on the thread count. Layer norms (and pre-norms) start at
    ``gamma = 1``, ``beta = 0`` in every member; ensembles with batch norm run
    member by member through the single-network engine.

    ``storage``: ``"stored"`` (default) keeps every member's parameters in
    memory, drawn with NumPy from ``seed``. ``"generated"`` stores none: the
    engine draws each member's weights inside every run from a counter-based
    generator (Philox4x32-10) keyed by ``(seed, member, layer)``, so memory does
    not grow with ``n`` and member ``m`` is the same in an ensemble of any size
    (``weights`` are then copies made on demand; not with orthogonal weights or
    batch norm).

    ``progress`` (construction; :meth:`run` takes its own): a progress bar in
    layers drawn, tqdm's auto mode (on stderr, or a widget in Jupyter). None
    (default): on a terminal or in Jupyter, once it has run half a second;
    True: always; False: never.

    Examples
    --------
    >>> import pyvanish
    >>> ens = pyvanish.Ensemble([1, 1, 1, 1, 1], 1000, activation="sigmoid",
    ...                         output_activation="sigmoid", init="normal", seed=0)
    >>> rep = ens.run([[1.0]], [[0.0]])
    >>> rep.grad_h.shape, 0.5 < rep.fraction("vanishing") <= 1.0
    ((1000, 5), True)
    """

    _W: Optional[tuple]  # stored members' weights and biases (None: generated)
    _b: Optional[tuple]
    _engine: Any

    def __init__(
        self,
        widths: Sequence[int] | Architecture,
        n: int,
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
        batchnorm=False,
        bn_eps: float = 1e-5,
        residual=False,
        residual_block: int = 1,
        residual_scale: float = 1.0,
        seed=0,
        dtype=np.float64,
        layernorm=False,
        prenorm=False,
        ln_eps: float = 1e-5,
        loss: str = "mse",
        progress: bool | None = None,
        storage: str = "stored",
    ):
        fn = "Ensemble"
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{fn}: n (the number of members) must be a positive integer, got {n!r}")
        self._n = int(n)
        arch = architecture_of(widths, fn, locals())
        self._arch = arch
        self._init = check_init_args(init, sw, sb, gain, value, fn)
        self._sw, self._sb, self._gain, self._value = float(sw), float(sb), gain, float(value)
        if storage not in ("stored", "generated"):
            raise ValueError(f"{fn}: storage must be 'stored' or 'generated', got {storage!r}")
        self._storage = storage
        if storage == "generated":
            self._init_generated(arch, seed, float(sw), float(sb), gain, float(value), fn)
            return
        seed = check_seed(seed, fn)
        # the float64 draws, the engine's parameters and gradients
        # the parameters (the engine keeps gradients per tile only) and one layer's float64 draws
        w = arch.widths
        draws = 8 * self._n * max(w[l] * w[l - 1] for l in range(1, len(w)))
        arch.check_memory(fn, copies=self._n, extra_bytes=draws, gradients=False)
        L, w = arch.depth, arch.widths
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self._seed = seed if not isinstance(seed, np.random.Generator) else None
        by_member = any(arch.batchnorm)  # member by member through the single-network engine
        e = None if by_member else _engine.ensemble_engine(arch, self._n)
        Ws: list = []
        # each layer drawn and (without batch norm) copied into the engine at once: weights of
        # every layer, then biases, from one stream, as a network draws them
        with progress_bar(L, desc=fn, unit="layer", enabled=progress) as bar:
            for l in range(1, L + 1):
                Wl = init_weight(rng, self._init, w[l], w[l - 1], sw=sw, gain=gain, value=value, members=self._n)
                if e is None:
                    Ws.append(Wl.astype(arch.dtype))
                else:  # engine layout (n_l, n_{l-1}, E): a view with members first
                    flat = e.params[e.weight_offset(l) : e.bias_offset(l)]
                    view = np.moveaxis(flat.reshape(w[l], w[l - 1], self._n), -1, 0)
                    view[...] = Wl
                    Ws.append(view)
                del Wl
                bar.update(1)
        bs = [rng.normal(0.0, sb, (self._n, w[l])) if sb > 0 else np.zeros((self._n, w[l])) for l in range(1, L + 1)]
        self._engine = e
        self._W = tuple(Ws)
        if e is None:  # batch norm: member by member through the single-network engine
            self._b = tuple(bl.astype(arch.dtype) for bl in bs)
        else:  # engine layout (n_l, E): views with members first
            self._b = tuple(
                np.moveaxis(
                    e.params[e.bias_offset(l) : e.bias_offset(l) + w[l] * self._n].reshape(w[l], self._n), -1, 0
                )
                for l in range(1, L + 1)
            )
            for b, bl in zip(self._b, bs):
                b[...] = bl

    def _init_generated(self, arch: Architecture, seed, sw: float, sb: float, gain, value: float, fn: str) -> None:
        """Members drawn by the engine where they are used (see :class:`Ensemble`, ``storage``)."""
        if self._init == "orthogonal":
            raise ValueError(
                f"{fn}: storage='generated' draws each weight on its own; init='orthogonal' "
                "needs a QR per matrix (use storage='stored')"
            )
        if any(arch.batchnorm):
            raise ValueError(f"{fn}: storage='generated' does not support batch norm (it runs member by member)")
        if isinstance(seed, np.random.Generator):
            raise ValueError(
                f"{fn}: storage='generated' needs an integer seed (members are drawn from it), got a Generator"
            )
        self._seed = int_seed(seed, fn)  # None: a fresh one, recorded
        w = arch.widths
        draw = [_draw_spec(self._init, w[l], w[l - 1], sw, sb, gain, value) for l in range(1, len(w))]
        self._engine = _engine.ensemble_engine(arch, self._n, draw=draw, seed=self._seed)
        self._W = self._b = None

    @property
    def members(self) -> int:
        """The number of networks."""
        return self._n

    @property
    def storage(self) -> str:
        """``"stored"`` (every member's parameters in memory) or ``"generated"`` (drawn where used)."""
        return self._storage

    @property
    def weights(self) -> tuple:
        """Per layer, every member's weights: shape ``(n, n_l, n_{l-1})`` (writable views;
        copies made on demand for ``storage="generated"``)."""
        return self._W if self._W is not None else self._materialise()[0]

    @property
    def biases(self) -> tuple:
        """Per layer, every member's biases: shape ``(n, n_l)`` (writable views; copies for ``"generated"``)."""
        return self._b if self._b is not None else self._materialise()[1]

    def _member_params(self, m: int) -> tuple:
        """Member m's weights and biases, from the engine (generated members)."""
        flat = self._engine.member_params(m)
        w, Ws, bs, at = self._arch.widths, [], [], 0
        for l in range(1, len(w)):
            Ws.append(flat[at : at + w[l] * w[l - 1]].reshape(w[l], w[l - 1]))
            at += w[l] * w[l - 1]
            bs.append(flat[at : at + w[l]])
            at += (
                w[l]
                + (2 * w[l] if self._arch.layernorm[l - 1] else 0)
                + (2 * w[l - 1] if self._arch.prenorm[l - 1] else 0)
            )
        return Ws, bs

    def _materialise(self) -> tuple:
        self._arch.check_memory("Ensemble.weights", copies=self._n, gradients=False)
        params = [self._member_params(m) for m in range(self._n)]
        L = self._arch.depth
        return (
            tuple(np.stack([p[0][l] for p in params]) for l in range(L)),
            tuple(np.stack([p[1][l] for p in params]) for l in range(L)),
        )

    @property
    def sigma_w2(self) -> float | None:
        """The mean-field ``sigma_w**2`` of the hidden layers (``fan_in * Var W``)."""
        w = self.widths
        hidden = [(w[l], w[l - 1]) for l in range(2, len(w) - 1)] or [(w[1], w[0])]
        fo, fi = hidden[0]
        return weight_variance(self._init, fo, fi, sw=self._sw, gain=self._gain)

    @property
    def sigma_b2(self) -> float:
        """The bias variance ``sb**2``."""
        return self._sb * self._sb

    def member(self, m: int) -> Network:
        """Member ``m`` as an independent :class:`Network`."""
        import operator

        try:
            m = operator.index(m)
        except TypeError:
            raise TypeError(f"Ensemble.member: m must be an integer, got {m!r}") from None
        if not 0 <= m < self._n:
            raise IndexError(f"Ensemble.member: m must be in [0, {self._n}), got {m}")
        if self._W is None:  # generated: drawn again, bit for bit
            Ws, bs = self._member_params(m)
            return Network(self._arch, weights=Ws, biases=bs)
        return Network(self._arch, weights=[W[m] for W in self.weights], biases=[b[m] for b in self.biases])

    def run(self, x, t, *, check_finite: bool = True, progress: bool | None = None) -> EnsembleReport:
        """Every member on one batch: ``x`` (B, n_0) shared, or (n, B, n_0) per member;
        ``t`` (B, n_L) or (n, B, n_L).

        ``progress``: a progress bar in members (see :class:`Ensemble`). Without batch
        norm the members run in one engine call, so the bar completes when it returns;
        with batch norm it advances member by member.
        """
        fn = "Ensemble.run"
        arch, E = self._arch, self._n
        t = class_targets(t, arch.loss, arch.widths[-1], fn, members=True)
        x, t = as_arrays(fn, False, x=x, t=t)
        with np.errstate(over="ignore"):  # beyond float32's range: inf, refused by the engine's check
            x, t = x.astype(arch.dtype, copy=False), t.astype(arch.dtype, copy=False)
        x = _batch(x, arch.widths[0], E, "x", fn)
        t = _batch(t, arch.widths[-1], E, "t", fn)
        if x.shape[-2] != t.shape[-2]:
            raise ValueError(f"{fn}: x has {x.shape[-2]} samples but t has {t.shape[-2]}")
        B = x.shape[-2]
        if self._engine is not None:
            xe = np.ascontiguousarray(np.moveaxis(x, 0, -1)) if x.ndim == 3 else np.ascontiguousarray(x)
            te = np.ascontiguousarray(np.moveaxis(t, 0, -1)) if t.ndim == 3 else np.ascontiguousarray(t)
            with progress_bar(E, desc=fn, unit="member", enabled=progress) as bar:
                try:
                    loss, stats, grad_x, codes, moments = self._engine.run(xe, te, check_finite)
                except (ValueError, RuntimeError) as exc:
                    raise type(exc)(f"{fn}: {exc}") from None
                except MemoryError as exc:
                    raise MemoryError(f"{fn}: out of memory for a batch of {B} ({exc})") from None
                bar.update(E)
        else:  # batch norm: member by member through the single-network engine
            moments = None
            net = Network(arch, init="constant")
            loss, grad_x = np.empty(E), np.empty(E)
            stats = np.empty((E, arch.depth, len(STAT)))
            codes = np.empty(E, np.int8)
            with progress_bar(E, desc=fn, unit="member", enabled=progress) as bar:
                for m in range(E):
                    net.set_weights([W[m] for W in self.weights])
                    net.set_biases([b[m] for b in self.biases])
                    r = net.gradient_report(
                        x[m] if x.ndim == 3 else x, t[m] if t.ndim == 3 else t, check_finite=check_finite
                    )
                    loss[m], grad_x[m], stats[m], codes[m] = r.loss, r.grad_x, r.stats, VERDICTS.index(r.verdict)
                    bar.update(1)
        for a in (loss, stats, grad_x, codes) + (() if moments is None else (moments,)):
            a.flags.writeable = False
        return EnsembleReport(
            **self._report_labels,
            batch=B,
            members=E,
            loss=loss,
            grad_x=grad_x,
            stats=stats,
            verdict_codes=codes,
            input_mean_square=_mean_square(x),
            moments=moments,
        )

    @cached_property
    def _report_labels(self) -> dict:
        """What every report of this ensemble records besides the run's numbers (made once)."""
        arch = self._arch
        extras = tuple(
            name
            for name, flags in (
                ("batch norm", arch.batchnorm),
                ("layer norm", arch.layernorm),
                ("pre-norm", arch.prenorm),
                ("residual connections", arch.residual),
            )
            if any(flags)
        )
        return dict(arch.labels(), sigma_w2=self.sigma_w2, sigma_b2=self.sigma_b2, alphas=arch.alphas, extras=extras)

    def __repr__(self) -> str:
        return f"Ensemble(members={self._n}, {self._arch.describe(init=self._init)})"

    def __reduce__(self):
        """Pickles as its Architecture, member count, initialisation settings and
        a copy of every member's parameters (the engine is rebuilt on unpickling);
        a generated ensemble as its settings and seed alone."""
        if self._W is None:
            kw = dict(
                init=self._init,
                sw=self._sw,
                sb=self._sb,
                gain=self._gain,
                value=self._value,
                seed=self._seed,
                storage="generated",
            )
            return (_generated_ensemble, (self._arch, self._n, kw))
        params = (tuple(W.copy() for W in self._W), tuple(b.copy() for b in self._b))
        state = (self._init, self._sw, self._sb, self._gain, self._seed, params)
        return (_unpickle_ensemble, (self._arch, self._n, state))


def _generated_ensemble(arch: Architecture, n: int, kw: dict) -> Ensemble:
    return Ensemble(arch, n, progress=False, **kw)


def _draw_spec(init: str, fan_out: int, fan_in: int, sw: float, sb: float, gain, value: float) -> tuple:
    """How the engine draws one layer (kernels/philox.hpp): (weight distribution, scale, bias
    distribution, scale); 0 uniform on [-a, a), 1 normal, 2 constant. The scales of init_weight."""
    g = DEFAULT_GAIN.get(init, 1.0) if gain is None else float(gain)
    if init == "normal":
        wd = (1, sw / math.sqrt(fan_in))
    elif init == "xavier_uniform":
        wd = (0, g * math.sqrt(6.0 / (fan_in + fan_out)))
    elif init == "xavier_normal":
        wd = (1, g * math.sqrt(2.0 / (fan_in + fan_out)))
    elif init in ("he_normal", "lecun_normal"):
        wd = (1, g / math.sqrt(fan_in))
    elif init in ("he_uniform", "lecun_uniform"):
        wd = (0, g * math.sqrt(3.0 / fan_in))
    else:  # constant
        wd = (2, value)
    return wd + ((1, sb) if sb > 0 else (2, 0.0))


def _unpickle_ensemble(arch: Architecture, n: int, state: tuple) -> Ensemble:
    init, sw, sb, gain, seed, (Ws, bs) = state
    ens = Ensemble(arch, n, init="constant", progress=False)
    ens._init, ens._sw, ens._sb, ens._gain, ens._seed = init, sw, sb, gain, seed
    for W, Wp, b, bp in zip(ens.weights, Ws, ens.biases, bs):
        W[...] = Wp
        b[...] = bp
    return ens


def _batch(a, n, E, name, fn):
    if a.ndim == 3:
        if a.shape[0] != E or a.shape[2] != n:
            raise ValueError(f"{fn}: {name} has shape {a.shape}, expected (B, {n}) or ({E}, B, {n})")
        return a
    if a.ndim == 1 and n == 1:
        a = a.reshape(-1, 1)
    elif a.ndim == 1 and a.shape[0] == n:
        a = a.reshape(1, n)
    elif a.ndim == 0 and n == 1:
        a = a.reshape(1, 1)
    if a.ndim != 2 or a.shape[1] != n:
        raise ValueError(f"{fn}: {name} has shape {a.shape}, expected (B, {n}) or ({E}, B, {n})")
    return a


def ensemble(
    widths: Sequence[int],
    n: int = 1000,
    x=None,
    t=None,
    *,
    batch: int = 1,
    seed=0,
    progress: bool | None = None,
    **network_kwargs,
) -> EnsembleReport:
    """Statistics over ``n`` random initialisations of one architecture.

    ``network_kwargs`` are those of :class:`Network` (activation, init, sw,
    sb, residual, ...). ``x``/``t`` default to ``N(0, 1)`` draws of ``batch``
    samples from ``seed``, shared by every member. ``progress`` as in
    :class:`Ensemble` (construction and run).

    Examples
    --------
    >>> import pyvanish
    >>> rep = pyvanish.ensemble([16] * 11, n=200, activation="tanh", init="normal", sw=1.0)
    >>> rep.members, rep.grad_W.shape
    (200, (200, 10))
    """
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"ensemble: batch must be a positive integer, got {batch!r}")
    ens = Ensemble(widths, n, seed=seed, progress=progress, **network_kwargs)
    if x is None or t is None:
        x0, t0 = ens.architecture.default_batch(batch, seed)
        x, t = (x0 if x is None else x), (t0 if t is None else t)
    return ens.run(x, t, progress=progress)


def _summary(v: np.ndarray) -> dict:
    """mean, std (over finite values) and 5/50/95 % quantiles (NaN as -inf) per
    column of log10 v, computed in C++."""
    v = np.ascontiguousarray(v, dtype=np.float64)
    out = _engine.log10_summary(v.reshape(v.shape[0], -1))
    return {k: out[:, i] for i, k in enumerate(("mean", "std", "q05", "q50", "q95"))}


@dataclass(frozen=True)
class EnsembleReport:
    """Per-member gradient statistics of an ensemble, and their distribution.

    Per-member arrays have the member first: ``grad_h`` (n, L+1), the layer
    statistics (n, L) named as in :class:`GradientReport`. :meth:`summary`
    gives, per layer, the mean, std and 5/50/95 % quantiles of the log10 of a
    statistic across members (mean and std over finite values; quantiles with
    zeros as ``-inf``). :meth:`fraction` counts the members whose own
    verdict (as :attr:`GradientReport.verdict`) is vanishing, exploding or
    healthy.
    """

    widths: tuple
    activations: tuple
    dtype: str
    batch: int
    members: int
    loss: np.ndarray
    grad_x: np.ndarray
    stats: np.ndarray = field(repr=False)
    verdict_codes: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int8))
    sigma_w2: Optional[float] = None
    sigma_b2: float = 0.0
    alphas: tuple = ()
    input_mean_square: float = 1.0
    #: what the ensemble has beyond dense layers (e.g. ``("residual", "layer norm")``):
    #: mean-field theory's comparison is for plain dense networks only
    extras: tuple = ()
    #: (3, L + 1, 2): mean and std of log10 grad_h, grad_W, grad_b over the members, computed
    #: by the engine in the same call as the statistics (None: member by member)
    moments: Optional[np.ndarray] = field(default=None, repr=False)

    __eq__ = fields_equal  # by value: arrays, NaN == NaN (pickle round trips compare equal)

    def _col(self, name):
        return self.stats[:, :, STAT[name]]

    @cached_property
    def grad_h(self) -> np.ndarray:
        return np.concatenate([self.grad_x[:, None], self._col("grad_h")], axis=1)

    @cached_property
    def gain(self) -> np.ndarray:
        g = self.grad_h
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return g[:, :-1] / g[:, 1:]

    grad_z = property(lambda self: self._col("grad_z"))
    grad_W = property(lambda self: self._col("grad_W"))
    grad_b = property(lambda self: self._col("grad_b"))
    mean_dphi = property(lambda self: self._col("mean_dphi"))
    saturated = property(lambda self: self._col("saturated"))
    dead = property(lambda self: self._col("dead"))
    nonfinite = property(lambda self: (self._col("nonfinite_act") + self._col("nonfinite_grad")).astype(np.int64))

    @property
    def depth(self) -> int:
        return len(self.widths) - 1

    @cached_property
    def signal_ratio(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return self.grad_h[:, 1] / self.grad_h[:, -1]

    @cached_property
    def weight_ratio(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return self.grad_W[:, 0] / self.grad_W[:, -1]

    @property
    def verdicts(self) -> np.ndarray:
        """Each member's verdict (see :mod:`pyvanish.report`)."""
        return np.array(VERDICTS, dtype=object)[self.verdict_codes]

    def fraction(self, verdict: str) -> float:
        """The fraction of members whose verdict is ``verdict``."""
        if verdict not in VERDICTS:
            raise ValueError(f"EnsembleReport.fraction: unknown verdict {verdict!r}")
        return float(np.count_nonzero(self.verdict_codes == VERDICTS.index(verdict))) / self.members

    def summary(self, name: str = "grad_h", quantiles: bool = True) -> LogSummary:
        """Per-layer ``mean, std, q05, q50, q95`` of log10 of a statistic across members.

        A dict ``{"mean": array, "std": array, "q05": ..., "q50": ..., "q95": ...}``, one
        entry per layer (``grad_h``: layers 0..L, else 1..L); it displays as a table.
        Mean and std are over the finite values (population std); for ``grad_h``,
        ``grad_W`` and ``grad_b`` the engine computed them in the run itself, so
        ``quantiles=False`` (only ``mean`` and ``std``) costs nothing more.
        """
        if name not in ("grad_h", "gain") and name not in STAT:
            raise ValueError(f"EnsembleReport.summary: unknown statistic {name!r}")
        col = _MOMENT_COLUMNS.get(name)
        if col is not None and self.moments is not None:
            m = self.moments[col] if name == "grad_h" else self.moments[col, 1:]
            columns = {"mean": m[:, 0], "std": m[:, 1]}
            if quantiles:
                q = _summary(getattr(self, name))
                columns.update({k: q[k] for k in ("q05", "q50", "q95")})
        else:
            columns = _summary(getattr(self, name))
            if not quantiles:
                columns = {k: columns[k] for k in ("mean", "std")}
        return LogSummary(columns, statistic=name, members=self.members)

    def compare_theory(self) -> TheoryComparison:
        """Measured per-layer gradient decay next to mean-field theory's.

        Mean-field theory: through a hidden layer ``l`` the mean squared
        gradient shrinks or grows by ``chi_l = sw2 E[phi'(sqrt(q_l) z)^2]``,
        where ``q_l`` follows the length map from the input's
        ``q_1 = sw2 mean(x^2) + sb2``; once ``q_l`` reaches its fixed point
        ``q*`` every factor is ``chi1``, and ``E|dL/dh_l|^2 ∝ chi1^(L-l)``.
        Compared, for ``l = 0..L-1`` and relative to the last hidden layer
        (the output layer has its own width and activation): measured
        ``sqrt(mean_m |dL/dh_l|^2 / mean_m |dL/dh_{L-1}|^2)`` against
        predicted ``sqrt(prod_{k=l+1}^{L-1} chi_k)``. Needs one hidden
        activation and ``normal``, xavier, he, lecun or orthogonal weights
        (for their ``sigma_w**2``); mean-field theory is exact for wide layers.
        """
        from . import reference, theory

        if self.extras:
            raise ValueError(
                f"compare_theory: the mean-field theory here is that of plain dense networks; this "
                f"ensemble has {' and '.join(self.extras)}"
            )
        hidden = set(self.activations[:-1])
        if len(hidden) != 1 or self.sigma_w2 is None or self.depth < 2:
            raise ValueError(
                "compare_theory: needs at least one hidden layer, one hidden activation "
                "and a Gaussian-like initialisation (not 'constant')"
            )
        act = hidden.pop()
        alpha = self.alphas[0] if self.alphas else None
        sw2, sb2, L = self.sigma_w2, self.sigma_b2, self.depth
        chi = theory.chi1(act, sw2, sb2, alpha=alpha)

        def dphi2(u):
            return reference.activation_derivative(act, u, reference.activation_forward(act, u, alpha), alpha) ** 2

        q = sw2 * self.input_mean_square + sb2
        chi_list = []
        for _ in range(1, L):  # hidden layers 1..L-1
            chi_list.append(sw2 * theory.gaussian_expectation(dphi2, q))
            q = theory.length_map(act, q, sw2, sb2, alpha=alpha)
        chis = np.array(chi_list)
        predicted = np.sqrt(np.array([np.prod(chis[l:]) for l in range(L)]))
        g2 = np.mean(self.grad_h.astype(np.float64) ** 2, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            measured = np.sqrt(g2[:L] / g2[L - 1])
        return TheoryComparison(
            activation=act,
            sigma_w2=sw2,
            sigma_b2=sb2,
            chi1=chi,
            chi_layers=chis,
            measured=measured,
            predicted=predicted,
            members=self.members,
        )

    def to_dict(self) -> dict:
        out = {
            "widths": list(self.widths),
            "activations": list(self.activations),
            "dtype": self.dtype,
            "batch": self.batch,
            "members": self.members,
            "fractions": {v: self.fraction(v) for v in ("vanishing", "exploding", "healthy")},
        }
        for name in ("grad_h", "grad_W", "gain"):
            out[f"log10_{name}"] = {k: [_json_float(v) for v in arr] for k, arr in self.summary(name).items()}
        return out

    def to_frame(self):
        """A pandas DataFrame: a row per layer, summary columns for ``|dL/dh|``, ``|dL/dW|`` and gain."""
        import pandas as pd

        L = self.depth
        cols = {}
        for name in ("grad_h", "grad_W", "gain"):
            s = self.summary(name)
            for k, v in s.items():
                v = np.asarray(v)
                cols[f"log10_{name}_{k}"] = v[1:] if name == "grad_h" else v
        return pd.DataFrame(cols, index=pd.Index(np.arange(1, L + 1), name="layer"))

    def __str__(self) -> str:
        L = self.depth
        sh, sw, sg = self.summary("grad_h"), self.summary("grad_W"), self.summary("gain")

        def fmt(s, i):
            return f"{s['q50'][i]:7.2f} [{s['q05'][i]:7.2f}, {s['q95'][i]:7.2f}]"

        rows = [["x", fmt(sh, 0), "", ""]] + [[l, fmt(sh, l), fmt(sw, l - 1), fmt(sg, l - 1)] for l in range(1, L + 1)]
        lines = [
            self._title(),
            format_table(
                ["layer", "log10 |dL/dh|", "log10 |dL/dW|", "log10 gain"],
                rows,
                align="rrrr",
                title="per layer: median [5 %, 95 %] across members",
            ),
        ]
        lines.append("")
        lines.append(
            "verdicts: "
            + ", ".join(f"{v} {100 * self.fraction(v):.1f} %" for v in ("vanishing", "exploding", "healthy"))
        )
        return "\n".join(lines)

    def _title(self) -> str:
        hidden = "/".join(sorted(set(self.activations[:-1])) or ["-"])
        return (
            f"EnsembleReport: {self.members} networks, widths {_short(self.widths)}, "
            f"{hidden} hidden, batch {self.batch}, {self.dtype}"
        )

    def __repr__(self) -> str:
        shares = ", ".join(f"{v} {100 * self.fraction(v):.1f} %" for v in ("vanishing", "exploding", "healthy"))
        return f"<{self._title()}: {shares}>"

    def _repr_html_(self) -> str:
        """In Jupyter: the share of each verdict (the most common highlighted), a sparkline of the
        median and 5-95 % band of ``log10 |dL/dh_l|`` and the median ``log10 |dL/dW_l|`` across members,
        and the per-layer table (the middle elided for deep networks)."""
        L = self.depth
        sh, sw, sg = self.summary("grad_h"), self.summary("grad_W"), self.summary("gain")
        shares = {v: self.fraction(v) for v in ("vanishing", "exploding", "healthy", "undetermined")}
        top = max(shares, key=lambda v: shares[v])
        verdicts = _html.Html(
            "verdicts: "
            + ", ".join(
                f"{_html.badge(v) if v == top else _html.text(v)} {100 * f:.1f} %"
                for v, f in shares.items()
                if f > 0 or v != "undetermined"
            )
        )
        labels = ("median log10 |dL/dh_l| (band: 5-95 % of members)", "median log10 |dL/dW_l|")
        spark = _html.sparkline(
            [(labels[0], np.arange(L + 1), sh["q50"]), (labels[1], np.arange(1, L + 1), sw["q50"])],
            band=(np.arange(L + 1), sh["q05"], sh["q95"]),
        )

        def fmt(s, i):
            return f"{s['q50'][i]:.2f} [{s['q05'][i]:.2f}, {s['q95'][i]:.2f}]"

        rows = [["x", fmt(sh, 0), "", ""]] + [[l, fmt(sh, l), fmt(sw, l - 1), fmt(sg, l - 1)] for l in range(1, L + 1)]
        return _html.card(
            self._title(),
            verdicts,
            _html.Html(f"{spark} {_html.legend(labels)}"),
            "per layer: median [5 %, 95 %] across members",
            _html.table(["layer", "log10 |dL/dh|", "log10 |dL/dW|", "log10 gain"], _html.elide(rows)),
        )


#: The statistics whose log10 mean and std the engine computes in the run (EnsembleReport.moments).
_MOMENT_COLUMNS = {"grad_h": 0, "grad_W": 1, "grad_b": 2}


class LogSummary(dict):
    """The dict :meth:`EnsembleReport.summary` returns (``mean, std, q05, q50, q95`` -> array per
    layer), which displays as a table; ``statistic`` and ``members`` say what it summarises."""

    def __init__(self, columns: dict, statistic: str = "", members: int = 0):
        super().__init__(columns)
        self.statistic, self.members = statistic, members

    def __reduce__(self):
        return (LogSummary, (dict(self), self.statistic, self.members))

    def _rows(self) -> list:
        n = len(next(iter(self.values())))
        first = 0 if self.statistic == "grad_h" else 1
        return [[("x" if first == 0 and i == 0 else i + first)] + [f"{self[k][i]:.3f}" for k in self] for i in range(n)]

    def _title(self) -> str:
        return f"log10 {self.statistic} per layer across {self.members} members"

    def __repr__(self) -> str:
        rows = self._rows()
        if len(rows) > 12:
            rows = rows[:6] + [["..."] + [""] * len(self)] + rows[-5:]
        return format_table(["layer", *self], rows, title=self._title())

    def _repr_html_(self) -> str:
        return _html.card(self._title(), _html.table(["layer", *self], _html.elide(self._rows())))


@dataclass(frozen=True)
class TheoryComparison:
    """Measured against mean-field per-layer gradient decay (see
    :meth:`EnsembleReport.compare_theory`); entry ``l`` is ``h_l``, ``l = 0..L-1``."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    chi1: float
    chi_layers: np.ndarray  # chi_l of hidden layers 1..L-1 (q_l from the input on)
    measured: np.ndarray
    predicted: np.ndarray
    members: int

    __eq__ = fields_equal  # by value: arrays, NaN == NaN (pickle round trips compare equal)

    @property
    def relative_error(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.measured / self.predicted - 1.0

    @property
    def depth(self) -> int:
        """``L``, the network's number of layers (entries ``0..L-1`` are compared)."""
        return len(self.measured)

    def phase(self) -> str:
        """The phase in words for this network's depth (see :func:`pyvanish.theory.phase`)."""
        from .theory import phase

        return phase(self.chi1, self.depth)

    def __repr__(self) -> str:
        err = np.abs(self.relative_error)
        err = err[np.isfinite(err)]
        worst = float(err.max()) if err.size else math.nan
        return (
            f"<TheoryComparison {self.activation}, sigma_w^2 = {self.sigma_w2:.4g}, sigma_b^2 = {self.sigma_b2:.4g}, "
            f"{self.members} members, {self.depth} layers: chi1 = {self.chi1:.6g}, "
            f"largest relative error {worst:.2%}>"
        )

    def __str__(self) -> str:
        lines = [
            f"mean-field theory: {self.activation}, sigma_w^2 = {self.sigma_w2:.4g}, "
            f"sigma_b^2 = {self.sigma_b2:.4g}: chi1 = {self.chi1:.6g}",
            f"phase: {self.phase()}",
            f"|dL/dh_l| / |dL/dh_(L-1)|, root-mean-square over {self.members} members; "
            "predicted from chi_l along the length map",
        ]
        rows = [
            [
                "x" if l == 0 else l,
                f"{m:.4e}",
                f"{p:.4e}",
                f"{e:+.2%}",
                f"{self.chi_layers[l]:.4f}" if l < len(self.chi_layers) else "",
            ]
            for l, (m, p, e) in enumerate(zip(self.measured, self.predicted, self.relative_error))
        ]
        lines.append(format_table(["layer", "measured", "predicted", "rel. error", "chi_(l+1)"], rows, align="rrrrr"))
        return "\n".join(lines)


def _short(w) -> str:
    return "-".join(map(str, w)) if len(w) <= 8 else f"{w[0]}-{w[1]}-...-{w[-2]}-{w[-1]}"


def _mean_square(x: np.ndarray) -> float:
    """mean(x**2) without overflow for finite |x| > 1e154: scaled by max|x| (inf if the result is beyond float64).

    A few NumPy calls on the flattened input (every run computes it): the sum of squares as a
    dot product."""
    a = x.astype(np.float64, copy=False).ravel()
    if not a.size:
        return math.nan
    m = float(np.max(np.abs(a)))
    if not 0.0 < m < math.inf:  # 0, inf or NaN (check_finite=False): the plain sum says which
        return float(np.dot(a, a)) / a.size
    s = a / m
    return m * m * (float(np.dot(s, s)) / a.size)
