"""Training dynamics: watch the first layer fail to learn, step by step, in C++."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from . import _engine, _html
from ._text import format_table, progress_enabled
from ._text import progress as progress_bar
from ._validate import as_arrays, check_seed, class_targets, int_seed, real_number
from .architecture import _physical_memory
from .network import Network
from .report import fields_equal

OPTIMIZERS = {"sgd": 0, "momentum": 0, "adam": 1}


def minibatch_indices(n_samples: int, steps: int, batch_size: int, seed) -> np.ndarray:
    """The rows of every step's minibatch, shape (steps, batch_size).

    The stream of indices is a concatenation of random permutations of
    ``range(n_samples)`` (one per epoch, from ``seed``), cut into consecutive
    batches; a batch may straddle two epochs. ``batch_size == n_samples``
    is full-batch training in a shuffled order.

    Examples
    --------
    >>> minibatch_indices(4, 3, 2, seed=0).shape
    (3, 2)
    """
    rng = np.random.default_rng(seed)
    need = steps * batch_size
    epochs = -(-need // n_samples)
    stream = np.concatenate([rng.permutation(n_samples) for _ in range(epochs)]) if need else np.zeros(0, np.int64)
    return np.ascontiguousarray(stream[:need].reshape(steps, batch_size), dtype=np.int64)


@dataclass(frozen=True)
class TrainingHistory:
    """Per recorded step and per layer, what happened during training.

    Attributes
    ----------
    step : ndarray (R,)
        The recorded steps (0-based; every ``record_every``-th and the last).
    loss : ndarray (R,)
        The minibatch loss at each recorded step (before its update).
    grad_W, update_ratio, saturated, dead : ndarray (R, L)
        ``|dL/dW_l|``; ``|dW_l| / |W_l|`` of the step's update; the saturated
        and dead fractions (as in :class:`GradientReport`).
    grad_h : ndarray (R, L + 1)
        ``|dL/dh_l|``, ``l = 0..L``.
    moved : ndarray (L,)
        ``|W_l(end) - W_l(start)| / |W_l(start)|``: how far each layer's
        weights moved over the whole run.
    steps_done : int
        Optimiser steps taken (fewer than asked when training stopped early).
    stopped : str or None
        Why training stopped early (a non-finite loss or parameter), else None.
    """

    activations: tuple
    widths: tuple
    optimizer: str
    lr: float
    batch_size: int
    step: np.ndarray
    loss: np.ndarray
    grad_W: np.ndarray
    grad_h: np.ndarray
    update_ratio: np.ndarray
    saturated: np.ndarray
    dead: np.ndarray
    moved: np.ndarray
    steps_done: int
    stopped: Optional[str] = None
    extra: dict = field(default_factory=dict, repr=False)

    __eq__ = fields_equal  # by value: arrays, NaN == NaN (pickle round trips compare equal)

    @property
    def final_loss(self) -> float:
        return float(self.loss[-1]) if len(self.loss) else math.nan

    def summary(self) -> str:
        """One line per layer: how far its weights moved, its median update ratio."""
        L = len(self.widths) - 1
        med = np.median(self.update_ratio, axis=0) if len(self.update_ratio) else np.full(L, np.nan)
        lines = [
            f"{self.steps_done} steps of {self.optimizer} (lr {self.lr:g}, batch {self.batch_size}); "
            f"loss {self.loss[0]:.4g} -> {self.final_loss:.4g}"
            if len(self.loss)
            else "no steps"
        ]
        if self.stopped:
            lines.append(f"stopped early: {self.stopped}")
        lines.append(
            f"layer 1 moved {100 * self.moved[0]:.3g} % of its weights' norm, "
            f"layer {L} moved {100 * self.moved[-1]:.3g} %"
        )
        lines.append(
            format_table(
                ["layer", "moved %", "median |dW|/|W| per step"],
                [[l + 1, f"{100 * self.moved[l]:.3g}", f"{med[l]:.3e}"] for l in range(L)],
            )
        )
        return "\n".join(lines)

    __str__ = summary

    def _title(self) -> str:
        from .report import short_widths

        return (
            f"TrainingHistory: {self.steps_done} steps of {self.optimizer} (lr {self.lr:g}, batch {self.batch_size}), "
            f"{len(self.widths) - 1} layers, widths {short_widths(self.widths)}"
        )

    def __repr__(self) -> str:
        L = len(self.widths) - 1
        loss = f"loss {self.loss[0]:.4g} -> {self.final_loss:.4g}" if len(self.loss) else "no steps"
        moved = f"layer 1 moved {100 * self.moved[0]:.3g} %, layer {L} {100 * self.moved[-1]:.3g} %"
        stopped = f"; stopped early: {self.stopped}" if self.stopped else ""
        return f"<{self._title()}: {loss}, {moved}{stopped}>"

    def _repr_html_(self) -> str:
        """In Jupyter: whether the run completed (highlighted), sparklines of log10 of the loss per
        recorded step and of the per-layer log10 distance moved and last |dL/dW_l|, and the
        per-layer table (the middle elided for deep networks)."""
        L = len(self.widths) - 1
        status = (
            _html.Html(
                f'<span style="color: #9c1c1c; font-weight: bold">stopped early: {_html.text(self.stopped)}</span>'
            )
            if self.stopped
            else _html.Html('<span style="color: #1b6b2b; font-weight: bold">completed</span>')
        )
        loss = f"loss {self.loss[0]:.4g} -> {self.final_loss:.4g}" if len(self.loss) else "no steps recorded"
        loss_label = ("log10 loss per recorded step",)
        layer_labels = ("log10 |W_l(end) - W_l(start)| / |W_l(start)|", "log10 |dL/dW_l| at the last record")
        last = self.grad_W[-1] if len(self.grad_W) else np.full(L, np.nan)
        layers = np.arange(1, L + 1)
        med = np.median(self.update_ratio, axis=0) if len(self.update_ratio) else np.full(L, np.nan)
        per_layer = [(layer_labels[0], layers, _html.log10(self.moved)), (layer_labels[1], layers, _html.log10(last))]
        rows = [[l + 1, f"{100 * self.moved[l]:.3g}", f"{med[l]:.3e}", f"{last[l]:.3e}"] for l in range(L)]
        return _html.card(
            self._title(),
            _html.Html(f"{status}; {_html.text(loss)}"),
            _html.Html(
                f"{_html.sparkline([(loss_label[0], self.step, _html.log10(self.loss))])} {_html.legend(loss_label)}"
            ),
            _html.Html(f"{_html.sparkline(per_layer)} {_html.legend(layer_labels)}"),
            _html.table(["layer", "moved %", "median |dW|/|W| per step", "last |dL/dW|"], _html.elide(rows)),
        )

    def to_frame(self):
        """A long-form pandas DataFrame: a row per recorded step and layer (needs pandas)."""
        import pandas as pd

        R, L = self.grad_W.shape
        return pd.DataFrame(
            {
                "step": np.repeat(self.step, L),
                "layer": np.tile(np.arange(1, L + 1), R),
                "loss": np.repeat(self.loss, L),
                "grad_W": self.grad_W.ravel(),
                "grad_h": self.grad_h[:, 1:].ravel(),
                "update_ratio": self.update_ratio.ravel(),
                "saturated": self.saturated.ravel(),
                "dead": self.dead.ravel(),
            }
        )


def train(
    net: Network,
    X,
    T,
    steps: int = 100,
    *,
    batch_size: int | None = None,
    lr: float = 0.1,
    optimizer: str = "sgd",
    momentum: float | None = None,
    betas=(0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    record_every: int = 1,
    seed=0,
    check_finite: bool = True,
    progress: bool | None = None,
) -> TrainingHistory:
    """Train ``net`` in place on ``X`` (N, n_0), ``T`` (N, n_L) with the network's loss.

    ``net.loss`` decides (``"mse"``, ``"cross_entropy"``, ``"bce"``); for
    cross-entropy ``T`` may also be class indices, shape (N,). Batch-norm,
    layer-norm and pre-norm scales and shifts are trained with the weights.

    The whole loop runs in C++ (one call per chunk of steps; no Python per
    step): minibatches from :func:`minibatch_indices`, forward, backward,
    the optimiser step and the per-layer records every ``record_every``
    steps. A non-finite loss (a diverging learning rate) or parameter stops
    training cleanly; the history says where.

    Parameters
    ----------
    steps : int
        Optimiser steps (> 0).
    batch_size : int, optional
        Minibatch size (default: the whole data set, shuffled).
    optimizer : {"sgd", "momentum", "adam"}
        SGD (heavy-ball ``momentum``; ``"momentum"`` defaults it to 0.9) or
        Adam (``betas``, ``eps``). ``weight_decay`` adds ``wd * p`` to each gradient.
    progress : bool, optional
        A progress bar (tqdm's auto mode: on stderr, or a widget in Jupyter).
        Default: on a terminal or in Jupyter, shown once the run has taken half
        a second; False: none. With a bar the steps run in chunks of about a
        fiftieth of the run, with the same result.

    Examples
    --------
    >>> import numpy as np, pyvanish
    >>> X, T = pyvanish.teacher_task(64, 4, seed=0)
    >>> net = pyvanish.Network([4, 16, 1], activation="tanh", seed=0)
    >>> h = pyvanish.train(net, X, T, steps=50, batch_size=16, lr=0.05)
    >>> h.loss.shape, bool(h.final_loss < h.loss[0])
    ((50,), True)
    """
    fn = "train"
    if not isinstance(net, Network):
        raise TypeError(f"{fn}: net must be a pyvanish.Network, got {type(net).__name__}")
    T = class_targets(T, net.loss, net.widths[-1], fn, "T")
    X, T = as_arrays(fn, check_finite, X=X, T=T)
    X = np.ascontiguousarray(X, dtype=net.dtype)
    T = np.ascontiguousarray(T, dtype=net.dtype)
    if T.ndim == 1 and net.widths[-1] == 1:
        T = T.reshape(-1, 1)
    if X.ndim != 2 or X.shape[1] != net.widths[0]:
        raise ValueError(f"{fn}: X has shape {X.shape}, expected (N, {net.widths[0]})")
    if T.ndim != 2 or T.shape[1] != net.widths[-1]:
        raise ValueError(f"{fn}: T has shape {T.shape}, expected (N, {net.widths[-1]})")
    if X.shape[0] != T.shape[0]:
        raise ValueError(f"{fn}: X has {X.shape[0]} samples but T has {T.shape[0]}")
    N = X.shape[0]
    if N == 0:
        raise ValueError(f"{fn}: X has no samples")
    for name, v in (("steps", steps), ("record_every", record_every)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{fn}: {name} must be a positive integer, got {v!r}")
    batch_size = N if batch_size is None else batch_size
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size <= N:
        raise ValueError(f"{fn}: batch_size must be an integer in [1, {N}] (the number of samples), got {batch_size!r}")
    key = str(optimizer).lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"{fn}: optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if momentum is None:
        momentum = 0.9 if key == "momentum" else 0.0
    checks: tuple[tuple[str, Any], ...] = (
        ("lr", lr),
        ("momentum", momentum),
        ("eps", eps),
        ("weight_decay", weight_decay),
    )
    for name, v in checks:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.floating, np.integer)):
            raise ValueError(f"{fn}: {name} must be a finite number, got {v!r}")
        if not math.isfinite(v):
            raise ValueError(f"{fn}: {name} must be a finite number, got {v!r}")
    if lr <= 0:
        raise ValueError(f"{fn}: lr must be > 0, got {lr!r}")
    if weight_decay < 0:
        raise ValueError(f"{fn}: weight_decay must be >= 0, got {weight_decay!r}")
    if not 0 <= momentum < 1:
        raise ValueError(f"{fn}: momentum must be in [0, 1), got {momentum!r}")
    if eps < 0:
        raise ValueError(f"{fn}: eps must be >= 0, got {eps!r}")
    try:
        b1, b2 = (real_number(b, fn, "betas") for b in betas)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: betas must be two real numbers in [0, 1), got {betas!r}") from None
    if not (0 <= b1 < 1 and 0 <= b2 < 1):
        raise ValueError(f"{fn}: betas must be in [0, 1), got {betas!r}")
    check_seed(seed, fn)
    # the minibatch indices (int64, drawn up front, plus the epochs' stream) and the records: refuse
    # up front what cannot fit (steps=10**12 would otherwise draw permutations for minutes, then run out)
    need = 2 * 8 * int(steps) * int(batch_size) + 8 * 7 * len(net.widths) * (int(steps) // int(record_every) + 1)
    have = _physical_memory()
    if need > have:
        raise MemoryError(
            f"{fn}: {int(steps):,} steps of {int(batch_size)} samples need {need:,} bytes of minibatch indices "
            f"and records ({need / 2**30:.3g} GiB), more than this machine's {have / 2**30:.3g} GiB of memory"
        )
    idx = minibatch_indices(N, int(steps), int(batch_size), seed)
    W0 = [w.copy() for w in net.weights]
    show = progress_enabled(progress)
    chunk = max(record_every, (steps // 50 // record_every) * record_every) if show else steps
    parts, done, stopped = [], 0, None
    cfg = _engine.TrainConfig()
    cfg.optimizer = OPTIMIZERS[key]
    cfg.lr, cfg.momentum, cfg.beta1, cfg.beta2 = float(lr), float(momentum), b1, b2
    cfg.eps, cfg.weight_decay, cfg.record_every, cfg.total = (
        float(eps),
        float(weight_decay),
        int(record_every),
        int(steps),
    )
    # the optimiser state lives here across chunks: chunking (for the progress
    # bar) does not change the result
    m1 = np.zeros(net.n_params, dtype=net.dtype)
    m2 = np.zeros_like(m1)
    with progress_bar(int(steps), desc=fn, unit="step", enabled=progress if show else False) as bar:
        for start in range(0, steps, chunk):
            sub = idx[start : start + chunk]
            cfg.t0 = done
            try:
                out = net._engine.train(X, T, np.ascontiguousarray(sub), cfg, m1, m2)
            except (ValueError, TypeError, RuntimeError) as exc:
                raise type(exc)(f"{fn}: {exc}") from None
            parts.append(out)
            done += int(out["steps_done"])
            bar.update(int(out["steps_done"]))
            if out["steps_done"] < len(sub):
                bad = not np.isfinite(out["loss"][-1]) if len(out["loss"]) else True
                stopped = (
                    f"the loss became non-finite at step {start + int(out['steps_done'])}"
                    if bad
                    else f"a parameter became non-finite at step {start + int(out['steps_done']) - 1}"
                )
                break
    if stopped is None and not all(np.isfinite(p).all() for p in (*net.weights, *net.biases)):
        # the last step made a parameter non-finite: the engine stops after it, but no step is left to skip
        stopped = f"a parameter became non-finite at step {done - 1}"
    cat = {
        k: np.concatenate([p[k] for p in parts])
        for k in ("step", "loss", "grad_W", "grad_h", "update_ratio", "saturated", "dead")
    }
    with np.errstate(all="ignore"):  # a diverged run's weights may overflow the norm: inf, reported
        moved = np.array([np.linalg.norm(w - w0) / np.linalg.norm(w0) for w, w0 in zip(net.weights, W0)])
    return TrainingHistory(
        activations=net.activations,
        widths=net.widths,
        optimizer=key,
        lr=float(lr),
        batch_size=int(batch_size),
        moved=moved,
        steps_done=done,
        stopped=stopped,
        **cat,  # type: ignore[arg-type]
    )


def teacher_task(
    n_samples: int = 512,
    input_width: int = 16,
    output_width: int = 1,
    *,
    teacher_widths=(32, 32),
    activation: str = "tanh",
    noise: float = 0.0,
    seed=0,
):
    """A synthetic regression task that needs depth: a random teacher network.

    ``X ~ N(0, 1)`` of shape (n_samples, input_width); ``T`` is the output of
    a random teacher ``input_width -> teacher_widths... -> output_width``
    (``activation`` hidden layers, He-normal weights scaled for ``tanh`` by
    Xavier, zero biases, identity output), standardised to unit variance,
    plus ``noise * N(0, 1)``. Everything is drawn from ``seed`` (an integer;
    ``None`` for a fresh one).

    Examples
    --------
    >>> X, T = teacher_task(100, 8, seed=1)
    >>> X.shape, T.shape, round(float(T.std()), 6)
    ((100, 8), (100, 1), 1.0)
    """
    for name, v in (("n_samples", n_samples), ("input_width", input_width), ("output_width", output_width)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"teacher_task: {name} must be a positive integer, got {v!r}")
    seed = int_seed(seed, "teacher_task")
    rng = np.random.default_rng([seed, 7])
    teacher = Network(
        [input_width, *teacher_widths, output_width],
        activation=activation,
        init="xavier_normal" if activation in ("tanh", "sigmoid") else "he_normal",
        seed=rng,
    )
    X = rng.standard_normal((n_samples, input_width))
    T = teacher.forward(X)
    T = (T - T.mean(axis=0)) / np.where(T.std(axis=0) > 0, T.std(axis=0), 1.0)
    if noise:
        T = T + noise * rng.standard_normal(T.shape)
    return X, T


def digits_task():
    """scikit-learn's bundled 8x8 digits (no download): ``X`` (1797, 64) scaled
    to [0, 1], ``T`` one-hot (1797, 10). Needs scikit-learn.

    Train a classifier with ``loss="cross_entropy"`` (one-hot rows are its
    probability targets; ``T.argmax(axis=1)`` gives the class indices), or
    regress on ``T`` with the default MSE.

    Examples
    --------
    >>> import pyvanish
    >>> X, T = pyvanish.digits_task()
    >>> net = pyvanish.Network([64, 32, 10], activation="relu", init="he", loss="cross_entropy", seed=0)
    >>> h = pyvanish.train(net, X, T, steps=200, batch_size=64, lr=0.1)
    >>> bool((net.forward(X).argmax(axis=1) == T.argmax(axis=1)).mean() > 0.9)
    True
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("digits_task needs scikit-learn: pip install scikit-learn") from None
    d = load_digits()
    X = d.data / 16.0
    T = np.eye(10)[d.target]
    return X, T
