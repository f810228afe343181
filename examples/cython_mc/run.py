"""Monte Carlo over 10^6 random tutorial networks (1-1-1-1-1 sigmoid) with pyvanish's Cython API.

    python examples/cython_mc/run.py [--n 1000000] [--seed 0] [--threads 1]

Weights W_l ~ N(0, 1) from numpy's seeded generator, biases 0, x = 1, t = 0 (the
tutorial's sample); prints the quantiles of |dL/dW_1| / |dL/dW_4|, the cost per
network, the per-call cost of a width-1 dense_forward_d from Cython against the
Python pyvanish.kernels.dense_forward, and checks a few networks against
Network.gradient_report.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from build import build

import pyvanish


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    mc = build()
    rng = np.random.default_rng(args.seed)
    W, b = rng.standard_normal((args.n, 4)), np.zeros((args.n, 4))
    ratio = np.empty(args.n)
    t0 = time.perf_counter()
    mc.weight_ratios(W, b, 1.0, 0.0, ratio, args.threads)
    dt = time.perf_counter() - t0
    for i in range(3):  # the same numbers as the Python API
        net = pyvanish.Network([1, 1, 1, 1, 1], activation="sigmoid", output_activation="sigmoid",
                               weights=[W[i, l].reshape(1, 1) for l in range(4)])
        assert ratio[i] == net.gradient_report([[1.0]], [[0.0]]).weight_ratio
    q = np.quantile(np.log10(ratio), [0.05, 0.25, 0.5, 0.75, 0.95])
    print(f"{args.n} tutorial networks, seed {args.seed}: log10 |dL/dW1| / |dL/dW4|")
    print("  q05 {:.2f}  q25 {:.2f}  median {:.2f}  q75 {:.2f}  q95 {:.2f}".format(*q))
    print(f"  vanishing (ratio < 1e-2): {np.mean(ratio < 1e-2):.1%};  exploding (> 1e2): {np.mean(ratio > 1e2):.1%}")
    print(f"  {dt:.2f} s, {dt / args.n * 1e9:.0f} ns per network ({args.threads} thread(s))")
    n = 10_000_000
    t0 = time.perf_counter()
    mc.dense_forward_calls(n)
    c_ns = (time.perf_counter() - t0) / n * 1e9
    x, w, bias = np.ones((1, 1)), np.ones((1, 1)), np.ones(1)
    m = 100_000
    t0 = time.perf_counter()
    for _ in range(m):
        pyvanish.kernels.dense_forward(x, w, bias)
    py_ns = (time.perf_counter() - t0) / m * 1e9
    print(f"width-1 dense_forward: {c_ns:.1f} ns per call from Cython, {py_ns:.0f} ns from Python")


if __name__ == "__main__":
    main()
