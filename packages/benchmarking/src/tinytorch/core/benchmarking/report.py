"""Reports: every result of a benchmarking session as Markdown, as JSON, and as a plot.

    report = Report("CNN on the course machine")
    report.add(prof, "Profile")                    # anything with to_markdown() and to_dict()
    report.add(single_stream(...), "Single-stream")
    report.save("bench.md"); report.save("bench.json"); report.plot("bench.png")

A number without its context is not reproducible, so every report starts with the machine:
Python, numpy, cores, and the load average when the report was made (on a shared machine a
load of 8 on 2 cores explains a lot).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tinytorch.core.tensor.runtime import get_blas_threads

from .format import markdown_table

__all__ = ["Report", "machine_info", "PlotUnavailable"]


class PlotUnavailable(ImportError):
    """Plotting needs matplotlib (the ``plot`` extra), which is not installed."""


def _load_average() -> list | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # not on every platform
        return None


def machine_info() -> dict:
    """Where and when the numbers were taken: Python, numpy, platform, cores, load average."""
    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average": _load_average(),
        "time": _dt.datetime.now().isoformat(timespec="seconds"),
    }
    blas = get_blas_threads()
    if blas is not None:
        info["blas_threads"] = blas
    torch = sys.modules.get("torch")  # only if something already imported it
    if torch is not None:
        info["torch"] = str(getattr(torch, "__version__", "?"))
        info["torch_threads"] = int(torch.get_num_threads())
    return info


def _jsonable(value: Any) -> Any:
    """numpy scalars/arrays, tuples and non-finite floats made JSON-safe."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else str(v)
    return value


class Report:
    """A titled list of sections, each a result with ``to_markdown()`` and ``to_dict()``.

    Args:
        title: the report's title.
        machine: machine facts (default :func:`machine_info` at creation).
    """

    def __init__(self, title: str, machine: dict | None = None) -> None:
        self.title = title
        self.machine = machine_info() if machine is None else dict(machine)
        self.sections: list = []

    def add(self, result: Any, heading: str | None = None, note: str = "") -> "Report":
        """Append a section; ``heading`` defaults to the result's type name."""
        for method in ("to_markdown", "to_dict"):
            if not callable(getattr(result, method, None)):
                raise TypeError(f"Report.add: a {type(result).__name__} has no {method}()")
        self.sections.append((heading or type(result).__name__, result, note))
        return self

    def to_markdown(self) -> str:
        """``# title``, a machine table, then ``## heading`` and the Markdown of each section."""
        lines = [f"# {self.title}", "", "## Machine", ""]
        rows = [[k, ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)]
                for k, v in self.machine.items()]
        lines += [markdown_table(["", "value"], rows), ""]
        for heading, result, note in self.sections:
            lines += [f"## {heading}", ""]
            if note:
                lines += [note, ""]
            lines += [result.to_markdown().rstrip(), ""]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """``{"title", "machine", "sections": [{"heading", "note", "result"}]}``, JSON-safe."""
        return _jsonable({"title": self.title, "machine": self.machine,
                          "sections": [{"heading": h, "note": n, "result": r.to_dict()}
                                       for h, r, n in self.sections]})

    def to_json(self, indent: int = 2) -> str:
        """The report as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    def save(self, path: str | os.PathLike) -> Path:
        """Write Markdown (``.md``) or JSON (``.json``) by the file's suffix."""
        path = Path(path)
        if path.suffix == ".json":
            text = self.to_json()
        elif path.suffix in (".md", ".markdown"):
            text = self.to_markdown()
        else:
            raise ValueError(f"Report.save: use a .md or .json file name, got {path.name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        return path

    def plot(self, path: str | os.PathLike) -> Path:
        """One figure: latency CDFs, throughputs with their CIs, A/B changes with their CIs.

        Needs matplotlib (``pip install tinytorch-benchmarking[plot]``).
        """
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as err:
            raise PlotUnavailable("Report.plot needs matplotlib: pip install "
                                  "'tinytorch-benchmarking[plot]'  (or pip install matplotlib)") from err
        latencies, throughputs, changes = _plot_data(self.sections)
        panels = [p for p in (("latency", latencies), ("throughput", throughputs),
                              ("change", changes)) if p[1]]
        if not panels:
            raise ValueError("Report.plot: nothing to plot (no scenario or comparison results)")
        fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
        for ax, (kind, data) in zip(axes[0], panels):
            if kind == "latency":
                for label, lat in data:
                    xs = np.sort(np.asarray(lat)) * 1e3
                    ax.plot(xs, np.arange(1, xs.size + 1) / xs.size, label=label)
                lows = [np.min(lat) for _, lat in data if len(lat)]
                highs = [np.max(lat) for _, lat in data if len(lat)]
                if lows and min(lows) > 0 and max(highs) / min(lows) > 20:
                    ax.set_xscale("log")  # e.g. single-stream and a queued server together
                ax.set_xlabel("latency (ms)")
                ax.set_ylabel("fraction of queries")
                ax.set_title("Latency CDF")
                ax.legend(fontsize=8)
            elif kind == "throughput":
                labels = [d[0] for d in data]
                values = [d[1] for d in data]
                errors = [[d[1] - d[2] for d in data], [d[3] - d[1] for d in data]]
                ax.bar(range(len(data)), values, yerr=errors, capsize=4)
                ax.set_xticks(range(len(data)), labels, rotation=20, fontsize=8)
                ax.set_ylabel("samples/s")
                ax.set_title("Throughput (CI)")
            else:
                for i, (label, est, low, high) in enumerate(data):
                    ax.errorbar([est * 100], [i], xerr=[[100 * (est - low)], [100 * (high - est)]],
                                fmt="o", capsize=4)
                ax.axvline(0, color="grey", lw=1)
                ax.set_yticks(range(len(data)), [d[0] for d in data], fontsize=8)
                ax.set_xlabel("B vs A (%)")
                ax.set_title("A/B change (CI)")
        fig.suptitle(self.title)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path


def _plot_data(sections: list) -> tuple:
    """(latency series, throughput bars, A/B changes) found in the sections' dicts."""
    latencies, throughputs, changes = [], [], []

    def visit(label: str, d: Any) -> None:
        if not isinstance(d, dict):
            return
        kind = d.get("kind")
        if kind == "scenario" and "latencies" in d:
            latencies.append((f"{d.get('scenario')}: {d.get('name')}", d["latencies"]))
        elif kind == "scenario" and d.get("scenario") == "offline":
            ci = d.get("interval") or {}
            t = d["throughput"]
            throughputs.append((d.get("name", label), t, ci.get("low", t), ci.get("high", t)))
        elif kind == "ab":
            c = d["change"]
            changes.append((f"{d['title']}", c["estimate"], c["low"], c["high"]))
        elif kind in ("torch_comparison", "ab_suite"):
            for r in d["results"].values():
                visit(label, r)
        elif kind == "repeated":
            for r in d["results"][:1]:
                visit(label, r)

    for heading, result, _ in sections:
        visit(heading, result.to_dict())
    return latencies, throughputs, changes
