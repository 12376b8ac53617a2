"""The shared harness of ``cnn_vs_torch.py``, ``mlp_vs_torch.py`` and ``transformer_vs_torch.py``.

TinyTorch against PyTorch on the CPU, side by side in one process, by rules that favour
neither (issue 19):

* **PyTorch at its defaults; no threading policy on either side.** The scripts set no wait
  policy, spin count, affinity or thread-count variable for either side, and refuse to run when
  the environment carries one (``refuse_handicaps``: an OpenMP variable reaches only PyTorch's
  pool, an OpenBLAS one only numpy's, so it would favour one side). Every run says so in its
  output and results file (``THREADING_POLICY``). A setting offered is applied to both: a row's thread count goes to ``torch.set_num_threads``,
  to threadpoolctl's limit for every BLAS / OpenMP pool in the process (numpy's OpenBLAS and
  PyTorch's alike) and to TinyTorch's own kernel threads (``tinytorch.core.tensor.runtime``).
  "1 thread" really is one thread for both.
* **Interleaved, with a pause.** The contenders take turns within each round, the order
  rotating from round to round, and each timed run starts after a 0.3 s pause: worker threads
  that the previous contender left spinning (OpenBLAS's do, for a while) slow whatever runs
  next otherwise.
* **Wall and CPU time**, both per step, medians over rounds; the ratio TinyTorch ÷ PyTorch
  throughput is the median of the per-round ratios (the two ran moments apart).
* **The same first step.** Before timing, both sides start from the same weights and must
  agree on the loss and every gradient of one batch to a stated tolerance (each script checks
  and prints it; the results file keeps the measured differences).
* **The load average** before and after (and per round): the course machine is shared.

Each script writes ``capstone/benchmarks/results/<name>.json`` with the command that made it;
the docs' figures are rendered from those files (``render``; ``python
capstone/benchmarks/vs_torch.py --readme`` re-renders every block) and
``integration/test_readme_figures.py`` fails when a page and a results file disagree.

This module imports neither torch nor threadpoolctl at import time (the test renders from
results files without them); ``Pinner`` and ``machine_info`` take torch as an argument.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import statistics
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RESULTS = HERE / "results"
PAUSE_S = 0.3

sys.path.insert(0, str(HERE))
from figures import read_block, write_block  # noqa: E402

# Environment variables that change how one side's threads behave (wait policy, spin time,
# affinity, thread counts), recognised by their library's prefix: OpenMP (GNU and Intel), MKL,
# OpenBLAS/GotoBLAS, oneDNN, and TinyTorch's own thread count. The scripts set thread counts
# themselves, for both sides alike, and set no policy at all.
THREAD_ENV_PREFIXES = ("OMP_", "GOMP_", "KMP_", "MKL_", "OPENBLAS_", "GOTO_", "DNNL_", "ONEDNN_",
                       "TINYTORCH_NUM_THREADS")
THREADING_POLICY = ("threading policy: none set, on neither side (no wait-policy, spin, affinity "
                    "or thread-count variable in the environment; both run at their defaults); "
                    "thread counts are set per row, to both sides alike")


def thread_environment() -> dict[str, str]:
    """The environment variables that would change one side's threads (empty when none is set)."""
    return {k: v for k, v in sorted(os.environ.items())
            if v and k.startswith(THREAD_ENV_PREFIXES)}


# ================================================================ settings and pinning
@dataclass(frozen=True)
class Setting:
    """A row's thread configuration: ``threads`` for both sides; ``tinytorch_blas`` is
    TinyTorch's ``threads(n, blas=...)`` option (its kernels on n threads, numpy's BLAS on
    ``tinytorch_blas``) — a TinyTorch configuration, PyTorch runs its n-thread default."""

    key: str
    threads: int
    tinytorch_blas: int | None = None
    title: str = ""


SETTINGS = {
    "1": Setting("1", 1, None, "1 thread each"),
    # TinyTorch's default with 2 threads: its kernels split the batch over 2 threads and numpy's
    # BLAS runs 1 thread inside them (the runtime's rule since issue 19; before, this needed
    # ``threads(2, blas=1)``)
    "2": Setting("2", 2, None, "2 threads, TinyTorch default"),
    # the old default, kept to show what the rule avoids: BLAS threads under TinyTorch's own
    "2b": Setting("2b", 2, 2, "2 threads, `threads(2, blas=2)`"),
}
DEFAULT_SETTINGS = ["1", "2"]


