"""Fuzz tests: malformed input to Network, its methods, and seed_network / explain.

See tests/_fuzz_helpers.py for what the fuzz tests throw and what they require."""
from __future__ import annotations

import numpy as np
from _fuzz_helpers import (
    EXAMPLES,
    NETS,
    _count_examples,  # noqa: F401  (autouse: counts this module's examples)
    activation_names,
    attempt,
    fuzz,
    junk_scalars,
    near,
    network_kwargs,
)
from hypothesis import given
from hypothesis import strategies as st

import pyvanish

# ------------------------------------------------------------------ Network

width_items = st.one_of(st.integers(-2, 6), st.integers(1, 6), st.integers(1, 6),
                        st.floats(-3, 7), st.just(float("nan")), st.sampled_from(["3", "x", None, True, 2.5, [2]]))
widths_strategy = st.one_of(st.lists(width_items, min_size=0, max_size=6), st.lists(st.integers(1, 5), min_size=2, max_size=6),
                            st.sampled_from([None, 3, "3,4", np.array([[2, 2]]), (), {"a": 1}]))


def _batch_for(net, B):
    rng = np.random.default_rng(B)
    return rng.standard_normal((B, net.widths[0])), rng.standard_normal((B, net.widths[-1]))


@fuzz(500)
@given(widths=widths_strategy, kw=network_kwargs())
def test_network_constructor(widths, kw):
    EXAMPLES["network_constructor"] += 1
    net = attempt("Network", lambda: pyvanish.Network(widths, **kw))
    if isinstance(net, Exception):
        return
    assert isinstance(repr(net), str)
    x, t = _batch_for(net, 3)
    rep = attempt("Network.gradient_report", lambda: net.gradient_report(x, t, check_finite=False))
    assert not isinstance(rep, Exception), rep
    assert rep.grad_h.shape == (net.depth + 1,)


@fuzz(500)
@given(data=st.data(), which=st.integers(0, len(NETS) - 1), B=st.integers(0, 4),
       method=st.sampled_from(["gradient_report", "gradient_report_grads", "forward", "forward_all", "jacobian",
                               "jacobian_spectrum", "set_weights", "set_biases"]),
       cf=st.booleans(), training=st.booleans())
def test_network_methods_take_malformed_arrays(data, which, B, method, cf, training):
    EXAMPLES["network_methods"] += 1
    net = NETS[which].copy()
    net.training = training
    n0, nL = net.widths[0], net.widths[-1]
    x = data.draw(near((B, n0)), label="x")
    t = data.draw(near((B, nL)), label="t")
    name = "Network." + method.replace("_grads", "").replace("_all", "").replace("jacobian_spectrum", "jacobian")
    if method.startswith("set_"):
        count = data.draw(st.integers(0, net.depth + 1))
        shapes = [w.shape for w in (net.weights if method == "set_weights" else net.biases)]
        values = [data.draw(near(shapes[i % len(shapes)], finite=True)) for i in range(count)]
        call = {"set_weights": lambda: net.set_weights(values), "set_biases": lambda: net.set_biases(values)}[method]
    else:
        call = {
            "gradient_report": lambda: net.gradient_report(x, t, check_finite=cf),
            "gradient_report_grads": lambda: net.gradient_report(x, t, check_finite=cf, return_grads=True),
            "forward": lambda: net.forward(x, check_finite=cf),
            "forward_all": lambda: net.forward(x, all_layers=True, check_finite=cf),
            "jacobian": lambda: net.jacobian(x, check_finite=cf),
            "jacobian_spectrum": lambda: net.jacobian_spectrum(x, check_finite=cf),
        }[method]
    res = attempt(name, call)
    if method.startswith("gradient_report") and not isinstance(res, Exception):
        assert res.stats.shape[0] == net.depth and res.grad_h.shape == (net.depth + 1,)


@fuzz(120)
@given(weights=st.one_of(st.none(), st.lists(st.floats(-3, 3), max_size=6), st.floats(-3, 3),
                         st.just([np.nan] * 4), st.just("1,2,3,4")),
       biases=st.one_of(st.none(), st.lists(st.floats(-3, 3), max_size=6)),
       activation=activation_names, depth=st.one_of(st.integers(-1, 6), st.floats(0, 5), st.booleans()),
       x=st.one_of(st.floats(), st.integers(-3, 3), junk_scalars), t=st.one_of(st.floats(), st.integers(-3, 3)))
def test_seed_network_and_explain(weights, biases, activation, depth, x, t):
    EXAMPLES["seed_network"] += 1
    net = attempt(("seed_network", "Network"), lambda: pyvanish.seed_network(weights, biases, activation=activation,
                                                                           depth=depth))
    if isinstance(net, Exception):
        return
    attempt(("SeedNetwork.explain", "Network.gradient_report"), lambda: net.explain(x, t))
