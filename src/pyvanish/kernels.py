"""The C++ kernels, one Python function each.

Each function accepts array-likes under pyvanish's input policy (see
:mod:`pyvanish._validate`): lists, integer, non-contiguous and big-endian
arrays are converted; float32 stays float32 and float64 stays float64; complex,
bool and object arrays raise ``TypeError``; a shape mismatch raises
``ValueError`` naming both shapes. ``check_finite=True`` rejects NaN/Inf input.
The same operations, written plainly in NumPy, are in :mod:`pyvanish.reference`;
names and argument order match it.

Empty arrays are allowed wherever the result is well defined (an empty batch
gives empty activations and zero weight gradients); the mean-squared error of
an empty batch raises ``ValueError``.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _engine
from ._activations import ACTIVATIONS, DEFAULT_ALPHA, activation_code, alpha_for
from ._validate import as_arrays, real_number

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_ALPHA",
    "activation_forward",
    "activation_backward",
    "activation_derivative",
    "dense_forward",
    "dense_backward",
    "dense_act_forward",
    "dense_act_backward",
    "mse_forward",
    "mse_backward",
    "loss_forward_backward",
    "layernorm_forward",
    "layernorm_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "residual_forward",
    "residual_backward",
    "gemm",
    "blas_info",
    "get_simd_path",
    "set_simd_path",
    "simd_paths",
    "get_gemm_path",
    "set_gemm_path",
]


def activation_forward(name: str, inp, alpha: float | None = None, *, check_finite: bool = False) -> np.ndarray:
    """Apply activation ``name`` elementwise: ``out = phi(inp)``.

    Parameters
    ----------
    name : str
        One of :data:`ACTIVATIONS` (``"swish"`` is accepted for ``"silu"``).
    inp : array_like
        Pre-activations ``z``, any shape.
    alpha : float, optional
        Slope of ``leaky_relu`` (default 0.01) or scale of ``elu`` (default 1).

    Returns
    -------
    numpy.ndarray
        ``phi(inp)``, same shape and dtype. Stable for any input: +-1e300 and
        +-inf give the limits; NaN stays NaN.

    Examples
    --------
    >>> from pyvanish import kernels
    >>> kernels.activation_forward("sigmoid", [0.0, 1e300, -1e300]).tolist()
    [0.5, 1.0, 0.0]
    """
    fn = "activation_forward"
    code, a = activation_code(name, fn), alpha_for(name, alpha, fn)
    (x,) = as_arrays(fn, check_finite, inp=inp)
    return _engine.activation_forward(code, a, x)


def activation_derivative(
    name: str, inp, out=None, alpha: float | None = None, *, check_finite: bool = False
) -> np.ndarray:
    """The elementwise derivative ``phi'(inp)``.

    ``out = phi(inp)`` may be passed to save recomputing it (sigmoid and tanh
    take their derivative from it: ``a(1-a)`` and ``1-a**2``).

    Examples
    --------
    >>> from pyvanish import kernels
    >>> kernels.activation_derivative("sigmoid", [0.0]).tolist()
    [0.25]
    """
    fn = "activation_derivative"
    code, a = activation_code(name, fn), alpha_for(name, alpha, fn)
    if out is None:
        (x,) = as_arrays(fn, check_finite, inp=inp)
        y = _engine.activation_forward(code, a, x)
    else:
        x, y = as_arrays(fn, check_finite, inp=inp, out=out)
    return _engine.activation_derivative(code, a, x, y)


def activation_backward(
    name: str, dout, inp, out, alpha: float | None = None, *, check_finite: bool = False
) -> np.ndarray:
    """Back-propagate through the activation: ``dinp = dout * phi'(inp)``.

    ``out`` must be ``phi(inp)`` (from :func:`activation_forward`).

    Examples
    --------
    >>> from pyvanish import kernels
    >>> z = [0.0, 2.0]; a = kernels.activation_forward("tanh", z)
    >>> kernels.activation_backward("tanh", [1.0, 1.0], z, a).round(4).tolist()
    [1.0, 0.0707]
    """
    fn = "activation_backward"
    code, a = activation_code(name, fn), alpha_for(name, alpha, fn)
    g, x, y = as_arrays(fn, check_finite, dout=dout, inp=inp, out=out)
    return _engine.activation_backward(code, a, g, x, y)


def dense_forward(inp, weight, bias=None, *, check_finite: bool = False) -> np.ndarray:
    """Dense layer: ``out = inp @ weight.T + bias``.

    Parameters
    ----------
    inp : array_like, shape (B, C)
    weight : array_like, shape (OC, C)   (like ``torch.nn.Linear.weight``)
    bias : array_like, shape (OC,), optional

    Examples
    --------
    >>> from pyvanish import kernels
    >>> kernels.dense_forward([[1.0, 2.0]], [[3.0, 4.0]], [0.5]).tolist()
    [[11.5]]
    """
    x, w, b = as_arrays("dense_forward", check_finite, inp=inp, weight=weight, bias=bias)
    return _engine.dense_forward(x, w, b)


def dense_backward(dout, inp, weight, *, check_finite: bool = False):
    """Gradients of a dense layer: returns ``(dinp, dweight, dbias)``.

    ``dinp = dout @ weight`` (B, C), ``dweight = dout.T @ inp`` (OC, C),
    ``dbias = dout.sum(0)`` (OC,).

    Examples
    --------
    >>> from pyvanish import kernels
    >>> dinp, dW, db = kernels.dense_backward([[1.0]], [[1.0, 2.0]], [[3.0, 4.0]])
    >>> dinp.tolist(), dW.tolist(), db.tolist()
    ([[3.0, 4.0]], [[1.0, 2.0]], [1.0])
    """
    g, x, w = as_arrays("dense_backward", check_finite, dout=dout, inp=inp, weight=weight)
    return _engine.dense_backward(g, x, w)


def dense_act_forward(inp, weight, bias, name: str, alpha: float | None = None, *, check_finite: bool = False):
    """One layer's body in one call: ``z = inp @ weight.T + bias``, ``a = phi(z)``.

    Returns ``(z, a)``; ``bias`` may be None.

    Examples
    --------
    >>> from pyvanish import kernels
    >>> z, a = kernels.dense_act_forward([[1.0]], [[-2.0]], [0.0], "relu")
    >>> z.tolist(), a.tolist()
    ([[-2.0]], [[0.0]])
    """
    fn = "dense_act_forward"
    code, al = activation_code(name, fn), alpha_for(name, alpha, fn)
    x, w, b = as_arrays(fn, check_finite, inp=inp, weight=weight, bias=bias)
    return _engine.dense_act_forward(x, w, b, code, al)


def dense_act_backward(dout, inp, weight, z, a, name: str, alpha: float | None = None, *, check_finite: bool = False):
    """Back-propagate through one layer: returns ``(dinp, dweight, dbias, dz)``.

    ``dz = dout * phi'(z)``; then as :func:`dense_backward` with ``dz``.
    ``z`` and ``a`` come from :func:`dense_act_forward`.

    Examples
    --------
    >>> from pyvanish import kernels
    >>> z, a = kernels.dense_act_forward([[1.0]], [[2.0]], [0.0], "relu")
    >>> [g.tolist() for g in kernels.dense_act_backward([[1.0]], [[1.0]], [[2.0]], z, a, "relu")]
    [[[2.0]], [[1.0]], [1.0], [[1.0]]]
    """
    fn = "dense_act_backward"
    code, al = activation_code(name, fn), alpha_for(name, alpha, fn)
    arrs = as_arrays(fn, check_finite, dout=dout, inp=inp, weight=weight, z=z, a=a)
    g, x, w, zz, aa = arrs
    return _engine.dense_act_backward(g, x, w, zz, aa, code, al)


def mse_forward(pred, target, *, check_finite: bool = False) -> float:
    """Mean-squared error ``L = 1/(2B) * sum((pred - target)**2)`` over (B, N) arrays.

    For B = 1 and one output this is the tutorial's ``1/2 (y_true - y_pred)**2``.
    Summed in float64 whatever the input dtype.

    Examples
    --------
    >>> from pyvanish import kernels
    >>> kernels.mse_forward([[1.0, 2.0]], [[0.0, 0.0]])
    2.5
    """
    p, t = as_arrays("mse_forward", check_finite, pred=pred, target=target)
    return _engine.mse_forward(p, t)


def mse_backward(pred, target, *, check_finite: bool = False) -> np.ndarray:
    """Gradient of :func:`mse_forward`: ``(pred - target) / B``.

    Examples
    --------
    >>> from pyvanish import kernels
    >>> kernels.mse_backward([[1.0], [3.0]], [[0.0], [0.0]]).tolist()
    [[0.5], [1.5]]
    """
    p, t = as_arrays("mse_backward", check_finite, pred=pred, target=target)
    return _engine.mse_backward(p, t)


def loss_forward_backward(name: str, pred, target, *, check_finite: bool = False):
    """A loss and its gradient, ``(L, dL/dpred)``, over (B, N) arrays.

    ``name`` is one of :data:`pyvanish.LOSSES`: ``"mse"`` (:func:`mse_forward`),
    ``"cross_entropy"`` (softmax over the N outputs fused with the negative
    log-likelihood, mean over the batch; ``target`` rows are probabilities,
    one-hot for a class) or ``"bce"`` (sigmoid fused with binary cross-entropy,
    mean over all B N outputs). Stable for logits of +-1e300; summed in float64.
    The formulas are in :func:`pyvanish.reference.loss_forward_backward`.

    Examples
    --------
    >>> from pyvanish import kernels
    >>> L, d = kernels.loss_forward_backward("cross_entropy", [[1e300, -1e300]], [[0.0, 1.0]])
    >>> L, d.tolist()
    (2e+300, [[1.0, -1.0]])
    """
    from .architecture import _loss

    kind = _engine.LOSS_CODES[_loss(name, "loss_forward_backward")]
    p, t = as_arrays("loss_forward_backward", check_finite, pred=pred, target=target)
    return _engine.loss(p, t, kind)


def layernorm_forward(inp, gamma, beta, eps: float = 1e-5, *, check_finite: bool = False):
    """Layer normalisation: returns ``(out, xhat, rstd)``.

    Each row ``b`` of ``inp`` (B, C) is normalised over its C features: the
    biased variance, ``rstd_b = 1/sqrt(var_b + eps)``, ``xhat = (inp - mean) * rstd``,
    ``out = gamma * xhat + beta`` (``torch.nn.LayerNorm``). Statistics in float64.

    Examples
    --------
    >>> from pyvanish import kernels
    >>> out, xhat, rstd = kernels.layernorm_forward([[1.0, 3.0]], [2.0, 2.0], [0.5, 0.5], eps=1e-12)
    >>> out.round(6).tolist()
    [[-1.5, 2.5]]
    """
    x, g, b = as_arrays("layernorm_forward", check_finite, inp=inp, gamma=gamma, beta=beta)
    return _engine.layernorm_forward(x, g, b, real_number(eps, "layernorm_forward", "eps"))


def layernorm_backward(dout, xhat, gamma, rstd, *, check_finite: bool = False):
    """Gradient of :func:`layernorm_forward`: ``(dinp, dgamma, dbeta)``.

    Per row, with ``g = dout * gamma``: ``dinp = rstd * (g - mean(g) - xhat * mean(g * xhat))``;
    ``dgamma = sum_b dout * xhat``, ``dbeta = sum_b dout``.

    Examples
    --------
    >>> from pyvanish import kernels
    >>> out, xhat, rstd = kernels.layernorm_forward([[1.0, 3.0]], [1.0, 1.0], [0.0, 0.0])
    >>> dinp, dgamma, dbeta = kernels.layernorm_backward([[1.0, 1.0]], xhat, [1.0, 1.0], rstd)
    >>> dinp.tolist(), dbeta.tolist()          # a shift of every feature changes nothing
    ([[0.0, 0.0]], [1.0, 1.0])
    """
    g, xh, ga, r = as_arrays("layernorm_backward", check_finite, dout=dout, xhat=xhat, gamma=gamma, rstd=rstd)
    return _engine.layernorm_backward(g, xh, ga, r)


def batchnorm_forward(inp, gamma, beta, eps: float = 1e-5, *, check_finite: bool = False):
    """Batch normalisation, training mode: returns ``(out, xhat, mean, rstd)``.

    Per feature ``c`` of ``inp`` (B, C): ``mean_c``, the biased variance
    ``var_c``, ``rstd_c = 1/sqrt(var_c + eps)``, ``xhat = (inp - mean) * rstd``
    and ``out = gamma * xhat + beta``. Needs ``B >= 2``. A constant feature
    (``var = 0``) gives ``xhat = 0``: the result is dominated by ``eps``.

    Examples
    --------
    >>> from pyvanish import kernels
    >>> out, xhat, mean, rstd = kernels.batchnorm_forward([[1.0], [3.0]], [2.0], [0.5], eps=0.0)
    Traceback (most recent call last):
    ...
    ValueError: batchnorm_forward: eps must be positive and finite
    >>> out, xhat, mean, rstd = kernels.batchnorm_forward([[1.0], [3.0]], [2.0], [0.5], eps=1e-12)
    >>> out.round(6).tolist(), mean.tolist()
    ([[-1.5], [2.5]], [2.0])
    """
    x, g, b = as_arrays("batchnorm_forward", check_finite, inp=inp, gamma=gamma, beta=beta)
    return _engine.batchnorm_forward(x, g, b, real_number(eps, "batchnorm_forward", "eps"))


def batchnorm_backward(dout, xhat, gamma, rstd, *, check_finite: bool = False):
    """Gradient of :func:`batchnorm_forward` (training mode): ``(dinp, dgamma, dbeta)``.

    ``dgamma = sum_b dout * xhat``, ``dbeta = sum_b dout``,
    ``dinp = gamma * rstd / B * (B dout - dbeta - xhat * dgamma)``.

    Examples
    --------
    >>> from pyvanish import kernels
    >>> out, xhat, mean, rstd = kernels.batchnorm_forward([[1.0], [3.0]], [2.0], [0.5])
    >>> dinp, dgamma, dbeta = kernels.batchnorm_backward([[1.0], [1.0]], xhat, [2.0], rstd)
    >>> dinp.tolist(), dbeta.tolist()            # a shift of every sample changes nothing
    ([[0.0], [0.0]], [2.0])
    """
    g, xh, ga, r = as_arrays("batchnorm_backward", check_finite, dout=dout, xhat=xhat, gamma=gamma, rstd=rstd)
    return _engine.batchnorm_backward(g, xh, ga, r)


def residual_forward(skip, inp, scale: float = 1.0, *, check_finite: bool = False) -> np.ndarray:
    """Residual connection: ``out = skip + scale * inp`` (same shapes).

    Examples
    --------
    >>> from pyvanish import kernels
    >>> kernels.residual_forward([1.0, 2.0], [10.0, 20.0], 0.5).tolist()
    [6.0, 12.0]
    """
    s, x = as_arrays("residual_forward", check_finite, skip=skip, inp=inp)
    return _engine.residual_forward(s, x, real_number(scale, "residual_forward", "scale"))


def residual_backward(dout, scale: float = 1.0, *, check_finite: bool = False):
    """Gradient of :func:`residual_forward`: ``(dinp, dskip) = (scale * dout, dout)``.

    The skip path passes the gradient on unchanged: the Jacobian of
    ``h + F(h)`` is ``I + dF/dh``.

    Examples
    --------
    >>> from pyvanish import kernels
    >>> [a.tolist() for a in kernels.residual_backward([1.0, -2.0], 0.5)]
    [[0.5, -1.0], [1.0, -2.0]]
    """
    (g,) = as_arrays("residual_backward", check_finite, dout=dout)
    return _engine.residual_backward(g, real_number(scale, "residual_backward", "scale"))


def gemm(a, b, trans_a: bool = False, trans_b: bool = False, *, check_finite: bool = False) -> np.ndarray:
    """Matrix product ``op(a) @ op(b)``: OpenBLAS for the large products, pyvanish's own kernels for small ones.

    ``op(x)`` is ``x.T`` when the matching ``trans_*`` flag is set. Products of
    at least ``blas_info()["min_work"]`` multiply-adds (``M*N*K``) go to OpenBLAS
    (scipy-openblas32, on one thread), split in fixed blocks of
    ``blas_info()["block"]`` output rows or columns over pyvanish's threads, so
    the result is bitwise the same for any :func:`pyvanish.set_num_threads`.
    Tinier ones go to pyvanish's own kernels, compiled per instruction set (see
    :func:`get_simd_path`), and so, on the AVX2 and generic paths, do the small
    ones whose operands fit in L1 (at most ``blas_info()["small_max_work"]``
    multiply-adds, ``N`` at least ``small_min_n`` and ``K*N`` at most
    ``small_max_kn``: narrow layers): register blocks reading the operands in
    place beat OpenBLAS's packing there (on the AVX-512 path its kernels are as
    fast). The same dispatch serves the dense layers and the C API.

    Examples
    --------
    >>> from pyvanish import kernels
    >>> kernels.gemm([[1.0, 2.0]], [[3.0], [4.0]]).tolist()
    [[11.0]]
    """
    if type(a) is np.ndarray and type(b) is np.ndarray and type(trans_a) is bool and type(trans_b) is bool:
        # Fast path (small products are call-overhead bound): arrays already in the engine's
        # layout go straight in; anything the binding refuses takes the full path below.
        if not check_finite:
            try:
                return _engine.gemm(a, b, trans_a, trans_b)
            except (TypeError, ValueError):
                pass
            except MemoryError as exc:
                raise MemoryError(f"gemm: out of memory for the result ({exc})") from None
    for name, flag in (("trans_a", trans_a), ("trans_b", trans_b)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"gemm: {name} must be a bool, got {flag!r}")
    x, y = as_arrays("gemm", check_finite, a=a, b=b)
    try:
        return _engine.gemm(x, y, bool(trans_a), bool(trans_b))
    except MemoryError as exc:
        raise MemoryError(f"gemm: out of memory for the result ({exc})") from None


def blas_info() -> dict:
    """The BLAS behind the large products, as loaded: a dict.

    Keys: ``library`` (the path of the loaded ``libscipy_openblas``), ``version``
    (of the scipy-openblas32 package), ``config`` (OpenBLAS's configuration string),
    ``corename`` (the kernel core OpenBLAS chose at import, e.g. ``"Haswell"`` or
    ``"SkylakeX"``: fixed for the process, see ``OPENBLAS_CORETYPE`` in the performance
    guide), ``threads`` (OpenBLAS's own threads: always 1), ``min_work`` (the
    smallest ``M*N*K`` sent to OpenBLAS), ``block`` (the output rows or columns
    per OpenBLAS call) and the small products kept from it (see :func:`gemm`):
    ``small_max_work``, ``small_min_n``, ``small_max_kn``.

    Examples
    --------
    >>> from pyvanish import kernels
    >>> info = kernels.blas_info()
    >>> info["threads"], info["config"].startswith("OpenBLAS")
    (1, True)
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        pkg_version = version("scipy-openblas32")
    except PackageNotFoundError:  # pragma: no cover - a source tree without the dist-info
        pkg_version = "unknown"
    return {"library": _engine.blas_library_path, "version": pkg_version, **_engine.blas_info()}


def get_simd_path() -> str:
    """The instruction set the kernels and engines run on: ``"generic"``, ``"avx2"`` or ``"avx512"``.

    Examples
    --------
    >>> import pyvanish
    >>> pyvanish.get_simd_path() in pyvanish.simd_paths()
    True
    """
    return _engine.simd_path()


def simd_paths() -> tuple:
    """The instruction-set paths this CPU can run, ``"generic"`` first, the best last.

    Examples
    --------
    >>> import pyvanish
    >>> pyvanish.simd_paths()[0]
    'generic'
    """
    return tuple(_engine.simd_paths())


def set_simd_path(path: str) -> str:
    """Force the instruction set of every kernel and engine (process-wide); returns the path now in use.

    One switch governs pyvanish's own kernels (the small GEMM, the activation
    loops and the ensemble engine), which are compiled once per instruction set
    and chosen at run time. ``"auto"`` picks the best the CPU supports;
    ``"generic"`` runs on any CPU. The environment variable ``PYVANISH_SIMD`` sets
    it at import, and then also OpenBLAS's kernel core for the large products
    (``avx2``: Haswell, ``generic``: Prescott, unless ``OPENBLAS_CORETYPE`` is
    set); OpenBLAS's core is fixed at import, so this function does not change
    it (see :func:`blas_info`). Results are deterministic per path; paths may
    differ in the last bits (FMA).

    Raises
    ------
    ValueError
        For an unknown name or a path this CPU cannot run.

    Examples
    --------
    >>> import pyvanish
    >>> before = pyvanish.set_simd_path("generic")
    >>> pyvanish.set_simd_path("auto") == pyvanish.simd_paths()[-1]
    True
    """
    if not isinstance(path, str):
        raise TypeError(f"set_simd_path: path must be a string, got {type(path).__name__}")
    return _engine.set_simd_path(path)


def get_gemm_path() -> str:
    """Deprecated alias of :func:`get_simd_path` (to be removed in 0.3)."""
    warnings.warn(
        "get_gemm_path is deprecated: use get_simd_path (one switch governs every kernel)",
        DeprecationWarning,
        stacklevel=2,
    )
    return get_simd_path()


def set_gemm_path(path: str) -> str:
    """Deprecated alias of :func:`set_simd_path` (to be removed in 0.3)."""
    warnings.warn(
        "set_gemm_path is deprecated: use set_simd_path (one switch governs every kernel)",
        DeprecationWarning,
        stacklevel=2,
    )
    return set_simd_path(path)
