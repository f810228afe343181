"""Ensembles: statistics over thousands of randomly initialised networks at once."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Optional, Sequence

import numpy as np

from . import _core
from ._validate import ACTIVATIONS, activation_code, alpha_for, as_arrays, check_seed
from .init import canonical, init_weight, weight_variance
from .network import Network, _dtype, _per_layer, _skips, _widths
from .report import THRESHOLD_DECADES, _json_float

_ENGINES = {np.dtype(np.float32): _core.Ensemble32, np.dtype(np.float64): _core.Ensemble64}
_STAT = {name: i for i, name in enumerate(_core.STAT_NAMES)}
_VERDICTS = ("healthy", "vanishing", "exploding", "undetermined")


class Ensemble:
    """``n`` independently initialised networks of one architecture.

    Takes the same architecture and initialisation arguments as
    :class:`Network`. Member ``m``'s parameters are slice ``m`` of stacked
    draws (``weights[l]`` has shape ``(n, n_l, n_{l-1})``), reproducible from
    ``seed``; :meth:`member` returns member ``m`` as a :class:`Network`.
    :meth:`run` evaluates every member on one batch in one C++ call, laid
    out member-innermost so that narrow networks vectorise across members,
    split over threads (:func:`pyvanish.set_num_threads`); results do not
    depend on the thread count. Batch-norm ensembles run member by member
    through the single-network engine.

    Examples
    --------
    >>> import pyvanish
    >>> ens = pyvanish.Ensemble([1, 1, 1, 1, 1], 1000, activation="sigmoid",
    ...                         output_activation="sigmoid", init="normal", seed=0)
    >>> rep = ens.run([[1.0]], [[0.0]])
    >>> rep.grad_h.shape, 0.5 < rep.fraction("vanishing") <= 1.0
    ((1000, 5), True)
    """

    def __init__(self, widths: Sequence[int], n: int, activation: str = "tanh",
                 output_activation: str = "identity", *, activations: Sequence[str] | None = None,
                 init: str = "xavier", sw: float = 1.0, sb: float = 0.0, gain: float | None = None,
                 value: float = 0.0, alpha=None, batchnorm=False, bn_eps: float = 1e-5, residual=False,
                 residual_block: int = 1, residual_scale: float = 1.0, seed=0, dtype=np.float64):
        fn = "Ensemble"
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{fn}: n (the number of members) must be a positive integer, got {n!r}")
        self._n = int(n)
        # the architecture is validated once, by a prototype network
        self._proto = Network(widths, activation, output_activation, activations=activations,
                              init="constant" if init == "explicit" else init, sw=sw, sb=sb, gain=gain,
                              value=value, alpha=alpha, batchnorm=batchnorm, bn_eps=bn_eps,
                              residual=residual, residual_block=residual_block,
                              residual_scale=residual_scale, dtype=dtype, seed=0)
        p = self._proto
        self._init = canonical(init, fn)
        self._sw, self._sb, self._gain = float(sw), float(sb), gain
        L, w = p.depth, p.widths
        codes = [ACTIVATIONS.index(a) for a in p.activations]
        seed = check_seed(seed, fn)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self._seed = seed if not isinstance(seed, np.random.Generator) else None
        Ws = [init_weight(rng, self._init, w[l], w[l - 1], sw=sw, gain=gain, value=value, members=self._n)
              for l in range(1, L + 1)]
        bs = [rng.normal(0.0, sb, (self._n, w[l])) if sb > 0 else np.zeros((self._n, w[l]))
              for l in range(1, L + 1)]
        self._bn = any(p.batchnorm)
        if self._bn:
            self._engine = None
            self._W = tuple(Wl.astype(p.dtype) for Wl in Ws)
            self._b = tuple(bl.astype(p.dtype) for bl in bs)
        else:
            self._engine = _ENGINES[p.dtype](list(w), codes, list(p._alphas),
                                             [-1 if s is None else s for s in p.skips],
                                             [p._residual_scale] * L, self._n)
            params = self._engine.params
            e = self._engine
            # engine layout (n_l, n_{l-1}, E) and (n_l, E); views with members first
            self._W = tuple(np.moveaxis(params[e.weight_offset(l):e.bias_offset(l)]
                                        .reshape(w[l], w[l - 1], self._n), -1, 0) for l in range(1, L + 1))
            self._b = tuple(np.moveaxis(params[e.bias_offset(l):e.bias_offset(l) + w[l] * self._n]
                                        .reshape(w[l], self._n), -1, 0) for l in range(1, L + 1))
            for W, Wl, b, bl in zip(self._W, Ws, self._b, bs):
                W[...] = Wl
                b[...] = bl

    @property
    def members(self) -> int:
        return self._n

    @property
    def widths(self) -> tuple:
        return self._proto.widths

    @property
    def activations(self) -> tuple:
        return self._proto.activations

    @property
    def weights(self) -> tuple:
        """Per layer, every member's weights: shape ``(n, n_l, n_{l-1})`` (writable views)."""
        return self._W

    @property
    def biases(self) -> tuple:
        """Per layer, every member's biases: shape ``(n, n_l)`` (writable views)."""
        return self._b

    @property
    def sigma_w2(self) -> float | None:
        """The mean-field ``sigma_w**2`` of the hidden layers (``fan_in * Var W``)."""
        w = self.widths
        hidden = [(w[l], w[l - 1]) for l in range(2, len(w) - 1)] or [(w[1], w[0])]
        fo, fi = hidden[0]
        return weight_variance(self._init, fo, fi, sw=self._sw, gain=self._gain)

    @property
    def sigma_b2(self) -> float:
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
        p = self._proto
        return Network(p.widths, activations=p.activations, alpha=p._alphas, batchnorm=p.batchnorm,
                       bn_eps=p._bn_eps, residual=[s is not None for s in p.skips],
                       residual_block=p._block(), residual_scale=p._residual_scale,
                       weights=[W[m] for W in self._W], biases=[b[m] for b in self._b], dtype=p.dtype)

    def run(self, x, t, *, check_finite: bool = True) -> "EnsembleReport":
        """Every member on one batch: ``x`` (B, n_0) shared, or (n, B, n_0) per member;
        ``t`` (B, n_L) or (n, B, n_L)."""
        fn = "Ensemble.run"
        p, E = self._proto, self._n
        x, t = as_arrays(fn, False, x=x, t=t)
        with np.errstate(over="ignore"):  # beyond float32's range: caught just below
            x, t = x.astype(p.dtype, copy=False), t.astype(p.dtype, copy=False)
        if check_finite:
            for name, a in (("x", x), ("t", t)):
                if not np.isfinite(a).all():
                    raise ValueError(f"{fn}: {name} contains NaN or Inf (in {p.dtype.name}; "
                                     "pass check_finite=False to allow)")
        x = _batch(x, p.widths[0], E, "x", fn)
        t = _batch(t, p.widths[-1], E, "t", fn)
        if x.shape[-2] != t.shape[-2]:
            raise ValueError(f"{fn}: x has {x.shape[-2]} samples but t has {t.shape[-2]}")
        B = x.shape[-2]
        if self._engine is not None:
            xe = np.ascontiguousarray(np.moveaxis(x, 0, -1)) if x.ndim == 3 else x
            te = np.ascontiguousarray(np.moveaxis(t, 0, -1)) if t.ndim == 3 else t
            try:
                loss, stats, grad_x = self._engine.run(xe, te, check_finite)
            except ValueError as exc:
                raise ValueError(f"{fn}: {exc}") from None
        else:  # batch norm: member by member through the single-network engine
            net = p.copy()
            loss, grad_x = np.empty(E), np.empty(E)
            stats = np.empty((E, p.depth, len(_STAT)))
            for m in range(E):
                net.set_weights([W[m] for W in self._W])
                net.set_biases([b[m] for b in self._b])
                r = net.gradient_report(x[m] if x.ndim == 3 else x, t[m] if t.ndim == 3 else t,
                                        check_finite=check_finite)
                loss[m], grad_x[m], stats[m] = r.loss, r.grad_x, r.stats
        for a in (loss, stats, grad_x):
            a.flags.writeable = False
        return EnsembleReport(widths=p.widths, activations=p.activations, dtype=p.dtype.name, batch=B,
                              members=E, loss=loss, grad_x=grad_x, stats=stats,
                              sigma_w2=self.sigma_w2, sigma_b2=self.sigma_b2, alphas=p._alphas,
                              input_mean_square=float(np.mean(x.astype(np.float64) ** 2)))

    def __repr__(self) -> str:
        return f"Ensemble(members={self._n}, {repr(self._proto)[len('Network('):-1]})".replace(
            "init=constant", f"init={self._init}")


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


