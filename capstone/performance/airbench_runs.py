"""The full airbench runs: keep a speed-run's result, and render the docs' blocks from it.

    python capstone/performance/airbench_runs.py --keep OUT_DIR "COMMAND"   # after a full run
    python capstone/performance/airbench_runs.py                           # re-render

``--keep`` copies ``OUT_DIR/result.json`` (written by ``python -m tinytorch.capstone.speedrun
--recipe airbench --seed S ... --out OUT_DIR``) to ``results/airbench-seedS-result.json`` with
the command that made it and a ``summary`` (final accuracies, training times and the time
ratio, computed here from the run's own history), and writes the speed-run's report beside it.

Then three blocks are rendered from every kept file, so no figure of these runs is typed by
hand (``integration/test_airbench_runs.py`` renders them again and compares):

* ``airbench_runs`` in this folder's README: per seed, the command, every epoch of both
  frameworks, the times at which each threshold was first reached, and the time ratio;
* ``airbench_summary`` in the repository's README and in the training package's README: one
  sentence per seed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RESULTS = HERE / "results"
README = HERE / "README.md"
SUMMARY_PAGES = [REPO / "README.md", REPO / "packages" / "training" / "README.md"]
RUNS_BLOCK = "airbench_runs"
SUMMARY_BLOCK = "airbench_summary"


def _figures():
    path = HERE.parent / "benchmarks" / "figures.py"
    spec = importlib.util.spec_from_file_location("_airbench_figures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kept_results() -> list:
    """Every kept full run, by seed."""
    found = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("airbench-seed*-result.json"))]
    return sorted(found, key=lambda r: r["runs"][0]["seed"])


def summarize(result: dict) -> dict:
    """Final accuracy, training and wall time of each framework's run, and TinyTorch's time
    over PyTorch's — in total and to each threshold both reached."""
    runs = {run["framework"]: run for run in result["runs"]}
    summary: dict = {}
    for name, run in runs.items():
        summary[name] = {"final_test_acc": run["final_test_acc"], "epochs": len(run["history"]),
                         "train_minutes": run["train_seconds"] / 60,
                         "wall_minutes": run["wall_seconds"] / 60}
    if {"TinyTorch", "PyTorch"} <= set(runs):
        ours, theirs = runs["TinyTorch"], runs["PyTorch"]
        summary["time_ratio"] = {"total": ours["train_seconds"] / theirs["train_seconds"]}
        for thr, hit in ours["crossings"].items():
            other = theirs["crossings"].get(thr)
            if hit is not None and other is not None:
                summary["time_ratio"][thr] = hit["train_seconds"] / other["train_seconds"]
    return summary


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f} min"


def _pct(acc: float | None) -> str:
    return "—" if acc is None else f"{acc * 100:.2f}%"


def _crossing(hit: dict | None) -> str:
    return "not reached" if hit is None else f"{_minutes(hit['train_seconds'])} (epoch {hit['epoch']})"


def _loads(run: dict) -> str:
    ones = [row["load"][0] for row in run["history"] if row.get("load")]
    return f"{min(ones):.2f}–{max(ones):.2f}" if ones else "not recorded"


def render_run(result: dict) -> str:
    """One seed: the command, the epochs side by side, the thresholds, the ratio."""
    runs = {run["framework"]: run for run in result["runs"]}
    ours, theirs = runs["TinyTorch"], runs.get("PyTorch")
    summary = result["summary"]
    lines = ["```console", f"$ {result['command']}", "```", ""]
    setting = (f"Seed {ours['seed']}; {ours['train_images']:,} training and {ours['test_images']:,} "
               f"test images; {result['data']['note'] if result.get('data') else 'data not recorded'}; "
               f"{result['cpus']} CPUs; "
               + (f"TinyTorch at commit {result['code']}, " if result.get("code") else "")
               + f"its epochs at load average {_loads(ours)}")
    if theirs is not None:
        setting += (f", then PyTorch {theirs['torch_version']} ({theirs['torch_threads']} threads, "
                    f"its defaults) at {_loads(theirs)}")
    lines += [setting + ".", ""]
    head = "| epoch | TinyTorch test acc (TTA) | training time | img/s |"
    rule = "|---:|---:|---:|---:|"
    if theirs is not None:
        head += " PyTorch test acc (TTA) | training time | img/s |"
        rule += "---:|---:|---:|"
    lines += [head, rule]
    for i, a in enumerate(ours["history"]):
        row = f"| {a['epoch']} | {_pct(a['test_acc'])} | {_minutes(a['train_seconds'])} | {a['img_per_s']:.0f} |"
        if theirs is not None:
            b = theirs["history"][i] if i < len(theirs["history"]) else None
            row += (f" {_pct(b['test_acc'])} | {_minutes(b['train_seconds'])} | {b['img_per_s']:.0f} |"
                    if b else " — | — | — |")
        lines.append(row)
    head = "| test accuracy first reached | TinyTorch training time |"
    rule = "|---:|---:|"
    if theirs is not None:
        head += " PyTorch training time | time ratio (TinyTorch ÷ PyTorch) |"
        rule += "---:|---:|"
    lines += ["", head, rule]
    for thr, hit in ours["crossings"].items():
        row = f"| {float(thr) * 100:g}% | {_crossing(hit)} |"
        if theirs is not None:
            ratio = summary.get("time_ratio", {}).get(thr)
            row += (f" {_crossing(theirs['crossings'].get(thr))} | "
                    f"{'—' if ratio is None else f'{ratio:.2f}'} |")
        lines.append(row)
    lines += ["", summary_sentence(result), ""]
    return "\n".join(lines)