def refuse_handicaps() -> None:
    """Exit with one line when the environment sets threads or wait policies for one side."""
    found = [f"{k}={v}" for k, v in thread_environment().items()]
    if found:
        raise SystemExit(f"refusing to benchmark with {', '.join(found)} set: it changes one "
                         "side's threads (OMP_* reach only PyTorch's OpenMP pool, "
                         "OPENBLAS_* only numpy's); unset it — the script sets the thread "
                         "count of both sides itself")


def import_threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:
        raise SystemExit("threadpoolctl is needed to pin numpy's BLAS: pip install "
                         "'tinytorch-benchmarking[threads]' (or pip install threadpoolctl)")
    return threadpoolctl


def import_torch():
    try:
        import torch
    except ImportError:
        raise SystemExit("PyTorch is needed for the comparison: pip install torch==2.13.0 "
                         "(the CPU wheel)")
    return torch


class Pinner:
    """``with pin(setting):`` both sides on ``setting.threads`` threads.

    torch.set_num_threads(n); threadpoolctl's limit n on every BLAS and OpenMP pool loaded in
    the process (numpy's OpenBLAS, PyTorch's OpenMP / MKL); TinyTorch's kernels split a batch
    across n threads (``runtime.threads(n, blas=setting.tinytorch_blas)``). Everything is put
    back afterwards.
    """

    def __init__(self, torch) -> None:
        self.torch = torch
        self.controller = import_threadpoolctl().ThreadpoolController()

    @contextmanager
    def __call__(self, setting: Setting) -> Iterator[None]:
        from tinytorch.core.tensor.runtime import threads

        previous = self.torch.get_num_threads()
        with self.controller.limit(limits=setting.threads):
            self.torch.set_num_threads(setting.threads)
            try:
                with threads(setting.threads, blas=setting.tinytorch_blas):
                    yield
            finally:
                self.torch.set_num_threads(previous)

    def blas_threads(self) -> list:
        """(library, threads) of every BLAS / OpenMP pool right now."""
        return [(f"{i['internal_api']} ({os.path.basename(i['filepath'])})", i["num_threads"])
                for i in self.controller.info()]


# ================================================================ timing
@dataclass
class Contender:
    """One thing timed: ``fn()`` is one step of ``workload`` on ``side`` under ``setting``."""

    workload: str
    side: str  # "tinytorch" or "torch"
    setting: Setting
    fn: Callable[[], object]

    @property
    def name(self) -> str:
        return f"{self.workload} | {self.side} | {self.setting.key}"


def loadavg() -> list:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


def interleave(contenders: list, pin: Pinner, rounds: int, steps: int, warmup: int = 2,
               pause: float = PAUSE_S, log: Callable[[str], None] = print) -> dict:
    """Time every contender ``rounds`` times, ``steps`` steps per run, taking turns.

    The contenders compared with each other (same workload, same thread count: PyTorch and
    each TinyTorch configuration) run back to back, so a per-round ratio compares runs moments
    apart; who goes first rotates from round to round, and so does the order of the groups.
    Before each timed run the contender's threads are set and the process sleeps ``pause``
    seconds. Returns ``{"samples": {name: {"wall_ms": [...], "cpu_ms": [...]}}`` (per step, one
    entry per round), ``"load_per_round"`` and ``"threads_seen"``.
    """
    samples = {c.name: {"wall_ms": [], "cpu_ms": []} for c in contenders}
    seen = {}  # what each setting really set, read back inside it (kept in the results file)
    for setting in sorted({c.setting for c in contenders}, key=lambda s: s.key):
        from tinytorch.core.tensor.runtime import get_blas_threads, get_num_threads

        with pin(setting):
            seen[setting.key] = {"torch.get_num_threads": pin.torch.get_num_threads(),
                                 "tinytorch_kernel_threads": get_num_threads(),
                                 "numpy_openblas_threads (tinytorch runtime)": get_blas_threads(),
                                 "threadpoolctl": [f"{lib}: {n}" for lib, n in pin.blas_threads()]}
        log(f"  setting {setting.key} ({setting.title}): {seen[setting.key]}")
    for c in contenders:  # warm up: buffers, caches, thread pools, lazy initialisation
        with pin(c.setting):
            for _ in range(warmup):
                c.fn()
    groups: dict = {}
    for c in contenders:
        groups.setdefault((c.workload, c.setting.threads), []).append(c)
    groups = list(groups.values())
    load = []
    for r in range(rounds):
        order = []
        for group in groups[r % len(groups):] + groups[:r % len(groups)]:
            k = r % len(group)
            order += group[k:] + group[:k]  # who goes first rotates
        for c in order:
            with pin(c.setting):
                time.sleep(pause)
                w0, c0 = time.perf_counter(), time.process_time()
                for _ in range(steps):
                    c.fn()
                w1, c1 = time.perf_counter(), time.process_time()
            samples[c.name]["wall_ms"].append(round((w1 - w0) / steps * 1e3, 4))
            samples[c.name]["cpu_ms"].append(round((c1 - c0) / steps * 1e3, 4))
        load.append(loadavg()[:1])
        log(f"  round {r + 1}/{rounds} done (load {load[-1][0] if load[-1] else '?'})")
    return {"samples": samples, "load_per_round": [x[0] for x in load if x], "threads_seen": seen}


