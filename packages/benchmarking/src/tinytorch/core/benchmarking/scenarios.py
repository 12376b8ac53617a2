"""MLPerf-style inference scenarios, each measured on the clock of the machine it runs on.

MLPerf Inference asks three different questions of the same model, because users ask them:

* **single-stream** — one query at a time, the next sent when the previous answer is back
  (a phone recognising one photo). The figure is the *latency distribution*: p50, p90, p99.
* **offline** — all the data is there at once (a night's batch job). The figure is
  *throughput*, samples per second at a batch size of your choosing.
* **server** — queries arrive on their own schedule, at random, at some average rate (a web
  service). The load generator is *open loop*: arrivals do not wait for the server. A query
  that arrives while the server is busy waits in a queue, and that wait is part of its
  latency. The figure is the highest rate whose tail latency stays under a bound.

A *predictor* here is any callable that takes a numpy batch ``(n, *sample_shape)`` and runs
the model on it; :func:`tinytorch_predictor` makes one from a TinyTorch model (eval mode,
no graph). The clock (and, for the server, ``sleep``) are arguments, so the scenarios'
arithmetic is tested on a fake clock with a fake model of known service time.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.kernels import benchmark
from tinytorch.core.layers import Module
from tinytorch.core.tensor import from_numpy

from .format import format_rate, markdown_table
from .stats import Interval, bootstrap_interval, percentile, percentiles, t_interval

__all__ = [
    "tinytorch_predictor", "poisson_arrivals",
    "LatencyResult", "ThroughputResult", "ServerResult", "Repeated",
    "single_stream", "offline", "server", "repeat_runs",
]

Predictor = Callable[[np.ndarray], Any]
Clock = Callable[[], float]


def tinytorch_predictor(model: Module) -> Predictor:
    """``predict(batch)``: ``model`` in eval mode, without recording a graph.

    The numpy batch is wrapped without a copy, as a server would hand over its buffer.
    """
    model.eval()

    def predict(batch: np.ndarray) -> Any:
        with no_grad():
            return model(from_numpy(np.ascontiguousarray(batch)))
    return predict


def _check_samples(samples: Any, what: str) -> np.ndarray:
    data = np.asarray(samples)
    if data.ndim < 1 or data.shape[0] < 1:
        raise ValueError(f"{what}: samples must be an array (n, *sample_shape) with n >= 1, "
                         f"got shape {data.shape}")
    return data


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


# --------------------------------------------------------------------------- single-stream
@dataclass(frozen=True)
class LatencyResult:
    """Single-stream: the latency of each query, one at a time.

    Attributes:
        name: the model's label.
        latencies: seconds, one per timed query, in order.
        warmup: untimed queries sent first.
        intervals: bootstrap confidence intervals of p50, p90 and p99 (seconds).
    """

    name: str
    latencies: tuple
    warmup: int
    intervals: dict = field(default_factory=dict)
    scenario: str = "single-stream"

    @property
    def percentiles(self) -> dict:
        """p50, p90, p99 of the latencies (seconds)."""
        return percentiles(self.latencies, (50, 90, 99))

    @property
    def mean(self) -> float:
        """Mean latency (seconds)."""
        return float(np.mean(self.latencies))

    @property
    def qps(self) -> float:
        """Queries per second one stream achieves: 1 / mean latency."""
        return 1.0 / self.mean if self.mean > 0 else math.inf

    def metrics(self) -> dict:
        """The headline numbers: p50, p90, p99, mean (seconds) and qps."""
        return {**self.percentiles, "mean": self.mean, "qps": self.qps}

    def to_dict(self) -> dict:
        """Plain values, for JSON (latencies in seconds)."""
        return {"kind": "scenario", "scenario": self.scenario, "name": self.name,
                "queries": len(self.latencies), "warmup": self.warmup, **self.metrics(),
                "intervals": {k: v.to_dict() for k, v in self.intervals.items()},
                "latencies": list(self.latencies)}

    def to_markdown(self) -> str:
        """A table of the percentiles with their confidence intervals."""
        rows = []
        for key, value in self.percentiles.items():
            ci = self.intervals.get(key)
            rows.append([key, _ms(value),
                         f"[{_ms(ci.low)}, {_ms(ci.high)}]" if ci else "--"])
        rows.append(["mean", _ms(self.mean), "--"])
        level = next(iter(self.intervals.values())).level if self.intervals else 0.95
        head = ["latency", "ms", f"{level:.0%} CI (bootstrap)"]
        return (f"Single-stream, **{self.name}**: {len(self.latencies)} queries of one sample "
                f"after {self.warmup} warm-up queries; {self.qps:.1f} queries/s.\n\n"
                + markdown_table(head, rows, "lrr") + "\n")


def single_stream(predict: Predictor, samples: Any, queries: int = 200, warmup: int = 10,
                  name: str = "model", level: float = 0.95, clock: Clock | None = None,
                  seed: int = 0) -> LatencyResult:
    """Send ``queries`` one-sample queries one after another and time each.

    Query ``i`` carries ``samples[i % n]`` (as a batch of one). The first ``warmup`` queries
    are not timed (the first calls allocate buffers and warm caches). Percentile CIs come
    from :func:`bootstrap_interval` over the latencies.
    """
    data = _check_samples(samples, "single_stream")
    if queries < 2:
        raise ValueError(f"single_stream: need at least 2 queries, got {queries}")
    counter = [0]

    def one_query() -> None:
        i = counter[0] % data.shape[0]
        counter[0] += 1
        predict(data[i:i + 1])

    timing = benchmark(one_query, repeat=queries, warmup=warmup, number=1, timer=clock,
                       name=name)
    lat = np.asarray(timing.times)
    intervals = {f"p{q}": bootstrap_interval(lat, lambda x, q=q, **kw: _pct(x, q, **kw),
                                             level=level, seed=seed)
                 for q in (50, 90, 99)}
    return LatencyResult(name, tuple(float(t) for t in lat), warmup, intervals)


def _pct(x: np.ndarray, q: float, axis: int | None = None) -> Any:
    """numpy's linear percentile (the same definition as :func:`percentile`), row-wise."""
    return np.percentile(x, q, axis=axis)


