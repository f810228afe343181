"""Pickle and processes (issue 17): arrays that came back from pickle.loads, a
multiprocessing pool or a Dask worker are accepted by every public function and
give the same results as the originals; Network, Ensemble and every result
object pickle and unpickle to equal objects."""
import multiprocessing as mp
import pickle

import numpy as np
import pytest

import pyvanish
from pyvanish import kernels

RNG = np.random.default_rng(17)


def _data(dtype=np.float64):
    r = np.random.default_rng(3)
    return {
        "x": r.normal(size=(5, 3)).astype(dtype),
        "t": r.normal(size=(5, 2)).astype(dtype),
        "w": r.normal(size=(4, 3)).astype(dtype),
        "b": r.normal(size=4).astype(dtype),
        "d": r.normal(size=(5, 4)).astype(dtype),
        "g": r.uniform(0.5, 1.5, size=4).astype(dtype),
    }


@pytest.fixture(scope="module", params=["pickle", "multiprocessing", "dask"])
def carry(request):
    """A function sending a dict of arrays through one channel and returning what
    came back, and whether the returned dtypes are non-canonical objects."""
    if request.param == "pickle":
        yield lambda arrays: pickle.loads(pickle.dumps(arrays)), True
    elif request.param == "multiprocessing":
        with mp.get_context("spawn").Pool(1) as pool:
            yield lambda arrays: pool.apply(dict, (arrays,)), True
    else:
        distributed = pytest.importorskip(
            "distributed", reason="dask.distributed is not installed (pip install 'pyvanish[distributed]')"
        )
        with distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster, distributed.Client(cluster) as client:
            # dask's own array serialisation rebuilds canonical dtypes: no identity premise
            yield lambda arrays: client.submit(dict, arrays, pure=False).result(), False


def _carried(carry, dtype=np.float64):
    send, non_canonical = carry
    orig = _data(dtype)
    back = send(orig)
    assert all(back[k] is not orig[k] and back[k].dtype == orig[k].dtype for k in orig)
    if non_canonical:  # equal dtypes that are not numpy's dtype object: the bindings once refused these
        assert all(back[k].dtype is not np.dtype(dtype) for k in orig)
    return orig, back


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_network_accepts_carried_arrays(carry, dtype):
    orig, back = _carried(carry, dtype)
    net = pyvanish.Network([3, 6, 2], activation="tanh", seed=1, dtype=dtype)
    assert net.gradient_report(back["x"], back["t"]) == net.gradient_report(orig["x"], orig["t"])
    np.testing.assert_array_equal(net.forward(back["x"]), net.forward(orig["x"]))
    np.testing.assert_array_equal(net.jacobian(back["x"]), net.jacobian(orig["x"]))
    assert net.jacobian_spectrum(back["x"]) == net.jacobian_spectrum(orig["x"])


def test_ensemble_run_accepts_carried_arrays(carry):
    orig, back = _carried(carry)
    for bn in (False, True):
        ens = pyvanish.Ensemble([3, 6, 2], 7, activation="tanh", batchnorm=bn, seed=2)
        assert ens.run(back["x"], back["t"]) == ens.run(orig["x"], orig["t"])


def test_train_accepts_carried_arrays(carry):
    orig, back = _carried(carry)
    kw = dict(steps=4, batch_size=2, lr=0.05, seed=0)
    net_a, net_b = (pyvanish.Network([3, 6, 2], seed=1) for _ in range(2))
    ha = pyvanish.train(net_a, back["x"], back["t"], **kw)
    hb = pyvanish.train(net_b, orig["x"], orig["t"], **kw)
    assert ha == hb and ha.steps_done == 4
    for Wa, Wb in zip(net_a.weights, net_b.weights):
        np.testing.assert_array_equal(Wa, Wb)


def _kernel_calls(a):
    x, t, w, b, d, g = a["x"], a["t"], a["w"], a["b"], a["d"], a["g"]
    z = kernels.dense_forward(x, w, b)
    return {
        "activation_forward": kernels.activation_forward("elu", x, 0.5),
        "activation_derivative": kernels.activation_derivative("tanh", x, np.tanh(x)),
        "activation_backward": kernels.activation_backward("tanh", x, x, np.tanh(x)),
        "dense_forward": z,
        "dense_backward": kernels.dense_backward(d, x, w),
        "dense_act_forward": kernels.dense_act_forward(x, w, b, "leaky_relu", 0.2),
        "dense_act_backward": kernels.dense_act_backward(d, x, w, d, np.tanh(d), "tanh"),
        "mse_forward": kernels.mse_forward(x, x[::-1].copy()),
        "mse_backward": kernels.mse_backward(t, t[::-1].copy()),
        "loss_forward_backward": kernels.loss_forward_backward("cross_entropy", x, np.abs(x[::-1])),
        "layernorm_forward": kernels.layernorm_forward(d, g, b),
        "layernorm_backward": kernels.layernorm_backward(d, d, g, np.abs(d[:, 0]) + 0.5),
        "batchnorm_forward": kernels.batchnorm_forward(d, g, b),
        "batchnorm_backward": kernels.batchnorm_backward(d, d, g, g),
        "residual_forward": kernels.residual_forward(d, d, 0.5),
        "residual_backward": kernels.residual_backward(d, 0.5),
        "gemm": kernels.gemm(x, w, trans_b=True),
    }


