"""Benchmarks: the C++ core and the NumPy reference side by side.

Each benchmark group holds a ``cpp`` and a ``numpy`` entry computing the same
thing, and each entry checks its result. NumPy's BLAS is limited to one
thread so both sides run single-threaded (the targets are single-thread
ratios). CI runs these once with ``--benchmark-disable`` so they stay correct.
"""
import pytest

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None


@pytest.fixture(scope="session", autouse=True)
def single_threaded_blas():
    if threadpool_limits is None:
        yield
        return
    with threadpool_limits(limits=1):
        yield