# --------------------------------------------------------------------------- offline
@dataclass(frozen=True)
class ThroughputResult:
    """Offline: samples per second at a batch size, over repeated runs.

    Attributes:
        name: the model's label.
        batch_size: samples per batch.
        batches: batches per run.
        run_throughputs: samples/s of each run.
        interval: t confidence interval of the mean throughput over runs.
    """

    name: str
    batch_size: int
    batches: int
    run_throughputs: tuple
    interval: Interval | None
    scenario: str = "offline"

    @property
    def throughput(self) -> float:
        """Median samples/s over the runs."""
        return percentile(self.run_throughputs, 50)

    def metrics(self) -> dict:
        """The headline numbers."""
        return {"throughput": self.throughput, "batch_size": self.batch_size}

    def to_dict(self) -> dict:
        """Plain values, for JSON."""
        return {"kind": "scenario", "scenario": self.scenario, "name": self.name,
                "batch_size": self.batch_size, "batches_per_run": self.batches,
                "throughput": self.throughput, "run_throughputs": list(self.run_throughputs),
                "interval": None if self.interval is None else self.interval.to_dict()}

    def to_markdown(self) -> str:
        """One line with the throughput and its CI."""
        ci = ""
        if self.interval is not None:
            ci = (f", mean {format_rate(self.interval.estimate)} with {self.interval.level:.0%} "
                  f"CI [{self.interval.low:,.0f}, {self.interval.high:,.0f}] (t, "
                  f"{self.interval.n} runs)")
        return (f"Offline, **{self.name}**: batch {self.batch_size}, {self.batches} batches per "
                f"run: median {format_rate(self.throughput)}{ci}.\n")


