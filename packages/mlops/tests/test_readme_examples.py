"""The ```python examples of the lesson (README.md) run as printed.

The README is read from the source tree when the tests run there, and otherwise from the
installed distribution's metadata (it is the package's long description), so the check also
runs from an installed wheel.
"""

from __future__ import annotations

import importlib.util
import re
from importlib import metadata
from pathlib import Path

import pytest

# Blocks that need an optional extra: run only when it is installed.
NEEDS = {"export_onnx(": "onnx", "ASGIModelServer(": "uvicorn"}


def readme_text() -> str:
    source = Path(__file__).resolve().parent.parent / "README.md"
    if source.is_file():
        return source.read_text(encoding="utf-8")
    try:
        meta = metadata.metadata("tinytorch-mlops")
    except metadata.PackageNotFoundError:  # pragma: no cover - neither source nor install
        return ""
    return meta.get_payload() or meta.get("Description", "")


BLOCKS = re.findall(r"^```python\n(.*?)^```", readme_text(), flags=re.MULTILINE | re.DOTALL)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch, capsys):
    code = BLOCKS[index]
    for marker, module in NEEDS.items():
        if marker in code and importlib.util.find_spec(module) is None:
            compile(code, f"README.md block {index}", "exec")  # still valid Python
            pytest.skip(f"needs the optional {module} package")
    monkeypatch.chdir(tmp_path)  # the examples write under ./runs
    exec(compile(code, f"README.md block {index}", "exec"), {"__name__": f"readme_{index}"})


def test_the_tour_prints_what_it_says(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[0], "README.md block 0", "exec"), {"__name__": "readme_tour"})
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "1.0"


def test_the_monitoring_example_raises_the_alerts_it_describes(tmp_path, monkeypatch, capsys):
    block = next(b for b in BLOCKS if "DriftDetector(images)" in b)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md monitoring", "exec"), {"__name__": "readme_monitoring"})
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert float(lines[0]) < 0.01 and 0.8 < float(lines[1]) < 1.3
    assert lines[2] == "1.0 0.0366"
    assert "[input_drift] channel2_mean: PSI" in out and "[accuracy_drop]" in out
    assert "channel0_mean" not in out
    assert (tmp_path / "runs" / "monitoring" / "report.md").exists()
