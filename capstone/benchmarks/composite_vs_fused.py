"""Benchmark: the lesson's composite convolution path against the fused kernels, side by side.

    python capstone/benchmarks/composite_vs_fused.py              # writes
                                   # capstone/benchmarks/results/composite_vs_fused.json
    python capstone/benchmarks/composite_vs_fused.py --rounds 3 --out /tmp/quick.json
    python capstone/benchmarks/composite_vs_fused.py --readme     # only re-render the figures
    python capstone/benchmarks/composite_vs_fused.py --baseline none   # two contenders only

The figures in packages/spatial/README.md (block ``composite_vs_fused``) are rendered from the
results file, and from ``composite_vs_fused_before.json`` beside it when it is there (this
benchmark run on the code before the composite path was made faster, issue 17: a separate run,
so under whatever load the machine had then).

The network is the course's CIFAR-10 CNN, ``tinytorch.core.training.cifar10.small_cnn()``
(conv-BN-ReLU-maxpool ×3, widths 32/64/128, then a linear layer), one batch of ``--batch``
random 32×32 RGB images with random labels, cross-entropy loss. One *step* is what training
does per batch minus the optimizer's update: forward, loss, backward (with the gradients
zeroed before). The weights never change between steps, so every step computes the same
numbers on both paths:

* **fused** — ``fused_kernels(True)``, the default: the hand-written kernels of
  ``tinytorch.core.spatial.fused`` (channels-last, reused buffers, the batch split across
  threads);
* **composite** — ``fused_kernels(False)``: the lesson's ``conv2d_composite``,
  ``max_pool2d_composite`` and ``batch_norm_composite``, made of Tensor ops and differentiated
  op by op by module 09;
* **composite-before** (unless ``--baseline none``) — the same, with the composite functions
  and the derivative rules issue 17 changed (the sliding-window fold, max/min) as they were at
  git revision ``--baseline`` (default: the commit before that change), read with ``git show``
  and swapped in for that contender's steps only. Timed in the same rounds as the other two,
  it measures before and after under the same load.

What it does, in order:

1. checks that both paths compute the same thing for the same weights and batch: logits, loss,
   every parameter gradient and the batch norms' running statistics — first in float64, where
   all of them must agree to 1e-9 (otherwise nothing is timed), then in float32, where the
   logits and the loss must agree to 1e-4 and the gradients' differences are recorded (a
   rounding difference may flip a ReLU or max-pool decision for a value within rounding of
   its rival, moving that element's gradient);
2. for each ``--threads`` setting (1 and 2 by default) pins every pool to that many threads:
   TinyTorch's runtime pool and numpy's OpenBLAS (``tinytorch.core.tensor.runtime.threads``),
   and every BLAS / OpenMP pool threadpoolctl knows of, when threadpoolctl is installed;
3. warms every contender up, then times ``--rounds`` rounds of one step each, interleaved (the
   order rotates round by round) with a 0.3 s pause before every step — OpenBLAS workers
   keep spinning for a while after numpy work and would slow whichever ran next;
4. reports medians of wall and CPU time (CPU = every thread of the process), images/s, the
   ratio composite / fused (and composite-before / fused), and the load average before and
   after each setting; writes it all to the results file.

This is a benchmark, not a test: it asserts nothing about speed. The machine is shared; read
the load averages next to the numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import types
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path

import numpy as np

import tinytorch.core.autograd  # noqa: F401  (the engine: Tensor.backward)
from tinytorch.core.spatial import functional, fused_kernels
from tinytorch.core.tensor import Tensor, graph, manual_seed
from tinytorch.core.tensor.runtime import get_blas_threads, threads
from tinytorch.core.training.cifar10 import small_cnn
from tinytorch.core.training.losses import CrossEntropyLoss

try:  # optional: pins every BLAS / OpenMP pool, not just numpy's OpenBLAS
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pragma: no cover - depends on what is installed
    threadpool_info = threadpool_limits = None

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "capstone" / "benchmarks" / "results" / "composite_vs_fused.json"
BEFORE = DEFAULT_OUT.with_name("composite_vs_fused_before.json")
README = ROOT / "packages" / "spatial" / "README.md"
PAUSE_S = 0.3
# What issue 17 changed, for the composite-before contender: these functions of composite.py
# (functional.py calls them by these names) and the derivative rules of these ops.
BASELINE_REV = "b5ab24e"  # the commit before the composite path went channels-last
COMPOSITE_FILE = "packages/spatial/src/tinytorch/core/spatial/composite.py"
COMPOSITE_FUNCS = ("conv2d_composite", "max_pool2d_composite", "avg_pool2d_composite",
                   "batch_norm_composite")
RULE_FILES = ("packages/autograd/src/tinytorch/core/autograd/derivatives/shape.py",
              "packages/autograd/src/tinytorch/core/autograd/derivatives/reductions.py")
RULE_OPS = ("sliding_window", "max", "min")


def _load() -> list:
    return [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else []


def _git() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _git_show(rev: str, path: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], capture_output=True,
                          text=True, check=True).stdout


class Baseline:
    """The composite path as it was at git revision ``rev``: that revision's composite
    functions and derivative rules of the ops issue 17 changed, swapped in by :meth:`active`."""

    def __init__(self, rev: str) -> None:
        self.rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev],
                                  capture_output=True, text=True, check=True).stdout.strip()
        module = types.ModuleType(f"tinytorch.core.spatial._composite_at_{self.rev}")
        module.__package__ = "tinytorch.core.spatial"  # its `from .geometry import ...`
        exec(compile(_git_show(rev, COMPOSITE_FILE), f"{self.rev}:{COMPOSITE_FILE}", "exec"),
             module.__dict__)
        self.funcs = {name: getattr(module, name) for name in COMPOSITE_FUNCS}
        current = dict(graph._DERIVATIVES)
        try:  # running the old rule files registers their rules: keep those of RULE_OPS
            for path in RULE_FILES:
                exec(compile(_git_show(rev, path), f"{self.rev}:{path}", "exec"),
                     {"__name__": f"_rules_at_{self.rev}"})
            self.rules = {op: graph._DERIVATIVES[op] for op in RULE_OPS}
        finally:
            graph._DERIVATIVES.clear()
            graph._DERIVATIVES.update(current)

    @contextmanager
    def active(self):
        funcs = {name: getattr(functional, name) for name in COMPOSITE_FUNCS}
        rules = {op: graph._DERIVATIVES[op] for op in RULE_OPS}
        for name, fn in self.funcs.items():
            setattr(functional, name, fn)
        graph._DERIVATIVES.update(self.rules)
        try:
            yield
        finally:
            for name, fn in funcs.items():
                setattr(functional, name, fn)
            graph._DERIVATIVES.update(rules)


def make_batch(batch: int, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    return x, y


def cast_model(model, dtype) -> None:
    """Every float parameter and buffer of ``model`` in ``dtype``."""
    for t in list(model.parameters()) + list(model.buffers()):
        if t.data.dtype.kind == "f":
            t.data = t.data.astype(dtype)


def run_step(model, loss_fn, x: np.ndarray, y: np.ndarray, path: str,
             baseline: Baseline | None = None):
    """One step of contender ``path``: zero the gradients, forward, loss, backward.
    Returns (logits, loss)."""
    model.zero_grad()
    old = baseline.active() if path == "composite-before" else nullcontext()
    with fused_kernels(path == "fused"), old:
        logits = model(Tensor(x, dtype=x.dtype))
        loss = loss_fn(logits, y)
        loss.backward()
    return logits, loss


def _snapshot(model) -> dict:
    return {name: t.data.copy() for name, t in model.state_dict(keep_vars=True).items()}


def _restore(model, snapshot: dict) -> None:
    for name, t in model.state_dict(keep_vars=True).items():
        t.data[...] = snapshot[name]


def compare(model, loss_fn, x: np.ndarray, y: np.ndarray, dtype, path: str = "composite",
            baseline: Baseline | None = None) -> dict:
    """Contender ``path`` against the fused kernels on the same weights and batch: the largest
    |difference| / max |fused| of the logits, of every parameter's gradient and of the running
    statistics, and the losses."""
    cast_model(model, dtype)
    start = _snapshot(model)
    seen = {}
    for contender in ("fused", path):
        _restore(model, start)
        logits, loss = run_step(model, loss_fn, x.astype(dtype), y, contender, baseline)
        values = {"logits": logits.numpy().copy()}
        values.update({f"grad {n}": p.grad.numpy().copy() for n, p in model.named_parameters()})
        values.update({n: b.numpy().copy() for n, b in model.named_buffers()
                       if b is not None and b.data.dtype.kind == "f"})
        seen[contender] = (float(loss.item()), values)
    _restore(model, start)
    cast_model(model, np.float32)
    (loss_f, ref), (loss_c, other) = seen["fused"], seen[path]
    rel = {name: float(np.abs(other[name] - ref[name]).max() / (np.abs(ref[name]).max() + 1e-30))
           for name in ref}
    return {"contender": path, "dtype": np.dtype(dtype).name, "loss_fused": loss_f,
            "loss_composite": loss_c, "worst": max(rel.values()),
            "worst_of": max(rel, key=rel.get), "relative": rel}


def time_steps(model, loss_fn, x, y, rounds: int, warmup: int, paths: tuple,
               baseline: Baseline | None = None) -> dict:
    """Interleaved: per round one step of each contender, the order rotating (and reversing
    every other round), each after a pause. Wall (perf_counter) and CPU (process_time: every
    thread) seconds per step."""
    for _ in range(warmup):
        for path in paths:
            run_step(model, loss_fn, x, y, path, baseline)
    samples = {p: {"wall_s": [], "cpu_s": []} for p in paths}
    for r in range(rounds):
        order = paths[r % len(paths):] + paths[:r % len(paths)]
        for path in (order if r % 2 == 0 else order[::-1]):
            time.sleep(PAUSE_S)
            w0, c0 = time.perf_counter(), time.process_time()
            run_step(model, loss_fn, x, y, path, baseline)
            samples[path]["wall_s"].append(time.perf_counter() - w0)
            samples[path]["cpu_s"].append(time.process_time() - c0)
    out = {}
    for path, s in samples.items():
        wall, cpu = statistics.median(s["wall_s"]), statistics.median(s["cpu_s"])
        out[path] = {"median_wall_s": wall, "median_cpu_s": cpu, "img_per_s": len(x) / wall,
                     "wall_s": s["wall_s"], "cpu_s": s["cpu_s"]}
    out["ratio_wall"] = out["composite"]["median_wall_s"] / out["fused"]["median_wall_s"]
    out["ratio_cpu"] = out["composite"]["median_cpu_s"] / out["fused"]["median_cpu_s"]
    if "composite-before" in out:
        old = out["composite-before"]
        out["ratio_before_wall"] = old["median_wall_s"] / out["fused"]["median_wall_s"]
        out["ratio_before_cpu"] = old["median_cpu_s"] / out["fused"]["median_cpu_s"]
    return out


def _row(label: str, run: dict, contender: str = "composite") -> str:
    f, c = run["fused"], run[contender]
    ratio = (run["ratio_wall"], run["ratio_cpu"]) if contender == "composite" else (
        run["ratio_before_wall"], run["ratio_before_cpu"])
    return (f"| {label} | {run['threads']} | {f['median_wall_s'] * 1e3:.0f} ms "
            f"({f['img_per_s']:.0f} img/s) | {c['median_wall_s'] * 1e3:.0f} ms "
            f"({c['img_per_s']:.0f} img/s) | **{ratio[0]:.2f}×** | "
            f"{ratio[1]:.2f}× | {run['load_before'][0]:.1f} → {run['load_after'][0]:.1f} |")


def render_readme(results: dict, before: dict | None = None) -> str:
    """The spatial README's block of figures, from this script's results file(s)."""
    out = [f"Measured {results['date'][:16].replace('T', ' ')} UTC by `{results['command']}` "
           f"(git {results['git']}) on {results['machine']['cpus']} CPUs: the small CNN, batch "
           f"{results['batch']}, one step = forward + backward; medians of {results['rounds']} "
           f"interleaved rounds, every thread pool pinned to the count shown. The composite "
           f"path agrees with the fused one to "
           f"{max(c['worst'] for c in results['agreement'] if c['dtype'] == 'float64'):.0e} "
           "in float64 (logits, every gradient, running statistics).", "",
           "| composite code | threads | fused step | composite step | composite / fused "
           "(wall) | (CPU) | load average |", "|---|---|---|---|---|---|---|"]
    rev = results.get("baseline")
    for r in results["runs"]:
        if rev and "composite-before" in r:
            out.append(_row(f"before issue 17 (git {rev}), same run", r, "composite-before"))
        out.append(_row("now", r))
    if before is not None:
        out += [_row(f"before issue 17, its own run ({before['date'][11:16]} UTC, git "
                     f"{before['git']})", r) for r in before["runs"]]
    return "\n".join(out) + "\n"


def write_readme(results_path: Path) -> bool:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from figures import write_block

    before = json.loads(BEFORE.read_text()) if BEFORE.exists() else None
    return write_block(README, "composite_vs_fused",
                       render_readme(json.loads(results_path.read_text()), before))


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=9, help="timed steps per path and setting")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps per path and setting")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--check-batch", type=int, default=32,
                    help="batch of the float64/float32 agreement check")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--baseline", default=BASELINE_REV,
                    help="git revision of the composite-before contender, or 'none'")
    ap.add_argument("--readme", action="store_true",
                    help="only render the spatial README's figures from the results file(s)")
    args = ap.parse_args(argv)
    if args.readme:
        changed = write_readme(args.out)
        print(f"{README.relative_to(ROOT)}: {'updated' if changed else 'already up to date'}")
        return 0

    manual_seed(0)
    model = small_cnn()
    model.train()
    loss_fn = CrossEntropyLoss()
    x, y = make_batch(args.batch)
    baseline = None if args.baseline == "none" else Baseline(args.baseline)
    paths = ("fused", "composite") + (("composite-before",) if baseline else ())
    print(f"small_cnn, batch {args.batch}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
          f"load {_load()}, threadpoolctl {'yes' if threadpool_limits else 'not installed'}, "
          f"contenders {', '.join(paths)}" + (f" (git {baseline.rev})" if baseline else ""))

    # float64: everything (logits, loss, every gradient, running statistics) must agree.
    # float32: the logits and the loss must; a gradient may move by a rounding difference that
    # flipped a ReLU or max-pool decision for a value within rounding of its rival, so the
    # gradients' differences are recorded, not held to a bound.
    checks = []
    xc, yc = make_batch(args.check_batch, seed=1)
    for path in paths[1:]:
        for dtype, tol in ((np.float64, 1e-9), (np.float32, 1e-4)):
            c = compare(model, loss_fn, xc, yc, dtype, path, baseline)
            c["tolerance"] = tol
            c["checked"] = "everything" if dtype == np.float64 else "logits and loss"
            checks.append(c)
            print(f"{path} vs fused in {c['dtype']}: loss {c['loss_composite']:.10f} vs "
                  f"{c['loss_fused']:.10f}; logits {c['relative']['logits']:.1e}; worst "
                  f"relative difference {c['worst']:.1e} ({c['worst_of']})")
            held = c["worst"] if dtype == np.float64 else c["relative"]["logits"]
            if held > tol or abs(c["loss_fused"] - c["loss_composite"]) > tol:
                print(f"{path} and fused disagree in {c['dtype']} (tolerance {tol:.0e}): not "
                      "timing them")
                return 1

    runs = []
    for n in args.threads:
        with ExitStack() as stack:
            stack.enter_context(threads(n, blas=n))
            if threadpool_limits is not None:
                stack.enter_context(threadpool_limits(limits=n))
            load_before = _load()
            result = time_steps(model, loss_fn, x, y, args.rounds, args.warmup, paths, baseline)
            result.update(threads=n, blas_threads=get_blas_threads(), load_before=load_before,
                          load_after=_load())
        runs.append(result)
        f, c = result["fused"], result["composite"]
        print(f"{n} thread(s): fused {f['median_wall_s'] * 1e3:7.1f} ms ({f['img_per_s']:6.1f} img/s, "
              f"cpu {f['median_cpu_s'] * 1e3:7.1f} ms)   composite {c['median_wall_s'] * 1e3:7.1f} ms "
              f"({c['img_per_s']:6.1f} img/s, cpu {c['median_cpu_s'] * 1e3:7.1f} ms)   "
              f"composite/fused {result['ratio_wall']:.2f}× wall, {result['ratio_cpu']:.2f}× cpu   "
              f"load {load_before} -> {result['load_after']}")
        if baseline is not None:
            b = result["composite-before"]
            print(f"    composite-before {b['median_wall_s'] * 1e3:7.1f} ms (cpu "
                  f"{b['median_cpu_s'] * 1e3:7.1f} ms): {result['ratio_before_wall']:.2f}× wall, "
                  f"{result['ratio_before_cpu']:.2f}× cpu of fused")

    record = {
        "benchmark": "composite_vs_fused",
        "command": " ".join([Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:])),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "git": _git(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "numpy": np.__version__,
                    "threadpoolctl": None if threadpool_info is None else [
                        {k: i.get(k) for k in ("internal_api", "num_threads", "version")}
                        for i in threadpool_info()]},
        "model": "small_cnn(widths=(32, 64, 128)), training mode",
        "step": "zero_grad + forward + cross-entropy + backward (no optimizer update)",
        "batch": args.batch,
        "rounds": args.rounds,
        "pause_s": PAUSE_S,
        "contenders": list(paths),
        "baseline": None if baseline is None else baseline.rev,
        "agreement": checks,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.out}")
    if args.out == DEFAULT_OUT:
        write_readme(args.out)
        print(f"rendered its figures into {README.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
