"""Pure-NumPy reference implementation of the pyvanish operations.

This module is the executable specification of pyvanish. It is the oracle that
the C++ kernels are tested against and the baseline that the benchmarks compare
them with. It is written plainly: one short function per operation, no tuning,
no input validation (the public API validates inputs elsewhere).

Conventions (the same everywhere in pyvanish):

* row-major, batch first: ``inp`` has shape ``(B, C)``;
* a dense layer's ``weight`` has shape ``(OC, C)`` like ``torch.nn.Linear``, so
  ``out = inp @ weight.T + bias``;
* every function keeps the floating dtype of its inputs (float32 in, float32
  out; float64 in, float64 out).

Numerical behaviour of the activations:

* Forward values and derivatives are finite and correct for inputs as large
  as ``±1e300`` (float64) or ``±3e38`` (float32) and take the right limit at
  ``±inf``, without raising NumPy overflow, invalid-value or divide-by-zero
  warnings (``np.where`` evaluates both of its branches, so neither branch is
  allowed to compute ``exp`` of a large positive number or ``z * z`` of a
  large ``z``, and products that would be ``inf * 0`` are avoided).
* A NaN input gives a NaN output, forward and derivative.
* Subnormal results are kept, never flushed: ``sigmoid(-720)`` in float64 is
  about ``1.9e-313``, not 0. Producing a subnormal sets the IEEE underflow
  flag; that is inherent to the result and is the only NumPy floating-point
  flag the activations can raise for non-NaN input. Arguments of ``exp`` so
  large that the result is exactly 0 are masked out instead of evaluated, so
  ``±1e300`` and ``±inf`` do not raise it.

Sigmoid and tanh take their derivative from the output (``a * (1 - a)`` and
``1 - a**2``); every other activation takes it from the input ``z``.

NumPy has no ``erf``: the exact GELU uses the standard library's
``math.erfc`` applied elementwise through ``np.frompyfunc``, computed in
float64 and cast back to the input dtype.
"""

import math

import numpy as np

# Names and default alphas: the package's one activation table (NumPy only).
from ._activations import ACTIVATIONS, DEFAULT_ALPHA

#: The per-layer statistics, in the engine's column order (tests/test_architecture.py checks it).
STAT_NAMES = (
    "grad_h",
    "grad_z",
    "grad_W",
    "grad_b",
    "mean_dphi",
    "saturated",
    "dead",
    "nonfinite_act",
    "nonfinite_grad",
    "tiny_grad_W",
    "grad_gamma",
    "grad_beta",
)

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_ALPHA",
    "activation_forward",
    "activation_derivative",
    "activation_backward",
    "max_derivative",
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
    "norm",
    "network_forward_backward",
    "ensemble_forward_backward",
    "train",
]


# --------------------------------------------------------------------------
# private helpers
# --------------------------------------------------------------------------

_erfc = np.frompyfunc(math.erfc, 1, 1)  # elementwise math.erfc, object result
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


def _exp_neg(a):
    """exp(-a) for a >= 0 (or NaN), in the dtype of ``a``.

    Where ``exp(-a)`` rounds to exactly 0 it is set to 0 without being
    evaluated, so huge ``a`` (1e300, inf) raises no underflow flag. Results
    in the subnormal range are computed, not flushed.
    """
    a = np.asarray(a)
    # beyond -log(smallest subnormal) + 1, exp(-a) < smallest_subnormal / e: 0.
    cut = 1.0 - math.log(float(np.finfo(a.dtype).smallest_subnormal))
    huge = a > cut
    e = np.exp(-np.where(huge, 0, a))
    return np.where(huge, 0, e)


def _keep_nan(z, d):
    """``d`` with NaN wherever ``z`` is NaN."""
    return np.where(np.isnan(z), z, d)


