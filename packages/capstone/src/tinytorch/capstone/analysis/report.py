"""Track 4 — benchmarking analysis: the TinyTorch-vs-PyTorch report, with plots.

    python -m tinytorch.capstone.analysis.report --out runs/capstone/analysis
    tito capstone run analysis

Writes ``report.md`` (a table per section: PyTorch's and TinyTorch's median time, the ratio
TinyTorch/PyTorch with its confidence interval, the verdict), ``result.json`` (every timing)
and, with matplotlib, ``ratios.png``: one bar per op and per model mode, the time ratio on a
log scale (1 = as fast as PyTorch; right of 1 = slower).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Sequence

from tinytorch.core.benchmarking import ABResult, machine_info

from .ops import compare_models, compare_ops, time_ratio

__all__ = ["analysis_rows", "analysis_markdown", "plot_ratios", "run_analysis", "add_arguments",
           "main"]


def format_seconds(seconds: float) -> str:
    """``1.23 ms``, ``45.6 µs``, ``2.10 s``."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def analysis_rows(ops: list, models: list) -> list:
    """``[{"section", "name", "torch_s", "tinytorch_s", "ratio", "low", "high", "verdict"}]``."""
    rows = []
    for item in ops:
        r = item["result"]
        rows.append(_row("op", item["name"], r))
    for cmp in models:
        for mode, r in cmp.results.items():
            rows.append(_row("model", f"{cmp.spec.name}: {r.title}", r))
    return rows


def _row(section: str, name: str, r: ABResult) -> dict:
    c = r.change
    return {"section": section, "name": name, "torch_s": r.median(c.a), "tinytorch_s": r.median(c.b),
            "ratio": time_ratio(r), "low": 1 + c.low, "high": 1 + c.high, "verdict": c.verdict,
            "work": r.work}


def analysis_markdown(rows: list, machine: dict, notes: Sequence[str] = ()) -> str:
    """The report: one table for ops, one for models, and the conditions."""
    out = ["Every line: PyTorch (A) and TinyTorch (B) timed in alternated rounds on the same "
           "inputs (outputs checked to agree first). *ratio* = TinyTorch's time / PyTorch's "
           "(below 1: TinyTorch is faster), estimated from the per-round ratios (benchmarking's "
           "`relative_change`), so it can differ from the ratio of the two medians; with its 95% "
           "confidence interval across rounds.", ""]
    for section, title in (("op", "Op by op"), ("model", "Model by model")):
        chosen = [r for r in rows if r["section"] == section]
        if not chosen:
            continue
        out += [f"### {title}", "", "| what | PyTorch | TinyTorch | ratio | 95% CI | verdict |",
                "|---|---:|---:|---:|---|---|"]
        for r in chosen:
            out.append(f"| {r['name']} | {format_seconds(r['torch_s'])} | "
                       f"{format_seconds(r['tinytorch_s'])} | {r['ratio']:.3g}x | "
                       f"[{r['low']:.3g}, {r['high']:.3g}] | {r['verdict']} |")
        out.append("")
    keys = ("processor", "cpu_count", "numpy", "blas_threads", "load_average", "torch", "torch_threads",
            "time")
    facts = ", ".join(f"{k}: {machine[k]}" for k in keys if machine.get(k) is not None)
    out.append(f"Machine: {facts or machine}.")
    out += list(notes)
    return "\n".join(out) + "\n"


def plot_ratios(rows: list, path: str) -> str:
    """One point per row: the time ratio on a log scale, with its interval. Needs matplotlib.

    Raises:
        ImportError: matplotlib is not installed (pip install 'tinytorch-capstone[plot]').
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("the plot needs matplotlib: pip install 'tinytorch-capstone[plot]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in rows]
    ratios = [r["ratio"] for r in rows]
    lo = [max(r["ratio"] - r["low"], 0) for r in rows]
    hi = [max(r["high"] - r["ratio"], 0) for r in rows]
    colors = ["#1976d2" if r["section"] == "op" else "#e65100" for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(rows) + 1.5))
    y = list(range(len(rows)))[::-1]
    ax.axvline(1.0, color="black", lw=0.8)
    for yi, r, l, h, c in zip(y, ratios, lo, hi, colors):  # a point and its interval per row
        ax.errorbar([r], [yi], xerr=[[l], [h]], fmt="o", color=c, ecolor=c, capsize=3, ms=6)
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=7)
    ax.set_xlabel("time ratio TinyTorch / PyTorch (log scale; < 1: TinyTorch faster)")
    ax.set_title("TinyTorch vs PyTorch CPU — ops (blue) and models (orange)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def run_analysis(out_dir: str | None = "runs/capstone/analysis", rounds: int = 7,
                 min_time: float = 0.05, scale: float = 1.0, models: Sequence[str] = ("mlp", "cnn", "cnn-bn"),
                 batch: int = 64, threads: int | None = None, progress: bool = True) -> dict:
    """Op and model comparisons, written to ``out_dir`` (report.md, result.json, ratios.png)."""
    if progress:
        print("ops:", flush=True)
    ops = compare_ops(rounds, min_time, scale, threads, progress)
    if progress and models:
        print("models:", flush=True)
    failures: dict = {}
    model_results = compare_models(models, batch, rounds=rounds, min_time=min_time, threads=threads,
                                   progress=progress, failures=failures) if models else []
    rows = analysis_rows(ops, model_results)
    machine = machine_info()
    try:
        from tinytorch.core.benchmarking import import_torch
        torch = import_torch()
        machine["torch"] = str(torch.__version__)
        machine["torch_threads"] = int(torch.get_num_threads())
    except ImportError:
        pass
    notes = [f"\nModel **{name}** was not timed: {message}." for name, message in failures.items()]
    result = {"track": "analysis", "rows": rows, "machine": machine, "failures": failures,
              "ops": [{"name": o["name"], "difference": o["difference"],
                       "result": o["result"].to_dict()} for o in ops],
              "models": [m.to_dict() for m in model_results]}
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        try:
            result["plot"] = plot_ratios(rows, os.path.join(out_dir, "ratios.png"))
            notes.append("\n![time ratios](ratios.png)")
        except ImportError as exc:
            notes.append(f"(no plot: {exc})")
        with open(os.path.join(out_dir, "result.json"), "w") as f:
            json.dump(result, f, indent=1, default=str)
        with open(os.path.join(out_dir, "report.md"), "w") as f:
            f.write(analysis_markdown(rows, machine, notes))
    result["markdown"] = analysis_markdown(rows, machine, notes)
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the analysis track."""
    parser.add_argument("--rounds", type=int, default=7, help="alternated rounds per comparison")
    parser.add_argument("--min-time", type=float, default=0.05, help="seconds per timed run")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the ops' batch sizes")
    parser.add_argument("--models", default="mlp,cnn,cnn-bn", help="benchmarking's models ('' for none)")
    parser.add_argument("--batch", type=int, default=64, help="batch of the model comparisons")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--out", default="runs/capstone/analysis", help="results folder")


def run_from_args(args: argparse.Namespace) -> dict:
    """Run the analysis the parsed options ask for, and print the report."""
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    result = run_analysis(args.out, args.rounds, args.min_time, args.scale, models, args.batch,
                          args.threads)
    print(result["markdown"])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytorch.capstone.analysis.report``."""
    parser = argparse.ArgumentParser(description="TinyTorch vs PyTorch, op by op and model by model.")
    add_arguments(parser)
    run_from_args(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
