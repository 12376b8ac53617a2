"""MLPerf-style scenarios on a fake clock with fake models of known service time: the Poisson
generator's statistics, queueing delay counted in server latencies, percentiles, throughput."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.benchmarking import (build_tinytorch, get_model_spec, offline, poisson_arrivals,
                                         repeat_runs, server, single_stream, tinytorch_predictor)


def fixed_service(clock, seconds, per_sample=0.0, calls=None):
    """A fake model: a batch of n samples takes ``seconds + n * per_sample`` on ``clock``."""
    def predict(batch):
        if calls is not None:
            calls.append(batch.shape[0])
        clock.advance(seconds + batch.shape[0] * per_sample)
    return predict


def reference_queue(arrivals, service, max_batch=1):
    """A plain simulation of a single FIFO server that batches what has arrived."""
    starts, finishes, sizes = [], [], []
    free, i, n = 0.0, 0, len(arrivals)
    while i < n:
        now = max(free, arrivals[i])
        j = i + 1
        while j < n and j - i < max_batch and arrivals[j] <= now:
            j += 1
        finish = now + service(j - i)
        starts += [now] * (j - i)
        finishes += [finish] * (j - i)
        sizes += [j - i] * (j - i)
        free, i = finish, j
    return np.array(starts), np.array(finishes), sizes


# ------------------------------------------------------------------ Poisson arrivals
def test_poisson_inter_arrival_statistics():
    rate = 100.0
    t = poisson_arrivals(50_000, rate, seed=0)
    gaps = np.diff(np.concatenate([[0.0], t]))
    assert np.all(gaps > 0) and np.all(np.diff(t) > 0)
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.03)   # exponential: CV = 1
    # memoryless: P(gap > 1/λ) = e^-1, P(gap > 2/λ) = e^-2
    assert np.mean(gaps > 1 / rate) == pytest.approx(np.exp(-1), abs=0.01)
    assert np.mean(gaps > 2 / rate) == pytest.approx(np.exp(-2), abs=0.01)
    # counts per second are Poisson(λ): variance = mean = λ
    counts = np.bincount(t.astype(int))[:-1]
    assert counts.mean() == pytest.approx(rate, rel=0.03)
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=0.25)


def test_poisson_is_seeded():
    a = poisson_arrivals(10, 5.0, seed=42)
    np.testing.assert_array_equal(a, poisson_arrivals(10, 5.0, seed=42))
    assert not np.array_equal(a, poisson_arrivals(10, 5.0, seed=43))
    with pytest.raises(ValueError):
        poisson_arrivals(10, 0.0)
    with pytest.raises(ValueError):
        poisson_arrivals(0, 1.0)


# ------------------------------------------------------------------ server
def test_server_latency_is_queue_wait_plus_service(clock):
    service = 0.010
    samples = np.zeros((3, 2), np.float32)
    # 150 queries/s against a 10 ms server: utilisation 1.5, a queue builds up
    result = server(fixed_service(clock, service), samples, target_qps=150, queries=60,
                    latency_bound=0.05, warmup=0, seed=1, clock=clock, sleep=clock.sleep)
    arrivals = poisson_arrivals(60, 150, seed=1)
    np.testing.assert_allclose(result.arrivals, arrivals)
    starts, finishes, _ = reference_queue(arrivals, lambda n: service)
    np.testing.assert_allclose(result.starts, starts, atol=1e-12)
    np.testing.assert_allclose(result.finishes, finishes, atol=1e-12)
    np.testing.assert_allclose(result.latencies, result.queue_waits + service, atol=1e-12)
    np.testing.assert_allclose(result.service_times, service, atol=1e-12)
    assert result.queue_waits.max() > 0.05        # queueing delay is counted...
    assert not result.meets_bound                 # ...and breaks the bound
    assert result.achieved_qps == pytest.approx(60 / finishes[-1])
    assert result.achieved_qps < 150


def test_server_idles_until_each_arrival(clock):
    samples = np.zeros((1, 2), np.float32)
    result = server(fixed_service(clock, 0.001), samples, target_qps=10, queries=30,
                    latency_bound=0.01, warmup=0, seed=2, clock=clock, sleep=clock.sleep)
    arrivals = poisson_arrivals(30, 10, seed=2)
    # a light load: each query starts at its arrival (the server slept until it)
    np.testing.assert_allclose(result.starts, arrivals, atol=1e-12)
    np.testing.assert_allclose(result.latencies, 0.001, atol=1e-12)
    assert result.meets_bound
    assert len(clock.sleeps) >= 25
    assert result.percentiles["p99"] == pytest.approx(0.001)


def test_server_batches_waiting_queries(clock):
    calls = []
    predict = fixed_service(clock, 0.004, per_sample=0.001, calls=calls)
    samples = np.arange(10, dtype=np.float32).reshape(5, 2)
    result = server(predict, samples, target_qps=400, queries=80, latency_bound=0.1,
                    max_batch=4, warmup=0, seed=3, clock=clock, sleep=clock.sleep)
    arrivals = poisson_arrivals(80, 400, seed=3)
    starts, finishes, sizes = reference_queue(arrivals, lambda n: 0.004 + 0.001 * n, max_batch=4)
    np.testing.assert_allclose(result.finishes, finishes, atol=1e-12)
    assert list(result.batch_sizes) == sizes
    assert max(calls) == 4 and min(calls) >= 1 and sum(calls) == 80
    np.testing.assert_allclose(result.latencies, result.queue_waits + result.service_times,
                               atol=1e-12)


def test_server_report(clock):
    result = server(fixed_service(clock, 0.002), np.zeros((2, 2), np.float32), target_qps=50,
                    queries=20, latency_bound=0.02, warmup=2, clock=clock, sleep=clock.sleep)
    d = result.to_dict()
    assert d["scenario"] == "server" and d["queries"] == 20 and len(d["latencies"]) == 20
    assert d["meets_bound"] is True and d["target_qps"] == 50
    md = result.to_markdown()
    assert "**met**" in md and "| p99 |" in md
    with pytest.raises(ValueError):
        server(fixed_service(clock, 0.0), np.zeros((2, 2)), target_qps=5, max_batch=0)


# ------------------------------------------------------------------ single-stream, offline
def test_single_stream_latency_tail(clock):
    durations = iter([0.5] * 3 + [0.001 * (i + 1) for i in range(100)])  # 3 warm-up queries

    def predict(batch):
        assert batch.shape == (1, 2)
        clock.advance(next(durations))

    result = single_stream(predict, np.zeros((4, 2), np.float32), queries=100, warmup=3,
                           clock=clock, name="fake")
    assert len(result.latencies) == 100
    p = result.percentiles
    assert p["p50"] == pytest.approx(0.0505)
    assert p["p90"] == pytest.approx(0.0901)
    assert p["p99"] == pytest.approx(0.09901)
    assert result.mean == pytest.approx(0.0505)
    ci = result.intervals["p99"]
    assert ci.low <= p["p99"] <= ci.high and ci.method == "bootstrap"
    assert result.to_dict()["queries"] == 100
    assert "| p99 | 99.010 |" in result.to_markdown()


def test_offline_throughput(clock):
    per_batch = iter([1.0] + [0.1] * 3 + [0.2] * 3 + [0.05] * 3)   # warm-up, then 3 runs of 3

    def predict(batch):
        assert batch.shape == (8, 3)
        clock.advance(next(per_batch))

    result = offline(predict, np.zeros((20, 3), np.float32), batch_size=8, batches=3, runs=3,
                     warmup=1, clock=clock)
    assert result.run_throughputs == pytest.approx((80.0, 40.0, 160.0))
    assert result.throughput == pytest.approx(80.0)
    assert result.interval.estimate == pytest.approx(280 / 3)
    assert result.interval.low < 40 < 160 < result.interval.high
    assert "batch 8" in result.to_markdown()


def test_repeat_runs_intervals(clock):
    values = iter([0.01, 0.02, 0.03])

    def run():
        return server(fixed_service(clock, next(values)), np.zeros((1, 1), np.float32),
                      target_qps=1, queries=5, warmup=0, clock=clock, sleep=clock.sleep)

    rep = repeat_runs(run, runs=3, metrics=["p50", "mean_service"])
    assert set(rep.intervals) == {"p50", "mean_service"}
    ci = rep.intervals["mean_service"]
    assert ci.estimate == pytest.approx(0.02)
    assert ci.low < 0.01 and ci.high > 0.03
    assert rep.to_dict()["runs"] == 3 and "repeated 3 times" in rep.to_markdown()
    assert "| mean_service | 20 ms |" in rep.to_markdown()
    batches = repeat_runs(run_batches(clock), runs=2, metrics=["mean_batch"])
    assert "| mean_batch | 1 |" in batches.to_markdown()  # a count, not seconds
    with pytest.raises(ValueError):
        repeat_runs(run, runs=1)


def run_batches(clock):
    def run():
        return server(fixed_service(clock, 0.01), np.zeros((1, 1), np.float32), target_qps=1,
                      queries=3, warmup=0, clock=clock, sleep=clock.sleep)
    return run


def test_real_model_predictor_smoke():
    model = build_tinytorch(get_model_spec("mlp"))
    predict = tinytorch_predictor(model)
    x = np.zeros((3, 784), np.float32)
    assert predict(x).shape == (3, 10)
    assert not model.training
    result = single_stream(predict, x, queries=5, warmup=1)
    assert len(result.latencies) == 5 and all(t > 0 for t in result.latencies)