def pair_rows(contenders: list, timing: dict, workloads: dict) -> list:
    """One row per (workload, setting) that has a TinyTorch contender: medians and the
    TinyTorch ÷ PyTorch throughput ratio (median of the per-round ratios; PyTorch's contender
    is the one on the same number of threads)."""
    samples = timing["samples"]
    rows = []
    by = {(c.workload, c.side, c.setting.key): c for c in contenders}
    for c in contenders:
        if c.side != "tinytorch":
            continue
        ref = next((by[(c.workload, "torch", k)] for k in (c.setting.key, str(c.setting.threads))
                    if (c.workload, "torch", k) in by), None)
        if ref is None:
            continue
        ours, theirs = samples[c.name], samples[ref.name]
        per_round = [t / o for t, o in zip(theirs["wall_ms"], ours["wall_ms"])]
        per_round_cpu = [t / o for t, o in zip(theirs["cpu_ms"], ours["cpu_ms"])]
        rows.append({
            "workload": c.workload, "setting": c.setting.key,
            "title": workloads[c.workload],
            "tinytorch_ms": round(statistics.median(ours["wall_ms"]), 3),
            "torch_ms": round(statistics.median(theirs["wall_ms"]), 3),
            "tinytorch_cpu_ms": round(statistics.median(ours["cpu_ms"]), 3),
            "torch_cpu_ms": round(statistics.median(theirs["cpu_ms"]), 3),
            "ratio": round(statistics.median(per_round), 4),
            "cpu_ratio": round(statistics.median(per_round_cpu), 4),
            "per_round": [round(x, 4) for x in per_round],
        })
    return rows


def print_rows(rows: list) -> None:
    print(f"\n{'workload':44s} {'setting':34s} {'TinyTorch ms':>12s} {'PyTorch ms':>11s} "
          f"{'ratio':>7s} {'CPU ms TT / PT':>16s}")
    for r in rows:
        print(f"{r['title']:44s} {SETTINGS[r['setting']].title:34s} {r['tinytorch_ms']:12.2f} "
              f"{r['torch_ms']:11.2f} {r['ratio']:6.2f}× "
              f"{r['tinytorch_cpu_ms']:8.1f} / {r['torch_cpu_ms']:.1f}")
    print("ratio: TinyTorch ÷ PyTorch throughput (> 1: TinyTorch faster), the median of the "
          "per-round ratios;\nms: wall time per step, medians over rounds; CPU ms: the process's "
          "CPU time per step (all threads)")


# ================================================================ first-step agreement
def max_rel(a, b) -> float:
    """max |a - b| / max |b| (0 when both are 0)."""
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = float(np.abs(b).max()) if b.size else 0.0
    diff = float(np.abs(a - b).max()) if b.size else 0.0
    return diff / scale if scale > 0 else diff


