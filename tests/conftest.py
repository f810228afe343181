import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import pyvanish

# Bounded example counts keep CI well inside its time budget, and CI is
# derandomized (the same examples every run); "dev" digs deeper, at random.
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("dev", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SIMD_PATHS = list(pyvanish.simd_paths())   # every instruction set this CPU runs, generic first


@pytest.fixture(params=SIMD_PATHS)
def simd_path(request):
    """Run the test on each instruction-set path this CPU has (generic always)."""
    before = pyvanish.get_simd_path()
    pyvanish.set_simd_path(request.param)
    yield request.param
    pyvanish.set_simd_path(before)


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return request.param


def rel_close(actual, expected, scale, rtol):
    """|actual - expected| <= rtol * scale elementwise (scale: an error bound shape)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    err = np.abs(actual - expected)
    bound = np.broadcast_to(rtol * np.asarray(scale, np.float64), err.shape)
    bad = ~(err <= bound)
    assert not bad.any(), (
        f"{bad.sum()} of {bad.size} entries off; worst err {err[bad].max():.3e} "
        f"vs bound {bound[bad].min():.3e}"
    )


def eps(dtype):
    return float(np.finfo(dtype).eps)