def ensemble(widths: Sequence[int], n: int = 1000, x=None, t=None, *, batch: int = 1, seed=0,
             **network_kwargs) -> "EnsembleReport":
    """Statistics over ``n`` random initialisations of one architecture.

    ``network_kwargs`` are those of :class:`Network` (activation, init, sw,
    sb, residual, ...). ``x``/``t`` default to ``N(0, 1)`` draws of ``batch``
    samples from ``seed``, shared by every member.

    Examples
    --------
    >>> import pyvanish
    >>> rep = pyvanish.ensemble([16] * 11, n=200, activation="tanh", init="normal", sw=1.0)
    >>> rep.members, rep.grad_W.shape
    (200, (200, 10))
    """
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"ensemble: batch must be a positive integer, got {batch!r}")
    ens = Ensemble(widths, n, seed=seed, **network_kwargs)
    w = ens.widths
    rng = np.random.default_rng([seed if isinstance(seed, (int, np.integer)) else 0, 1])
    x = rng.standard_normal((batch, w[0])) if x is None else x
    t = rng.standard_normal((batch, w[-1])) if t is None else t
    return ens.run(x, t)


def _summary(v: np.ndarray) -> dict:
    """mean, std (over finite values) and 5/50/95 % quantiles (NaN as -inf) per
    column of log10 v, computed in C++ (see _core.log10_summary)."""
    v = np.ascontiguousarray(v, dtype=np.float64)
    out = _core.log10_summary(v.reshape(v.shape[0], -1))
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
    sigma_w2: Optional[float] = None
    sigma_b2: float = 0.0
    alphas: tuple = ()
    input_mean_square: float = 1.0

    def _col(self, name):
        return self.stats[:, :, _STAT[name]]

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

    @cached_property
    def _verdict_codes(self) -> np.ndarray:
        # 0 healthy, 1 vanishing, 2 exploding, 3 undetermined (see pyvanish.report)
        with np.errstate(divide="ignore", invalid="ignore"):
            ls, lw = np.log10(self.signal_ratio), np.log10(self.weight_ratio)
        nan_s, nan_w = np.isnan(ls), np.isnan(lw)
        hi = np.fmax(ls, lw)             # fmax/fmin ignore a NaN beside a number
        lo = np.fmin(ls, lw)
        codes = np.zeros(self.members, dtype=np.int8)
        codes[lo < -THRESHOLD_DECADES] = 1
        codes[hi > THRESHOLD_DECADES] = 2
        codes[nan_s & nan_w] = 3
        nonfinite = (self._col("nonfinite_act") + self._col("nonfinite_grad")).sum(axis=1)
        codes[nonfinite > 0] = 2
        return codes

    @property
    def verdicts(self) -> np.ndarray:
        """Each member's verdict (see :mod:`pyvanish.report`)."""
        return np.array(_VERDICTS, dtype=object)[self._verdict_codes]

    def fraction(self, verdict: str) -> float:
        """The fraction of members whose verdict is ``verdict``."""
        if verdict not in _VERDICTS:
            raise ValueError(f"EnsembleReport.fraction: unknown verdict {verdict!r}")
        return float(np.count_nonzero(self._verdict_codes == _VERDICTS.index(verdict))) / self.members

    def summary(self, name: str = "grad_h") -> dict:
        """Per-layer ``mean, std, q05, q50, q95`` of log10 of a statistic across members."""
        if name not in ("grad_h", "gain") and name not in _STAT:
            raise ValueError(f"EnsembleReport.summary: unknown statistic {name!r}")
        return _summary(getattr(self, name))

    def compare_theory(self) -> "TheoryComparison":
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

        hidden = set(self.activations[:-1])
        if len(hidden) != 1 or self.sigma_w2 is None or self.depth < 2:
            raise ValueError("compare_theory: needs at least one hidden layer, one hidden activation "
                             "and a Gaussian-like initialisation (not 'constant')")
        act = hidden.pop()
        alpha = self.alphas[0] if self.alphas else None
        sw2, sb2, L = self.sigma_w2, self.sigma_b2, self.depth
        chi = theory.chi1(act, sw2, sb2, alpha=alpha)

        def dphi2(u):
            return reference.activation_derivative(act, u, reference.activation_forward(act, u, alpha), alpha) ** 2

        q = sw2 * self.input_mean_square + sb2
        chis = []
        for _ in range(1, L):              # hidden layers 1..L-1
            chis.append(sw2 * theory.gaussian_expectation(dphi2, q))
            q = theory.length_map(act, q, sw2, sb2, alpha=alpha)
        chis = np.array(chis)
        predicted = np.sqrt(np.array([np.prod(chis[l:]) for l in range(L)]))
        g2 = np.mean(self.grad_h.astype(np.float64) ** 2, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            measured = np.sqrt(g2[:L] / g2[L - 1])
        return TheoryComparison(activation=act, sigma_w2=sw2, sigma_b2=sb2, chi1=chi, chi_layers=chis,
                                measured=measured, predicted=predicted, members=self.members)

    def to_dict(self) -> dict:
        out = {"widths": list(self.widths), "activations": list(self.activations), "dtype": self.dtype,
               "batch": self.batch, "members": self.members,
               "fractions": {v: self.fraction(v) for v in ("vanishing", "exploding", "healthy")}}
        for name in ("grad_h", "grad_W", "gain"):
            out[f"log10_{name}"] = {k: [_json_float(v) for v in arr] for k, arr in self.summary(name).items()}
        return out

    def to_frame(self):
        """A pandas DataFrame: a row per layer, summary columns for |dL/dh|, |dL/dW| and gain."""
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
        fmt = lambda s, i: f"{s['q50'][i]:7.2f} [{s['q05'][i]:7.2f}, {s['q95'][i]:7.2f}]"  # noqa: E731
        head = f"{'layer':>5}  {'log10 |dL/dh|':>26}  {'log10 |dL/dW|':>26}  {'log10 gain':>26}"
        lines = [f"EnsembleReport: {self.members} networks, widths {_short(self.widths)}, "
                 f"{'/'.join(sorted(set(self.activations[:-1])) or ['-'])} hidden, batch {self.batch}, {self.dtype}",
                 "per layer: median [5 %, 95 %] across members", head, "-" * len(head),
                 f"{'x':>5}  {fmt(sh, 0):>26}"]
        for l in range(1, L + 1):
            lines.append(f"{l:>5}  {fmt(sh, l):>26}  {fmt(sw, l - 1):>26}  {fmt(sg, l - 1):>26}")
        lines.append("")
        lines.append("verdicts: " + ", ".join(f"{v} {100 * self.fraction(v):.1f} %"
                                                for v in ("vanishing", "exploding", "healthy")))
        return "\n".join(lines)


@dataclass(frozen=True)
class TheoryComparison:
    """Measured against mean-field per-layer gradient decay (see
    :meth:`EnsembleReport.compare_theory`); entry ``l`` is ``h_l``, ``l = 0..L-1``."""

    activation: str
    sigma_w2: float
    sigma_b2: float
    chi1: float
    chi_layers: np.ndarray   # chi_l of hidden layers 1..L-1 (q_l from the input on)
    measured: np.ndarray
    predicted: np.ndarray
    members: int

    @property
    def relative_error(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.measured / self.predicted - 1.0

    def __str__(self) -> str:
        lines = [f"mean-field theory: {self.activation}, sigma_w^2 = {self.sigma_w2:.4g}, "
                 f"sigma_b^2 = {self.sigma_b2:.4g}: chi1 = {self.chi1:.6g}"
                 + (f", depth scale xi = {-1 / math.log(self.chi1):.3g} layers" if 0 < self.chi1 < 1 else ""),
                 f"|dL/dh_l| / |dL/dh_(L-1)|, root-mean-square over {self.members} members; "
                 "predicted from chi_l along the length map",
                 f"{'layer':>5}  {'measured':>11}  {'predicted':>11}  {'rel. error':>10}  {'chi_(l+1)':>9}"]
        for l, (m, p, e) in enumerate(zip(self.measured, self.predicted, self.relative_error)):
            c = f"{self.chi_layers[l]:>9.4f}" if l < len(self.chi_layers) else ""
            lines.append(f"{('x' if l == 0 else l)!s:>5}  {m:>11.4e}  {p:>11.4e}  {e:>+10.2%}  {c}")
        return "\n".join(lines)


def _short(w) -> str:
    return "-".join(map(str, w)) if len(w) <= 8 else f"{w[0]}-{w[1]}-...-{w[-2]}-{w[-1]}"