def check_first_step(loss_ours: float, loss_theirs: float, grads_ours: dict, grads_theirs: dict,
                     loss_tol: float, grad_tol: float, what: str) -> dict:
    """Compare one batch's loss and gradients (same weights); print; exit when they disagree.

    ``grads_*`` map parameter names to arrays of the same shape (PyTorch's layout).
    Tolerances: the loss relative to PyTorch's, each gradient as max |difference| / max |PyTorch's|.
    """
    missing = set(grads_ours) ^ set(grads_theirs)
    if missing:
        raise SystemExit(f"{what}: parameter names differ: {sorted(missing)}")
    loss_diff = abs(loss_ours - loss_theirs) / max(abs(loss_theirs), 1e-30)
    per = {n: max_rel(grads_ours[n], grads_theirs[n]) for n in grads_theirs}
    worst = max(per, key=per.get)
    ok = loss_diff <= loss_tol and per[worst] <= grad_tol
    print(f"first step, same weights ({what}): loss TinyTorch {loss_ours:.7f} PyTorch "
          f"{loss_theirs:.7f} (relative difference {loss_diff:.1e}, tolerance {loss_tol:.0e}); "
          f"gradients of {len(per)} parameters agree to {per[worst]:.1e} (worst: {worst}; "
          f"max |difference| / max |PyTorch's|, tolerance {grad_tol:.0e}) — "
          + ("agree" if ok else "DISAGREE"))
    if not ok:
        raise SystemExit(f"{what}: TinyTorch and PyTorch disagree on the first step: not timing")
    return {"what": what, "loss_tinytorch": loss_ours, "loss_torch": loss_theirs,
            "loss_rel_diff": loss_diff, "loss_tolerance": loss_tol,
            "grad_max_rel_diff": per[worst], "grad_worst_parameter": worst,
            "grad_tolerance": grad_tol, "parameters": len(per)}


# ================================================================ machine, configuration, file
def machine_info(torch, pin: Pinner) -> dict:
    """What ran, recorded before any setting is changed: PyTorch's defaults included."""
    import numpy as np

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    parallel = torch.__config__.parallel_info().splitlines()
    backend = next((ln.split(":", 1)[1].strip() for ln in parallel
                    if ln.startswith("ATen parallel backend")), "?")
    return {
        "cpus": os.cpu_count(), "usable_cpus": usable, "cpu": cpu,
        "python": platform.python_version(), "platform": platform.platform(),
        "numpy": np.__version__,
        "blas_and_openmp_pools_at_start": [f"{lib}: {n} threads" for lib, n in pin.blas_threads()],
        "torch": torch.__version__,
        "torch_default_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "torch_parallel_backend": backend,
        "torch_mkldnn": bool(torch.backends.mkldnn.is_available()),
        "torch_mkl": bool(torch.backends.mkl.is_available()),
        "environment": thread_environment(),
    }


def torch_configuration(m: dict) -> str:
    """One sentence: how PyTorch ran."""
    libs = ("MKL, " if m["torch_mkl"] else "") + ("oneDNN, " if m["torch_mkldnn"] else "")
    return (f"PyTorch {m['torch']} at its defaults ({libs}{m['torch_parallel_backend']} "
            f"backend, {m['torch_default_threads']} threads by default); {THREADING_POLICY}: "
            "each row sets "
            "`torch.set_num_threads(n)`, threadpoolctl's limit n on every BLAS/OpenMP pool "
            "(numpy's OpenBLAS and PyTorch's alike) and TinyTorch's kernel threads to n")


def command_line() -> str:
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(REPO)
    except ValueError:
        pass
    return " ".join(["python", str(script)] + [shlex.quote(a) for a in sys.argv[1:]])


def start(torch, description: str) -> tuple:
    """Refuse handicaps, pin nothing yet, record the machine: returns (pinner, header dict)."""
    refuse_handicaps()
    pin = Pinner(torch)
    info = machine_info(torch, pin)
    header = {"benchmark": description, "command": command_line(),
              "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": info, "threading_policy": THREADING_POLICY,
              "pytorch_configuration": torch_configuration(info),
              "load_average_start": loadavg(), "pause_before_each_run_s": PAUSE_S}
    print(f"{description}\nnumpy {info['numpy']}; {'; '.join(info['blas_and_openmp_pools_at_start'])}"
          f"\n{header['pytorch_configuration']}\n{info['cpus']} CPUs ({info['cpu']}), "
          f"load average {header['load_average_start']}")
    return pin, header


# What the settings meant before results files recorded them (the "2b" column of files written
# before issue 19's threading rule was TinyTorch's ``threads(2, blas=1)``).
LEGACY_SETTING_TITLES = {"1": "1 thread each", "2": "2 threads, TinyTorch default",
                         "2b": "2 threads, `threads(2, blas=1)`"}


