"""pyvanish against the *lean* NumPy a user would write (the baseline of the speed targets).

Lean means: forward, loss, backward and only the per-layer norms asked for
(|dL/dh_l|, |dL/dW_l|, |dL/db_l|), vectorised over the batch; for ensembles the
members on a leading axis with ``np.matmul``, then the mean and std over members of
log10 of the norms; for training a plain SGD loop recording |dL/dW_l| every step.
No statistics pyvanish computes beyond those (pyvanish does more work: saturation,
dead units, NaN counts, underflow counts, the verdict). Each side checks its result
against the other. Ratios = lean NumPy time / pyvanish time.
"""

import math

import numpy as np
import pytest

import pyvanish
from pyvanish.training import minibatch_indices

ACT = {
    "sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda z, a: a * (1 - a)),
    "tanh": (np.tanh, lambda z, a: 1 - a * a),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype)),
    "identity": (lambda z: z, lambda z, a: np.ones_like(z)),
}


def lean(Ws, bs, acts, x, t):
    """Forward, MSE, backward and the per-layer norms; members on a leading axis if W has 3 dims."""
    hs, zs = [x], []
    for W, b, act in zip(Ws, bs, acts):
        z = hs[-1] @ np.swapaxes(W, -1, -2) + b[..., None, :]
        zs.append(z)
        hs.append(ACT[act][0](z))
    B = x.shape[-2]
    y = hs[-1]
    loss = ((y - t) ** 2).sum(axis=(-2, -1)) / (2 * B)
    dh = (y - t) / B
    gh, gW, gb = [], [], []
    for l in range(len(Ws) - 1, -1, -1):
        gh.append(np.sqrt((dh * dh).sum(axis=(-2, -1))))
        dz = dh * ACT[acts[l]][1](zs[l], hs[l + 1])
        dW = np.swapaxes(dz, -1, -2) @ hs[l]
        gW.append(np.sqrt((dW * dW).sum(axis=(-2, -1))))
        db = dz.sum(axis=-2)
        gb.append(np.sqrt((db * db).sum(axis=-1)))
        dh = dz @ Ws[l]
    gh.append(np.sqrt((dh * dh).sum(axis=(-2, -1))))
    return loss, np.stack(gh[::-1], -1), np.stack(gW[::-1], -1), np.stack(gb[::-1], -1)


def lean_verdict(gh, gW, thr=2.0):
    """The report's verdict from the lean norms (plain math on Python floats)."""
    logs = []
    for num, den in ((gh[1], gh[-1]), (gW[0], gW[-1])):
        r = math.nan if num == den == 0 else (math.inf if den == 0 else num / den)
        logs.append(math.nan if math.isnan(r) else (-math.inf if r == 0 else math.log10(r)))
    logs = [v for v in logs if not math.isnan(v)]
    if not logs:
        return "undetermined"
    return "exploding" if max(logs) > thr else ("vanishing" if min(logs) < -thr else "healthy")


NETS = {
    # name: (widths, hidden, output, init, batch, dtype)
    "W1-tutorial-B1": ([1, 1, 1, 1, 1], "sigmoid", "sigmoid", "normal", 1, np.float64),
    "W2-32x50x32-tanh-B64": ([32] + [32] * 50 + [32], "tanh", "identity", "xavier", 64, np.float64),
    "W3-1024x8x1024-relu-B256-f32": ([1024] * 10, "relu", "identity", "he", 256, np.float32),
    "W3-1024x8x1024-relu-B256-f64": ([1024] * 10, "relu", "identity", "he", 256, np.float64),
}


@pytest.mark.parametrize("name,impl", [(n, i) for n in NETS for i in ("cpp", "numpy-lean")]
                         + [(n, "cpp-2threads") for n in NETS if n.startswith("W3")])
def bench_lean_network(benchmark, name, impl):
    """``cpp-2threads``: pyvanish.set_num_threads(2) (its large GEMMs split in fixed blocks; NumPy stays on one)."""
    widths, act, out_act, init, B, dt = NETS[name]
    benchmark.group = f"lean-network-{name}"
    net = pyvanish.Network(widths, activation=act, output_activation=out_act, init=init, seed=0, dtype=dt)
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((B, widths[0])).astype(dt), rng.standard_normal((B, widths[-1])).astype(dt)
    Ws, bs = [w.copy() for w in net.weights], [b.copy() for b in net.biases]

    def with_numpy():
        loss, gh, gW, gb = lean(Ws, bs, net.activations, x, t)
        return gh, gW, lean_verdict(gh, gW)

    def with_pyvanish():
        rep = net.gradient_report(x, t)
        return rep.grad_h, rep.grad_W, rep.verdict

    if impl == "cpp-2threads":
        pyvanish.set_num_threads(2)
    try:
        gh, gW, verdict = benchmark(with_numpy if impl == "numpy-lean" else with_pyvanish)
    finally:
        pyvanish.set_num_threads(1)
    other = with_pyvanish() if impl == "numpy-lean" else with_numpy()
    rtol = 2e-3 if dt == np.float32 else 1e-9
    np.testing.assert_allclose(gh, other[0], rtol=rtol)
    np.testing.assert_allclose(gW, other[1], rtol=rtol)
    assert verdict == other[2]


