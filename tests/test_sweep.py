"""pyvanish.sweep: the table equals single runs, round-trips through files, and any
executor (threads, spawned and forked processes, a Dask cluster) gives the serial result."""
import doctest
import importlib
import json
import math
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, wait

import numpy as np
import pytest

import pyvanish
from pyvanish.sweep import SweepResult, sweep

sw = importlib.import_module("pyvanish.sweep")   # the module, even if pyvanish.sweep is the function

# 3 x 2 x 2 grid points x 2 seeds = 24 runs of small networks
GRID = {"activation": ["tanh", "relu", "sigmoid"], "depth": [3, 6], "batchnorm": [False, True]}
KW = dict(seeds=(0, 1), width=12, batch=16, progress=False)
TIMEOUT = 60


@pytest.fixture(scope="module")
def serial():
    return sweep(GRID, **KW)


def _single(point, seed, batch=16, data_seed=0):
    """The same grid point run by hand: Network + gradient_report on the documented data."""
    widths = [point["width"]] * (point["depth"] + 1) + [1]
    kw = {k: v for k, v in point.items() if k not in ("depth", "width")}
    rng = np.random.default_rng([data_seed, 1])
    x, t = rng.standard_normal((batch, widths[0])), rng.standard_normal((batch, 1))
    return pyvanish.Network(widths, **kw, seed=seed).gradient_report(x, t)


def test_schema_and_values_equal_single_reports():
    grid = {"depth": [2, 4], "activation": ["sigmoid", "relu"], "residual": [False, True],
            "residual_scale": [0.5]}
    res = sweep(grid, seeds=(3, 0), width=8, batch=16, init="he", progress=False)
    assert res.columns == ("config", "depth", "width", "activation", "init", "batchnorm", "residual",
                           "residual_scale", "seed", "layer", "width_l", "grad_h", "grad_z", "grad_W",
                           "grad_b", "gain", "mean_dphi", "saturated", "dead", "nonfinite", "loss",
                           "signal_ratio", "weight_ratio", "verdict")
    assert all(tuple(r) == res.columns for r in res.records)
    assert len(res) == 2 * 2 * 2 * (3 + 5)                # configs x seeds x layers (L = depth + 1)
    i = 0
    for c, (depth, act, resid) in enumerate((d, a, r) for d in (2, 4) for a in ("sigmoid", "relu")
                                            for r in (False, True)):
        for seed in (3, 0):                               # seeds in the order given
            point = dict(depth=depth, width=8, activation=act, init="he", batchnorm=False, residual=resid,
                         residual_scale=0.5)
            rep = _single(point, seed)
            for l in range(1, depth + 2):
                row = res.records[i]
                i += 1
                assert row == {"config": c, **point, "seed": seed, "layer": l, "width_l": rep.widths[l],
                               "grad_h": rep.grad_h[l], "grad_z": rep.grad_z[l - 1], "grad_W": rep.grad_W[l - 1],
                               "grad_b": rep.grad_b[l - 1], "gain": rep.gain[l - 1],
                               "mean_dphi": rep.mean_dphi[l - 1], "saturated": rep.saturated[l - 1],
                               "dead": rep.dead[l - 1], "nonfinite": int(rep.nonfinite[l - 1]),
                               "loss": rep.loss, "signal_ratio": rep.signal_ratio,
                               "weight_ratio": rep.weight_ratio, "verdict": rep.verdict}
                assert type(row["grad_W"]) is float and type(row["nonfinite"]) is int
                assert type(row["layer"]) is int and type(row["residual"]) is bool
    assert [r["config"] for r in res.runs()] == [c for c in range(8) for _ in (3, 0)]


def test_a_sweep_reproduces_compare():
    cmp = pyvanish.compare(["sigmoid,xavier", "relu,he", "sigmoid,xavier,bn", "sigmoid,xavier,res"], depth=6,
                           width=16, batch=16, seed=0)
    res = sweep({"activation": ["sigmoid", "relu", "sigmoid", "sigmoid"], "init": ["xavier"]}, depth=6, width=16,
                batch=16, progress=False)
    runs = res.runs()
    assert runs[0]["signal_ratio"] == cmp["sigmoid+xavier"].signal_ratio
    assert [r["grad_W"] for r in res.records if r["config"] == 0] == cmp["sigmoid+xavier"].grad_W.tolist()
    bn = sweep({"activation": ["sigmoid"], "batchnorm": [True]}, depth=6, width=16, batch=16, progress=False)
    assert [r["grad_h"] for r in bn.records] == cmp["sigmoid+xavier+bn"].grad_h[1:].tolist()


@pytest.fixture(scope="module")
def nonfinite():
    """A table with NaN, Inf, zeros, None and floats of every size."""
    grid = {"activation": ["identity", "sigmoid"], "init": ["normal"], "sw": [1.0, 8.0], "gain": [None]}
    res = sweep(grid, depth=330, width=4, batch=4, progress=False)
    vals = [r[c] for r in res.records for c in ("grad_h", "gain", "signal_ratio", "weight_ratio")]
    assert any(math.isnan(v) for v in vals) and any(math.isinf(v) for v in vals)
    assert res.columns[:9] == ("config", "depth", "width", "activation", "init", "batchnorm", "residual", "sw",
                               "init_gain")                # Network's gain: not the backward gain column
    assert all(r["init_gain"] is None for r in res.records)
    assert any(r["nonfinite"] > 0 for r in res.records) and min(r["grad_W"] for r in res.records) < 1e-100
    return res