def offline(predict: Predictor, samples: Any, batch_size: int = 64, batches: int = 5,
            runs: int = 5, warmup: int = 1, name: str = "model", level: float = 0.95,
            clock: Clock | None = None) -> ThroughputResult:
    """Time ``runs`` runs of ``batches`` batches each; report samples/s per run with a t-CI.

    The batches are cut from ``samples`` (cycled if it has fewer than ``batch_size`` rows)
    before any timing, so only the model is timed.
    """
    data = _check_samples(samples, "offline")
    if batch_size < 1 or batches < 1 or runs < 1:
        raise ValueError(f"offline: batch_size, batches and runs must be >= 1, got "
                         f"{batch_size}, {batches}, {runs}")
    n = data.shape[0]
    distinct = max(1, min(4, math.ceil(n / batch_size)))
    prepared = [np.ascontiguousarray(np.take(data, np.arange(i * batch_size, (i + 1) * batch_size) % n,
                                             axis=0)) for i in range(distinct)]
    counter = [0]

    def one_batch() -> None:
        predict(prepared[counter[0] % distinct])
        counter[0] += 1

    timing = benchmark(one_batch, repeat=runs, warmup=warmup, number=batches, timer=clock,
                       name=name)
    rates = tuple(batch_size / t if t > 0 else math.inf for t in timing.times)
    interval = t_interval(rates, level) if runs >= 2 and all(map(math.isfinite, rates)) else None
    return ThroughputResult(name, batch_size, batches, rates, interval)