def render_runs(results: list) -> str:
    """The block of this folder's README: every kept seed."""
    if not results:
        return "No full run kept yet.\n"
    return "\n".join(render_run(r) for r in results)


def summary_sentence(result: dict) -> str:
    """One sentence: both frameworks' final accuracy and training time for one seed."""
    s = result["summary"]
    ours = s["TinyTorch"]
    text = (f"Seed {result['runs'][0]['seed']}: TinyTorch ended at {_pct(ours['final_test_acc'])} "
            f"(TTA) after {ours['train_minutes']:.1f} min of training "
            f"({ours['wall_minutes']:.1f} min with the evaluations)")
    if "PyTorch" in s:
        theirs = s["PyTorch"]
        text += (f"; PyTorch, same recipe, same session, at {_pct(theirs['final_test_acc'])} after "
                 f"{theirs['train_minutes']:.1f} min ({theirs['wall_minutes']:.1f} min); TinyTorch "
                 f"trained for {s['time_ratio']['total']:.2f}× PyTorch's time")
    return text + "."


def render_summary(results: list) -> str:
    """The block of the repository's and the training package's README."""
    if not results:
        return "The full runs of `--recipe airbench` are not measured yet.\n"
    lines = ["`--recipe airbench` on 2 cores, measured (every epoch, and the commands, in "
             "`capstone/performance/README.md`, \"The full runs\"):", ""]
    lines += [f"* {summary_sentence(r)}" for r in results]
    return "\n".join(lines) + "\n"


def keep(out_dir: str, command: str, code: str | None = None) -> Path:
    """Copy a speed-run's result here with its command, the commit its code was at, and its
    summary; write its report."""
    from tinytorch.capstone.speedrun import first_crossings, speedrun_markdown

    result = json.loads((Path(out_dir) / "result.json").read_text())
    if result.get("recipe") != "airbench":
        raise SystemExit(f"{out_dir}/result.json is a '{result.get('recipe')}' run, not airbench")
    for run in result["runs"]:  # from the history, keyed as today's speed-run keys them
        run["crossings"] = first_crossings(run["history"], run["thresholds"])
    result["command"] = command
    if code:
        result["code"] = code
    result["summary"] = summarize(result)
    seed = result["runs"][0]["seed"]
    path = RESULTS / f"airbench-seed{seed}-result.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / f"airbench-seed{seed}-report.md").write_text(
        f"```console\n$ {command}\n```\n\n" + speedrun_markdown(result))
    return path


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", nargs=2, metavar=("OUT_DIR", "COMMAND"),
                        help="copy OUT_DIR/result.json here, recording COMMAND")
    parser.add_argument("--code", default=None,
                        help="with --keep: the commit the run's code was at (it ran for hours)")
    args = parser.parse_args(argv)
    if args.keep:
        print(f"kept {keep(*args.keep, code=args.code)}")
    results = kept_results()
    figures = _figures()
    for path, name, body in [(README, RUNS_BLOCK, render_runs(results))] + [
            (page, SUMMARY_BLOCK, render_summary(results)) for page in SUMMARY_PAGES]:
        changed = figures.write_block(path, name, body)
        print(f"{path}: {'updated' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