def test_csv_round_trip_is_exact(nonfinite, serial, tmp_path):
    for res in (nonfinite, serial):
        res.to_csv(tmp_path / "s.csv")
        back = SweepResult.read_csv(tmp_path / "s.csv")
        assert back.columns == res.columns
        assert repr(back.records) == repr(res.records)          # values, NaN/Inf, types (1 vs 1.0, None)
        assert back == res


def test_json_round_trip_is_exact_and_strict(nonfinite, tmp_path):
    nonfinite.to_json(tmp_path / "s.json")
    text = (tmp_path / "s.json").read_text()

    def reject(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    doc = json.loads(text, parse_constant=reject)             # no NaN/Infinity tokens
    assert doc["format"] == "pyvanish.sweep" and doc["columns"] == list(nonfinite.columns)
    assert doc["settings"]["grid"]["sw"] == [1.0, 8.0] and doc["settings"]["defaults"]["depth"] == 330
    back = SweepResult.read_json(tmp_path / "s.json")
    assert repr(back.records) == repr(nonfinite.records) and back.settings == nonfinite.settings
    with pytest.raises(ValueError, match="not a pyvanish sweep"):
        (tmp_path / "x.json").write_text("[]")
        SweepResult.read_json(tmp_path / "x.json")


def test_frame_and_parquet(nonfinite, tmp_path):
    pd = pytest.importorskip("pandas")
    df = nonfinite.to_frame()
    assert list(df.columns) == list(nonfinite.columns) and len(df) == len(nonfinite)
    assert repr(df["grad_h"].tolist()) == repr([r["grad_h"] for r in nonfinite.records])
    assert SweepResult.from_frame(df) == nonfinite
    pytest.importorskip("pyarrow")
    nonfinite.to_parquet(tmp_path / "s.parquet")
    assert SweepResult.read_parquet(tmp_path / "s.parquet") == nonfinite
    assert pd.read_parquet(tmp_path / "s.parquet").shape == df.shape


def test_errors_name_the_parameter_or_grid_point():
    with pytest.raises(ValueError, match="unknown parameter 'depht'"):
        sweep({"depht": [3]})
    with pytest.raises(TypeError, match=r"grid\['sw'\] values must be a str"):
        sweep({"sw": [[1.0, 2.0]]})
    with pytest.raises(ValueError, match="seeds"):
        sweep({"depth": [2]}, seeds=())
    with pytest.raises(ValueError, match="depth must be an integer >= 1"):
        sweep({"depth": [-1]})
    with pytest.raises(ValueError, match=r"grid point 1 .*'activation': 'nope'.* seed 0: ValueError"):
        sweep({"activation": ["tanh", "nope"]}, depth=2, width=4, batch=4, progress=False)
    with pytest.raises(ValueError, match="batch"):                 # batch norm needs more than one sample
        sweep({"batchnorm": [True]}, depth=2, width=4, batch=1, progress=False,
              executor=ThreadPoolExecutor(1))


def test_progress_callable_and_bar(capsys):
    calls = []
    sweep({"depth": [1, 2, 3]}, seeds=(0, 1), width=4, batch=4, progress=lambda d, n: calls.append((d, n)))
    assert calls == [(d, 6) for d in range(1, 7)]
    sweep({"depth": [1, 2]}, width=4, batch=4, progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err


def test_thread_pool_equals_serial_in_any_completion_order(serial):
    with ThreadPoolExecutor(max_workers=4) as ex:
        assert sweep(GRID, executor=ex, chunksize=1, **KW) == serial
        assert sweep(GRID, executor=ex, chunksize=5, **KW) == serial


def _threaded_ensemble(threads):
    """In a worker: threaded C++ work, then a statistic to compare with the parent's."""
    pyvanish.set_num_threads(threads)
    x = np.random.default_rng(1).standard_normal((4, 16))
    return pyvanish.Ensemble([16] * 6 + [1], 4000, activation="tanh", seed=0).run(x, np.zeros((4, 1))).grad_W.sum()


def _kill(pool):
    for p in list(getattr(pool, "_processes", {}).values()):
        p.kill()
    pool.shutdown(wait=False, cancel_futures=True)


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="no fork start method on this platform")
def test_fork_pool_after_threaded_cpp_work_does_not_hang(serial):
    before = pyvanish.num_threads()
    try:
        parent = _threaded_ensemble(2)               # the parent's C++ engine has run on 2 threads
        pool = ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("fork"))
        runner = ThreadPoolExecutor(max_workers=1)
        try:
            # forked children run threaded C++ work themselves, then a whole sweep
            child = [pool.submit(_threaded_ensemble, n) for n in (2, 1)]
            done, _ = wait(child, timeout=TIMEOUT)
            assert len(done) == 2, "a fork-started worker hung in threaded C++ work"
            assert [f.result() for f in child] == [parent, parent]   # bitwise, whatever the thread count
            fut = runner.submit(sweep, GRID, executor=pool, **KW)
            done, _ = wait([fut], timeout=TIMEOUT)
            assert done, "a sweep on a fork-started pool hung"
            assert fut.result() == serial
        except BaseException:
            _kill(pool)
            raise
        pool.shutdown()
        runner.shutdown()
    finally:
        pyvanish.set_num_threads(before)


def test_spawn_process_pool_equals_serial(serial):
    with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("spawn")) as ex:
        res = sweep(GRID, executor=ex, **KW)
    assert res == serial


def test_dask_cluster_equals_serial(serial):
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'pyvanish[distributed]')")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        res = sweep(GRID, executor=client.get_executor(), **KW)
        assert len(client.scheduler_info()["workers"]) == 2
    assert res == serial


def test_docstring_examples_run():
    res = doctest.testmod(sw, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted >= 5
