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

from . import _blas, _core  # _blas first: it loads OpenBLAS, which _core links
from .architecture import Architecture

__version__: str = _core.__version__

#: Activation names in the engine's enum order (checked against pyvanish._activations by the tests).
ENGINE_ACTIVATIONS: tuple = tuple(_core.ACTIVATIONS)
#: Columns of the per-layer statistics array the engines return.
STAT_NAMES: tuple = tuple(_core.STAT_NAMES)
STAT: dict = {name: i for i, name in enumerate(STAT_NAMES)}
#: Verdicts by code, and the threshold (decades) the engine's verdict uses.
VERDICTS: tuple = tuple(_core.VERDICTS)
THRESHOLD_DECADES: float = float(_core.VERDICT_THRESHOLD_DECADES)
#: Loss codes by name (the engine's enum; "given" is a user-supplied dL/dy).
LOSS_CODES: dict = {name: i for i, name in enumerate(_core.LOSSES)}

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
loss = _core.loss
layernorm_forward = _core.layernorm_forward
layernorm_backward = _core.layernorm_backward
batchnorm_forward = _core.batchnorm_forward
batchnorm_backward = _core.batchnorm_backward
residual_forward = _core.residual_forward
residual_backward = _core.residual_backward
gemm = _core.gemm
max_derivative = _core.max_derivative
log10_summary = _core.log10_summary

# ---------------------------------------------------------------- runtime switches
num_threads = _core.num_threads
#: The most threads set_num_threads accepts: more than any machine's cores, each thread costs a stack.
MAX_THREADS = 1024


def set_num_threads(n: int) -> None:
    """Set the threads the parallel kernels use (``n <= 0``: the default, OMP_NUM_THREADS or all cores).

    ``n`` must be an integer up to 1024.

    Examples
    --------
    >>> import pyvanish
    >>> before = pyvanish.num_threads()
    >>> pyvanish.set_num_threads(1); pyvanish.num_threads()
    1
    >>> pyvanish.set_num_threads(0)
    """
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads: n must be an integer, got {n!r}")
    if n > MAX_THREADS:
        raise ValueError(f"set_num_threads: n must be <= {MAX_THREADS}, got {n}")
    _core.set_num_threads(max(int(n), 0))


subnormals_flushed = _core.subnormals_flushed
simd_path = _core.simd_path
simd_best_path = _core.simd_best_path
simd_paths = _core.simd_paths
set_simd_path = _core.set_simd_path
blas_library_path: str = _blas.LIBRARY_PATH
blas_info = _core.blas_info
gemm_inhouse = _core._gemm_inhouse
gemm_blas = _core._gemm_blas
gemm_uses_blas = _core._gemm_uses_blas

TrainConfig = _core.TrainConfig


def c_api() -> Any:
    """The C API table of the compiled core, a ``PyCapsule`` (``pyvanish_capi.h``; for ``cython_kernels``)."""
    return _core._C_API


_NETWORKS = {np.dtype(np.float32): _core.Network32, np.dtype(np.float64): _core.Network64}
_ENSEMBLES = {np.dtype(np.float32): _core.Ensemble32, np.dtype(np.float64): _core.Ensemble64}


def _layer_lists(arch: Architecture) -> tuple:
    L = arch.depth
    codes = [ENGINE_ACTIVATIONS.index(a) for a in arch.activations]
    skips = [-1 if s is None else s for s in arch.skips]
    return list(arch.widths), codes, list(arch.alphas), skips, [arch.residual_scale] * L


def network_engine(arch: Architecture) -> Any:
    """A single-network engine (parameters zeroed, normalisation gamma = 1) for ``arch``."""
    widths, codes, alphas, skips, scales = _layer_lists(arch)
    return _NETWORKS[arch.dtype](
        widths,
        codes,
        alphas,
        list(arch.batchnorm),
        [arch.bn_eps] * arch.depth,
        skips,
        scales,
        list(arch.layernorm),
        list(arch.prenorm),
        arch.ln_eps,
        LOSS_CODES[arch.loss],
    )


def ensemble_engine(arch: Architecture, members: int, draw: list | None = None, seed: int = 0) -> Any:
    """An ensemble engine of ``members`` networks of ``arch`` (no batch norm; layer norms start at gamma = 1).

    ``draw`` (one ``(weight distribution, scale, bias distribution, scale)`` per layer): the
    members are drawn by the engine from ``seed`` where they are used, and nothing is stored.
    """
    widths, codes, alphas, skips, scales = _layer_lists(arch)
    return _ENSEMBLES[arch.dtype](
        widths,
        codes,
        alphas,
        skips,
        scales,
        members,
        LOSS_CODES[arch.loss],
        list(arch.layernorm),
        list(arch.prenorm),
        arch.ln_eps,
        draw or [],
        seed,
    )
