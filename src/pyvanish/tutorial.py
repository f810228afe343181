"""The tutorial network, exactly: x -> h1 -> h2 -> h3 -> y, one unit per layer.

With one unit per layer every Jacobian is a number, so the backward pass is a
product of chain factors ``phi'(z_i) * w_i``. For ``x -> h1 -> h2 -> h3 -> y``
(layers 1..4, ``y = h4``)::

    dL/dy  = y - t                          (L = 1/2 (y - t)^2)
    dL/dh3 = dL/dy  * phi'(z4) w4
    dL/dh2 = dL/dh3 * phi'(z3) w3
    dL/dh1 = dL/dh2 * phi'(z2) w2  =  dL/dh3 * phi'(z3) w3 * phi'(z2) w2
    dL/dx  = dL/dh1 * phi'(z1) w1

The factor ``phi'(z1) w1`` belongs to ``dL/dx``, not to ``dL/dh1`` (the classic
tutorial's formula puts it one step too far). What layer ``i`` learns from is
``dL/dw_i = dL/dh_i * phi'(z_i) * h_{i-1}``. With sigmoid, ``phi' <= 1/4``, so
each factor shrinks the gradient unless ``|w_i| > 4``; with ReLU,
``phi'(z_i) w_i`` is ``w_i`` (``z_i > 0``) or ``0``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernels
from ._validate import real_number
from .architecture import MAX_DEPTH
from .network import Network

DPHI, FACTOR = "phi'(z_i)", "factor phi'(z_i)·w_i"
SYMBOL = {"sigmoid": "σ'", "relu": "relu'", "tanh": "tanh'"}


def seed_network(
    weights=None,
    biases=None,
    *,
    activation: str = "sigmoid",
    output_activation: str = "sigmoid",
    depth: int = 4,
    init: str | None = None,
    seed=0,
    dtype=np.float64,
) -> SeedNetwork:
    """The tutorial's 1 -> 1 -> 1 -> 1 -> 1 network (``depth`` weight layers).

    Parameters
    ----------
    weights, biases : sequence of float, optional
        ``w_1..w_L`` and ``b_1..b_L`` (default: drawn by ``init``; zero biases).
    activation : str
        Hidden activation (the tutorial: sigmoid on every layer).
    output_activation : str
        Output activation (default sigmoid, as in the tutorial).
    init : str, optional
        Initialisation when ``weights`` is None: ``"normal"`` (w ~ N(0, 1))
        for saturating activations, ``"he"`` for the ReLU family by default.
    seed : int
        Seed of the initialisation.

    Examples
    --------
    >>> import pyvanish
    >>> net = pyvanish.seed_network(weights=[1.0, 1.0, 1.0, 1.0])
    >>> ex = net.explain(x=1.0, t=0.0)
    >>> round(ex.factors[0], 6)                 # sigma'(z1) * w1 with z1 = 1
    0.196612
    """
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"seed_network: depth must be a positive integer up to {MAX_DEPTH:,}, got {depth!r}")
    if init is None:
        init = "he" if activation in ("relu", "leaky_relu", "elu", "gelu", "silu") else "normal"
    w = (
        None
        if weights is None
        else [np.reshape(np.asarray(v, dtype=float), (1, 1)) for v in _seq(weights, depth, "weights")]
    )
    b = (
        None
        if biases is None
        else [np.reshape(np.asarray(v, dtype=float), (1,)) for v in _seq(biases, depth, "biases")]
    )
    return SeedNetwork(
        [1] * (depth + 1),
        activation=activation,
        output_activation=output_activation,
        init=init,
        weights=w,
        biases=b,
        seed=seed,
        dtype=dtype,
    )


def _seq(values, depth, name):
    vals = list(np.ravel(np.asarray(values, dtype=object)))
    if len(vals) != depth:
        raise ValueError(f"seed_network: {name} needs {depth} values (one per layer), got {len(vals)}")
    return [real_number(v, "seed_network", f"{name}[{i}]") for i, v in enumerate(vals)]


@dataclass(frozen=True)
class Explanation:
    """Every chain factor of a one-unit-per-layer network, named exactly.

    Lists are indexed by layer: entry ``i - 1`` is layer ``i``; ``grad_h[0]``
    is ``dL/dx`` and ``grad_h[i]`` is ``dL/dh_i`` (``h_L = y``).
    """

    activations: tuple
    x: float
    t: float
    h: tuple  # h_0 = x, h_1, ..., h_L = y
    z: tuple
    dphi: tuple
    w: tuple
    factors: tuple  # phi'(z_i) * w_i
    grad_h: tuple  # dL/dh_i, i = 0..L (from the engine)
    grad_w: tuple  # dL/dw_i (from the engine)
    loss: float

    @property
    def chain_grad_h(self) -> tuple:
        """``dL/dh_i`` rebuilt as products of the factors (equals ``grad_h``)."""
        L = len(self.factors)
        g = [0.0] * (L + 1)
        g[L] = self.h[L] - self.t
        for i in range(L, 0, -1):
            g[i - 1] = g[i] * self.factors[i - 1]
        return tuple(g)

    def __str__(self) -> str:
        L = len(self.factors)
        names = ["x"] + [f"h{i}" for i in range(1, L)] + ["y"]
        sym = [SYMBOL.get(a, f"{a}'") for a in self.activations]
        out = [
            f"Network: {' -> '.join(names)}   (one unit per layer; activations "
            f"{', '.join(self.activations)}; loss L = 1/2 (y - t)^2)",
            f"x = {self.x:g}, t = {self.t:g}, y = {self.h[-1]:.6g}, L = {self.loss:.6g}",
            "",
            f"{'layer':>5}  {'z_i':>12}  {DPHI:>12}  {'w_i':>12}  {FACTOR:>22}",
        ]
        for i in range(L):
            out.append(
                f"{i + 1:>5}  {self.z[i]:>12.6g}  {self.dphi[i]:>12.6g}  {self.w[i]:>12.6g}  {self.factors[i]:>22.6g}"
            )
        out.append("")
        g = self.grad_h
        out.append(f"dL/d{names[L]:<3}= y - t{'':<36}= {g[L]: .6e}")
        for i in range(L, 0, -1):
            lhs = names[i - 1]
            rhs = f"dL/d{names[i]} · {sym[i - 1]}(z{i})·w{i}"
            out.append(f"dL/d{lhs:<3}= {rhs:<42}= {g[i - 1]: .6e}")
        if L >= 3:
            prod = " · ".join(f"{sym[j - 1]}(z{j})w{j}" for j in range(L - 1, 1, -1))
            out.append("")
            out.append(f"So dL/dh1 = dL/dh{L - 1} · {prod}: {L - 2} factor(s), ")
            out.append(
                f"and {sym[0]}(z1)·w1 is not among them — it is the last factor of dL/dx = dL/dh1 · {sym[0]}(z1)·w1."
            )
        out.append("")
        out.append("What each layer learns from: dL/dw_i = dL/dh_i · phi'(z_i) · h_{i-1}")
        for i in range(L):
            out.append(f"  dL/dw{i + 1} = {self.grad_w[i]: .6e}")
        first, last = abs(self.grad_w[0]), abs(self.grad_w[-1])
        if last > 0:
            out.append(f"|dL/dw1| / |dL/dw{L}| = {first / last:.3e}")
        return "\n".join(out)


class SeedNetwork(Network):
    """A :class:`Network` of one unit per layer, with :meth:`explain`."""

    def explain(self, x: float = 1.0, t: float = 0.0) -> Explanation:
        """Every chain factor ``phi'(z_i) w_i`` of the backward pass for one sample.

        The gradients come from the C++ engine; :attr:`Explanation.chain_grad_h`
        rebuilds them from the factors, and the two agree to rounding.
        """
        x, t = real_number(x, "SeedNetwork.explain", "x"), real_number(t, "SeedNetwork.explain", "t")
        rep = self.gradient_report([[x]], [[t]], return_grads=True)
        assert rep.grads is not None
        z = [float(v[0, 0]) for v in rep.grads["z_forward"]]
        h = [float(x)] + [float(v[0, 0]) for v in rep.grads["h_forward"]]
        dphi = [
            float(kernels.activation_derivative(a, np.array([zi]), np.array([hi]), alpha=al)[0])
            for a, zi, hi, al in zip(self.activations, z, h[1:], self.architecture.alphas)
        ]
        w = [float(W[0, 0]) for W in self.weights]
        return Explanation(
            activations=self.activations,
            x=float(x),
            t=float(t),
            h=tuple(h),
            z=tuple(z),
            dphi=tuple(dphi),
            w=tuple(w),
            factors=tuple(d * wi for d, wi in zip(dphi, w)),
            grad_h=tuple(float(g[0, 0]) for g in rep.grads["h"]),
            grad_w=tuple(float(g[0, 0]) for g in rep.grads["W"]),
            loss=rep.loss,
        )
