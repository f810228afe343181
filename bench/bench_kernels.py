"""Kernel benchmarks (issue: foundation). Ratios = numpy time / cpp time."""
import numpy as np
import pytest

from pyvanish import kernels
from pyvanish import reference as ref

N_ACT = 1_000_000


@pytest.fixture(scope="module")
def act_data():
    rng = np.random.default_rng(0)
    return rng.standard_normal(N_ACT) * 3.0, rng.standard_normal(N_ACT)


def _act_cpp(name, z, g):
    a = kernels.activation_forward(name, z)
    return a, kernels.activation_backward(name, g, z, a)


def _act_ref(name, z, g):
    a = ref.activation_forward(name, z)
    return a, ref.activation_backward(name, g, z, a)


@pytest.mark.parametrize("impl", ["cpp", "numpy"])
@pytest.mark.parametrize("name", kernels.ACTIVATIONS)
def bench_activation(benchmark, act_data, name, impl):
    benchmark.group = f"activation-{name}-fwd+bwd-N=1e6"
    z, g = act_data
    fn = _act_cpp if impl == "cpp" else _act_ref
    a, d = benchmark(fn, name, z, g)
    a_other, d_other = (_act_ref if impl == "cpp" else _act_cpp)(name, z, g)
    np.testing.assert_allclose(a, a_other, rtol=1e-12, atol=1e-300)
    # gelu' and silu' cross zero: near there only an absolute bound makes sense
    np.testing.assert_allclose(d, d_other, rtol=1e-11, atol=1e-12)


def _dense_cpp(x, W, b, g):
    out = kernels.dense_forward(x, W, b)
    return (out,) + tuple(kernels.dense_backward(g, x, W))


def _dense_ref(x, W, b, g):
    out = ref.dense_forward(x, W, b)
    return (out,) + tuple(ref.dense_backward(g, x, W))


@pytest.mark.parametrize("impl", ["cpp", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("B,C,OC", [(64, 32, 32), (256, 1024, 1024)])
def bench_dense(benchmark, B, C, OC, dtype, impl):
    benchmark.group = f"dense-fwd+bwd-{B}x{C}x{OC}-{np.dtype(dtype).name}"
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, C)).astype(dtype)
    W = (rng.standard_normal((OC, C)) / np.sqrt(C)).astype(dtype)
    b = rng.standard_normal(OC).astype(dtype)
    g = rng.standard_normal((B, OC)).astype(dtype)
    fn = _dense_cpp if impl == "cpp" else _dense_ref
    got = benchmark(fn, x, W, b, g)
    other = (_dense_ref if impl == "cpp" else _dense_cpp)(x, W, b, g)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    for u, v in zip(got, other):
        assert u.dtype == dtype
        np.testing.assert_allclose(u, v, rtol=rtol, atol=rtol * np.abs(v).max())


@pytest.mark.parametrize("impl", ["cpp", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("M,N,K", [(32, 32, 64), (64, 32, 32), (32, 64, 64), (64, 64, 64), (256, 256, 256),
                                   (256, 1024, 1024), (1024, 1024, 1024)])
def bench_gemm(benchmark, M, N, K, dtype, impl):
    """pyvanish's gemm (OpenBLAS past the crossover, see kernels.blas_info()) against ``a @ b``."""
    benchmark.group = f"gemm-{np.dtype(dtype).name}-{M}x{N}x{K}"
    rng = np.random.default_rng(2)
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    fn = kernels.gemm if impl == "cpp" else np.matmul
    c = benchmark(fn, a, b)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(c, np.matmul(a, b) if impl == "cpp" else kernels.gemm(a, b),
                               rtol=tol, atol=tol * np.sqrt(K))
