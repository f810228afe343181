import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import pyvanish

# Bounded example counts keep CI well inside its time budget, and CI is
# derandomized (the same examples every run); "random" draws new examples each
# run with the same budget (HYPOTHESIS_PROFILE=random); "dev" digs deeper, at random.
_QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True, suppress_health_check=_QUIET)
settings.register_profile("random", max_examples=40, deadline=None, derandomize=False, suppress_health_check=_QUIET)
settings.register_profile("dev", max_examples=300, deadline=None, suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ALL_SIMD_PATHS = ("generic", "avx2", "avx512")  # every instruction set the build knows, generic first
SIMD_PATHS = list(pyvanish.simd_paths())       # those this CPU runs


@pytest.fixture(params=ALL_SIMD_PATHS)
def simd_path(request):
    """Run the test on each instruction-set path; a path this CPU lacks is skipped, with the reason."""
    if request.param not in SIMD_PATHS:
        pytest.skip(f"this CPU cannot run {request.param}")
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
