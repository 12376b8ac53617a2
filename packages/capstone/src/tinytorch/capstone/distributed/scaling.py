"""How well does data parallelism scale here? Images/s with 1, 2, … MPI processes.

    python -m tinytorch.capstone.distributed.scaling --procs 1,2 --steps 20 --data cifar10
    tito capstone run systems --procs 1,2

Runs :mod:`.train` under ``mpiexec -n k`` for each k with the *same global batch* (strong
scaling: k ranks share the work of one step), each process single-threaded by default
(``--threads``), and reports images/s, the speed-up over one process and the efficiency
(speed-up / k). The machine's load average is recorded with every run: on a shared machine
the figures move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Sequence

import numpy as np

__all__ = ["mpiexec_command", "run_scaling", "scaling_table", "scaling_markdown", "add_arguments",
           "main"]


def mpiexec_command(n: int, args: Sequence[str], python: str | None = None,
                    mpiexec: str | None = None, extra: Sequence[str] = ()) -> list:
    """``mpiexec -n n [...] python -m tinytorch.capstone.distributed.train args``.

    As root, Open MPI refuses to start without ``--allow-run-as-root``; with more ranks than
    cores it needs ``--oversubscribe``; ``--bind-to none`` lets the OS place the ranks (on a
    shared machine pinning them to fixed cores only hurts).
    """
    exe = mpiexec or shutil.which("mpiexec") or shutil.which("mpirun")
    if exe is None:
        raise FileNotFoundError("no mpiexec on PATH: install an MPI (e.g. apt-get install "
                                "openmpi-bin libopenmpi-dev) and pip install mpi4py")
    cmd = [exe, "-n", str(n)]
    if _is_open_mpi(exe):
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-run-as-root")
        cmd += ["--oversubscribe", "--bind-to", "none"]
    cmd += list(extra)
    cmd += [python or sys.executable, "-m", "tinytorch.capstone.distributed.train", *args]
    return cmd


def _is_open_mpi(exe: str) -> bool:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "Open MPI" in (out.stdout + out.stderr) or "OpenRTE" in (out.stdout + out.stderr)


def _load() -> list | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def run_scaling(procs: Sequence[int] = (1, 2), steps: int = 20, warmup: int = 3,
                global_batch: int = 128, model: str = "cnn", data: str = "cifar10",
                threads: int = 1, repeats: int = 1, out_dir: str | None = None,
                timeout: float = 3600.0, progress: bool = True) -> dict:
    """Run the training under ``mpiexec -n k`` for each k (``repeats`` times, alternating the
    k's so a drift of the machine hits all of them); returns the runs and the scaling table."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["TINYTORCH_NUM_THREADS"] = str(threads)
    runs: list = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(repeats):
            for k in procs:
                out = os.path.join(tmp, f"r{rep}_n{k}.json")
                args = ["--model", model, "--data", data, "--steps", str(steps), "--warmup",
                        str(warmup), "--global-batch", str(global_batch), "--threads", str(threads),
                        "--out", out]
                cmd = mpiexec_command(k, args)
                load_before = _load()
                res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
                if res.returncode:
                    raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}):\n"
                                       f"{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
                with open(out) as f:
                    run = json.load(f)
                run.update(repeat=rep, load_before=load_before, load_after=_load(),
                           command=" ".join(cmd))
                runs.append(run)
                if progress:
                    print(f"  n={k} (repeat {rep + 1}/{repeats}): {run['images_per_s']:.1f} images/s, "
                          f"load {load_before} -> {run['load_after']}", flush=True)
    table = scaling_table(runs, procs)
    result = {"track": "systems", "model": model, "data": data, "global_batch": global_batch,
              "steps": steps, "threads_per_rank": threads, "repeats": repeats, "runs": runs,
              "scaling": table, "cpus": os.cpu_count()}
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "result.json"), "w") as f:
            json.dump(result, f, indent=1)
        with open(os.path.join(out_dir, "report.md"), "w") as f:
            f.write(scaling_markdown(result))
    return result


