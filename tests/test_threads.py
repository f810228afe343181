"""Threads: long engine calls release the GIL, concurrent calls on different
objects equal the serial results bit for bit, and one object used from two
threads at once is refused with a RuntimeError that says so.

The GIL tests run the engine call in a worker thread while the main thread
spins in pure Python, time-stamping each turn; the longest gap between two
stamps inside the call must be a small fraction of the call. A call that held
the GIL would leave one gap as long as itself.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import pyvanish
from pyvanish import kernels as K


def same(a, b) -> bool:
    """Bitwise equality of arrays (NaN payloads included), floats or tuples of them."""
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.fixture
def default_threads():
    pyvanish.set_num_threads(0)
    yield
    pyvanish.set_num_threads(0)


# ------------------------------------------------------------------ the GIL

def gil_gaps(call, repeats=3):
    """Run ``call`` ``repeats`` times in a worker thread while this thread
    spins; returns (shortest call in s, longest gap between this thread's turns
    during any call in s)."""
    spans, ticks = [], []
    started, done = threading.Event(), threading.Event()

    def worker():
        started.set()
        try:
            for _ in range(repeats):
                t0 = time.perf_counter()
                call()
                spans.append((t0, time.perf_counter()))
        finally:
            done.set()

    th = threading.Thread(target=worker)
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        th.start()
        started.wait()
        clock = time.perf_counter
        append = ticks.append
        while not done.is_set():
            append(clock())
        th.join()
    finally:
        sys.setswitchinterval(old)
    ticks = np.asarray(ticks)
    shortest, worst = min(b - a for a, b in spans), 0.0
    for a, b in spans:
        inside = ticks[(ticks > a) & (ticks < b)]
        edges = np.concatenate([[a], inside, [b]])
        worst = max(worst, float(np.diff(edges).max()))
    return shortest, worst


def _big_network():
    net = pyvanish.Network([512] * 5, activation="tanh", seed=0)
    rng = np.random.default_rng(0)
    return net, rng.standard_normal((512, 512)), rng.standard_normal((512, 512))


def _gemm():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((1024, 1024)), rng.standard_normal((1024, 1024))
    return lambda: K.gemm(a, b)


def _gradient_report():
    net, x, t = _big_network()
    return lambda: net.gradient_report(x, t)


def _jacobian():
    net = pyvanish.Network([256, 256, 256, 256], activation="tanh", seed=0)
    x = np.random.default_rng(2).standard_normal((40, 256))
    return lambda: net.jacobian(x)


def _ensemble():
    ens = pyvanish.Ensemble([32] + [32] * 20 + [1], 1000, activation="tanh", seed=0)
    x, t = np.ones((8, 32)), np.zeros((8, 1))
    return lambda: ens.run(x, t)


def _train():
    net = pyvanish.Network([256, 256, 256, 1], activation="tanh", seed=0)
    rng = np.random.default_rng(3)
    X, T = rng.standard_normal((512, 256)), rng.standard_normal((512, 1))
    return lambda: pyvanish.train(net, X, T, steps=30, batch_size=128, lr=1e-3, progress=False)


SANITIZED = os.environ.get("PYVANISH_SANITIZE") == "1" or "libasan" in os.environ.get("LD_PRELOAD", "")


@pytest.mark.skipif(SANITIZED, reason="timing; AddressSanitizer slows the engine, not the GIL logic")
@pytest.mark.parametrize("make", [_gemm, _gradient_report, _jacobian, _ensemble, _train],
                         ids=["gemm-1024^3", "gradient_report-512x4", "jacobian", "Ensemble.run", "train"])
def test_long_engine_calls_release_the_gil(make, default_threads):
    call = make()
    call()                                     # warm-up: workspace, page faults
    # best of three: a busy machine can deschedule the spinning thread now and
    # then; a call that holds the GIL stalls it every time
    tries = [gil_gaps(call) for _ in range(3)]
    shortest, worst_gap = min(tries, key=lambda sg: sg[1] / sg[0])
    assert shortest > 0.015, f"the call takes {shortest * 1e3:.1f} ms: too short to tell"
    assert worst_gap < 0.35 * shortest, (
        f"the main thread stalled {worst_gap * 1e3:.1f} ms during a {shortest * 1e3:.1f} ms call: "
        "the call holds the GIL")


def test_small_calls_may_keep_the_gil_but_stay_correct():
    """Tiny calls keep the GIL by design (releasing it costs more); they must
    still be right when many threads call at once."""
    net = pyvanish.seed_network()
    want = net.copy().gradient_report([[1.0]], [[0.0]]).stats

    def work(_):
        n = net.copy()
        return all(same(n.gradient_report([[1.0]], [[0.0]]).stats, want) for _ in range(200))

    with ThreadPoolExecutor(4) as ex:
        assert all(ex.map(work, range(8)))


# ------------------------------------------------------------------ different objects: serial == concurrent

def _networks():
    rng = np.random.default_rng(7)
    specs = [dict(widths=[64, 96, 96, 8], activation="tanh", seed=1),
             dict(widths=[64, 96, 96, 8], activation="relu", init="he", seed=2, dtype=np.float32),
             dict(widths=[64, 96, 96, 96, 8], activation="sigmoid", batchnorm=True, residual=True, seed=3),
             dict(widths=[64, 128, 8], activation="gelu", seed=4)]
    nets = [pyvanish.Network(s.pop("widths"), **s) for s in specs]
    data = [(rng.standard_normal((48, 64)), rng.standard_normal((48, 8))) for _ in nets]
    return nets, data


def _network_work(net, x, t):
    """Every engine path of one network; returns everything it computed."""
    out = []
    rep = net.gradient_report(x, t, return_grads=True)
    out += [rep.stats, rep.loss, rep.grad_x, rep.grads["W"], rep.grads["h"]]
    out.append(net.forward(x, all_layers=True))
    if not any(net.batchnorm):
        out.append(net.jacobian(x[:4]))
    hist = pyvanish.train(net, x, t, steps=20, batch_size=16, lr=1e-2, optimizer="adam", progress=False)
    out += [hist.loss, hist.grad_W, hist.update_ratio, [w.copy() for w in net.weights]]
    out.append(net.gradient_report(x, t).stats)
    return out


def test_different_networks_in_threads_equal_serial(default_threads):
    nets, data = _networks()
    serial = [_network_work(n.copy(), x, t) for n, (x, t) in zip(nets, data)]
    for rnd in range(3):
        copies = [n.copy() for n in nets]
        with ThreadPoolExecutor(len(nets)) as ex:
            results = list(ex.map(lambda i: _network_work(copies[i], *data[i]), range(len(nets))))
        for i, (got, want) in enumerate(zip(results, serial)):
            assert same(got, want), f"network {i}, round {rnd}: concurrent result differs from serial"


def test_different_ensembles_in_threads_equal_serial(default_threads):
    ens = [pyvanish.Ensemble([16] * 8 + [1], 300, activation=a, seed=s)
           for s, a in enumerate(["tanh", "relu", "sigmoid", "tanh"])]
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 16)), rng.standard_normal((4, 1))
    xs = rng.standard_normal((300, 4, 16))

    def work(e):
        r1, r2 = e.run(x, t), e.run(xs, t)
        return [r1.stats, r1.loss, r1.grad_x, r2.stats, r2.loss, r1.summary("grad_h")["q50"]]

    for n in (1, 2):                           # each run itself on 1 or 2 engine threads
        pyvanish.set_num_threads(n)
        serial = [work(e) for e in ens]
        with ThreadPoolExecutor(4) as ex:
            for _ in range(3):
                assert all(same(g, w) for g, w in zip(ex.map(work, ens), serial))


def _kernel_calls(seed):
    """A list of kernel calls (closures) over arrays drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    calls = []
    for dt in (np.float32, np.float64):
        a = rng.standard_normal((300, 257)).astype(dt)
        b = rng.standard_normal((257, 190)).astype(dt)
        w = rng.standard_normal((190, 257)).astype(dt)
        bias = rng.standard_normal(190).astype(dt)
        z = rng.standard_normal((300, 190)).astype(dt) * 3
        calls += [lambda a=a, b=b: K.gemm(a, b), lambda a=a, b=b: K.gemm(b, a, True, True),
                  lambda a=a, w=w, bias=bias: K.dense_forward(a, w, bias),
                  lambda a=a, w=w, z=z: K.dense_backward(z, a, w),
                  lambda a=a, w=w, bias=bias: K.dense_act_forward(a, w, bias, "gelu"),
                  lambda z=z: K.activation_forward("tanh", z),
                  lambda z=z: K.activation_derivative("silu", z),
                  lambda z=z: K.batchnorm_forward(z, np.ones(190, dt), np.zeros(190, dt)),
                  lambda z=z: K.mse_backward(z, z[::-1].copy()),
                  lambda z=z: K.residual_forward(z, z, 0.5)]
    return calls


