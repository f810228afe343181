"""The in-house GEMM against numpy.matmul, on every micro-kernel path."""
import numpy as np
import pytest
from conftest import eps, rel_close

import pyvanish
from pyvanish import kernels

AWKWARD = [(1, 1, 1), (7, 13, 5), (33, 65, 300), (100, 37, 513), (2, 3, 4), (5, 1, 9)]
# Shapes straddling every blocking edge: MR (6, 12), NR (4..32), MC (72, 144),
# KC (192, 256), NC (4096), and the small/packed threshold.
EDGES = [(71, 31, 191), (73, 33, 193), (145, 17, 257), (143, 65, 255), (13, 4097, 3),
         (12, 32, 32), (11, 33, 33), (32, 32, 33), (6, 8, 300), (289, 47, 520)]


def check(a, b, ta, tb, dtype):
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    A = a64.T if ta else a64
    B = b64.T if tb else b64
    expected = A @ B
    got = kernels.gemm(a, b, trans_a=ta, trans_b=tb)
    assert got.dtype == dtype
    K = A.shape[1]
    rel_close(got, expected, np.abs(A) @ np.abs(B) + np.finfo(dtype).tiny, 4 * (K + 2) * eps(dtype))


@pytest.mark.parametrize("M,N,K", AWKWARD + EDGES)
@pytest.mark.parametrize("ta,tb", [(False, False), (False, True), (True, False), (True, True)])
def test_gemm_matches_matmul(simd_path, dtype, M, N, K, ta, tb):
    rng = np.random.default_rng(M * 1000 + N * 10 + K)
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    check(a, b, ta, tb, dtype)


def test_gemm_large_square(simd_path, dtype):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((300, 400)).astype(dtype)
    b = rng.standard_normal((400, 350)).astype(dtype)
    check(a, b, False, False, dtype)


def test_gemm_empty_and_zero_k(dtype):
    assert kernels.gemm(np.zeros((0, 3), dtype), np.zeros((3, 4), dtype)).shape == (0, 4)
    c = kernels.gemm(np.zeros((2, 0), dtype), np.zeros((0, 4), dtype))
    assert c.shape == (2, 4) and (c == 0).all()


def test_gemm_propagates_nan_and_inf(simd_path):
    a = np.ones((40, 40)); b = np.ones((40, 40))
    a[3, 5] = np.nan
    b[7, 9] = np.inf
    c = kernels.gemm(a, b)
    assert np.isnan(c[3]).all()
    assert np.isinf(c[np.arange(40) != 3, 9]).all()
    assert np.isfinite(np.delete(np.delete(c, 3, 0), 9, 1)).all()


def test_gemm_paths_agree_closely(dtype):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((90, 270)).astype(dtype)
    b = rng.standard_normal((270, 70)).astype(dtype)
    before = kernels.get_simd_path()
    try:
        results = {}
        for p in ("generic", pyvanish.simd_paths()[-1]):
            kernels.set_simd_path(p)
            results[p] = kernels.gemm(a, b)
    finally:
        kernels.set_simd_path(before)
    vals = list(results.values())
    rel_close(vals[0], vals[-1], np.abs(a.astype(float)) @ np.abs(b.astype(float)), 600 * eps(dtype))


def test_set_simd_path_errors():
    with pytest.raises(ValueError, match="set_simd_path: path must be"):
        kernels.set_simd_path("sse9")
    with pytest.raises(TypeError, match="set_simd_path"):
        kernels.set_simd_path(3)
    assert kernels.set_simd_path("auto") == pyvanish.simd_paths()[-1]


def test_the_old_gemm_path_names_are_deprecated_aliases():
    before = pyvanish.get_simd_path()
    try:
        with pytest.warns(DeprecationWarning, match="use set_simd_path"):
            assert pyvanish.set_gemm_path("generic") == "generic"
        with pytest.warns(DeprecationWarning, match="use get_simd_path"):
            assert pyvanish.get_gemm_path() == pyvanish.get_simd_path() == "generic"
    finally:
        pyvanish.set_simd_path(before)