ENSEMBLES = {
    "W4-10000-tutorial-nets": ([1, 1, 1, 1, 1], 10_000, "sigmoid", "sigmoid", "normal", 1),
    "W5-1000-nets-16x20x16-tanh-B8": ([16] * 22, 1000, "tanh", "identity", "xavier", 8),
}


def _log10_mean_std(v):
    lg = np.log10(v)
    return lg.mean(axis=0), lg.std(axis=0)


@pytest.mark.parametrize("impl", ["cpp", "numpy-lean", "cpp-2threads"])
@pytest.mark.parametrize("name", list(ENSEMBLES))
def bench_lean_ensemble(benchmark, name, impl):
    """``cpp-2threads``: pyvanish.set_num_threads(2) (members split over the threads; NumPy stays on one)."""
    widths, E, act, out_act, init, B = ENSEMBLES[name]
    benchmark.group = f"lean-ensemble-{name}"
    ens = pyvanish.Ensemble(widths, E, activation=act, output_activation=out_act, init=init, seed=0)
    x, t = ens.architecture.default_batch(B, 0)
    Ws, bs = [w.copy() for w in ens.weights], [b.copy() for b in ens.biases]

    def with_numpy():
        _, gh, gW, gb = lean(Ws, bs, ens.activations, x, t)
        return [_log10_mean_std(v) for v in (gh, gW, gb)]

    def with_pyvanish():
        rep = ens.run(x, t)
        summaries = [rep.summary(s, quantiles=False) for s in ("grad_h", "grad_W", "grad_b")]
        return [(s["mean"], s["std"]) for s in summaries]

    if impl == "cpp-2threads":
        pyvanish.set_num_threads(2)
    try:
        got = benchmark(with_numpy if impl == "numpy-lean" else with_pyvanish)
    finally:
        pyvanish.set_num_threads(1)
    other = with_pyvanish() if impl == "numpy-lean" else with_numpy()
    for (m1, s1), (m2, s2) in zip(got, other):
        np.testing.assert_allclose(m1, m2, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(s1, s2, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("impl", ["cpp", "numpy-lean"])
def bench_lean_training(benchmark, impl):
    """W6: SGD lr 0.1, 200 steps, 16 -> 10 x 64 -> 1 sigmoid, batches of 32 of 256, |dL/dW_l| every step."""
    benchmark.group = "lean-training-W6"
    X, T = pyvanish.teacher_task(256, 16, seed=0)
    widths = [16] + [64] * 10 + [1]
    proto = pyvanish.Network(widths, activation="sigmoid", output_activation="identity", seed=0)
    idx = minibatch_indices(256, 200, 32, 0)

    def with_numpy():
        Ws, bs = [w.copy() for w in proto.weights], [b.copy() for b in proto.biases]
        acts = proto.activations
        out = np.empty((200, len(Ws)))
        for k in range(200):
            x, t = X[idx[k]], T[idx[k]]
            hs, zs = [x], []
            for W, b, a in zip(Ws, bs, acts):
                zs.append(hs[-1] @ W.T + b)
                hs.append(ACT[a][0](zs[-1]))
            dh = (hs[-1] - t) / len(x)
            for l in range(len(Ws) - 1, -1, -1):
                dz = dh * ACT[acts[l]][1](zs[l], hs[l + 1])
                dW, db = dz.T @ hs[l], dz.sum(axis=0)
                dh = dz @ Ws[l]
                out[k, l] = np.sqrt((dW * dW).sum())
                Ws[l] -= 0.1 * dW
                bs[l] -= 0.1 * db
        return out

    def with_pyvanish():
        return pyvanish.train(proto.copy(), X, T, steps=200, batch_size=32, lr=0.1, seed=0, progress=False).grad_W

    got = benchmark(with_pyvanish if impl == "cpp" else with_numpy)
    np.testing.assert_allclose(got, (with_numpy if impl == "cpp" else with_pyvanish)(), rtol=1e-8)


@pytest.mark.parametrize("impl", ["engine-call", "report"])
def bench_report_cost(benchmark, impl):
    """What a report costs beyond its engine call (W1, the tutorial network): the bare
    engine call against ``gradient_report`` with ``.verdict``, ``.grad_W`` and
    ``.signal_ratio`` read (the target: at most 1.5x the engine call)."""
    benchmark.group = "report-cost-W1"
    net = pyvanish.Network([1, 1, 1, 1, 1], activation="sigmoid", output_activation="sigmoid", init="normal", seed=0)
    x, t = np.array([[1.0]]), np.array([[0.0]])
    engine = net._engine

    def report():
        rep = net.gradient_report(x, t)
        return rep.verdict, rep.grad_W, rep.signal_ratio

    def engine_call():
        out = engine.run(x, t, True, False, -1)
        return out["verdict"], out["stats"], out["signal_ratio"]

    verdict, _, ratio = benchmark(report if impl == "report" else engine_call)
    rep = net.gradient_report(x, t)
    assert verdict == rep.verdict == "vanishing" and ratio == rep.signal_ratio
