"""The airbench twin diagnosis: keep a speed-run's result, and render the README's block from it.

    python capstone/performance/airbench_diagnosis.py --keep OUT_DIR "COMMAND"   # after a run
    python capstone/performance/airbench_diagnosis.py                           # re-render

``--keep`` copies ``OUT_DIR/result.json`` (written by ``python -m tinytorch.capstone.speedrun
... --out OUT_DIR``) to ``results/airbench-diagnosis-result.json`` with the command that made
it, and writes ``results/airbench-diagnosis-report.md`` (the speed-run's own report). Then the
block ``airbench_diagnosis`` of this folder's README is rendered from the results file, so
every figure there is read from it (``integration/test_airbench_torch.py`` checks they agree).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULT = HERE / "results" / "airbench-diagnosis-result.json"
REPORT = HERE / "results" / "airbench-diagnosis-report.md"
README = HERE / "README.md"
BLOCK = "airbench_diagnosis"


def _figures():
    path = HERE.parent / "benchmarks" / "figures.py"
    spec = importlib.util.spec_from_file_location("_perf_figures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render(result: dict) -> str:
    """The README block: the command, the setting, and the two runs' epochs side by side."""
    from tinytorch.capstone.speedrun_airbench import twin_table

    runs = {run["framework"]: run for run in result["runs"]}
    ours, theirs = runs["TinyTorch"], runs["PyTorch"]
    rel = max(abs(a["train_loss"] - b["train_loss"]) / abs(b["train_loss"])
              for a, b in zip(ours["history"], theirs["history"]))
    acc = max(abs(a["test_acc"] - b["test_acc"]) for a, b in zip(ours["history"], theirs["history"]))
    return "\n".join([
        "```console",
        f"$ {result['command']}",
        "```",
        "",
        f"Recipe `{ours['recipe']['name']}` cut to {len(ours['history'])} epochs of "
        f"{ours['train_images']:,} training images (batches of {ours['recipe']['batch_size']}), "
        f"measured on the first {ours['test_images']:,} test images with its level-"
        f"{ours['recipe']['tta']} TTA; seed {ours['seed']}; PyTorch {theirs['torch_version']} with "
        f"{theirs['torch_threads']} threads; load average {result['load_before']} before, "
        f"{result['load_after']} after, on {result['cpus']} CPUs (others' jobs running).",
        "",
        twin_table(result).rstrip("\n"),
        "",
        f"Largest relative difference of the epochs' training losses: {rel:.1e}; largest "
        f"difference of test accuracy: {acc * 100:.2f} points.",
        "",
    ])


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", nargs=2, metavar=("OUT_DIR", "COMMAND"),
                        help="copy OUT_DIR/result.json here, recording COMMAND")
    args = parser.parse_args(argv)
    if args.keep:
        from tinytorch.capstone.speedrun import speedrun_markdown

        result = json.loads((Path(args.keep[0]) / "result.json").read_text())
        result["command"] = args.keep[1]
        RESULT.write_text(json.dumps(result, indent=1) + "\n")
        REPORT.write_text(f"```console\n$ {result['command']}\n```\n\n" + speedrun_markdown(result))
    result = json.loads(RESULT.read_text())
    changed = _figures().write_block(README, BLOCK, render(result))
    print(f"{README}: {'updated' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
