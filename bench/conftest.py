"""Benchmarks: the C++ core and the NumPy reference side by side.

Each benchmark group holds a ``cpp`` and a ``numpy`` entry computing the same
thing, and each entry checks its result. NumPy's BLAS and pyvanish's own
threads are both limited to one, so both sides run single-threaded (the
targets are single-thread ratios). CI runs these once with
``--benchmark-disable`` so they stay correct.
"""
import pytest

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None


@pytest.fixture(scope="session", autouse=True)
def single_threaded_blas():
    import pyvanish

    before = pyvanish.num_threads()
    pyvanish.set_num_threads(1)
    try:
        if threadpool_limits is None:
            yield
        else:
            with threadpool_limits(limits=1):
                yield
    finally:
        pyvanish.set_num_threads(before)


@pytest.fixture(scope="session", autouse=True)
def warm_allocator():
    """Grow the heap once before timing: the first benchmark of a process
    would otherwise pay ~1000 page faults for its 8 MB outputs (glibc grows
    and trims its heap), whichever benchmark happens to come first."""
    import numpy as np

    from pyvanish import kernels

    z = np.zeros(1_000_000)
    for _ in range(5):
        a = kernels.activation_forward("identity", z)
        kernels.activation_backward("identity", z, z, a)
        np.maximum(z, 0.0) * z
    yield


def _blas_line() -> str:
    from pyvanish import kernels

    info = kernels.blas_info()
    return (f"pyvanish: simd path {kernels.get_simd_path()}; OpenBLAS core {info['corename']} "
            f"({info['config']}, {info['threads']} thread; scipy-openblas32 {info['version']}); "
            f"GEMM to OpenBLAS from M*N*K >= {info['min_work']}, blocks of {info['block']}")


def pytest_report_header(config):
    """The instruction-set path and the BLAS core each benchmark run measured, in the header."""
    return _blas_line()


def pytest_benchmark_update_machine_info(config, machine_info):
    """The same facts in pytest-benchmark's saved JSON (``machine_info``)."""
    from pyvanish import kernels

    machine_info["pyvanish_simd_path"] = kernels.get_simd_path()
    machine_info["pyvanish_blas"] = kernels.blas_info()
