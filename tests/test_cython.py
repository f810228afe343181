"""The Cython API (pyvanish.cython_kernels): a consumer module compiled at test time.

tests/cython/consumer.pyx is copied into a temporary directory, cythonized and
compiled with setuptools against the installed package (``cimport`` only, include
path ``pyvanish.get_include()``, nothing linked), imported, and checked against
pyvanish.kernels (the same kernels: bit for bit), pyvanish.reference, and the
engines' Python API (bit for bit). Compiled once per session.
"""

import math
import os
import pathlib
import shutil
import sys
import sysconfig

import numpy as np
import pytest

import pyvanish
from pyvanish import _engine, kernels, reference
from pyvanish._activations import ACTIVATIONS, DEFAULT_ALPHA

HERE = pathlib.Path(__file__).parent
DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
PV_OK, PV_ERR_BATCH, PV_ERR_BATCHNORM = 0, 2, 3


def _compiler_missing():
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is None


@pytest.fixture(scope="session")
def consumer(tmp_path_factory):
    if _compiler_missing():
        pytest.skip("no C compiler: the Cython API cannot be compiled against here")
    Build = pytest.importorskip("Cython.Build", reason="Cython is not installed (the test extra)")
    setuptools = pytest.importorskip("setuptools", reason="setuptools is not installed (the test extra)")
    d = tmp_path_factory.mktemp("cython_consumer")
    shutil.copy(HERE / "cython" / "consumer.pyx", d / "pv_consumer.pyx")
    # Cython finds pyvanish/cython_kernels.pxd on sys.path for an installed package; an editable
    # install keeps it in the source tree, so the package's parent directory goes on the include path.
    pkg_parent = str(pathlib.Path(pyvanish.__file__).resolve().parent.parent)
    ext = setuptools.Extension(
        "pv_consumer",
        [str(d / "pv_consumer.pyx")],
        include_dirs=[pyvanish.get_include(), np.get_include()],
        extra_compile_args=["-O2", "-fopenmp"],
        extra_link_args=["-fopenmp"],
    )
    exts = Build.cythonize([ext], include_path=[pkg_parent], quiet=True, build_dir=str(d / "c"))
    dist = setuptools.Distribution({"ext_modules": exts, "script_name": "setup.py"})
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib, cmd.build_temp = str(d), str(d / "tmp")
    cwd = os.getcwd()
    try:
        os.chdir(d)
        cmd.ensure_finalized()
        cmd.run()
    finally:
        os.chdir(cwd)
    sys.path.insert(0, str(d))
    try:
        import pv_consumer
    finally:
        sys.path.remove(str(d))
    return pv_consumer


def _close(got, want, dt):
    np.testing.assert_allclose(got, want, rtol=RTOL[dt], atol=RTOL[dt] * 1e-3)