# --------------------------------------------------------------------------- server
def poisson_arrivals(n: int, rate: float, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Arrival times (seconds from the start) of ``n`` queries of a Poisson process.

    In a Poisson process of rate λ the gaps between arrivals are independent and exponential
    with mean 1/λ: ``gap = -ln(U) / λ`` for U uniform in (0, 1]. The arrivals are the running
    sum of the gaps — so the first query arrives after one gap, not at 0.

    Example:
        >>> t = poisson_arrivals(10000, rate=50.0, seed=0)
        >>> round(float(np.diff(t).mean()), 3)       # about 1/50
        0.02
    """
    if n < 1:
        raise ValueError(f"poisson_arrivals: n must be >= 1, got {n}")
    if not rate > 0:
        raise ValueError(f"poisson_arrivals: rate must be > 0 queries/s, got {rate}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    ### BEGIN SOLUTION
    ### HINT: rng.random(n) is uniform in [0, 1); 1 - it is in (0, 1], safe to take the log of
    gaps = -np.log(1.0 - rng.random(n)) / rate
    return np.cumsum(gaps)
    ### END SOLUTION


@dataclass(frozen=True)
class ServerResult:
    """Server: an open-loop Poisson load at a target rate, with queueing counted.

    Attributes:
        name: the model's label.
        target_qps: the rate the arrivals were drawn at.
        arrivals: scheduled arrival time of each query (seconds from the start).
        starts: when the server started the batch holding each query.
        finishes: when that batch finished.
        batch_sizes: size of the batch each query was served in.
        latency_bound: the latency the tail must stay under (seconds).
        bound_percentile: which percentile must stay under it (MLPerf: 99).
    """

    name: str
    target_qps: float
    arrivals: tuple
    starts: tuple
    finishes: tuple
    batch_sizes: tuple
    latency_bound: float
    bound_percentile: float = 99.0
    scenario: str = "server"

    @property
    def latencies(self) -> np.ndarray:
        """Finish - arrival of each query: queueing delay plus service time (seconds)."""
        return np.asarray(self.finishes) - np.asarray(self.arrivals)

    @property
    def queue_waits(self) -> np.ndarray:
        """Start - arrival: how long each query waited for the server."""
        return np.asarray(self.starts) - np.asarray(self.arrivals)

    @property
    def service_times(self) -> np.ndarray:
        """Finish - start: how long the batch holding each query ran."""
        return np.asarray(self.finishes) - np.asarray(self.starts)

    @property
    def duration(self) -> float:
        """From the first arrival to the last finish (seconds)."""
        return float(self.finishes[-1] - self.arrivals[0])

    @property
    def achieved_qps(self) -> float:
        """Queries completed per second: n / (last finish), timed from the moment the load
        generator started. A server that keeps up achieves about the target rate; one that
        falls behind finishes late and achieves less."""
        return len(self.arrivals) / float(self.finishes[-1]) if self.finishes[-1] > 0 else math.inf

    @property
    def percentiles(self) -> dict:
        """p50, p90, p99 of the latencies (seconds)."""
        return percentiles(self.latencies, (50, 90, 99))

    @property
    def tail_latency(self) -> float:
        """The latency at ``bound_percentile``."""
        return percentile(self.latencies, self.bound_percentile)

    @property
    def meets_bound(self) -> bool:
        """Whether the tail latency is within the bound (the run is "valid" in MLPerf terms)."""
        return self.tail_latency <= self.latency_bound

    def metrics(self) -> dict:
        """The headline numbers (seconds, queries/s)."""
        return {**self.percentiles, "target_qps": self.target_qps,
                "achieved_qps": self.achieved_qps,
                "mean_queue_wait": float(self.queue_waits.mean()),
                "mean_service": float(self.service_times.mean()),
                "mean_batch": float(np.mean(self.batch_sizes)),
                "meets_bound": self.meets_bound}

    def to_dict(self) -> dict:
        """Plain values, for JSON."""
        return {"kind": "scenario", "scenario": self.scenario, "name": self.name,
                "queries": len(self.arrivals), "latency_bound": self.latency_bound,
                "bound_percentile": self.bound_percentile, **self.metrics(),
                "latencies": self.latencies.tolist(), "queue_waits": self.queue_waits.tolist()}

    def to_markdown(self) -> str:
        """A table of latency, queueing and service percentiles and the verdict on the bound."""
        lat, wait, serv = self.latencies, self.queue_waits, self.service_times
        rows = [[key, _ms(percentile(lat, q)), _ms(percentile(wait, q)), _ms(percentile(serv, q))]
                for key, q in (("p50", 50), ("p90", 90), ("p99", 99))]
        status = "**met**" if self.meets_bound else "**NOT met**"
        return (f"Server, **{self.name}**: {len(self.arrivals)} Poisson arrivals at "
                f"{self.target_qps:.1f} queries/s (target); achieved {self.achieved_qps:.1f} "
                f"queries/s; mean batch {np.mean(self.batch_sizes):.2f}. Latency bound "
                f"p{self.bound_percentile:g} <= {self.latency_bound * 1e3:.1f} ms: {status} "
                f"(p{self.bound_percentile:g} = {self.tail_latency * 1e3:.2f} ms).\n\n"
                + markdown_table(["", "latency ms", "queue wait ms", "service ms"], rows, "lrrr")
                + "\n")


def _run_server(predict: Predictor, data: np.ndarray, arrivals: np.ndarray, max_batch: int,
                clock: Clock, sleep: Callable[[float], None]) -> tuple:
    """The load generator and the server, one thread: returns (starts, finishes, batch sizes).

    The server is a single FIFO worker. When it is free it takes every query that has arrived
    (at most ``max_batch``) and runs them as one batch; when nothing has arrived it sleeps
    until the next arrival. Times are measured from ``origin``, the clock when the run began,
    against the *scheduled* arrivals: if the server (or ``sleep``) is late, that lateness is
    queueing delay, as a client would see it.

    Args:
        predict: called once per batch with an array of rows of ``data``.
        data: the samples; query i carries row ``i % len(data)``.
        arrivals: (n,) scheduled arrival times in seconds after ``origin``, non-decreasing.
        max_batch: the most queries one call of ``predict`` may serve.
        clock: returns seconds; sleep: waits that many seconds (both fakeable in tests).

    Returns:
        ``(starts, finishes, sizes)``, each of shape (n,): when query i's batch started and
        finished (seconds after ``origin``) and how many queries that batch held.
    """
    n = len(arrivals)
    starts = np.empty(n)
    finishes = np.empty(n)
    sizes = np.empty(n, dtype=np.int64)
    samples = data.shape[0]
    origin = clock()
    i = 0
    ### BEGIN SOLUTION
    ### HINT: now = clock() - origin; if idle, sleep until arrivals[i]; then serve the queue
    ### HINT: the batch is queries i..j-1: every one that has arrived by `now`, at most max_batch
    while i < n:
        now = clock() - origin
        if arrivals[i] > now:
            sleep(arrivals[i] - now)
            now = max(clock() - origin, arrivals[i])  # no busy loop on rounding errors
        j = i + 1
        while j < n and j - i < max_batch and arrivals[j] <= now:
            j += 1
        batch = np.take(data, np.arange(i, j) % samples, axis=0)
        start = clock() - origin
        predict(batch)
        finish = clock() - origin
        starts[i:j] = start
        finishes[i:j] = finish
        sizes[i:j] = j - i
        i = j
    ### END SOLUTION
    return starts, finishes, sizes


def server(predict: Predictor, samples: Any, target_qps: float, queries: int = 200,
           latency_bound: float = 0.1, bound_percentile: float = 99.0, max_batch: int = 1,
           warmup: int = 5, seed: int = 0, name: str = "model", clock: Clock | None = None,
           sleep: Callable[[float], None] | None = None) -> ServerResult:
    """Run an open-loop Poisson load of ``queries`` queries at ``target_qps`` against ``predict``.

    Args:
        predict: the model, as a predictor.
        samples: the data queries carry (query i carries sample ``i % n``).
        target_qps: the Poisson arrival rate.
        queries: how many queries to send.
        latency_bound: seconds the ``bound_percentile`` latency must stay under.
        bound_percentile: 99 in MLPerf's server scenario.
        max_batch: largest batch the server forms from waiting queries (1: no batching).
        warmup: untimed single-sample calls before the run.
        seed: seed of the arrivals (the same seed, the same schedule).
        name: label for the report.
        clock: seconds as a float (default ``time.perf_counter``).
        sleep: waits that many seconds (default ``time.sleep``).
    """
    data = _check_samples(samples, "server")
    if max_batch < 1:
        raise ValueError(f"server: max_batch must be >= 1, got {max_batch}")
    if not latency_bound > 0:
        raise ValueError(f"server: latency_bound must be > 0 seconds, got {latency_bound}")
    clock = time.perf_counter if clock is None else clock
    sleep = time.sleep if sleep is None else sleep
    for k in range(warmup):
        predict(data[k % data.shape[0]:k % data.shape[0] + 1])
    arrivals = poisson_arrivals(queries, target_qps, seed)
    starts, finishes, sizes = _run_server(predict, data, arrivals, max_batch, clock, sleep)
    return ServerResult(name, float(target_qps), tuple(arrivals.tolist()),
                        tuple(starts.tolist()), tuple(finishes.tolist()),
                        tuple(int(s) for s in sizes), float(latency_bound),
                        float(bound_percentile))


# --------------------------------------------------------------------------- repeated runs
_SECONDS_METRICS = {"p50", "p90", "p99", "mean", "mean_queue_wait", "mean_service"}


@dataclass(frozen=True)
class Repeated:
    """The same scenario run several times, with a t confidence interval per metric.

    Attributes:
        results: one result per run.
        intervals: metric name -> :class:`Interval` over the runs.
    """

    results: tuple
    intervals: dict

    def to_dict(self) -> dict:
        """Plain values, for JSON."""
        return {"kind": "repeated", "runs": len(self.results),
                "intervals": {k: v.to_dict() for k, v in self.intervals.items()},
                "results": [r.to_dict() for r in self.results]}

    def to_markdown(self) -> str:
        """A table: metric, mean over runs, CI."""
        first = self.results[0]
        rows = []
        for key, ci in self.intervals.items():
            seconds = key in _SECONDS_METRICS
            scale, unit = (1e3, " ms") if seconds else (1.0, "")
            rows.append([key, f"{ci.estimate * scale:.4g}{unit}",
                         f"[{ci.low * scale:.4g}, {ci.high * scale:.4g}]{unit}"])
        level = next(iter(self.intervals.values())).level if self.intervals else 0.95
        return (f"{first.scenario}, **{getattr(first, 'name', '')}**, repeated "
                f"{len(self.results)} times (mean over runs, t-interval):\n\n"
                + markdown_table(["metric", "mean", f"{level:.0%} CI"], rows, "lrr") + "\n")


def repeat_runs(run: Callable[[], Any], runs: int = 5, level: float = 0.95,
                metrics: Sequence[str] | None = None) -> Repeated:
    """Call ``run()`` ``runs`` times; a t-interval over the runs for each numeric metric.

    ``run`` returns a scenario result (anything with ``metrics()``); ``metrics`` picks which
    (default: every numeric one).
    """
    if runs < 2:
        raise ValueError(f"repeat_runs: need at least 2 runs for an interval, got {runs}")
    results = tuple(run() for _ in range(runs))
    names = metrics or [k for k, v in results[0].metrics().items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)]
    intervals = {}
    for key in names:
        values = [float(r.metrics()[key]) for r in results]
        if np.ptp(values) == 0.0:
            intervals[key] = Interval(values[0], values[0], values[0], level, "t", runs)
        else:
            intervals[key] = t_interval(values, level)
    return Repeated(results, intervals)