def finish(name: str, results: dict, out: Path | None) -> Path:
    results["load_average_end"] = loadavg()
    used = sorted({r["setting"] for r in results.get("rows", [])})
    results["settings"] = {k: {"threads": SETTINGS[k].threads,
                               "tinytorch_blas": SETTINGS[k].tinytorch_blas,
                               "title": SETTINGS[k].title} for k in used}
    results["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nload average at the start {results['load_average_start']}, at the end "
          f"{results['load_average_end']}; wrote {path}")
    return path


def common_arguments(parser: argparse.ArgumentParser, rounds: int, steps: int) -> None:
    parser.add_argument("--rounds", type=int, default=rounds,
                        help=f"interleaved rounds, median taken ({rounds})")
    parser.add_argument("--steps", type=int, default=steps, help=f"steps per timed run ({steps})")
    parser.add_argument("--settings", nargs="+", default=DEFAULT_SETTINGS, choices=list(SETTINGS),
                        help="thread settings: 1 = one thread each, 2 = two each (TinyTorch's "
                             "default configuration: numpy's BLAS on one thread under its own "
                             "two), 2b = two, TinyTorch with threads(2, blas=2) — BLAS threads "
                             "under its own, the old default (default: 1 2)")
    parser.add_argument("--out", type=Path, default=None,
                        help="results file (default capstone/benchmarks/results/<name>.json)")
    parser.add_argument("--no-readme", action="store_true",
                        help="do not render the docs' figures from the new results file")
    parser.add_argument("--readme", action="store_true",
                        help="only render the docs' figures from the results file, measure nothing")


# ================================================================ rendering the docs' figures
WORKLOAD_ORDER = ("cnn_train", "cnn_infer", "mlp_train", "gpt_train", "deep_mlp")
# where each block goes: block name -> (results files it reads, page)
BLOCKS = {
    "cnn_vs_torch": (("cnn_vs_torch",), REPO / "packages" / "spatial" / "README.md"),
    "transformer_vs_torch": (("transformer_vs_torch",), REPO / "packages" / "attention" / "README.md"),
    "mlp_vs_torch": (("mlp_vs_torch",), REPO / "packages" / "optimizers" / "README.md"),
    "vs_torch": (("cnn_vs_torch", "mlp_vs_torch", "transformer_vs_torch"), REPO / "capstone" / "README.md"),
}


