"""Checks an installed pyvanish wheel: the cibuildwheel test command, any platform.

    python tools/wheel_check.py

Imports pyvanish (which loads OpenBLAS from the scipy-openblas32 dependency:
the wheel must not carry its own copy), checks the BLAS, small and large GEMMs
in both dtypes against NumPy, bitwise equality across thread counts, and a
gradient report. Exits non-zero on any failure.
"""

from __future__ import annotations

import os
import sys

import numpy as np

import pyvanish
from pyvanish import kernels


def main() -> int:
    info = kernels.blas_info()
    print(f"pyvanish {pyvanish.__version__}, simd {pyvanish.get_simd_path()} of {pyvanish.simd_paths()}")
    print(f"OpenBLAS: {info['library']} core {info['corename']} ({info['config']})")
    assert info["threads"] == 1, info
    here = os.path.dirname(os.path.realpath(pyvanish.__file__))
    assert not os.path.realpath(info["library"]).startswith(here), "the wheel vendors OpenBLAS"
    rng = np.random.default_rng(0)
    for dt, rtol in ((np.float64, 1e-12), (np.float32, 2e-5)):
        for M, N, K in ((1, 1, 1), (3, 5, 7), (64, 32, 32), (300, 700, 257)):
            for ta in (False, True):
                for tb in (False, True):
                    a = rng.standard_normal((K, M) if ta else (M, K)).astype(dt)
                    b = rng.standard_normal((N, K) if tb else (K, N)).astype(dt)
                    A, B = (a.T if ta else a).astype(np.float64), (b.T if tb else b).astype(np.float64)
                    got = kernels.gemm(a, b, ta, tb)
                    assert got.dtype == dt and got.shape == (M, N)
                    err = np.abs(got - A @ B).max()
                    assert err <= rtol * (np.abs(A) @ np.abs(B)).max() * (K + 2), (dt, M, N, K, ta, tb, err)
    a, b = rng.standard_normal((1100, 300)), rng.standard_normal((300, 600))
    results = []
    for n in (1, 2, 3):
        pyvanish.set_num_threads(n)
        results.append(kernels.gemm(a, b).tobytes())
    pyvanish.set_num_threads(0)
    assert results[0] == results[1] == results[2], "results depend on the thread count"
    net = pyvanish.Network([64, 128, 128, 8], activation="tanh", init="xavier", seed=0)
    x, t = net.architecture.default_batch(32, 0)
    rep = net.gradient_report(x, t)
    assert rep.verdict in ("vanishing", "exploding", "healthy"), rep.verdict
    print(f"wheel check ok: gemm (2 dtypes x 4 shapes x 4 transposes), threads 1/2/3 bitwise, verdict {rep.verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
