"""Fuzz tests: sizes beyond the machine: MemoryError or ValueError at once, never a crash or the OOM killer.

See tests/_fuzz_helpers.py for what the fuzz tests throw and what they require."""
from __future__ import annotations

import numpy as np
import pytest
from _fuzz_helpers import (
    HUGE,
    SANITIZED,
    _count_examples,  # noqa: F401  (autouse: counts this module's examples)
    memory_cap,
    no_sanitizer,
    run_limited,
)

import pyvanish
from pyvanish import kernels as K

# ------------------------------------------------------------------ sizes beyond the machine

@no_sanitizer
@pytest.mark.parametrize("fn,code", HUGE, ids=[c for _, c in HUGE])
def test_more_memory_than_exists_raises_memory_error(tmp_path, fn, code):
    """Sizes beyond the (limited) address space: MemoryError or ValueError, at
    once -- never a crash, a hang or the OOM killer."""
    res = run_limited(tmp_path, code)
    assert res["type"] in ("MemoryError", "ValueError"), res
    assert res["seconds"] < 5, res


def test_memory_error_in_process():
    """In this process: requests of terabytes fail at once with MemoryError or
    ValueError. (Capped at +4 GiB of address space all the same: with
    vm.overcommit_memory=1 the kernel would grant 16 TB and the zero-fill
    would wake the OOM killer.)"""
    if SANITIZED:
        pytest.skip("huge allocations abort under AddressSanitizer")
    for call in (lambda: pyvanish.Network([10**6] * 3), lambda: pyvanish.Network([10**9, 10**9], dtype=np.float32),
                 lambda: K.gemm(np.ones((2 ** 20, 1)), np.ones((1, 2 ** 20)))):
        with memory_cap(4), pytest.raises((MemoryError, ValueError)):
            call()