def test_kernels_from_four_threads_equal_serial():
    calls = [c for s in range(4) for c in _kernel_calls(s)]
    serial = [c() for c in calls]

    def work(i):
        # each thread runs every call, starting at a different one
        order = list(range(i, len(calls))) + list(range(i))
        return {j: calls[j]() for j in order for _ in range(2)}

    with ThreadPoolExecutor(4) as ex:
        for got in ex.map(work, range(4)):
            for j, want in enumerate(serial):
                assert same(got[j], want), f"kernel call {j} differs under 4 threads"


# ------------------------------------------------------------------ one object, two threads: refused

def _collide(long_call, other_call, attempts=5, timeout=60):
    """Run ``long_call`` in a thread; while it runs, try ``other_call`` until it
    raises RuntimeError or the long call ends. Returns (long result, message).
    If ``other_call`` happened to win the race for the object (the long call
    is the one refused), the collision is tried again."""
    for _ in range(attempts):
        box, started = {}, threading.Event()

        def worker():
            started.set()
            try:
                box["result"] = long_call()
            except RuntimeError as exc:
                box["refused"] = str(exc)

        th = threading.Thread(target=worker)
        th.start()
        started.wait()
        time.sleep(0.02)                       # let it get into the engine
        message = None
        deadline = time.perf_counter() + timeout
        while th.is_alive() and time.perf_counter() < deadline:
            try:
                other_call()
            except RuntimeError as exc:
                message = str(exc)
                break
        th.join()
        if "refused" not in box:
            return box.get("result"), message
    raise AssertionError(f"the long call was refused {attempts} times: {box['refused']}")


