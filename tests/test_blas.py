"""The large products go to OpenBLAS (scipy-openblas32): loaded without LD_LIBRARY_PATH,
on one OpenBLAS thread, split over pyvanish's threads in fixed blocks (bitwise the same
for any thread count), subnormals kept, fork-safe, and the SIMD path mapped to its core."""
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import eps, rel_close

import pyvanish
from pyvanish import _engine
from pyvanish import kernels as K

SHAPES = [(257, 1000, 333), (1024, 1024, 256), (1000, 257, 129)]
TRANS = [(False, False), (False, True), (True, False), (True, True)]


def same(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.fixture
def restore_threads():
    yield
    pyvanish.set_num_threads(0)


def operands(M, N, Kd, ta, tb, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((Kd, M) if ta else (M, Kd)).astype(dtype)
    b = rng.standard_normal((N, Kd) if tb else (Kd, N)).astype(dtype)
    return a, b


def test_blas_info_names_the_library_and_one_thread():
    info = K.blas_info()
    assert os.path.isfile(info["library"]) and "scipy_openblas" in os.path.basename(info["library"])
    assert info["config"].startswith("OpenBLAS") and info["corename"]
    assert info["threads"] == 1
    assert info["min_work"] >= 1 and info["block"] >= 64
    assert info["version"] != ""


def test_dispatch_rule():
    w = K.blas_info()["min_work"]
    assert not _engine.gemm_uses_blas(1, 1, 1)
    assert _engine.gemm_uses_blas(w, 1, 1) and not _engine.gemm_uses_blas(w - 1, 1, 1)
    assert _engine.gemm_uses_blas(1024, 1024, 1024)
    assert not _engine.gemm_uses_blas(1024, 1024, 0)


def test_small_products_stay_in_house():
    """Narrow layers' products (operands in L1) run on pyvanish's register blocks on the AVX2
    and generic paths; just past each limit of the window they go to OpenBLAS, and on the
    AVX-512 path all of them do (its SkylakeX kernels are as fast there)."""
    info = K.blas_info()
    most, min_n, kn = info["small_max_work"], info["small_min_n"], info["small_max_kn"]
    inside = K.get_simd_path() != "avx512"
    for M, N, Kd in [(64, 32, 32), (32, 64, 64), (64, 64, 32), (256, 64, 64)]:  # W2's and W6's layers
        assert _engine.gemm_uses_blas(M, N, Kd) != inside
    assert _engine.gemm_uses_blas(most // (min_n * 16) + 1, min_n, 16)          # too much work
    assert _engine.gemm_uses_blas(64, min_n - 1, 64)                           # too narrow
    assert _engine.gemm_uses_blas(8, 64, kn // 64 + 1)                         # K * N too large
    assert _engine.gemm_uses_blas(8, 64, kn // 64) != inside


@pytest.mark.parametrize("M,N,Kd", SHAPES)
@pytest.mark.parametrize("ta,tb", TRANS)
def test_bitwise_the_same_for_any_thread_count(dtype, M, N, Kd, ta, tb, restore_threads):
    a, b = operands(M, N, Kd, ta, tb, dtype)
    results = []
    for n in (1, 2, 3):
        pyvanish.set_num_threads(n)
        results.append(K.gemm(a, b, trans_a=ta, trans_b=tb))
    assert same(results[0], results[1]) and same(results[0], results[2])
    A = a.astype(np.float64).T if ta else a.astype(np.float64)
    B = b.astype(np.float64).T if tb else b.astype(np.float64)
    rel_close(results[0], A @ B, np.abs(A) @ np.abs(B), 4 * (Kd + 2) * eps(dtype))


@pytest.mark.parametrize("act", ["tanh", "gelu", "sigmoid", "elu"])
def test_dense_layers_and_reports_bitwise_the_same_for_any_thread_count(dtype, act, restore_threads):
    """The large GEMMs, and in wide layers the bias passes, activations and statistics, run split in
    fixed blocks over the threads: bitwise the same for 1, 2 and 3."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 700)).astype(dtype)
    W = rng.standard_normal((600, 700)).astype(dtype)
    bias = rng.standard_normal(600).astype(dtype)
    g = rng.standard_normal((300, 600)).astype(dtype)
    net = pyvanish.Network([512] * 4, activation=act, init="xavier", seed=0, dtype=dtype)
    xb, tb = rng.standard_normal((256, 512)).astype(dtype), rng.standard_normal((256, 512)).astype(dtype)
    runs = []
    for n in (1, 2, 3):
        pyvanish.set_num_threads(n)
        rep = net.gradient_report(xb, tb)
        runs.append((K.dense_forward(x, W, bias), *K.dense_backward(g, x, W), rep.grad_h, rep.grad_W))
    for other in runs[1:]:
        assert all(same(np.asarray(u), np.asarray(v)) for u, v in zip(runs[0], other))


@pytest.mark.parametrize("ta,tb", TRANS)
def test_in_house_register_blocks_on_every_edge(dtype, ta, tb):
    """Every count of leftover rows (0..5 of a block of 6) and columns (past the last whole
    block, which the plain loop takes), K from 1, op(B) = B^T copied or read in place, against
    float64 NumPy; and the dense layer's product with a bias (beta = 1) through them."""
    for M in range(1, 14):
        for N in (16, 17, 31, 40, 64):
            for Kd in (1, 7, 64):
                a, b = operands(M, N, Kd, ta, tb, dtype, seed=M * N + Kd)
                A = a.astype(np.float64).T if ta else a.astype(np.float64)
                B = b.astype(np.float64).T if tb else b.astype(np.float64)
                got = _engine.gemm_inhouse(a, b, ta, tb)
                assert got.dtype == dtype
                rel_close(got, A @ B, np.abs(A) @ np.abs(B), 4 * (Kd + 2) * eps(dtype))
                if M * N * Kd >= K.blas_info()["min_work"] and not _engine.gemm_uses_blas(M, N, Kd):
                    assert same(K.gemm(a, b, trans_a=ta, trans_b=tb), got)
    rng = np.random.default_rng(8)
    x, W, bias = (rng.standard_normal(s).astype(dtype) for s in ((37, 24), (40, 24), (40,)))
    assert _engine.gemm_uses_blas(37, 40, 24) == (K.get_simd_path() == "avx512")
    X, Wd = x.astype(np.float64), W.astype(np.float64)
    rel_close(K.dense_forward(x, W, bias), X @ Wd.T + bias, np.abs(X) @ np.abs(Wd).T + np.abs(bias),
              4 * 26 * eps(dtype))


@pytest.mark.parametrize("ta,tb", TRANS)
def test_blas_and_in_house_agree(dtype, ta, tb):
    a, b = operands(70, 90, 110, ta, tb, dtype, seed=4)
    A = a.astype(np.float64).T if ta else a.astype(np.float64)
    B = b.astype(np.float64).T if tb else b.astype(np.float64)
    got_blas = _engine.gemm_blas(a, b, ta, tb)
    got_own = _engine.gemm_inhouse(a, b, ta, tb)
    assert same(K.gemm(a, b, trans_a=ta, trans_b=tb), got_blas)  # 70*90*110 is past the threshold
    for got in (got_blas, got_own):
        assert got.dtype == dtype
        rel_close(got, A @ B, np.abs(A) @ np.abs(B), 4 * (110 + 2) * eps(dtype))


@pytest.mark.parametrize("ta,tb", TRANS)
def test_subnormals_in_and_out_are_exact(dtype, ta, tb):
    """No flush-to-zero: subnormal operands and subnormal results come back exactly.

    Operands are small integers times powers of two, so every product and sum is exact
    (far below 2**24 in the mantissa): the exact result is the integer product scaled."""
    fi = np.finfo(dtype)
    M, N, Kd = 64, 48, 40
    assert M * N * Kd >= K.blas_info()["min_work"]
    rng = np.random.default_rng(5)
    ia = rng.integers(-3, 4, size=(M, Kd))
    ib = rng.integers(-3, 4, size=(Kd, N))
    exact_int = ia @ ib
    tiny = float(fi.smallest_subnormal)
    # 1) subnormal in: a = ia * smallest subnormal, b = ib; 2) subnormal out: a and b normal, their
    # products below the smallest normal
    lo = np.log2(float(fi.smallest_normal))
    cases = [(ia * tiny, ib * 1.0, exact_int * tiny),
             (ia * 2.0 ** (lo / 2 - 5), ib * 2.0 ** (lo / 2 - 5), exact_int * 2.0 ** (lo - 10))]
    for fa, fb, want in cases:
        a, b = fa.astype(dtype), fb.astype(dtype)
        assert np.all(a.astype(np.float64) == fa) and np.all(b.astype(np.float64) == fb)
        want = want.astype(dtype)
        assert np.count_nonzero(want) > 0 and np.all(np.abs(want) < fi.smallest_normal)
        a_ = np.ascontiguousarray(a.T) if ta else a
        b_ = np.ascontiguousarray(b.T) if tb else b
        for fn in (K.gemm, lambda x, y, trans_a, trans_b: _engine.gemm_inhouse(x, y, trans_a, trans_b),
                   lambda x, y, trans_a, trans_b: _engine.gemm_blas(x, y, trans_a, trans_b)):
            got = fn(a_, b_, trans_a=ta, trans_b=tb)
            assert same(got, want), "subnormals lost (flush to zero?)"
    assert not _engine.subnormals_flushed()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_fork_after_a_threaded_blas_product(restore_threads):
    pyvanish.set_num_threads(2)
    a, b = operands(600, 600, 300, False, False, np.float64)
    before = K.gemm(a, b)
    net = pyvanish.Network([256] * 4, activation="relu", init="he", seed=0)
    x, t = net.architecture.default_batch(128, 0)
    verdict = net.gradient_report(x, t).verdict
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a report and a large product, both through OpenBLAS, then exit
        ok = False
        try:
            os.close(r)
            ok = same(K.gemm(a, b), before) and net.gradient_report(x, t).verdict == verdict
        finally:
            os.write(w, b"1" if ok else b"0")
            os._exit(0)
    os.close(w)
    import select

    ready, _, _ = select.select([r], [], [], 60)
    msg = os.read(r, 1) if ready else b""
    os.close(r)
    if not ready:
        os.kill(pid, 9)
    os.waitpid(pid, 0)
    assert msg == b"1", "the forked child hung or computed a different result"


def test_threadpoolctl_cannot_make_it_nondeterministic(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    a, b = operands(512, 512, 512, False, True, np.float64, seed=6)
    pyvanish.set_num_threads(1)
    ref = K.gemm(a, b)
    with threadpoolctl.threadpool_limits(limits=2):
        got = K.gemm(a, b)
    assert same(got, ref)
    assert K.blas_info()["threads"] == 1


def _import_report(env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "PYVANISH_SIMD", "PYVANISH_GEMM_PATH")}
    env.update(env_extra)
    code = ("import os, pyvanish; from pyvanish import kernels; i = kernels.blas_info(); "
            "print(i['corename'], os.environ.get('OPENBLAS_CORETYPE'), os.environ.get('OPENBLAS_NUM_THREADS'), i['threads'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.skipif("avx2" not in pyvanish.simd_paths(), reason="needs an AVX2 CPU")
def test_simd_path_sets_the_openblas_core_for_the_load_only():
    core, env_core, env_threads, threads = _import_report({"PYVANISH_SIMD": "avx2"})
    assert core == "Haswell" and env_core == "None" and threads == "1"
    assert env_threads == os.environ.get("OPENBLAS_NUM_THREADS", "None")
    # the user's own OPENBLAS_CORETYPE wins, and stays set
    core, env_core, _, _ = _import_report({"PYVANISH_SIMD": "avx2", "OPENBLAS_CORETYPE": "Sandybridge"})
    assert core == "Sandybridge" and env_core == "Sandybridge"


def test_the_extension_finds_openblas_without_ld_library_path():
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    code = "import pyvanish, numpy as np; print(pyvanish.kernels.gemm(np.ones((64, 64)), np.ones((64, 64)))[0, 0])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["64.0"]


def test_wide_layer_statistics_with_nan_and_inf_are_the_same_for_any_thread_count(restore_threads):
    """Wide layers reduce dW on a second thread; a NaN or Inf takes the serial path: the same statistics."""
    net = pyvanish.Network([300, 400, 400, 10], activation="tanh", init="xavier", seed=1)
    rng = np.random.default_rng(7)
    x, t = rng.standard_normal((200, 300)), rng.standard_normal((200, 10))
    x[3, 5] = np.nan
    x[7, 9] = np.inf
    stats = []
    for n in (1, 2, 3):
        pyvanish.set_num_threads(n)
        stats.append(np.asarray(net.gradient_report(x, t, check_finite=False).stats))
    assert stats[0][:, 0].size == 3
    assert (stats[0] != stats[0]).any()  # NaN statistics: the serial path was taken
    assert all(same(stats[0], other) for other in stats[1:])
    assert (net.gradient_report(x, t, check_finite=False).nonfinite_grad > 0).all()
