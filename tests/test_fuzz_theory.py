"""Fuzz tests: malformed input to pyvanish.theory (NumPy only).

See tests/_fuzz_helpers.py for what the fuzz tests throw and what they require."""
from __future__ import annotations

import numpy as np
from _fuzz_helpers import (
    EXAMPLES,
    _count_examples,  # noqa: F401  (autouse: counts this module's examples)
    activation_names,
    attempt,
    fuzz,
    numpy_only,
    reals,
    small_reals,
    time_limit,
)
from hypothesis import given
from hypothesis import strategies as st

from pyvanish import theory

# ------------------------------------------------------------------ theory (NumPy only)

THEORY = {
    "length_map": lambda a, sw2, sb2, al, q, d: theory.length_map(a, q, sw2, sb2, alpha=al),
    "fixed_point": lambda a, sw2, sb2, al, q, d: theory.fixed_point(a, sw2, sb2, alpha=al, q0=q),
    "chi1": lambda a, sw2, sb2, al, q, d: theory.chi1(a, sw2, sb2, alpha=al, q0=q),
    "c_star": lambda a, sw2, sb2, al, q, d: theory.c_star(a, sw2, sb2, alpha=al, q0=q),
    "chi_c": lambda a, sw2, sb2, al, q, d: theory.chi_c(a, sw2, sb2, alpha=al, q0=q),
    "depth_scales": lambda a, sw2, sb2, al, q, d: theory.depth_scales(a, sw2, sb2, alpha=al, q0=q),
    "critical_sw2": lambda a, sw2, sb2, al, q, d: theory.critical_sw2(a, sb2, alpha=al, q0=q),
    "critical_line": lambda a, sw2, sb2, al, q, d: theory.critical_line(a, [sb2, 0.1], alpha=al),
    "phase_diagram": lambda a, sw2, sb2, al, q, d: theory.phase_diagram(a, [sw2, 1.0], [sb2], alpha=al),
    "gradient_profile": lambda a, sw2, sb2, al, q, d: theory.gradient_profile(a, sw2, sb2, d, alpha=al, q0=q),
    "gaussian_expectation": lambda a, sw2, sb2, al, q, d: theory.gaussian_expectation(np.tanh, q),
}


@numpy_only
@fuzz(300)
@given(fn=st.sampled_from(sorted(THEORY)), act=activation_names, sw2=reals, sb2=reals,
       alpha=st.one_of(st.none(), reals), q=st.one_of(reals, st.lists(small_reals, max_size=3),
                                                     st.just(np.ones((2, 2))), st.just([1j]), st.just("1")),
       depth=st.one_of(st.integers(-2, 30), st.floats(0, 3), st.booleans()))
def test_theory(fn, act, sw2, sb2, alpha, q, depth):
    EXAMPLES["theory"] += 1
    with time_limit(20):
        attempt(fn, lambda: THEORY[fn](act, sw2, sb2, alpha, q, depth))