def scaling_table(runs: Sequence[dict], procs: Sequence[int]) -> list:
    """One row per process count: best and median images/s over the repeats, the speed-ups
    and efficiencies they give (against the first count), images per CPU-second (best) and
    the share of the best run's step time spent inside the collectives."""
    by_k: dict = {}
    for run in runs:
        by_k.setdefault(run["ranks"], []).append(run)
    base_best = max(r["images_per_s"] for r in by_k[procs[0]])
    base_median = float(np.median([r["images_per_s"] for r in by_k[procs[0]]]))
    base_cpu = max(r["images_per_cpu_s"] for r in by_k[procs[0]])
    table = []
    for k in procs:
        best = max(by_k[k], key=lambda r: r["images_per_s"])  # the least disturbed repeat
        median = float(np.median([r["images_per_s"] for r in by_k[k]]))
        cpu = max(r["images_per_cpu_s"] for r in by_k[k])
        scale = k / procs[0]
        table.append({"ranks": k, "images_per_s": best["images_per_s"], "median_images_per_s": median,
                      "all_images_per_s": [r["images_per_s"] for r in by_k[k]],
                      "speedup": best["images_per_s"] / base_best,
                      "efficiency": best["images_per_s"] / base_best / scale,
                      "median_speedup": median / base_median,
                      "median_efficiency": median / base_median / scale,
                      "images_per_cpu_s": cpu, "cpu_efficiency": cpu / base_cpu,
                      "comm_fraction": best["comm_seconds"] / best["seconds"] if best["seconds"] else None})
    return table


def scaling_markdown(result: dict) -> str:
    """The scaling table as Markdown, with the conditions of the measurement."""
    loads = [r["load_before"] for r in result["runs"] if r.get("load_before")]
    lines = [f"Model `{result['model']}` (tinytorch-benchmarking's models), {result['data']} data, "
             f"global batch {result['global_batch']} split over the ranks, {result['steps']} timed "
             f"steps, {result['threads_per_rank']} thread(s) per rank, {result['cpus']} CPUs; "
             f"{result['repeats']} alternated repeat(s). Load averages (1/5/15 min) at the starts: "
             f"{loads}.", "",
             "| ranks | images/s: best | median | every repeat | speed-up (best / median) | "
             "efficiency (best / median) | images per CPU-second | CPU efficiency | time in all-reduce |",
             "|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for row in result["scaling"]:
        lines.append(f"| {row['ranks']} | {row['images_per_s']:.1f} | {row['median_images_per_s']:.1f} | "
                     f"{', '.join(f'{v:.1f}' for v in row['all_images_per_s'])} | "
                     f"{row['speedup']:.2f}x / {row['median_speedup']:.2f}x | "
                     f"{row['efficiency'] * 100:.0f}% / {row['median_efficiency'] * 100:.0f}% | "
                     f"{row['images_per_cpu_s']:.1f} | {row['cpu_efficiency'] * 100:.0f}% | "
                     f"{row['comm_fraction'] * 100:.0f}% |")
    lines += ["", "*speed-up* and *efficiency* (speed-up / ranks) come from wall time, of the best "
              "repeat and of the median one; "
              "*images per CPU-second* counts the CPU time of all ranks together (MPI's busy "
              "waiting included), so *CPU efficiency* is the share of the one-process throughput per "
              "CPU-second the parallel version keeps — on a shared machine it separates the cost of "
              "parallelism from how many cores the other jobs left free. *Time in all-reduce*: the "
              "slowest rank's wall time inside the collectives (waiting for the other rank "
              "included), as a share of the step time, in the best repeat."]
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the systems track."""
    parser.add_argument("--procs", default="1,2", help="process counts, comma-separated (default 1,2)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--global-batch", type=int, default=128)
    parser.add_argument("--model", default="cnn", help="mlp, cnn or cnn-bn (benchmarking's models)")
    parser.add_argument("--data", default="cifar10", choices=("synthetic", "cifar10"))
    parser.add_argument("--threads", type=int, default=1, help="threads per process (default 1)")
    parser.add_argument("--repeats", type=int, default=2, help="alternated repeats (default 2)")
    parser.add_argument("--out", default="runs/capstone/systems", help="results folder")


def run_from_args(args: argparse.Namespace) -> dict:
    """Run the scaling measurement the parsed options ask for, and print its table."""
    result = run_scaling(tuple(int(p) for p in args.procs.split(",")), args.steps, args.warmup,
                         args.global_batch, args.model, args.data, args.threads, args.repeats,
                         args.out)
    print(scaling_markdown(result))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytorch.capstone.distributed.scaling``."""
    parser = argparse.ArgumentParser(description="Data-parallel scaling over MPI: images/s "
                                                 "with 1, 2, ... processes.")
    add_arguments(parser)
    run_from_args(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
