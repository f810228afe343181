"""The speed targets of issue #15, measured interleaved (for a shared, noisy machine).

pytest-benchmark runs each entry's rounds back to back, so a neighbour's burst of
work lands on one side only. This script alternates the sides round by round and
reports median and minimum per side, and the ratios NumPy / pyvanish::

    PYVANISH_SIMD=avx2 python bench/interleaved_targets.py
    python bench/interleaved_targets.py

One thread for both (threadpoolctl limits NumPy's BLAS; pyvanish.set_num_threads(1)),
plus pyvanish's W3 on two threads.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import pyvanish
from pyvanish import kernels

sys.path.insert(0, str(Path(__file__).parent))
from bench_lean import NETS, lean  # noqa: E402


def rounds(fns: dict, n: int, inner: int = 1) -> dict:
    times: dict = {k: [] for k in fns}
    for _ in range(n):
        for k, (fn, threads) in fns.items():
            pyvanish.set_num_threads(threads)
            t0 = time.perf_counter()
            for _ in range(inner):
                fn()
            times[k].append((time.perf_counter() - t0) / inner)
    pyvanish.set_num_threads(1)
    return times


def show(name: str, times: dict, base: str = "numpy") -> None:
    med = {k: statistics.median(v) for k, v in times.items()}
    mn = {k: min(v) for k, v in times.items()}
    unit, scale = ("ms", 1e3) if max(med.values()) > 1e-3 else ("us", 1e6)
    parts = [f"{k} {med[k] * scale:.3f}/{mn[k] * scale:.3f} {unit}" for k in times]
    ratios = [f"{base}/{k} {med[base] / med[k]:.2f} (min {mn[base] / mn[k]:.2f})" for k in times if k != base]
    print(f"{name:<34} median/min: " + ", ".join(parts) + " | " + ", ".join(ratios), flush=True)


def main() -> None:
    info = kernels.blas_info()
    print(f"simd path {pyvanish.get_simd_path()}, OpenBLAS core {info['corename']}; NumPy {np.__version__}")
    rng = np.random.default_rng(2)
    with threadpool_limits(limits=1):
        for M, N, K, n, inner in [(64, 32, 32, 31, 2000), (32, 64, 64, 31, 2000), (32, 32, 64, 31, 2000),
                                  (256, 256, 256, 21, 20), (1024, 1024, 1024, 11, 1)]:
            a, b = rng.standard_normal((M, K)), rng.standard_normal((K, N))
            np.testing.assert_allclose(kernels.gemm(a, b), a @ b, rtol=1e-10, atol=1e-10 * np.sqrt(K))
            t = rounds({"pyvanish": (lambda: kernels.gemm(a, b), 1), "numpy": (lambda: a @ b, 1)}, n, inner)
            show(f"gemm f64 {M}x{N}x{K}", t)
        for name in [n for n in NETS if n.startswith("W3")]:
            widths, act, out_act, init, B, dt = NETS[name]
            net = pyvanish.Network(widths, activation=act, output_activation=out_act, init=init, seed=0, dtype=dt)
            x = rng.standard_normal((B, widths[0])).astype(dt)
            t_ = rng.standard_normal((B, widths[-1])).astype(dt)
            Ws, bs = [w.copy() for w in net.weights], [b.copy() for b in net.biases]

            def report(net=net, x=x, t_=t_):
                return net.gradient_report(x, t_)

            def with_numpy(Ws=Ws, bs=bs, net=net, x=x, t_=t_):
                return lean(Ws, bs, net.activations, x, t_)

            rtol = 2e-3 if dt == np.float32 else 1e-9  # each side checks the other (as bench_lean does)
            np.testing.assert_allclose(report().grad_W, with_numpy()[2], rtol=rtol)
            t = rounds({"pyvanish": (report, 1), "pyvanish-2threads": (report, 2), "numpy": (with_numpy, 1)}, 9)
            show(name, t)
            med = {k: statistics.median(v) for k, v in t.items()}
            print(f"{'':<34} 2-thread speed-up {med['pyvanish'] / med['pyvanish-2threads']:.2f}", flush=True)


if __name__ == "__main__":
    main()
