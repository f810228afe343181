"""Fuzz tests: malformed input to Ensemble, Ensemble.run and its report.

See tests/_fuzz_helpers.py for what the fuzz tests throw and what they require."""
from __future__ import annotations

import numpy as np
from _fuzz_helpers import (
    EXAMPLES,
    _count_examples,  # noqa: F401  (autouse: counts this module's examples)
    attempt,
    fuzz,
    near,
    network_kwargs,
)
from hypothesis import given
from hypothesis import strategies as st

import pyvanish

# ------------------------------------------------------------------ Ensemble

@fuzz(250)
@given(data=st.data(), widths=st.one_of(st.lists(st.integers(-1, 4), min_size=0, max_size=4),
                                        st.lists(st.integers(1, 4), min_size=2, max_size=4)),
       n=st.one_of(st.integers(-2, 40), st.floats(0, 5), st.booleans(), st.just("3"), st.just(np.int64(3))),
       kw=network_kwargs(), per_member=st.booleans(), B=st.integers(0, 3), cf=st.booleans())
def test_ensemble_constructor_and_run(data, widths, n, kw, per_member, B, cf):
    EXAMPLES["ensemble"] += 1
    kw.pop("activations", None) if data.draw(st.booleans()) else None
    ens = attempt(("Ensemble", "Network"), lambda: pyvanish.Ensemble(widths, n, **kw))
    if isinstance(ens, Exception):
        return
    E, n0, nL = ens.members, ens.widths[0], ens.widths[-1]
    x = data.draw(near((E, B, n0) if per_member else (B, n0)), label="x")
    t = data.draw(near((B, nL)), label="t")
    # batch-norm ensembles run member by member through Network (its messages)
    rep = attempt(("Ensemble.run", "Network.gradient_report"), lambda: ens.run(x, t, check_finite=cf))
    if not isinstance(rep, Exception):
        assert rep.grad_h.shape == (E, len(ens.widths))
        attempt("EnsembleReport.summary", lambda: rep.summary(data.draw(st.sampled_from(
            ["grad_h", "grad_W", "gain", "bogus", "mean_dphi"]))))
        attempt("EnsembleReport.fraction", lambda: rep.fraction(data.draw(st.sampled_from(
            ["vanishing", "exploding", "healthy", "bogus"]))))
    m = data.draw(st.one_of(st.integers(-E - 1, E + 1), st.sampled_from([1.5, "0", None, np.int64(0)])))
    attempt("Ensemble.member", lambda: ens.member(m), allowed=(IndexError, TypeError))
