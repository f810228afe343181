"""Where OpenBLAS overtakes the in-house GEMM: both sides on the same shapes, one thread.

Run once per instruction-set path (the in-house kernels follow PYVANISH_SIMD,
OpenBLAS's core follows it at import, see pyvanish/_blas.py)::

    PYVANISH_SIMD=avx2 python bench/gemm_crossover.py
    python bench/gemm_crossover.py

Prints, per shape and dtype, the best of several interleaved timings of each
side (the minimum is the least noisy estimate on a shared machine) and which
side gemm() uses (M*N*K against kBlasMinWork).
"""

from __future__ import annotations

import time

import numpy as np

import pyvanish
from pyvanish import _core

SHAPES = [(32, 32, 32), (64, 32, 32), (32, 64, 64), (48, 48, 48), (64, 64, 64), (80, 80, 80), (96, 96, 96),
          (112, 112, 112), (128, 128, 128), (160, 160, 160), (256, 64, 64), (64, 256, 64), (64, 64, 256),
          (192, 192, 192), (256, 256, 256)]


def best(fn, *args, repeats=7, budget=0.02):
    fn(*args)
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < budget / 4:
        fn(*args)
        n += 1
    n = max(1, n * 4)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn(*args)
        out.append((time.perf_counter() - t0) / n)
    return min(out)


def main():
    pyvanish.set_num_threads(1)
    info = _core.blas_info()
    print(f"simd path {pyvanish.get_simd_path()}, OpenBLAS core {info['corename']}, min_work {info['min_work']}")
    print(f"{'M':>5} {'N':>5} {'K':>5} {'dtype':>7} {'in-house us':>12} {'OpenBLAS us':>12} {'blas/inh':>9} {'gemm uses':>9}")
    rng = np.random.default_rng(0)
    for dt in (np.float64, np.float32):
        for M, N, K in SHAPES:
            a = rng.standard_normal((M, K)).astype(dt)
            b = rng.standard_normal((K, N)).astype(dt)
            want, rtol = a.astype(np.float64) @ b.astype(np.float64), (1e-4 if dt == np.float32 else 1e-10)
            for side in (_core._gemm_inhouse, _core._gemm_blas):  # both sides right before either is timed
                np.testing.assert_allclose(side(a, b, False, False), want, rtol=rtol, atol=rtol * np.sqrt(K))
            ti, tb = [], []
            for _ in range(3):  # interleave the two sides
                ti.append(best(_core._gemm_inhouse, a, b, False, False))
                tb.append(best(_core._gemm_blas, a, b, False, False))
            t_in, t_bl = min(ti), min(tb)
            side = "blas" if _core._gemm_uses_blas(M, N, K) else "in-house"
            print(f"{M:>5} {N:>5} {K:>5} {np.dtype(dt).name:>7} {t_in * 1e6:>12.2f} {t_bl * 1e6:>12.2f} "
                  f"{t_bl / t_in:>9.2f} {side:>9}")


if __name__ == "__main__":
    main()
