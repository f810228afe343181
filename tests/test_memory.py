"""No growth in resident memory over many calls into the engine.

Each workload is warmed up (workspaces sized, NumPy's and Python's caches
filled), then run N times; the resident set size (/proc/self/statm) after the
N calls may exceed the one before by at most a few MB. A leak of one small
array per call would show: 100,000 calls leaking 200 bytes each is 20 MB.
The measured growths are printed after the module's tests and written to
``<pytest basetemp>/memory_growth.json``.
"""
from __future__ import annotations

import contextlib
import gc
import json
import os

import numpy as np
import pytest

import pyvanish
from pyvanish import kernels as K

pytestmark = [
    pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc/self/statm (Linux)"),
    pytest.mark.skipif(os.environ.get("PYVANISH_SANITIZE") == "1" or "libasan" in os.environ.get("LD_PRELOAD", ""),
                       reason="AddressSanitizer's quarantine holds freed memory: RSS says nothing there"),
]

PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1 << 20
GROWTH: dict = {}


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


@pytest.fixture(scope="module", autouse=True)
def _report_growth(request, tmp_path_factory):
    yield
    if not GROWTH:
        return
    path = tmp_path_factory.getbasetemp() / "memory_growth.json"
    path.write_text(json.dumps(GROWTH, indent=1))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line("\ntest_memory: RSS growth " + ", ".join(
                f"{k} {v['growth_mb']:+.2f} MB/{v['calls']} calls" for k, v in GROWTH.items()))


def grows(name, call, calls, warmup, limit_mb):
    """Run ``call`` warmup + calls times; assert RSS grew < limit_mb over the calls."""
    for _ in range(warmup):
        call()
    gc.collect()
    before = rss()
    for _ in range(calls):
        call()
    gc.collect()
    growth = (rss() - before) / MB
    GROWTH[name] = {"calls": calls, "growth_mb": round(growth, 3), "rss_mb": round(before / MB, 1)}
    assert growth < limit_mb, f"{name}: RSS grew {growth:.1f} MB over {calls} calls"


def test_tutorial_network_100k_reports():
    net = pyvanish.seed_network()
    grows("seed_network.gradient_report", lambda: net.gradient_report([[1.0]], [[0.0]]),
          calls=100_000, warmup=5_000, limit_mb=20)


def test_tutorial_network_explain_and_grads():
    net = pyvanish.seed_network()
    x, t = np.ones((1, 1)), np.zeros((1, 1))

    def call():
        net.gradient_report(x, t, return_grads=True)
        net.forward(x, all_layers=True)
        net.explain(1.0, 0.0)

    grows("return_grads+forward+explain", call, calls=10_000, warmup=500, limit_mb=10)


def test_wide_network_1000_reports():
    net = pyvanish.Network([512] * 4, activation="tanh", seed=0)
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((8, 512)), rng.standard_normal((8, 512))
    grows("[512]*4.gradient_report", lambda: net.gradient_report(x, t), calls=1_000, warmup=50, limit_mb=20)


def test_changing_batch_sizes_reuse_the_workspace():
    net = pyvanish.Network([64, 128, 128, 8], activation="relu", batchnorm=True, seed=0)
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((B, 64)), rng.standard_normal((B, 8))) for B in (2, 64, 17, 128, 3)]

    def call():
        for x, t in data:
            net.gradient_report(x, t)

    grows("batch sizes 2/64/17/128/3", call, calls=1_000, warmup=50, limit_mb=10)


def test_ensemble_runs():
    ens = pyvanish.Ensemble([16, 16, 16, 1], 200, activation="tanh", seed=0)
    x, t = np.ones((4, 16)), np.zeros((4, 1))

    def call():
        rep = ens.run(x, t)
        rep.summary("grad_h")

    grows("Ensemble.run", call, calls=3_000, warmup=100, limit_mb=10)


def test_training_runs():
    net = pyvanish.Network([16, 32, 32, 1], activation="tanh", seed=0)
    X, T = pyvanish.teacher_task(128, 16, seed=0)

    def call():
        pyvanish.train(net, X, T, steps=5, batch_size=16, lr=1e-3, optimizer="adam", progress=False)

    grows("train(5 steps)", call, calls=1_000, warmup=50, limit_mb=10)


def test_jacobian():
    net = pyvanish.Network([16, 32, 32, 8], activation="tanh", seed=0)
    x = np.random.default_rng(0).standard_normal((4, 16))

    def call():
        net.jacobian(x)
        net.jacobian_spectrum(x)

    grows("jacobian+spectrum", call, calls=3_000, warmup=100, limit_mb=10)


def test_kernels():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((64, 48)), rng.standard_normal((48, 32))
    w, z = rng.standard_normal((32, 48)), rng.standard_normal((64, 32))
    a32 = a.astype(np.float32)

    def call():
        K.gemm(a, b)
        K.gemm(b, a, True, True)
        K.dense_act_forward(a, w, None, "gelu")
        K.dense_act_backward(z, a, w, z, z, "tanh")
        K.batchnorm_backward(z, z, np.ones(32), np.ones(32))
        K.activation_forward("sigmoid", a32)
        K.mse_forward(z, z)

    grows("kernels", call, calls=10_000, warmup=500, limit_mb=10)


def test_error_paths():
    """Exceptions thrown in C++ and translated by pybind11 leak nothing either."""
    net = pyvanish.Network([3, 4, 2], seed=0)
    bad_x, t = np.ones((2, 5)), np.ones((2, 2))
    nan_x = np.full((2, 3), np.nan)

    def call():
        for f in (lambda: net.gradient_report(bad_x, t), lambda: net.gradient_report(nan_x, t),
                  lambda: K.gemm(np.ones((2, 3)), np.ones((4, 2))), lambda: K.mse_forward(np.ones((0, 1)), np.ones((0, 1))),
                  lambda: K.activation_forward("bogus", [1.0])):
            try:
                f()
            except ValueError:
                continue
            raise AssertionError("an error path did not raise ValueError")

    grows("error paths", call, calls=10_000, warmup=500, limit_mb=10)


def test_networks_created_and_dropped():
    """The engine (parameters, workspace) is freed with its Network."""
    x, t = np.ones((4, 32)), np.zeros((4, 1))

    def call():
        net = pyvanish.Network([32, 64, 64, 1], batchnorm=True, residual=True, seed=0)
        net.gradient_report(x, t)
        net.copy().forward(x)
        pyvanish.Ensemble([8, 8, 1], 50, seed=0).run(x[:, :8], t)

    grows("Network/Ensemble create+drop", call, calls=1_000, warmup=50, limit_mb=10)