def test_table_and_module(consumer):
    import pyvanish.cython_kernels as ck

    assert ck.CAPI_VERSION == 1
    assert type(_engine.c_api()).__name__ == "PyCapsule"
    inc = pathlib.Path(pyvanish.get_include())
    assert (inc / "pyvanish_capi.h").is_file() and (inc / "cython_kernels.pxd").is_file()
    assert consumer.CONSTANTS == {"PV_ST_COUNT": len(_engine.STAT_NAMES), "PV_SIGMOID": 1,
                                  "PV_ACT_COUNT": len(ACTIVATIONS)}


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations(consumer, dt, name):
    rng = np.random.default_rng(1)
    code, alpha = ACTIVATIONS.index(name), DEFAULT_ALPHA.get(name, 0.0)
    z = (rng.standard_normal(37) * 3).astype(dt)
    a = np.empty_like(z)
    consumer.activation_forward(code, alpha, a, z)
    np.testing.assert_array_equal(a, kernels.activation_forward(name, z))
    _close(a, reference.activation_forward(name, z), dt)
    g = rng.standard_normal(37).astype(dt)
    dz = np.empty_like(z)
    consumer.activation_backward(code, alpha, dz, g, z, a)
    np.testing.assert_array_equal(dz, kernels.activation_backward(name, g, z, a))
    _close(dz, reference.activation_backward(name, g, z, a), dt)
    dphi = np.empty_like(z)
    consumer.activation_derivative(code, alpha, dphi, z, a)
    np.testing.assert_array_equal(dphi, kernels.activation_derivative(name, z, a))
    _close(dphi, reference.activation_derivative(name, z, a), dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_dense(consumer, dt):
    rng = np.random.default_rng(2)
    B, C, OC = 5, 7, 3
    x, W, b = (rng.standard_normal(s).astype(dt) for s in ((B, C), (OC, C), (OC,)))
    out = np.empty((B, OC), dt)
    consumer.dense_forward(out.ravel(), x.ravel(), W.ravel(), b, B, C, OC)
    np.testing.assert_array_equal(out, kernels.dense_forward(x, W, b))
    _close(out, reference.dense_forward(x, W, b), dt)
    consumer.dense_forward(out.ravel(), x.ravel(), W.ravel(), np.empty(0, dt), B, C, OC)  # bias NULL
    np.testing.assert_array_equal(out, kernels.dense_forward(x, W))
    g = rng.standard_normal((B, OC)).astype(dt)
    dx, dW, db = np.empty((B, C), dt), np.empty((OC, C), dt), np.empty(OC, dt)
    consumer.dense_backward(dx.ravel(), dW.ravel(), db, g.ravel(), x.ravel(), W.ravel(), B, C, OC)
    for got, want, ref in zip((dx, dW, db), kernels.dense_backward(g, x, W), reference.dense_backward(g, x, W)):
        np.testing.assert_array_equal(got, want)
        _close(got, ref, dt)
    dW2, db2 = np.empty_like(dW), np.empty_like(db)
    consumer.dense_backward(np.empty(0, dt), dW2.ravel(), db2, g.ravel(), x.ravel(), W.ravel(), B, C, OC)  # dinp NULL
    np.testing.assert_array_equal(dW2, dW)
    np.testing.assert_array_equal(db2, db)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid", "leaky_relu", "gelu"])
def test_dense_act(consumer, dt, name):
    rng = np.random.default_rng(3)
    B, C, OC = 4, 6, 5
    code, alpha = ACTIVATIONS.index(name), DEFAULT_ALPHA.get(name, 0.0)
    x, W, b = (rng.standard_normal(s).astype(dt) for s in ((B, C), (OC, C), (OC,)))
    z, a = np.empty((B, OC), dt), np.empty((B, OC), dt)
    consumer.dense_act_forward(z.ravel(), a.ravel(), x.ravel(), W.ravel(), b, code, alpha, B, C, OC)
    for got, want, ref in zip((z, a), kernels.dense_act_forward(x, W, b, name),
                              reference.dense_act_forward(x, W, b, name)):
        np.testing.assert_array_equal(got, want)
        _close(got, ref, dt)
    g = rng.standard_normal((B, OC)).astype(dt)
    outs = dx, dW, db, dz = (np.empty((B, C), dt), np.empty((OC, C), dt), np.empty(OC, dt), np.empty((B, OC), dt))
    consumer.dense_act_backward(dx.ravel(), dW.ravel(), db, dz.ravel(), g.ravel(), x.ravel(), W.ravel(), z.ravel(),
                                a.ravel(), code, alpha, B, C, OC)
    want = kernels.dense_act_backward(g, x, W, z, a, name)
    ref = reference.dense_act_backward(g, x, W, z, a, name)
    for got, w, r in zip(outs, want, ref):
        np.testing.assert_array_equal(got, w)
        _close(got, r, dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_mse(consumer, dt):
    rng = np.random.default_rng(4)
    B, N = 6, 3
    p, t = rng.standard_normal((B, N)).astype(dt), rng.standard_normal((B, N)).astype(dt)
    loss = consumer.mse_forward(p.ravel(), t.ravel(), B, N)
    assert loss == kernels.mse_forward(p, t)
    _close(loss, reference.mse_forward(p, t), dt)
    d = np.empty((B, N), dt)
    consumer.mse_backward(d.ravel(), p.ravel(), t.ravel(), B, N)
    np.testing.assert_array_equal(d, kernels.mse_backward(p, t))
    _close(d, reference.mse_backward(p, t), dt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("kind", range(3))
def test_losses(consumer, dt, kind):
    rng = np.random.default_rng(14)
    B, N = 5, 4
    p = (3 * rng.standard_normal((B, N))).astype(dt)
    t = np.eye(N, dtype=dt)[rng.integers(0, N, B)] if kind == 1 else rng.uniform(size=(B, N)).astype(dt)
    d = np.empty((B, N), dt)
    value = consumer.loss(kind, d.ravel(), p.ravel(), t.ravel(), B, N)
    want, dwant = kernels.loss_forward_backward(pyvanish.LOSSES[kind], p, t)
    assert value == want
    np.testing.assert_array_equal(d, dwant)
    assert math.isnan(consumer.loss(7, d.ravel(), p.ravel(), t.ravel(), B, N))  # unknown kind: NaN


@pytest.mark.parametrize("dt", DTYPES)
def test_layernorm(consumer, dt):
    rng = np.random.default_rng(15)
    B, C = 4, 6
    x, g, b = (rng.standard_normal((B, C)).astype(dt), rng.uniform(0.5, 1.5, C).astype(dt),
               rng.standard_normal(C).astype(dt))
    dout = rng.standard_normal((B, C)).astype(dt)
    out, xhat, rstd = np.empty((B, C), dt), np.empty((B, C), dt), np.empty(B, dt)
    dinp, dg, db = np.empty((B, C), dt), np.empty(C, dt), np.empty(C, dt)
    consumer.layernorm(out.ravel(), xhat.ravel(), rstd, x.ravel(), g, b, B, C, 1e-5, dinp.ravel(), dg, db,
                       dout.ravel())
    o2, xh2, r2 = kernels.layernorm_forward(x, g, b, 1e-5)
    np.testing.assert_array_equal(out, o2)
    np.testing.assert_array_equal(rstd, r2)
    for mine, theirs in zip((dinp, dg, db), kernels.layernorm_backward(dout, xh2, g, r2)):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("dt", DTYPES)
def test_batchnorm(consumer, dt):
    rng = np.random.default_rng(5)
    B, C, eps = 8, 4, 1e-5
    x, gamma, beta = rng.standard_normal((B, C)).astype(dt), rng.random(C).astype(dt) + 0.5, rng.random(C).astype(dt)
    out, xhat, mean, rstd = np.empty((B, C), dt), np.empty((B, C), dt), np.empty(C, dt), np.empty(C, dt)
    consumer.batchnorm_forward(out.ravel(), xhat.ravel(), mean, rstd, x.ravel(), gamma, beta, B, C, eps)
    for got, want, ref in zip((out, xhat, mean, rstd), kernels.batchnorm_forward(x, gamma, beta, eps),
                              reference.batchnorm_forward(x, gamma, beta, eps)):
        np.testing.assert_array_equal(got, want)
        _close(got, ref, dt)
    g = rng.standard_normal((B, C)).astype(dt)
    dx, dgamma, dbeta = np.empty((B, C), dt), np.empty(C, dt), np.empty(C, dt)
    consumer.batchnorm_backward(dx.ravel(), dgamma, dbeta, g.ravel(), xhat.ravel(), gamma, rstd, B, C)
    for got, want, ref in zip((dx, dgamma, dbeta), kernels.batchnorm_backward(g, xhat, gamma, rstd),
                              reference.batchnorm_backward(g, xhat, gamma, rstd)):
        np.testing.assert_array_equal(got, want)
        _close(got, ref, dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_residual(consumer, dt):
    rng = np.random.default_rng(6)
    s, x, g = (rng.standard_normal(11).astype(dt) for _ in range(3))
    out = np.empty_like(s)
    consumer.residual_forward(out, s, x, 0.5)
    np.testing.assert_array_equal(out, kernels.residual_forward(s, x, 0.5))
    _close(out, reference.residual_forward(s, x, 0.5), dt)
    dx, dskip = np.empty_like(g), np.zeros_like(g)
    consumer.residual_backward(dx, dskip, g, 0.5)
    for got, want, ref in zip((dx, dskip), kernels.residual_backward(g, 0.5), reference.residual_backward(g, 0.5)):
        np.testing.assert_array_equal(got, want)
        _close(got, ref, dt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("M,N,K", [(9, 13, 17), (13, 40, 17)])  # OpenBLAS; pyvanish's register blocks
def test_gemm(consumer, dt, ta, tb, M, N, K):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(dt)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(dt)
    c = np.empty((M, N), dt)
    consumer.gemm(ta, tb, M, N, K, 1.0, a.ravel(), a.shape[1], b.ravel(), b.shape[1], 0.0, c.ravel(), N)
    np.testing.assert_array_equal(c, kernels.gemm(a, b, ta, tb))
    ref = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    scale = np.abs(a).max() * np.abs(b).max() * K  # sums with cancellation: an absolute bound
    assert np.abs(c - ref).max() <= RTOL[dt] * scale
    # alpha and beta: C = 2 op(A) op(B) - C
    c0 = rng.standard_normal((M, N)).astype(dt)
    c = c0.copy()
    consumer.gemm(ta, tb, M, N, K, 2.0, a.ravel(), a.shape[1], b.ravel(), b.shape[1], -1.0, c.ravel(), N)
    scale = 2 * scale + np.abs(c0).max()
    assert np.abs(c - (2 * ref - c0)).max() <= RTOL[dt] * scale


def _report_args(report):
    return report.loss, report.grad_x, report.signal_ratio, report.weight_ratio, report.verdict


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("kwargs", [dict(activation="tanh"), dict(activation="relu", batchnorm=True),
                                    dict(activation="sigmoid", residual=True)])
def test_network_run(consumer, dt, kwargs):
    net = pyvanish.Network([4, 6, 6, 6, 2], init="xavier", seed=3, dtype=dt, **kwargs)
    twin = net.copy()  # batch norm updates its running statistics on each run: compare two twins
    rng = np.random.default_rng(8)
    x, t = rng.standard_normal((5, 4)).astype(dt), rng.standard_normal((5, 2)).astype(dt)
    stats = np.full((net.depth, len(_engine.STAT_NAMES)), -1.0)
    rc, loss, gx, sr, wr, verdict = consumer.network_run(net, x.ravel(), t.ravel(), 5, stats.ravel())
    assert rc == PV_OK
    rep = twin.gradient_report(x, t)
    np.testing.assert_array_equal(stats, rep.stats)
    assert (loss, gx, _engine.VERDICTS[verdict]) == (rep.loss, rep.grad_x, rep.verdict)
    np.testing.assert_array_equal([sr, wr], [rep.signal_ratio, rep.weight_ratio])
    assert consumer.handle_info(net) == (dt == np.float64, 4, 4, 2)


def test_network_run_codes(consumer):
    x, t = np.zeros(4), np.zeros(2)
    net = pyvanish.Network([4, 3, 2], seed=0)
    stats = np.zeros((2, len(_engine.STAT_NAMES)))
    assert consumer.network_run(net, x, t, 0, stats.ravel())[0] == PV_ERR_BATCH
    assert consumer.network_run_nulls(net, x, t, 1, stats.ravel()) == PV_OK  # optional outputs NULL
    np.testing.assert_array_equal(stats, net.gradient_report(x[None], t[None]).stats)
    bn = pyvanish.Network([4, 3, 2], batchnorm=True, seed=0)
    assert consumer.network_run(bn, x, t, 1, stats.ravel())[0] == PV_ERR_BATCHNORM
    bn.training = False
    assert consumer.network_run(bn, x, t, 1, stats.ravel())[0] == PV_OK
    with pytest.raises(TypeError, match="float64"):
        consumer.network_run(net, x.astype(np.float32), t.astype(np.float32), 1, stats.ravel())
    with pytest.raises(TypeError, match="expected a pyvanish.Network"):
        consumer.handle_info("not a network")


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("per_member", [False, True])
def test_ensemble_run(consumer, dt, per_member):
    E, B = 37, 3
    ens = pyvanish.Ensemble([2, 5, 5, 1], E, activation="tanh", init="normal", seed=4, dtype=dt)
    rng = np.random.default_rng(9)
    x = rng.standard_normal((E, B, 2) if per_member else (B, 2)).astype(dt)
    t = rng.standard_normal((B, 1)).astype(dt)
    xe = np.ascontiguousarray(np.moveaxis(x, 0, -1)) if per_member else x  # engine layout (B, n_0, E)
    stats, grad_x, loss = np.empty((E, 3, len(_engine.STAT_NAMES))), np.empty(E), np.empty(E)
    codes = np.empty(E, np.int8)
    rc = consumer.ensemble_run(ens, xe.ravel(), per_member, t.ravel(), False, B, stats.ravel(), grad_x, loss, codes, 0)
    assert rc == PV_OK
    rep = ens.run(x, t)
    np.testing.assert_array_equal(stats, rep.stats)
    np.testing.assert_array_equal(grad_x, rep.grad_x)
    np.testing.assert_array_equal(loss, rep.loss)
    np.testing.assert_array_equal(codes, rep.verdict_codes)
    rc = consumer.ensemble_run(ens, xe.ravel(), per_member, t.ravel(), False, B, stats.ravel(), grad_x, loss, codes, 1)
    assert rc == PV_OK  # one thread: the same numbers
    np.testing.assert_array_equal(stats, rep.stats)
    assert consumer.ensemble_run(ens, xe.ravel(), per_member, t.ravel(), False, 0, stats.ravel(), grad_x, loss,
                                 codes, 0) == PV_ERR_BATCH


def test_ensemble_handle_refuses_batchnorm(consumer):
    ens = pyvanish.Ensemble([2, 3, 1], 4, batchnorm=True, seed=0)
    z = np.zeros(8)
    with pytest.raises(TypeError, match="batch norm"):
        consumer.ensemble_run(ens, z, False, z, False, 2, z, z, z, np.zeros(4, np.int8), 0)


def test_prange_over_networks(consumer):
    nets = [pyvanish.Network([3, 4, 4, 1], activation="sigmoid", init="normal", seed=s) for s in range(24)]
    rng = np.random.default_rng(10)
    x, t = rng.standard_normal((6, 3)), rng.standard_normal((6, 1))
    stats = np.empty((len(nets), 3, len(_engine.STAT_NAMES)))
    loss, status = np.empty(len(nets)), np.full(len(nets), -1, np.intc)
    consumer.many_networks(nets, x, t, stats, loss, status)
    assert (status == PV_OK).all()
    for i, net in enumerate(nets):
        rep = net.gradient_report(x, t)
        np.testing.assert_array_equal(stats[i], rep.stats)
        assert loss[i] == rep.loss


def test_dense_forward_loop(consumer):
    assert np.isfinite(consumer.dense_forward_loop(1000))


def test_busy_engine_is_refused(consumer):
    """A call on an engine that another thread is running returns PV_ERR_BUSY (try_lock, as the bindings)."""
    import threading
    import time

    E = 100_000
    ens = pyvanish.Ensemble([1, 1, 1, 1, 1], E, activation="sigmoid", seed=0)
    x, t = np.ones(1), np.zeros(1)
    stats, grad_x, loss, codes = np.empty(E * 4 * len(_engine.STAT_NAMES)), np.empty(E), np.empty(E), np.empty(E, np.int8)
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                ens.run([[1.0]], [[0.0]])
            except RuntimeError:  # our own call held the lock
                pass

    worker = threading.Thread(target=hammer)
    worker.start()
    seen = set()
    try:
        deadline = time.monotonic() + 20
        while 1 not in seen and time.monotonic() < deadline:
            seen.add(consumer.ensemble_run(ens, x, False, t, False, 1, stats, grad_x, loss, codes, 1))
    finally:
        stop.set()
        worker.join()
    assert 1 in seen, seen  # PV_ERR_BUSY
    assert seen <= {PV_OK, 1}