def test_every_kernel_accepts_carried_arrays(carry):
    orig, back = _carried(carry)
    got, want = _kernel_calls(back), _kernel_calls(orig)
    public = {n for n in kernels.__all__ if n.islower() and not n.endswith(("_path", "_paths", "_info"))}
    assert set(got) == public
    for name in got:
        np.testing.assert_equal(got[name], want[name], err_msg=name)


# ------------------------------------------------------------------ objects


def _roundtrip(obj):
    return pickle.loads(pickle.dumps(obj))


def _assert_same_network(a, b):
    assert type(b) is pyvanish.Network
    assert b.architecture == a.architecture and b.init == a.init
    assert b.training == a.training and b.bn_momentum == a.bn_momentum
    np.testing.assert_array_equal(b._engine.params, a._engine.params)
    np.testing.assert_array_equal(b._engine.state, a._engine.state)
    assert b._engine is not a._engine
    assert b._engine.params.dtype == a._engine.params.dtype


@pytest.mark.parametrize(
    "kw",
    [
        dict(activation="tanh"),
        dict(activation="leaky_relu", alpha=0.2, init="he", dtype=np.float32),
        dict(activation="relu", batchnorm=True, residual=True, sb=0.1),
    ],
    ids=["tanh", "leaky-f32", "bn-residual"],
)
def test_network_pickles_to_an_equal_network(kw):
    net = pyvanish.Network([3, 6, 6, 2], seed=4, **kw)
    x, t = RNG.normal(size=(8, 3)), RNG.normal(size=(8, 2))
    pyvanish.train(net, x, t, steps=3, batch_size=4, lr=0.01, seed=0)  # moves params and running stats
    net.bn_momentum = 0.3
    net.training = not any(net.architecture.batchnorm)
    back = _roundtrip(net)
    _assert_same_network(net, back)
    assert back.gradient_report(x, t) == net.gradient_report(x, t)
    # an independent copy: changing the original leaves the unpickled one alone
    before = back.weights[0].copy()
    net.weights[0][...] += 1.0
    np.testing.assert_array_equal(back.weights[0], before)


@pytest.mark.parametrize("bn", [False, True])
def test_ensemble_pickles_to_an_equal_ensemble(bn):
    ens = pyvanish.Ensemble([3, 5, 5, 2], 6, activation="tanh", init="normal", sw=1.3, sb=0.2, batchnorm=bn, seed=5)
    back = _roundtrip(ens)
    assert back.architecture == ens.architecture and back.members == ens.members
    assert back.sigma_w2 == ens.sigma_w2 and back.sigma_b2 == ens.sigma_b2
    for A, B in zip(ens.weights + ens.biases, back.weights + back.biases):
        np.testing.assert_array_equal(A, B)
        assert A.dtype == B.dtype
    x, t = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 2))
    assert back.run(x, t) == ens.run(x, t)
    _assert_same_network(ens.member(2), back.member(2))


def _results():
    net = pyvanish.Network([3, 6, 6, 2], activation="sigmoid", batchnorm=True, seed=6)
    x, t = RNG.normal(size=(8, 3)), RNG.normal(size=(8, 2))
    ens = pyvanish.Ensemble([3, 6, 6, 2], 5, activation="tanh", seed=7)
    er = ens.run(x, t)
    net.training = False
    return {
        "GradientReport": net.gradient_report(x, t, return_grads=True),
        "EnsembleReport": er,
        "TheoryComparison": er.compare_theory(),
        "TrainingHistory": pyvanish.train(pyvanish.Network([3, 4, 2], seed=0), x, t, steps=5, batch_size=4),
        "Comparison": pyvanish.compare(depth=3, width=4, batch=4, seed=0),
        "SweepResult": pyvanish.sweep({"depth": [1, 2]}, width=4, batch=4),
        "JacobianSpectrum": net.jacobian_spectrum(x),
    }


@pytest.mark.parametrize("name", list(_results()))
def test_results_pickle_to_equal_objects(name):
    obj = _results()[name]
    assert type(obj).__name__ == name
    back = _roundtrip(obj)
    assert back == obj and not (back != obj)
    assert str(back) == str(obj)


def test_report_equality_sees_a_changed_value_and_nan():
    net = pyvanish.Network([3, 4, 2], seed=0)
    x, t = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 2))
    rep = net.gradient_report(x, t)
    assert rep == _roundtrip(rep)
    assert not np.isnan(rep.stats).all() and np.isnan(rep.grad_gamma).all()  # NaN fields compare equal
    net.weights[0][0, 0] += 1e-9
    assert net.gradient_report(x, t) != rep
    assert pyvanish.Network([3, 4, 2], seed=0).gradient_report(x, t + 1) != rep
    assert rep != "a report"