def test_one_network_in_two_threads_is_refused():
    start = pyvanish.Network([256, 256, 256, 1], activation="tanh", seed=0)
    rng = np.random.default_rng(3)
    X, T = rng.standard_normal((512, 256)), rng.standard_normal((512, 1))
    ref = start.copy()
    want = pyvanish.train(ref, X, T, steps=60, batch_size=128, lr=1e-3, progress=False)
    others = {"gradient_report": lambda n: n.gradient_report(X[:8], T[:8]),
              "forward": lambda n: n.forward(X[:8]),
              "jacobian": lambda n: n.jacobian(X[:2]),
              "train": lambda n: pyvanish.train(n, X, T, steps=1, progress=False)}
    for name, other in others.items():
        net = start.copy()
        got, message = _collide(lambda: pyvanish.train(net, X, T, steps=60, batch_size=128, lr=1e-3, progress=False),
                                lambda: other(net))
        assert message is not None, f"{name} during train was not refused (or train was too short to collide)"
        assert "running in another thread" in message, message
        # the refused call disturbed neither the running one nor the network
        assert same(got.loss, want.loss) and same(list(net.weights), list(ref.weights)), name


def test_refusal_names_the_public_function():
    """The message names the function the user called (and says what to do)."""
    net = pyvanish.Network([256, 256, 256, 1], activation="tanh", seed=0)
    rng = np.random.default_rng(3)
    X, T = rng.standard_normal((512, 256)), rng.standard_normal((512, 1))
    _, message = _collide(lambda: pyvanish.train(net, X, T, steps=60, batch_size=128, progress=False),
                          lambda: net.jacobian(X[:2]))
    assert message is not None and message.startswith("Network.jacobian") and "another thread" in message


@pytest.mark.parametrize("method", ["gradient_report", "forward"])
def test_refusal_of_a_report_names_the_public_function(method):
    net = pyvanish.Network([256, 256, 256, 1], activation="tanh", seed=0)
    rng = np.random.default_rng(3)
    X, T = rng.standard_normal((512, 256)), rng.standard_normal((512, 1))
    other = {"gradient_report": lambda: net.gradient_report(X[:8], T[:8]), "forward": lambda: net.forward(X[:8])}[method]
    _, message = _collide(lambda: pyvanish.train(net, X, T, steps=60, batch_size=128, progress=False), other)
    assert message is not None and message.startswith(f"Network.{method}"), message


def test_one_ensemble_in_two_threads_is_refused(default_threads):
    ens = pyvanish.Ensemble([32] + [32] * 20 + [1], 2000, activation="tanh", seed=0)
    x, t = np.ones((8, 32)), np.zeros((8, 1))
    want = ens.run(x, t)
    got, message = _collide(lambda: ens.run(x, t), lambda: ens.run(x, t))
    assert message is not None and message.startswith("Ensemble.run") and "another thread" in message, message
    assert same(got.stats, want.stats)
    assert same(ens.run(x, t).stats, want.stats)      # still usable afterwards


class _Interleave:
    """Stands in for a Network's engine: after the engine's ``run`` returns in
    the main thread, lets ``other`` (another thread) run to completion before
    the main thread goes on. Deterministic: no luck with timing needed."""

    def __init__(self, engine, other):
        self._engine, self._other, self._armed = engine, other, True

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def run(self, *args):
        return self._then_other(self._engine.run(*args))

    def forward(self, *args):
        return self._then_other(self._engine.forward(*args))

    def _then_other(self, out):
        if self._armed and threading.current_thread() is threading.main_thread():
            self._armed = False
            th = threading.Thread(target=self._other)
            th.start()
            th.join(timeout=5)                 # (a blocking lock, once fixed, would wait for us)
            self.thread = th
        return out


