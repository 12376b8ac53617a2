"""The site's pictures, drawn at build time from the results files the project commits.

* the training curve of a committed CIFAR-10 run (its ``summary.json``: the per-epoch history
  and the test accuracy measured after training), drawn by module 11's own plot function
  (``tinytorch/core/training/plot.py``, loaded by path: it imports nothing of TinyTorch);
* TinyTorch ÷ PyTorch speed ratios from ``capstone/benchmarks/results/*_vs_torch.json``.

Nothing here is typed by hand: captions are made from the same files. The PNGs need matplotlib
(the ``docs`` tox env installs it); without it the build stops with one line saying so.
"""
from __future__ import annotations

import ast
import importlib.util
import io
import json
import textwrap
from pathlib import Path

# the run the README quotes (recipe full, 18 epochs); its history and test accuracy are drawn
TRAINING_RUN = "capstone/performance/results/full-18-epochs-crop2-tta2-summary.json"
VS_TORCH = ("cnn_vs_torch", "mlp_vs_torch", "transformer_vs_torch")
RESULTS = "capstone/benchmarks/results"


class MissingMatplotlib(RuntimeError):
    pass


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise MissingMatplotlib("the site's pictures need matplotlib: pip install matplotlib "
                                "(the docs tox env installs it)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _png(fig, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    _pyplot().close(fig)
    return buf.getvalue()


def _plot_module(repo: Path):
    path = repo / "packages" / "training" / "src" / "tinytorch" / "core" / "training" / "plot.py"
    spec = importlib.util.spec_from_file_location("_tinytorch_training_plot", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def training_curve(repo: Path) -> tuple[bytes, str]:
    """(PNG, caption) of the committed CIFAR-10 run."""
    _pyplot()
    run = json.loads((repo / TRAINING_RUN).read_text(encoding="utf-8"))
    recipe = run["recipe"]
    # the page shows the PNG about 700 px wide: fonts large enough to read at that size
    with _pyplot().rc_context({"font.size": 15}):
        fig = _plot_module(repo).history_figure(
            run["history"], f"CIFAR-10, recipe {recipe['name']} ({recipe['epochs']} epochs, "
                            f"{run['parameters']:,} parameters)", test_acc=run["test_accuracy"])
    plain = run.get("test_accuracy_without_tta")
    tta = (f" with test-time augmentation ({100 * plain:.2f}% without)" if plain is not None
           else "")
    caption = (f"One run of `tito train cifar10 --recipe {recipe['name']}` on "
               f"{run['train_images']:,} training images: loss and accuracy per epoch, and the "
               f"accuracy measured after training on the {run['test_images']:,} test images, "
               f"{100 * run['test_accuracy']:.2f}%{tta}; "
               f"{run['train_seconds'] / 60:.0f} min of training. "
               f"Drawn from [`{TRAINING_RUN}`]({_blob(TRAINING_RUN)}) when the site was built.")
    return _png(fig), caption


def _blob(rel: str) -> str:
    return f"https://github.com/tinytorch/tinytorch/blob/main/{rel}"


def _setting_titles(repo: Path) -> dict[str, str]:
    """``SETTINGS`` of capstone/benchmarks/vs_torch.py: key -> title (read, not imported)."""
    tree = ast.parse((repo / "capstone" / "benchmarks" / "vs_torch.py").read_text(encoding="utf-8"))
    titles: dict[str, str] = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "SETTINGS"
                                                 for t in node.targets)
                and isinstance(node.value, ast.Dict)):
            for call in node.value.values:
                if isinstance(call, ast.Call) and len(call.args) >= 4:
                    key, title = call.args[0], call.args[3]
                    if isinstance(key, ast.Constant) and isinstance(title, ast.Constant):
                        titles[key.value] = title.value.replace("`", "")
    return titles


def vs_torch(repo: Path, names: tuple = VS_TORCH) -> tuple[bytes, str]:
    """(PNG, caption): the TinyTorch ÷ PyTorch ratios of these vs-PyTorch benchmarks."""
    plt = _pyplot()
    titles = _setting_titles(repo)
    runs = [(name, json.loads((repo / RESULTS / f"{name}.json").read_text(encoding="utf-8")))
            for name in names if (repo / RESULTS / f"{name}.json").is_file()]
    workloads: list[str] = []
    ratio: dict = {}
    settings: list[str] = []
    for _, data in runs:  # a results file says what its settings ran: its titles win
        titles.update({k: v["title"].replace("`", "") for k, v in data.get("settings", {}).items()})
    for _, data in runs:
        for row in data["rows"]:
            if row["title"] not in workloads:
                workloads.append(row["title"])
            if row["setting"] not in settings:
                settings.append(row["setting"])
            ratio[(row["title"], row["setting"])] = row["ratio"]
    height = 0.8 / max(len(settings), 1)
    with plt.rc_context({"font.size": 13}):
        return _vs_torch_figure(plt, runs, workloads, settings, ratio, titles, height)


def _vs_torch_figure(plt, runs, workloads, settings, ratio, titles, height) -> tuple[bytes, str]:
    legend_h = 0.3 * len(settings) + 0.2  # inches under the plot for the legend
    fig_h = 0.9 * len(workloads) + 1.6 + legend_h
    fig, ax = plt.subplots(figsize=(8, fig_h))
    for i, setting in enumerate(settings):
        ys = [w + (i - (len(settings) - 1) / 2) * height for w in range(len(workloads))]
        vals = [ratio.get((t, setting), 0.0) for t in workloads]
        bars = ax.barh(ys, vals, height * 0.92, label=titles.get(setting, f"setting {setting}"))
        ax.bar_label(bars, labels=[f"{v:.2f}×" if v else "" for v in vals], padding=3, fontsize=11)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(range(len(workloads)), [textwrap.fill(w, 22) for w in workloads])
    ax.invert_yaxis()
    ax.set_xlabel("TinyTorch ÷ PyTorch throughput\n(right of 1: TinyTorch is faster)")
    ax.set_xlim(0, max(list(ratio.values()) + [1.0]) * 1.18)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", fontsize=11, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout(rect=(0, legend_h / fig_h, 1, 1))
    days = sorted({data["started"][:16].replace("T", " ") for _, data in runs})
    when = days[0] if len(days) == 1 else f"{days[0]}–{days[-1]}"
    files = ", ".join(f"[`{name}.json`]({_blob(f'{RESULTS}/{name}.json')})" for name, _ in runs)
    caption = (f"TinyTorch against PyTorch on the CPU, same threads on both sides: medians of "
               f"per-round ratios, measured {when} UTC. Drawn from {files} when "
               f"the site was built; commands, machine and load averages are on "
               f"[Measurements](MEASUREMENTS_LINK).")
    return _png(fig), caption
