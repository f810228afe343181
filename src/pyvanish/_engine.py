"""The facade over the compiled core: the only module that imports ``_core``.

Everything else in the package reaches the C++ engine through the names
below, so the border between Python and C++ is one file: engines are made
from an :class:`~pyvanish.architecture.Architecture` (already valid: the
bindings only assert), and each call crosses the border once. Errors raised
by the bindings carry no function name; the public function that called
adds its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from .architecture import Architecture

__version__: str = _core.__version__

#: Activation names in the engine's enum order (checked against pyvanish._activations by the tests).
ENGINE_ACTIVATIONS: tuple = tuple(_core.ACTIVATIONS)
#: Columns of the per-layer statistics array the engines return.
STAT_NAMES: tuple = tuple(_core.STAT_NAMES)
STAT: dict = {name: i for i, name in enumerate(STAT_NAMES)}
#: Verdicts by code, and the threshold (decades) the engine's verdict uses.
VERDICTS: tuple = tuple(getattr(_core, "VERDICTS", ("healthy", "vanishing", "exploding", "undetermined")))
THRESHOLD_DECADES: float = float(getattr(_core, "VERDICT_THRESHOLD_DECADES", 2.0))

# ---------------------------------------------------------------- kernels (pyvanish.kernels wraps these)
activation_forward = _core.activation_forward
activation_backward = _core.activation_backward
activation_derivative = _core.activation_derivative
dense_forward = _core.dense_forward
dense_backward = _core.dense_backward
dense_act_forward = _core.dense_act_forward
dense_act_backward = _core.dense_act_backward
mse_forward = _core.mse_forward
mse_backward = _core.mse_backward
batchnorm_forward = _core.batchnorm_forward
batchnorm_backward = _core.batchnorm_backward
residual_forward = _core.residual_forward
residual_backward = _core.residual_backward
gemm = _core.gemm
max_derivative = _core.max_derivative
log10_summary = _core.log10_summary

# ---------------------------------------------------------------- runtime switches
num_threads = _core.num_threads
set_num_threads = _core.set_num_threads
subnormals_flushed = _core.subnormals_flushed
simd_path = getattr(_core, "simd_path", None) or _core.gemm_path
simd_best_path = getattr(_core, "simd_best_path", None) or _core.gemm_best_path
simd_paths = getattr(_core, "simd_paths", None) or (lambda: ("generic", "avx2", "avx512"))
set_simd_path = getattr(_core, "set_simd_path", None) or _core.set_gemm_path

TrainConfig = getattr(_core, "TrainConfig", None) or type("TrainConfig", (), {})

_NETWORKS = {np.dtype(np.float32): _core.Network32, np.dtype(np.float64): _core.Network64}
_ENSEMBLES = {np.dtype(np.float32): _core.Ensemble32, np.dtype(np.float64): _core.Ensemble64}


def _layer_lists(arch: Architecture) -> tuple:
    L = arch.depth
    codes = [ENGINE_ACTIVATIONS.index(a) for a in arch.activations]
    skips = [-1 if s is None else s for s in arch.skips]
    return list(arch.widths), codes, list(arch.alphas), skips, [arch.residual_scale] * L


def network_engine(arch: Architecture) -> Any:
    """A single-network engine (parameters zeroed, batch-norm gamma = 1) for ``arch``."""
    widths, codes, alphas, skips, scales = _layer_lists(arch)
    e = _NETWORKS[arch.dtype](widths, codes, alphas, list(arch.batchnorm), [arch.bn_eps] * arch.depth, skips, scales)
    return e if hasattr(_core, "simd_path") else _OldNet(e, arch)


def ensemble_engine(arch: Architecture, members: int) -> Any:
    """An ensemble engine of ``members`` networks of ``arch`` (no batch norm)."""
    widths, codes, alphas, skips, scales = _layer_lists(arch)
    e = _ENSEMBLES[arch.dtype](widths, codes, alphas, skips, scales, members)
    return e if hasattr(_core, "simd_path") else _OldEns(e)


# ---------------------------------------------------------------- TEMPORARY: old-core adapter, removed when the C++ side lands
def _verdict(sig, wr, nf):  # pragma: no cover
    import math

    if nf > 0:
        return 2
    logs = []
    for r in (sig, wr):
        logs.append(
            math.nan if math.isnan(r) else (-math.inf if r == 0 else (math.inf if math.isinf(r) else math.log10(r)))
        )
    logs = [v for v in logs if not math.isnan(v)]
    if not logs:
        return 3
    return 2 if max(logs) > 2.0 else (1 if min(logs) < -2.0 else 0)


class _OldNet:  # pragma: no cover
    def __init__(self, e, arch):
        object.__setattr__(self, "_e", e)
        object.__setattr__(self, "_arch", arch)

    def __getattr__(self, n):
        return getattr(self._e, n)

    def __setattr__(self, n, v):
        setattr(self._e, n, v)

    def run(self, x, t, check_finite=True, grads=False):
        loss, stats, gx = self._e.run(x, t, check_finite)
        with np.errstate(all="ignore"):
            sig = float(np.float64(stats[0, 0]) / np.float64(stats[-1, 0]))
            wr = float(np.float64(stats[0, 2]) / np.float64(stats[-1, 2]))
        nf = int(stats[:, 7].sum() + stats[:, 8].sum())
        out = (loss, stats, gx, sig, wr, _verdict(sig, wr, nf))
        if grads:
            e = self._e
            out += (
                {
                    "params_grad": e.grads.copy(),
                    "dh": e.buffers("dh"),
                    "dz": e.buffers("dz"),
                    "du": e.buffers("du"),
                    "h": e.buffers("h"),
                    "z": e.buffers("z"),
                },
            )
        return out

    def forward(self, x, check_finite=True):
        self._e.run(x, np.zeros((x.shape[0], self._arch.widths[-1]), x.dtype), check_finite)
        return self._e.buffers("h")

    def train(self, X, T, idx, cfg, m1, m2):
        return self._e.train(
            X,
            T,
            idx,
            cfg.optimizer,
            cfg.lr,
            cfg.momentum,
            cfg.beta1,
            cfg.beta2,
            cfg.eps,
            cfg.weight_decay,
            cfg.record_every,
            m1,
            m2,
            cfg.t0,
            cfg.total,
        )


class _OldEns:  # pragma: no cover
    def __init__(self, e):
        object.__setattr__(self, "_e", e)

    def __getattr__(self, n):
        return getattr(self._e, n)

    def __setattr__(self, n, v):
        setattr(self._e, n, v)

    def run(self, x, t, check_finite=True):
        loss, stats, gx = self._e.run(x, t, check_finite)
        with np.errstate(all="ignore"):
            sig = stats[:, 0, 0] / stats[:, -1, 0]
            wr = stats[:, 0, 2] / stats[:, -1, 2]
        nf = stats[:, :, 7].sum(1) + stats[:, :, 8].sum(1)
        codes = np.array([_verdict(a, b, c) for a, b, c in zip(sig, wr, nf)], np.int8)
        return loss, stats, gx, codes
