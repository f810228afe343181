"""Fuzz tests: malformed configurations and options to compare.

See tests/_fuzz_helpers.py for what the fuzz tests throw and what they require."""
from __future__ import annotations

from _fuzz_helpers import (
    EXAMPLES,
    _count_examples,  # noqa: F401  (autouse: counts this module's examples)
    attempt,
    dtype_args,
    fuzz,
    seeds,
)
from hypothesis import assume, given
from hypothesis import strategies as st

import pyvanish

# ------------------------------------------------------------------ compare

config_specs = st.one_of(
    st.sampled_from(["sigmoid,xavier", "relu,he", "tanh,xavier,bn", "tanh,res", "tanh,res2,scale=0.5", "gelu,orthogonal",
                     "tanh,foo", "tanh,resx", "tanh,scale=x", "tanh,scale=nan", "tanh,res0", "bogus", "", ",,", "tanh,,bn",
                     "identity,constant", "swish,lecun"]),
    st.dictionaries(st.sampled_from(["activation", "init", "sw", "name", "batchnorm", "bogus"]),
                    st.one_of(st.sampled_from(["tanh", "he", "x"]), st.floats(-2, 3), st.booleans()), max_size=3),
    st.none(), st.integers(0, 3))


@fuzz(120)
@given(configs=st.one_of(st.lists(config_specs, max_size=3), config_specs),
       depth=st.one_of(st.integers(-1, 3), st.floats(0, 3), st.booleans()),
       width=st.one_of(st.integers(-1, 5), st.just("4")), input_width=st.one_of(st.none(), st.integers(1, 4)),
       batch=st.integers(-1, 4), seed=seeds, metric=st.sampled_from(["W", "h", "z", "b", "grad_h", "q", ""]),
       dtype=dtype_args)
def test_compare(configs, depth, width, input_width, batch, seed, metric, dtype):
    EXAMPLES["compare"] += 1
    specs = [configs] if isinstance(configs, (str, dict)) or not isinstance(configs, list) else configs
    if isinstance(configs, dict):
        assume("bogus" not in configs)         # a typo'd keyword reaches Network() as a TypeError naming it
    else:
        assume(not any(isinstance(c, dict) and "bogus" in c for c in specs))
    # a bad value in a dict config is reported by Network, which the dict is passed to
    res = attempt(("compare", "Network"), lambda: pyvanish.compare(configs, depth=depth, width=width,
                                                                   input_width=input_width, batch=batch, seed=seed,
                                                                   metric=metric, dtype=dtype))
    if not isinstance(res, Exception):
        assert isinstance(str(res), str)