@pytest.mark.parametrize("method", ["gradient_report", "forward"])
def test_one_network_read_out_is_not_interleaved(method):
    net = pyvanish.Network([8, 16, 4], activation="tanh", seed=0)
    rng = np.random.default_rng(0)
    x1, t1 = rng.standard_normal((16, 8)), rng.standard_normal((16, 4))
    x2, t2 = rng.standard_normal((16, 8)), rng.standard_normal((16, 4))
    ref = net.copy()
    want = (ref.gradient_report(x2, t2, return_grads=True).grads["W"] if method == "gradient_report"
            else ref.forward(x2))
    refused = []

    def other():
        try:
            net.gradient_report(x1, t1)
        except RuntimeError:
            refused.append(True)

    net._engine = engine = _Interleave(net._engine, other)
    got = (net.gradient_report(x2, t2, return_grads=True).grads["W"] if method == "gradient_report"
           else net.forward(x2))
    engine.thread.join()
    assert same(got, want), "the result is another thread's"


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_engine_threads_are_kept_and_reused(default_threads):
    """The slices run on a pool that grows to the largest thread count asked for and is
    reused: a hundred threaded calls at changing counts add no threads after the first
    (a pool that started workers per call, or lost track of them, would)."""
    ens = pyvanish.Ensemble([16] * 6 + [1], 200, seed=0)
    x, t = np.ones((2, 16)), np.zeros((2, 1))
    pyvanish.set_num_threads(3)
    want = ens.run(x, t).stats
    after_first = len(os.listdir("/proc/self/task"))
    for n in [2, 3, 1] * 33 + [3]:
        pyvanish.set_num_threads(n)
        assert same(ens.run(x, t).stats, want)
    assert len(os.listdir("/proc/self/task")) <= after_first


def test_engine_threads_wake_from_sleep_and_idle_afterwards(default_threads):
    """Workers watch for the next job for a short while (200 us; not when there are more
    slices than cores), then sleep: calls back to back and calls after a pause both run
    every slice, and idle workers stop using the CPU (a pool that spun for ever would
    burn a core per worker)."""
    ens = pyvanish.Ensemble([16] * 6 + [1], 200, seed=0)
    x, t = np.ones((2, 16)), np.zeros((2, 1))
    pyvanish.set_num_threads(1)
    want = ens.run(x, t).stats
    for threads in (2, 3, os.cpu_count() + 1):  # (more slices than cores: no watching)
        pyvanish.set_num_threads(threads)
        for pause in [0.0, 0.0, 0.002, 0.0, 0.02, 0.0005, 0.0]:
            time.sleep(pause)
            assert same(ens.run(x, t).stats, want)
    pyvanish.set_num_threads(2)                  # (a call whose threads watch afterwards)
    assert same(ens.run(x, t).stats, want)
    time.sleep(0.1)   # (past every watch, ours and any BLAS thread's, before measuring)
    before = time.process_time()
    time.sleep(0.3)
    assert time.process_time() - before < 0.05   # the workers are asleep, not spinning


def test_fork_after_threads_does_not_hang(default_threads):
    """A child forked after the parent used the engine's threads starts its own
    (the parent's pool does not exist there) and runs its parallel work (GNU
    OpenMP would hang here)."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    ens = pyvanish.Ensemble([16] * 6 + [1], 500, seed=0)
    x, t = np.ones((2, 16)), np.zeros((2, 1))
    pyvanish.set_num_threads(2)
    want = ens.run(x, t).stats
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                               # child
        try:
            ok = same(ens.run(x, t).stats, want)
            os.write(w, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(w)
    deadline = time.time() + 30
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung in Ensemble.run")
    assert os.read(r, 1) == b"1"
    os.close(r)


def test_weight_writes_during_a_run_are_refused():
    """set_weights/set_biases copy under the network's lock: a write never lands
    in the middle of another thread's run, and says why it was refused."""
    net = pyvanish.Network([256, 256, 256, 1], activation="tanh", seed=0)
    rng = np.random.default_rng(3)
    X, T = rng.standard_normal((512, 256)), rng.standard_normal((512, 1))
    before = [w.copy() for w in net.weights]
    _, message = _collide(lambda: pyvanish.train(net, X, T, steps=60, batch_size=128, progress=False),
                          lambda: net.set_weights(before))
    assert message is not None and message.startswith("Network.set_weights") and "another thread" in message
    net.set_biases([np.zeros(256), np.zeros(256), np.zeros(1)])   # free again afterwards
    assert all(not b.any() for b in net.biases)
