"""2018 — MLPerf: how fast does your 1998 network answer, and does a server keep up?

MLPerf Inference (2018 onwards) asks a model three questions, with tinytorch-benchmarking's
scenarios:

* single-stream — one query at a time: the latency percentiles;
* offline — a batch job: images per second;
* server — queries arriving at random (Poisson) at 20 per second: does the 99th percentile of
  the latency, queueing included, stay under 100 ms? That is the pass mark.

The network is the one the 1998 milestone trained and kept (the full run's if there is one,
else the quick run's; an untrained LeNet-style network when neither ran, which times the same).
The report goes beside ``milestones.json``: ``milestones/2018-benchmarking.md`` and ``.json``.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.benchmarking import Report
from tinytorch.core.benchmarking.scenarios import offline, server, single_stream, tinytorch_predictor
from tinytorch.core.dataloader import CIFAR10, DatasetNotFoundError
from tinytorch.core.tensor import manual_seed
from tinytorch.core.training.cifar10 import CIFAR10_MEAN, CIFAR10_STD

from .base import Check, Context, Outcome
from .convolution import lenet, load_weights, weights_path

__all__ = ["TARGET_QPS", "LATENCY_BOUND", "run"]

TARGET_QPS, LATENCY_BOUND = 20.0, 0.100
FULL = {"queries": 200, "batches": 5, "runs": 5}
QUICK = {"queries": 60, "batches": 2, "runs": 3}


def _samples(ctx: Context, n: int = 64) -> tuple:
    """``n`` normalised CIFAR-10 test images, or random ones (said so) without the data."""
    try:
        images = CIFAR10(ctx.data, train=False).data[:n].astype(np.float32) / 255.0
    except DatasetNotFoundError:
        rng = np.random.default_rng(ctx.seed)
        return rng.standard_normal((n, 3, 32, 32)).astype(np.float32), "random images (no CIFAR-10)"
    mean = np.asarray(CIFAR10_MEAN, np.float32)[:, None, None]
    std = np.asarray(CIFAR10_STD, np.float32)[:, None, None]
    return (images - mean) / std, "CIFAR-10 test images"


def run(ctx: Context) -> Outcome:
    """The benchmarking module's three scenarios on the 1998 network."""
    manual_seed(ctx.seed)
    cfg = QUICK if ctx.quick else FULL
    model, origin = None, "an untrained LeNet-style network (run the 1998 milestone first)"
    for quick in (False, True):
        path = weights_path(ctx.artifacts, quick)
        if path.exists():
            model, info = load_weights(path)
            origin = (f"the 1998 network from {path} ({info['test_accuracy'] * 100:.1f}% on "
                      f"{info['test_images']:,} test images)")
            break
    model = model if model is not None else lenet()
    samples, what = _samples(ctx)
    ctx.log(f"benchmarking {origin}, on {what}")
    predict = tinytorch_predictor(model)
    report = Report("2018 milestone: MLPerf-style scenarios on the 1998 network")
    single = single_stream(predict, samples, queries=cfg["queries"], warmup=5, name="lenet",
                           seed=ctx.seed)
    report.add(single, "Single-stream")
    off = offline(predict, samples, batch_size=64, batches=cfg["batches"], runs=cfg["runs"],
                  name="lenet")
    report.add(off, "Offline")
    srv = server(predict, samples, target_qps=TARGET_QPS, queries=cfg["queries"],
                 latency_bound=LATENCY_BOUND, seed=ctx.seed, name="lenet")
    report.add(srv, "Server")
    for part in (single, off, srv):
        ctx.log(part.to_markdown().rstrip())
    ctx.artifacts.mkdir(parents=True, exist_ok=True)
    md = report.save(ctx.artifacts / "2018-benchmarking.md")
    report.save(ctx.artifacts / "2018-benchmarking.json")
    ctx.log(f"report: {md} (and .json)")
    p = single.percentiles
    details = {"model": origin, "samples": what, "single_stream_ms": {k: v * 1e3 for k, v in p.items()},
               "offline_images_per_second": off.throughput,
               "server": {"target_qps": TARGET_QPS, "achieved_qps": srv.achieved_qps,
                          "p99_ms": srv.tail_latency * 1e3, "bound_ms": LATENCY_BOUND * 1e3},
               "report": str(md)}
    return Outcome([Check(f"server p99 latency at {TARGET_QPS:g} queries/s (s)", srv.tail_latency,
                          "<=", LATENCY_BOUND)], details)