def _sigmoid(z):
    """Stable logistic function: never computes exp of a positive number."""
    e = _exp_neg(np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _gaussian_cdf64(z64):
    """Phi(z) = 0.5 * erfc(-z / sqrt(2)) in float64, via math.erfc.

    erfc(x) rounds to exactly 0 for x > 27.3 and to exactly 2 for x < -6.
    Beyond |x| = 27.5 the value is set, not evaluated: math.erfc raises the
    underflow flag on its way to 0 and np.frompyfunc reports it.
    """
    x = -z64 / _SQRT2
    far = np.abs(x) > 27.5
    e = np.asarray(_erfc(np.where(far, 0.0, x)), dtype=np.float64)
    e = np.where(far, np.where(x > 0, 0.0, 2.0), e)
    return 0.5 * e


# One table of (forward, derivative) pairs. forward(z, alpha) -> a;
# derivative(z, a, alpha) -> phi'(z). alpha is a Python float or None.


def _identity(z, alpha):
    return np.copy(z)


def _identity_d(z, a, alpha):
    return _keep_nan(z, np.ones_like(z))


def _sigmoid_f(z, alpha):
    return _sigmoid(z)


def _sigmoid_d(z, a, alpha):
    return a * (1 - a)  # from the output


def _tanh(z, alpha):
    return np.tanh(z)


def _tanh_d(z, a, alpha):
    # 1 - a**2 from the output, written (1 - a)(1 + a): no squaring, so no
    # underflow for tiny a, and 1 - a is exact near |a| = 1.
    return (1 - a) * (1 + a)


def _relu(z, alpha):
    return np.maximum(z, 0)


def _relu_d(z, a, alpha):
    return _keep_nan(z, (z > 0).astype(z.dtype))  # relu'(0) = 0


def _leaky_relu(z, alpha):
    # alpha * min(z, 0), not alpha * z: the unused branch must not overflow.
    return np.where(z > 0, z, alpha * np.minimum(z, 0))


def _leaky_relu_d(z, a, alpha):
    d = np.where(z > 0, np.ones_like(z), np.full_like(z, alpha))  # '(0) = alpha
    return _keep_nan(z, d)


def _elu(z, alpha):
    # expm1 of min(z, 0) lies in [-1, 0] (NaN stays NaN, silently); NumPy < 1.24
    # flags "invalid" for expm1(-inf) in float64, which is -1 exactly
    with np.errstate(invalid="ignore"):
        return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def _elu_d(z, a, alpha):
    return np.where(z > 0, 1, alpha * _exp_neg(-np.minimum(z, 0)))


def _gelu(z, alpha):
    z64 = np.asarray(z, dtype=np.float64)
    # max(z, -max_float) turns -inf into a finite number whose Phi is exactly
    # 0, so gelu(-inf) = 0 and not -inf * 0 = NaN.
    zf = np.maximum(z64, -np.finfo(np.float64).max)
    return (zf * _gaussian_cdf64(z64)).astype(z.dtype)


def _gelu_d(z, a, alpha):
    z64 = np.asarray(z, dtype=np.float64)
    # the Gaussian density is exactly 0 beyond |z| = 40 (exp(-800)); clipping
    # keeps z * z finite and z * pdf free of inf * 0.
    zc = np.clip(z64, -40.0, 40.0)
    pdf = _exp_neg(0.5 * zc * zc) / _SQRT2PI
    return (_gaussian_cdf64(z64) + zc * pdf).astype(z.dtype)


def _silu(z, alpha):
    zf = np.maximum(z, -np.finfo(z.dtype).max)  # silu(-inf) = 0, not NaN
    return zf * _sigmoid(z)


def _silu_d(z, a, alpha):
    big = np.finfo(z.dtype).max
    zc = np.clip(z, -big, big)  # z * s * (1 - s) at +-inf is 0, not NaN
    s = _sigmoid(z)
    return s + zc * s * (1 - s)


def _softplus(z, alpha):
    return np.maximum(z, 0) + np.log1p(_exp_neg(np.abs(z)))


def _softplus_d(z, a, alpha):
    return _sigmoid(z)


_TABLE = {
    "identity": (_identity, _identity_d),
    "sigmoid": (_sigmoid_f, _sigmoid_d),
    "tanh": (_tanh, _tanh_d),
    "relu": (_relu, _relu_d),
    "leaky_relu": (_leaky_relu, _leaky_relu_d),
    "elu": (_elu, _elu_d),
    "gelu": (_gelu, _gelu_d),
    "silu": (_silu, _silu_d),
    "softplus": (_softplus, _softplus_d),
}


def _lookup(name, alpha):
    """(forward, derivative, alpha as a Python float or None) for ``name``."""
    try:
        forward, derivative = _TABLE[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}") from None
    if alpha is None:
        alpha = DEFAULT_ALPHA.get(name)
    if alpha is not None:
        # a Python float, so that a NumPy float64 alpha cannot promote float32
        alpha = float(alpha)
    return forward, derivative, alpha


def _silu_max_derivative():
    # silu''(z) = s(1 - s)(2 + z(1 - 2s)) vanishes where g(z) = z tanh(z/2) - 2
    # is 0 (since 2s - 1 = tanh(z/2)); solve by Newton from z = 2.4.
    z = 2.4
    for _ in range(20):
        t = math.tanh(0.5 * z)
        g = z * t - 2.0
        dg = t + 0.5 * z * (1.0 - t * t)
        z -= g / dg
    s = 1.0 / (1.0 + math.exp(-z))
    return s + z * s * (1.0 - s)


# gelu''(z) = pdf(z)(2 - z^2), maximised at z = sqrt(2):
# gelu'(sqrt 2) = Phi(sqrt 2) + sqrt(2) pdf(sqrt 2) = erfc(-1)/2 + exp(-1)/sqrt(pi)
_GELU_MAX_DERIVATIVE = 0.5 * math.erfc(-1.0) + math.exp(-1.0) / math.sqrt(math.pi)
_SILU_MAX_DERIVATIVE = _silu_max_derivative()


# --------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------


def activation_forward(name, inp, alpha=None):
    """Apply an activation elementwise: ``out = phi(inp)``.

    Parameters
    ----------
    name : str
        One of :data:`ACTIVATIONS`:

        - ``identity``: z
        - ``sigmoid``: 1 / (1 + exp(-z))
        - ``tanh``: tanh(z)
        - ``relu``: max(z, 0)
        - ``leaky_relu``: z if z > 0 else alpha * z
        - ``elu``: z if z > 0 else alpha * (exp(z) - 1)
        - ``gelu``: z * Phi(z), Phi the standard normal CDF (exact erf form)
        - ``silu``: z * sigmoid(z)
        - ``softplus``: log(1 + exp(z))
    inp : ndarray
        Pre-activation ``z``, any shape, float32 or float64.
    alpha : float, optional
        Parameter of ``leaky_relu`` and ``elu``; defaults to
        ``DEFAULT_ALPHA[name]``. Ignored by the other activations.

    Returns
    -------
    out : ndarray
        ``phi(inp)``, same shape and dtype as ``inp``.

    Examples
    --------
    >>> import numpy as np
    >>> activation_forward("relu", np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    >>> activation_forward("sigmoid", np.array([-1e300, 0.0, 1e300]))
    array([0. , 0.5, 1. ])
    """
    forward, _, alpha = _lookup(name, alpha)
    return forward(np.asarray(inp), alpha)


def activation_derivative(name, inp, out, alpha=None):
    """Derivative of an activation, elementwise: ``phi'(inp)``.

    Sigmoid and tanh compute it from the output (``out * (1 - out)`` and
    ``1 - out**2``); the other activations from the input ``z``. At the kinks
    the derivative is taken from the left: ``relu'(0) = 0``,
    ``leaky_relu'(0) = alpha``, ``elu'(0) = alpha``.

    Parameters
    ----------
    name : str
        One of :data:`ACTIVATIONS`.
    inp : ndarray
        Pre-activation ``z``.
    out : ndarray
        ``activation_forward(name, inp, alpha)``.
    alpha : float, optional
        Parameter of ``leaky_relu`` and ``elu``; see :func:`activation_forward`.

    Returns
    -------
    dphi : ndarray
        ``phi'(z)``, same shape and dtype as ``inp``.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([-1.0, 0.0, 2.0])
    >>> activation_derivative("relu", z, activation_forward("relu", z))
    array([0., 0., 1.])
    >>> z = np.array([0.0])
    >>> activation_derivative("sigmoid", z, activation_forward("sigmoid", z))
    array([0.25])
    """
    _, derivative, alpha = _lookup(name, alpha)
    return derivative(np.asarray(inp), np.asarray(out), alpha)


def activation_backward(name, dout, inp, out, alpha=None):
    """Backward pass of an activation: ``dinp = dout * phi'(inp)``.

    Parameters
    ----------
    name : str
        One of :data:`ACTIVATIONS`.
    dout : ndarray
        Gradient of the loss with respect to ``out``, shape of ``inp``.
    inp : ndarray
        Pre-activation ``z``.
    out : ndarray
        ``activation_forward(name, inp, alpha)``.
    alpha : float, optional
        Parameter of ``leaky_relu`` and ``elu``; see :func:`activation_forward`.

    Returns
    -------
    dinp : ndarray
        Gradient of the loss with respect to ``inp``.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([-1.0, 2.0])
    >>> a = activation_forward("leaky_relu", z, alpha=0.5)
    >>> activation_backward("leaky_relu", np.array([4.0, 4.0]), z, a, alpha=0.5)
    array([2., 4.])
    """
    return np.asarray(dout) * activation_derivative(name, inp, out, alpha)


def max_derivative(name, alpha=None):
    """Supremum of ``phi'`` over the real line.

    Used to decide when a unit is saturated (``phi' < 0.01 * max phi'``).

    ======================  ==============================================
    identity, tanh, relu    1
    sigmoid                 0.25
    leaky_relu, elu         max(1, alpha)
    softplus                1 (approached as z -> inf, never attained)
    gelu                    erfc(-1)/2 + exp(-1)/sqrt(pi) ~ 1.1289, at z = sqrt 2
    silu                    ~ 1.0998, at the root of z tanh(z/2) = 2 (Newton)
    ======================  ==============================================

    Parameters
    ----------
    name : str
        One of :data:`ACTIVATIONS`.
    alpha : float, optional
        Parameter of ``leaky_relu`` and ``elu``; see :func:`activation_forward`.

    Returns
    -------
    float

    Examples
    --------
    >>> max_derivative("sigmoid")
    0.25
    >>> round(max_derivative("gelu"), 4)
    1.1289
    >>> max_derivative("elu", alpha=2.0)
    2.0
    """
    _, _, alpha = _lookup(name, alpha)
    if name == "sigmoid":
        return 0.25
    if name in ("leaky_relu", "elu"):
        return max(1.0, alpha)
    if name == "gelu":
        return _GELU_MAX_DERIVATIVE
    if name == "silu":
        return _SILU_MAX_DERIVATIVE
    return 1.0  # identity, tanh, relu, softplus


# --------------------------------------------------------------------------
# dense layer
# --------------------------------------------------------------------------


def dense_forward(inp, weight, bias):
    """Dense (fully connected) layer: ``out = inp @ weight.T + bias``.

    Parameters
    ----------
    inp : ndarray, shape (B, C)
    weight : ndarray, shape (OC, C)
        Laid out like ``torch.nn.Linear.weight``.
    bias : ndarray, shape (OC,)

    Returns
    -------
    out : ndarray, shape (B, OC)

    Examples
    --------
    >>> import numpy as np
    >>> inp = np.array([[1.0, 2.0]])               # B=1, C=2
    >>> weight = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, -1.0]])  # OC=3
    >>> dense_forward(inp, weight, np.array([0.0, 0.5, 1.0]))
    array([[ 1. ,  3.5, -1. ]])
    """
    return inp @ weight.T + bias


def dense_backward(dout, inp, weight):
    """Backward pass of :func:`dense_forward`.

    Parameters
    ----------
    dout : ndarray, shape (B, OC)
        Gradient of the loss with respect to the layer's output.
    inp : ndarray, shape (B, C)
    weight : ndarray, shape (OC, C)

    Returns
    -------
    dinp : ndarray, shape (B, C)
        ``dout @ weight``.
    dweight : ndarray, shape (OC, C)
        ``dout.T @ inp``.
    dbias : ndarray, shape (OC,)
        ``dout.sum(axis=0)``.

    Examples
    --------
    >>> import numpy as np
    >>> inp = np.array([[1.0, 2.0]])
    >>> weight = np.array([[3.0, 4.0]])
    >>> dinp, dweight, dbias = dense_backward(np.array([[2.0]]), inp, weight)
    >>> dinp, dweight, dbias
    (array([[6., 8.]]), array([[2., 4.]]), array([2.]))
    """
    dinp = dout @ weight
    dweight = dout.T @ inp
    dbias = dout.sum(axis=0)
    return dinp, dweight, dbias


def dense_act_forward(inp, weight, bias, name, alpha=None):
    """Dense layer followed by an activation.

    Parameters
    ----------
    inp : ndarray, shape (B, C)
    weight : ndarray, shape (OC, C)
    bias : ndarray, shape (OC,)
    name : str
        One of :data:`ACTIVATIONS`.
    alpha : float, optional
        Parameter of ``leaky_relu`` and ``elu``; see :func:`activation_forward`.

    Returns
    -------
    z : ndarray, shape (B, OC)
        ``dense_forward(inp, weight, bias)``.
    a : ndarray, shape (B, OC)
        ``activation_forward(name, z, alpha)``.

    Examples
    --------
    >>> import numpy as np
    >>> z, a = dense_act_forward(np.array([[1.0, -2.0]]), np.eye(2),
    ...                          np.zeros(2), "relu")
    >>> z, a
    (array([[ 1., -2.]]), array([[1., 0.]]))
    """
    z = dense_forward(inp, weight, bias)
    a = activation_forward(name, z, alpha)
    return z, a


def dense_act_backward(dout, inp, weight, z, a, name, alpha=None):
    """Backward pass of :func:`dense_act_forward`.

    Parameters
    ----------
    dout : ndarray, shape (B, OC)
        Gradient of the loss with respect to ``a``.
    inp : ndarray, shape (B, C)
    weight : ndarray, shape (OC, C)
    z, a : ndarray, shape (B, OC)
        The outputs of :func:`dense_act_forward`.
    name : str
        One of :data:`ACTIVATIONS`.
    alpha : float, optional
        Parameter of ``leaky_relu`` and ``elu``; see :func:`activation_forward`.

    Returns
    -------
    dinp : ndarray, shape (B, C)
    dweight : ndarray, shape (OC, C)
    dbias : ndarray, shape (OC,)
    dz : ndarray, shape (B, OC)
        ``activation_backward(name, dout, z, a, alpha)``, the gradient with
        respect to the pre-activation.

    Examples
    --------
    >>> import numpy as np
    >>> inp, weight, bias = np.array([[1.0, -2.0]]), np.eye(2), np.zeros(2)
    >>> z, a = dense_act_forward(inp, weight, bias, "relu")
    >>> dinp, dweight, dbias, dz = dense_act_backward(
    ...     np.array([[5.0, 5.0]]), inp, weight, z, a, "relu")
    >>> dz, dbias
    (array([[5., 0.]]), array([5., 0.]))
    """
    dz = activation_backward(name, dout, z, a, alpha)
    dinp, dweight, dbias = dense_backward(dz, inp, weight)
    return dinp, dweight, dbias, dz


# --------------------------------------------------------------------------
# loss
# --------------------------------------------------------------------------


def mse_forward(pred, target):
    """Mean squared error ``L = 1/(2B) * sum((pred - target)**2)``.

    The sum runs over every entry; ``B = pred.shape[0]`` is the batch size.
    With B = 1 and one output this is ``0.5 * (y_true - y_pred)**2``.

    Parameters
    ----------
    pred, target : ndarray, shape (B, N)

    Returns
    -------
    float
        Computed in the dtype of the inputs, returned as a Python float.

    Examples
    --------
    >>> import numpy as np
    >>> mse_forward(np.array([[1.0, 2.0]]), np.array([[0.0, 0.0]]))
    2.5
    """
    diff = pred - target
    return float(np.sum(diff * diff) / (2 * pred.shape[0]))


def mse_backward(pred, target):
    """Gradient of :func:`mse_forward` with respect to ``pred``.

    Parameters
    ----------
    pred, target : ndarray, shape (B, N)

    Returns
    -------
    dpred : ndarray, shape (B, N)
        ``(pred - target) / B``, in the dtype of the inputs.

    Examples
    --------
    >>> import numpy as np
    >>> mse_backward(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]]))
    array([[0.5],
           [1. ]])
    """
    return (pred - target) / pred.shape[0]


#: The losses a network can have (engine order); see :func:`loss_forward_backward`.
LOSSES = ("mse", "cross_entropy", "bce")


def loss_forward_backward(name, pred, target):
    """A loss and its gradient ``(L, dL/dpred)`` over the last axis's outputs.

    ``pred`` and ``target`` have shape ``(..., B, N)``; leading axes (ensemble
    members) are kept: ``L`` has their shape (a float without them).

    * ``"mse"``: ``L = 1/(2B) sum (pred - target)**2``, ``dL/dpred = (pred - target) / B``.
    * ``"cross_entropy"``: softmax over the ``N`` outputs with the negative
      log-likelihood, ``L = 1/B sum_b sum_j t_bj (logsumexp(pred_b) - pred_bj)``,
      ``dL/dpred = (softmax(pred_b) sum_j t_bj - t_b) / B`` (``torch.nn.functional.cross_entropy``
      with probability targets; a class index is its one-hot row). Terms with
      ``t = 0`` are left out, so logits of +-1e300 give finite values.
    * ``"bce"``: ``L = 1/(B N) sum max(pred, 0) - pred t + log(1 + exp(-|pred|))``,
      ``dL/dpred = (sigmoid(pred) - t) / (B N)`` (``binary_cross_entropy_with_logits``).

    Computed in float64; the gradient is returned in the inputs' dtype.

    Examples
    --------
    >>> L, d = loss_forward_backward("cross_entropy", np.array([[0.0, 0.0]]), np.array([[1.0, 0.0]]))
    >>> round(L, 12), d.tolist()
    (0.69314718056, [[-0.5, 0.5]])
    >>> L, d = loss_forward_backward("bce", np.array([[0.0]]), np.array([[1.0]]))
    >>> round(L, 12), d.tolist()
    (0.69314718056, [[-0.5]])
    """
    dt = pred.dtype
    y = pred.astype(np.float64)
    t = np.broadcast_to(target, pred.shape).astype(np.float64)
    B, N = pred.shape[-2], pred.shape[-1]
    with np.errstate(all="ignore"):
        if name == "mse":
            d = y - t
            value = np.sum(0.5 * d * d, axis=(-2, -1)) / B
            grad = (pred - np.broadcast_to(target, pred.shape).astype(dt)) * dt.type(1.0 / B)
            return _scalar(value), grad
        if name == "cross_entropy":
            m = np.max(y, axis=-1, keepdims=True)
            e = np.exp(y - m)
            s = e.sum(axis=-1, keepdims=True)
            lse = m + np.log(s)
            terms = np.where(t != 0, t * (lse - y), 0.0)
            value = terms.sum(axis=(-2, -1)) / B
            grad = (e / s * t.sum(axis=-1, keepdims=True) - t) / B
            return _scalar(value), grad.astype(dt)
        if name == "bce":
            terms = np.maximum(y, 0) - np.where(t != 0, y * t, 0.0) + np.log1p(np.exp(-np.abs(y)))
            value = terms.sum(axis=(-2, -1)) / (B * N)
            sig = np.where(y >= 0, 1.0 / (1.0 + np.exp(-y)), np.exp(y) / (1.0 + np.exp(y)))
            grad = (sig - t) / (B * N)
            return _scalar(value), grad.astype(dt)
    raise ValueError(f"loss_forward_backward: name must be one of {LOSSES}, got {name!r}")


def _scalar(v):
    return float(v) if np.ndim(v) == 0 else v


# --------------------------------------------------------------------- networks


def norm(v):
    """L2 norm of all entries of ``v``, returned as a Python float.

    Scaled by the largest magnitude first, so gradients of 1e-200 (whose
    squares underflow) and 1e200 (whose squares overflow) get their true
    norm. NaN if any entry is NaN, inf if any is infinite.

    Examples
    --------
    >>> norm(np.array([3e-200, 4e-200]))
    5e-200
    """
    v = np.asarray(v, dtype=np.float64).ravel()
    if v.size == 0:
        return 0.0
    if not np.isfinite(v).all():
        with np.errstate(over="ignore", invalid="ignore"):
            return float(np.sqrt(np.sum(v * v)))
    amax = float(np.max(np.abs(v)))
    if amax == 0.0:
        return 0.0
    _, e = math.frexp(amax)
    w = v * 2.0 ** (-(e // 2)) * 2.0 ** (-(e - e // 2))  # exact powers of two
    return math.ldexp(math.sqrt(float(np.sum(w * w))), e)


def batchnorm_forward(inp, gamma, beta, eps=1e-5):
    """Batch normalisation in training mode: ``(out, xhat, mean, rstd)``.

    ``mean`` and the biased variance are taken over the batch (axis 0),
    ``rstd = 1 / sqrt(var + eps)``, ``xhat = (inp - mean) * rstd`` and
    ``out = gamma * xhat + beta``. Statistics are computed in float64.

    Examples
    --------
    >>> out, xhat, mean, rstd = batchnorm_forward(np.array([[1.0], [3.0]]), np.ones(1), np.zeros(1), 1e-12)
    >>> out.round(6).tolist()
    [[-1.0], [1.0]]
    """
    x64 = inp.astype(np.float64)
    mean = x64.mean(axis=0)
    var = ((x64 - mean) ** 2).mean(axis=0)
    dt = inp.dtype
    mean_t = mean.astype(dt)
    rstd = (1.0 / np.sqrt(var + eps)).astype(dt)
    xhat = (inp - mean_t) * rstd
    return gamma * xhat + beta, xhat, mean_t, rstd


def batchnorm_backward(dout, xhat, gamma, rstd):
    """Gradient of :func:`batchnorm_forward`: ``(dinp, dgamma, dbeta)``.

    ``dinp = gamma * rstd * (dout - mean_b(dout) - xhat * mean_b(dout * xhat))``.

    Examples
    --------
    >>> dinp, dg, db = batchnorm_backward(np.ones((2, 1)), np.array([[-1.0], [1.0]]), np.ones(1), np.ones(1))
    >>> dinp.tolist(), db.tolist()
    ([[0.0], [0.0]], [2.0])
    """
    B = dout.shape[0]
    dgamma = (dout * xhat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dinp = gamma * rstd * (dout - dbeta / B - xhat * dgamma / B)
    return dinp, dgamma, dbeta


def layernorm_forward(inp, gamma, beta, eps=1e-5):
    """Layer normalisation: ``(out, xhat, rstd)``, each sample normalised over its features.

    Per row ``b``: ``mean_b`` and the biased variance over the last axis,
    ``rstd_b = 1 / sqrt(var_b + eps)``, ``xhat = (inp - mean) * rstd``,
    ``out = gamma * xhat + beta`` (``torch.nn.LayerNorm``). Statistics in float64.

    Examples
    --------
    >>> out, xhat, rstd = layernorm_forward(np.array([[1.0, 3.0]]), np.ones(2), np.zeros(2), 1e-12)
    >>> out.round(6).tolist()
    [[-1.0, 1.0]]
    """
    x64 = inp.astype(np.float64)
    mean = x64.mean(axis=-1, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=-1, keepdims=True)
    r = 1.0 / np.sqrt(var + eps)
    dt = inp.dtype
    xhat = ((x64 - mean) * r).astype(dt)
    return gamma * xhat + beta, xhat, r[..., 0].astype(dt)


def layernorm_backward(dout, xhat, gamma, rstd):
    """Gradient of :func:`layernorm_forward`: ``(dinp, dgamma, dbeta)``.

    With ``g = dout * gamma``, per row: ``dinp = rstd * (g - mean(g) - xhat * mean(g * xhat))``;
    ``dgamma = sum_b dout * xhat``, ``dbeta = sum_b dout``.

    Examples
    --------
    >>> dinp, dg, db = layernorm_backward(np.ones((1, 2)), np.array([[-1.0, 1.0]]), np.ones(2), np.ones(1))
    >>> dinp.tolist(), db.tolist()             # a shift of every feature changes nothing
    ([[0.0, 0.0]], [1.0, 1.0])
    """
    g = dout.astype(np.float64) * gamma
    x = xhat.astype(np.float64)
    mg = g.mean(axis=-1, keepdims=True)
    mgx = (g * x).mean(axis=-1, keepdims=True)
    dinp = (rstd.astype(np.float64)[..., None] * ((g - mg) - x * mgx)).astype(dout.dtype)
    return dinp, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def residual_forward(skip, inp, scale=1.0):
    """``skip + scale * inp``: a residual (skip) connection.

    Examples
    --------
    >>> residual_forward(np.array([1.0]), np.array([2.0]), 0.5).tolist()
    [2.0]
    """
    return skip + inp.dtype.type(scale) * inp


def residual_backward(dout, scale=1.0):
    """Gradient of :func:`residual_forward`: ``(dinp, dskip) = (scale * dout, dout)``.

    Examples
    --------
    >>> [a.tolist() for a in residual_backward(np.array([2.0]), 0.5)]
    [[1.0], [2.0]]
    """
    return dout.dtype.type(scale) * dout, dout.copy()


def network_forward_backward(
    weights,
    biases,
    activations,
    x,
    t,
    alphas=None,
    *,
    batchnorm=None,
    eps=1e-5,
    skips=None,
    scales=None,
    training=True,
    running=None,
    layernorm=None,
    prenorm=None,
    ln_eps=1e-5,
    loss="mse",
    grad_output=None,
):
    """Forward, loss, backward and per-layer statistics of a dense network.

    The layer loop written plainly in NumPy: the oracle of the C++ network
    engine and the baseline of its benchmarks. Layer ``l = 1..L``::

        v_l = LN'(h_{l-1}) if layer l is pre-norm, else h_{l-1}
        z_l = v_l @ W_l.T + b_l
        u_l = BN(z_l) or LN(z_l) if layer l has batch or layer norm, else z_l
        a_l = phi_l(u_l)
        h_l = h_{s} + scale_l * a_l if layer l is residual from h_s, else a_l
        h_0 = x;  y = h_L;  the loss of loss_forward_backward (MSE: 1/(2B) * sum((y - t)**2))

    Parameters
    ----------
    weights, biases : list of ndarray
        ``W_l`` of shape ``(n_l, n_{l-1})`` and ``b_l`` of shape ``(n_l,)``.
    activations : list of str
        One activation per layer.
    x, t : ndarray
        ``(B, n_0)`` inputs and ``(B, n_L)`` targets.
    alphas : list of float, optional
        Per-layer alpha (leaky_relu slope, elu scale); default per activation.
    batchnorm : list of (gamma, beta) or None, optional
        Per layer: batch-norm parameters, or None for no batch norm.
    eps : float
        Batch-norm epsilon.
    skips, scales : list, optional
        Per layer: the index ``s`` of the residual source ``h_s`` (or None),
        and the residual scale (default 1).
    training : bool
        Batch statistics (True) or the given ``running`` ones.
    running : list of (mean, var) or None, optional
        Per batch-norm layer, the statistics used when ``training`` is False.
    layernorm, prenorm : list of (gamma, beta) or None, optional
        Per layer: the parameters of a layer norm of ``z_l`` (``layernorm``) or
        of the layer's input ``h_{l-1}`` (``prenorm``), or None.
    ln_eps : float
        Layer-norm epsilon.
    loss : str
        ``"mse"``, ``"cross_entropy"`` or ``"bce"`` (:func:`loss_forward_backward`).
    grad_output : ndarray, optional
        ``dL/dy`` itself, back-propagated instead of a loss's (then ``loss`` is NaN and ``t`` unused).

    Returns
    -------
    dict with
        ``loss``; lists ``z``, ``u`` (L), ``h`` (L+1, ``h[0] = x``), ``dh``
        (L+1, ``dh[0] = dL/dx``), ``dz``, ``dW``, ``db``, ``dgamma``,
        ``dbeta`` (L; None where no batch or layer norm), ``dpre_gamma``,
        ``dpre_beta`` (L; None where not pre-norm); ``stats``: a dict of
        per-layer arrays (L,) named ``grad_h`` (``|dL/dh_l|``, l = 1..L),
        ``grad_z``, ``grad_W``, ``grad_b``, ``mean_dphi``, ``saturated``
        (fraction of unit-samples with ``|phi'| <= 0.01 * max phi'``),
        ``dead`` (fraction of units with ``phi' == 0`` on every sample),
        ``nonfinite_act`` (NaN/Inf in ``z_l``, ``u_l`` and ``h_l``),
        ``nonfinite_grad`` (in ``dL/dh_l, dL/du_l, dL/dz_l, dL/dW_l, dL/db_l``
        and the batch-norm parameter gradients), ``tiny_grad_W`` (entries of
        ``dL/dW_l`` that are 0 or subnormal), ``grad_gamma``, ``grad_beta``
        (NaN where no batch norm); and ``grad_x``.

    Examples
    --------
    >>> out = network_forward_backward([np.array([[2.0]])], [np.zeros(1)], ["identity"],
    ...                                np.array([[1.0]]), np.array([[0.0]]))
    >>> out["loss"], float(out["dW"][0][0, 0])
    (2.0, 2.0)
    """
    L = len(weights)
    alphas = [None] * L if alphas is None else alphas
    batchnorm = [None] * L if batchnorm is None else batchnorm
    skips = [None] * L if skips is None else skips
    scales = [1.0] * L if scales is None else scales
    layernorm = [None] * L if layernorm is None else layernorm
    prenorm = [None] * L if prenorm is None else prenorm
    h, z, u, a, xhat, rstd = [x], [], [], [], [None] * L, [None] * L
    v, pxhat, prstd = [None] * L, [None] * L, [None] * L
    with np.errstate(all="ignore"):  # an exploding network is a result, not an error
        for i, (W, b, name, al) in enumerate(zip(weights, biases, activations, alphas)):
            v[i] = h[-1]
            if prenorm[i] is not None:
                v[i], pxhat[i], prstd[i] = layernorm_forward(h[-1], *prenorm[i], ln_eps)
            z.append(dense_forward(v[i], W, b))
            if layernorm[i] is not None:
                out, xhat[i], rstd[i] = layernorm_forward(z[-1], *layernorm[i], ln_eps)
                u.append(out)
            elif batchnorm[i] is None:
                u.append(z[-1])
            elif training:
                out, xhat[i], _, rstd[i] = batchnorm_forward(z[-1], *batchnorm[i], eps)
                u.append(out)
            else:
                mean, var = running[i]
                rstd[i] = (1.0 / np.sqrt(var.astype(np.float64) + eps)).astype(z[-1].dtype)
                xhat[i] = (z[-1] - mean) * rstd[i]
                u.append(batchnorm[i][0] * xhat[i] + batchnorm[i][1])
            a.append(activation_forward(name, u[-1], al))
            h.append(a[-1] if skips[i] is None else residual_forward(h[skips[i]], a[-1], scales[i]))
        B = x.shape[0]
        dh = [None] * (L + 1)
        if grad_output is None:
            loss, dh[L] = loss_forward_backward(loss, h[-1], t)
        else:
            loss, dh[L] = math.nan, np.asarray(grad_output, dtype=h[-1].dtype)
        pending = [np.zeros_like(hl) for hl in h]  # skip-path gradients waiting for dh[s]
        dz, dW, db = [None] * L, [None] * L, [None] * L
        dgamma, dbeta, dpre_gamma, dpre_beta = [None] * L, [None] * L, [None] * L, [None] * L
        stats = {k: np.zeros(L) for k in STAT_NAMES}
        for l in range(L, 0, -1):
            i = l - 1
            name, al = activations[i], alphas[i]
            if l < L:
                dh[l] = dh[l] + pending[l]
            if skips[i] is None:
                da = dh[l]
            else:
                da, dskip = residual_backward(dh[l], scales[i])
                pending[skips[i]] = pending[skips[i]] + dskip
            dphi = activation_derivative(name, u[i], a[i], al)
            du = da * dphi
            normed = batchnorm[i] is not None or layernorm[i] is not None
            if layernorm[i] is not None:
                dz[i], dgamma[i], dbeta[i] = layernorm_backward(du, xhat[i], layernorm[i][0], rstd[i])
            elif batchnorm[i] is None:
                dz[i] = du
            elif training:
                dz[i], dgamma[i], dbeta[i] = batchnorm_backward(du, xhat[i], batchnorm[i][0], rstd[i])
            else:
                dz[i] = du * batchnorm[i][0] * rstd[i]
                dgamma[i], dbeta[i] = (du * xhat[i]).sum(axis=0), du.sum(axis=0)
            dh[l - 1], dW[i], db[i] = dense_backward(dz[i], v[i], weights[i])
            if prenorm[i] is not None:
                dh[l - 1], dpre_gamma[i], dpre_beta[i] = layernorm_backward(
                    dh[l - 1], pxhat[i], prenorm[i][0], prstd[i]
                )
            thr = 0.01 * max_derivative(name, al)
            stats["grad_h"][i] = norm(dh[l])
            stats["grad_z"][i] = norm(dz[i])
            stats["grad_W"][i] = norm(dW[i])
            stats["grad_b"][i] = norm(db[i])
            stats["mean_dphi"][i] = float(np.mean(dphi.astype(np.float64)))
            stats["saturated"][i] = float(np.mean(np.abs(dphi.astype(np.float64)) <= thr))
            stats["dead"][i] = float(np.mean(np.all(dphi == 0, axis=0)))
            acts = [z[i], h[l]] + ([u[i]] if normed else [])
            grads = [dh[l], dz[i], dW[i], db[i]]
            if normed:
                grads += [du, dgamma[i], dbeta[i]]
            stats["nonfinite_act"][i] = sum(int(np.sum(~np.isfinite(v))) for v in acts)
            stats["nonfinite_grad"][i] = sum(int(np.sum(~np.isfinite(v))) for v in grads)
            stats["tiny_grad_W"][i] = np.sum(np.abs(dW[i]) < np.finfo(dW[i].dtype).tiny)
            stats["grad_gamma"][i] = norm(dgamma[i]) if dgamma[i] is not None else np.nan
            stats["grad_beta"][i] = norm(dbeta[i]) if dbeta[i] is not None else np.nan
        dh[0] = dh[0] + pending[0]
    return {
        "loss": loss,
        "z": z,
        "u": u,
        "h": h,
        "dh": dh,
        "dz": dz,
        "dW": dW,
        "db": db,
        "dgamma": dgamma,
        "dbeta": dbeta,
        "dpre_gamma": dpre_gamma,
        "dpre_beta": dpre_beta,
        "stats": stats,
        "grad_x": norm(dh[0]),
        "batch": B,
    }


def _member_norms(v):
    """Per-member L2 norms of ``v`` (members first), scaled like :func:`norm`."""
    v = np.asarray(v, dtype=np.float64).reshape(v.shape[0], -1)
    out = np.zeros(v.shape[0])
    if v.shape[1] == 0:
        return out
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        finite = np.isfinite(v).all(axis=1)
        amax = np.max(np.abs(np.where(np.isfinite(v), v, 0.0)), axis=1)
        e = np.frexp(np.where(finite & (amax > 0), amax, 1.0))[1]
        e = np.maximum(e, -1000)
        w = v * np.ldexp(1.0, -e)[:, None]
        scaled = np.ldexp(np.sqrt(np.sum(w * w, axis=1)), e)
        naive = np.sqrt(np.sum(v * v, axis=1))
    out = np.where(finite, np.where(amax > 0, scaled, 0.0), naive)
    return out


def ensemble_forward_backward(weights, biases, activations, x, t, alphas=None, *, skips=None, scales=None, loss="mse"):
    """:func:`network_forward_backward` for ``E`` networks at once, vectorised
    over members (no loop over members): the oracle and the baseline of the
    ensemble engine.

    ``weights[l]`` has shape ``(E, n_l, n_{l-1})``, ``biases[l]`` ``(E, n_l)``;
    ``x`` is ``(B, n_0)`` shared by every member or ``(E, B, n_0)``, ``t``
    likewise. Returns a dict with ``loss`` (E,), ``grad_x`` (E,) and
    ``stats``: per-member arrays (E, L) named as in
    :func:`network_forward_backward` (no batch norm here: ``grad_gamma`` and
    ``grad_beta`` are NaN).

    Examples
    --------
    >>> out = ensemble_forward_backward([np.array([[[2.0]], [[3.0]]])], [np.zeros((2, 1))], ["identity"],
    ...                                 np.array([[1.0]]), np.array([[0.0]]))
    >>> out["loss"].tolist(), out["stats"]["grad_W"][:, 0].tolist()
    ([2.0, 4.5], [2.0, 3.0])
    """
    L = len(weights)
    E = weights[0].shape[0]
    alphas = [None] * L if alphas is None else alphas
    skips = [None] * L if skips is None else skips
    scales = [1.0] * L if scales is None else scales
    x = np.broadcast_to(x, (E,) + x.shape[-2:])
    t = np.broadcast_to(t, (E,) + t.shape[-2:])
    h, z = [x], []
    with np.errstate(all="ignore"):
        for i in range(L):
            z.append(np.matmul(h[-1], np.swapaxes(weights[i], 1, 2)) + biases[i][:, None, :])
            a = activation_forward(activations[i], z[-1], alphas[i])
            h.append(a if skips[i] is None else residual_forward(h[skips[i]], a, scales[i]))
        dh = [None] * (L + 1)
        loss, dh[L] = loss_forward_backward(loss, h[-1], t)
        pending = [np.zeros_like(v) for v in h]
        stats = {k: np.zeros((E, L)) for k in STAT_NAMES}
        for l in range(L, 0, -1):
            i = l - 1
            if l < L:
                dh[l] = dh[l] + pending[l]
            a = activation_forward(activations[i], z[i], alphas[i])
            if skips[i] is None:
                da = dh[l]
            else:
                da, dskip = residual_backward(dh[l], scales[i])
                pending[skips[i]] = pending[skips[i]] + dskip
            dphi = activation_derivative(activations[i], z[i], a, alphas[i])
            dz = da * dphi
            dW = np.matmul(np.swapaxes(dz, 1, 2), h[l - 1])
            db = dz.sum(axis=1)
            dh[l - 1] = np.matmul(dz, weights[i])
            thr = 0.01 * max_derivative(activations[i], alphas[i])
            stats["grad_h"][:, i] = _member_norms(dh[l])
            stats["grad_z"][:, i] = _member_norms(dz)
            stats["grad_W"][:, i] = _member_norms(dW)
            stats["grad_b"][:, i] = _member_norms(db)
            stats["mean_dphi"][:, i] = np.mean(dphi.astype(np.float64), axis=(1, 2))
            stats["saturated"][:, i] = np.mean(np.abs(dphi.astype(np.float64)) <= thr, axis=(1, 2))
            stats["dead"][:, i] = np.mean(np.all(dphi == 0, axis=1), axis=1)
            stats["nonfinite_act"][:, i] = np.sum(~np.isfinite(z[i]), axis=(1, 2)) + np.sum(
                ~np.isfinite(h[l]), axis=(1, 2)
            )
            stats["nonfinite_grad"][:, i] = sum(
                np.sum(~np.isfinite(v.reshape(E, -1)), axis=1) for v in (dh[l], dz, dW, db)
            )
            stats["tiny_grad_W"][:, i] = np.sum(np.abs(dW) < np.finfo(dW.dtype).tiny, axis=(1, 2))
            stats["grad_gamma"][:, i] = np.nan
            stats["grad_beta"][:, i] = np.nan
        dh[0] = dh[0] + pending[0]
    return {"loss": loss, "stats": stats, "grad_x": _member_norms(dh[0]), "dh": dh}


def train(
    weights,
    biases,
    activations,
    X,
    T,
    idx,
    lr,
    optimizer="sgd",
    momentum=0.0,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.0,
    alphas=None,
    **network_kwargs,
):
    """The training loop written plainly: the oracle and baseline of the C++ one.

    Step ``k`` takes the minibatch ``X[idx[k]], T[idx[k]]``, runs
    :func:`network_forward_backward` and updates every parameter (weights,
    biases and the ``gamma``/``beta`` of the batch-, layer- and pre-norms
    given as ``batchnorm=``, ``layernorm=``, ``prenorm=[(gamma, beta) or None,
    ...]``, all updated in place) with SGD (``v = momentum v +
    g``; ``p -= lr v``) or Adam (bias-corrected). ``weight_decay`` adds
    ``wd * p`` to each gradient. Returns the per-step losses and
    ``|dL/dW_l|`` (steps, L).

    Examples
    --------
    >>> W, b = [np.array([[1.0]])], [np.zeros(1)]
    >>> out = train(W, b, ["identity"], np.array([[1.0]]), np.array([[0.0]]), np.zeros((2, 1), int), lr=0.5)
    >>> out["loss"].tolist(), W[0].tolist(), b[0].tolist()   # one step: w = 0.5, b = -0.5, y = 0
    ([0.5, 0.0], [[0.5]], [-0.5])
    """
    L = len(weights)
    # every (gamma, beta) pair: batch norm, layer norm, pre-norm, in that order
    kinds = [("batchnorm", "dgamma", "dbeta"), ("layernorm", "dgamma", "dbeta"), ("prenorm", "dpre_gamma", "dpre_beta")]
    pairs = [(kind, i, pair) for kind, _, _ in kinds for i, pair in enumerate(network_kwargs.get(kind) or [None] * L)]
    pairs = [(kind, i, pair) for kind, i, pair in pairs if pair is not None]
    params = list(weights) + list(biases) + [a for _, _, pair in pairs for a in pair]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    losses, grad_W = [], []
    b1, b2 = betas
    for k, rows in enumerate(idx):
        out = network_forward_backward(weights, biases, activations, X[rows], T[rows], alphas, **network_kwargs)
        losses.append(out["loss"])
        grad_W.append(out["stats"]["grad_W"])
        names = {kind: (dg, db) for kind, dg, db in kinds}
        grads = list(out["dW"]) + list(out["db"]) + [out[name][i] for kind, i, _ in pairs for name in names[kind]]
        if not np.isfinite(out["loss"]):
            break
        for p, g, m, v in zip(params, grads, m1, m2):
            dt = p.dtype.type
            g = g + dt(weight_decay) * p
            if optimizer == "adam":
                m[...] = dt(b1) * m + (dt(1) - dt(b1)) * g
                v[...] = dt(b2) * v + (dt(1) - dt(b2)) * g * g
                c1, c2 = dt(1.0 / (1.0 - b1 ** (k + 1))), dt(1.0 / (1.0 - b2 ** (k + 1)))
                p -= dt(lr) * (m * c1) / (np.sqrt(v * c2) + dt(eps))
            else:
                m[...] = dt(momentum) * m + g
                p -= dt(lr) * m
    return {"loss": np.array(losses), "grad_W": np.array(grad_W)}
