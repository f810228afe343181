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