def load_results(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _ms(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def _cell(row: dict | None) -> str:
    if row is None:
        return "—"
    return (f"**{row['ratio']:.2f}×**, CPU {row['cpu_ratio']:.2f}× ({_ms(row['tinytorch_ms'])} vs "
            f"{_ms(row['torch_ms'])} ms; CPU {_ms(row['tinytorch_cpu_ms'])} vs "
            f"{_ms(row['torch_cpu_ms'])} ms)")


def _table(results: list) -> list:
    rows = [r for res in results for r in res["rows"]]
    settings = [k for k in SETTINGS if any(r["setting"] == k for r in rows)]
    # each column titled by what its results file says it ran (older files: the legacy titles)
    titles = {k: LEGACY_SETTING_TITLES.get(k, SETTINGS[k].title) for k in settings}
    for res in results:
        titles.update({k: v["title"] for k, v in res.get("settings", {}).items() if k in titles})
    workloads = sorted({r["workload"] for r in rows},
                       key=lambda w: WORKLOAD_ORDER.index(w) if w in WORKLOAD_ORDER else 99)
    out = ["| TinyTorch ÷ PyTorch | " + " | ".join(titles[k] for k in settings) + " |",
           "|---|" + "---|" * len(settings)]
    for w in workloads:
        title = next(r["title"] for r in rows if r["workload"] == w)
        cells = [_cell(next((r for r in rows if r["workload"] == w and r["setting"] == k), None))
                 for k in settings]
        out.append(f"| {title} | " + " | ".join(cells) + " |")
    for res in results:
        adds = res.get("add_16_us")
        if adds:
            out += ["", "One `a + b` on float32 tensors of shape (16,), one thread, the best of 7 "
                        "repeats of 20,000 calls (the smallest unit of per-op overhead): "
                        + ", ".join(f"{k} {v:.2f} µs" for k, v in adds.items()) + "."]
        mem = res.get("memory")
        if mem:
            out += ["", f"Peak memory of one CNN training step, batch {res['batch']} (the rise of "
                        "the peak RSS over the RSS just before it, in a fresh process, each side "
                        f"at its default threads): TinyTorch {mem['tinytorch_mib']:.0f} MiB, "
                        f"PyTorch {mem['torch_mib']:.0f} MiB — **{mem['memory_ratio']:.2f}×** "
                        "PyTorch's."]
    return out


def _provenance(res: dict) -> str:
    chk = "; ".join(f"{c['what']}: losses {c['loss_rel_diff']:.1e} apart (tolerance "
                    f"{c['loss_tolerance']:.0e}), gradients {c['grad_max_rel_diff']:.1e} "
                    f"(tolerance {c['grad_tolerance']:.0e})" for c in res["checks"])
    return (f"`{res['command']}`, {res['started'][:16].replace('T', ' ')} UTC, "
            f"{res['rounds']} rounds × {res['steps']} steps, load average "
            f"{res['load_average_start'][0]} at the start and {res['load_average_end'][0]} at the "
            f"end on {res['machine']['cpus']} CPUs. First step, same weights — {chk}.")


def _numpy_blas(m: dict) -> str:
    pools = m["blas_and_openmp_pools_at_start"]
    return next((p for p in pools if "blas" in p.lower()), pools[0] if pools else "?")


def render(name: str) -> str:
    """The Markdown of block ``name``, from the results files it reads (see ``BLOCKS``)."""
    files, _ = BLOCKS[name]
    results = [r for r in (load_results(f) for f in files) if r is not None]
    if not results:
        return "No results file yet: run the benchmark.\n"
    m = results[0]["machine"]
    out = ["TinyTorch ÷ PyTorch throughput (above 1: TinyTorch is faster) in wall time, then "
           "in CPU time (the process's, all threads), each the median of per-round ratios; in "
           "brackets the wall and CPU milliseconds per step, TinyTorch vs PyTorch (medians). "
           "The contenders compared run back to back in each round, who goes first rotating, "
           "a 0.3 s pause before each timed run. The last column is a TinyTorch option "
           "against PyTorch's two threads: TinyTorch's kernels split each batch over two "
           "threads while numpy's BLAS runs on one (a model with no op that TinyTorch splits — "
           "the MLPs, the GPT — then runs on one core). "
           + results[0]["pytorch_configuration"] + f"; numpy {m['numpy']} ({_numpy_blas(m)}).",
           ""]
    out += _table(results)
    out.append("")
    busy = [r for r in results if max([r["load_average_start"][0], r["load_average_end"][0],
                                       *r.get("load_per_round", [])]) >= r["machine"]["cpus"] / 2]
    if busy:
        out += ["**Measured while other jobs shared the machine** (the load averages below): "
                "two threads per side on cores that others want mostly measure how each side's "
                "threads wait for the cores, so those columns move run to run; the one-thread "
                "column and the CPU times are the steadier figures. Rerun the commands on a "
                "quiet machine to compare the frameworks.", ""]
    for res in results:
        out.append("- " + _provenance(res))
    return "\n".join(out) + "\n"


def render_all(check: bool = False) -> list:
    """Write (or, with ``check``, only compare) every block; returns the stale ones."""
    stale = []
    for name, (_, page) in BLOCKS.items():
        body = render(name)
        if check:
            if read_block(page, name) != body:
                stale.append(name)
        elif write_block(page, name, body):
            stale.append(name)
            print(f"{page.relative_to(REPO)}: block {name} updated")
    return stale


# ================================================================ memory (Linux)
def rss_mib(field: str = "VmRSS") -> float:
    """A field of /proc/self/status in MiB (VmRSS now, VmHWM the peak so far)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="render the docs' vs-PyTorch figures from "
                                                 "capstone/benchmarks/results/*.json")
    parser.add_argument("--readme", action="store_true", help="write the blocks")
    parser.add_argument("--check", action="store_true", help="exit 1 if a block is stale")
    a = parser.parse_args()
    if a.check:
        bad = render_all(check=True)
        print("stale: " + ", ".join(bad) if bad else "every block matches its results files")
        raise SystemExit(1 if bad else 0)
    changed = render_all()
    print("updated: " + ", ".join(changed) if changed else "every block already up to date")
