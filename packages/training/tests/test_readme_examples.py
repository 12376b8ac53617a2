"""The ```python examples of the lesson (README.md) run as printed.

The README is read from the source tree when the tests run there, and otherwise from the
installed distribution's metadata (it is the package's long description), so the check also
runs from an installed wheel.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

# Blocks that are shown but not run here, with the reason.
NOT_RUN = {"train_cifar10(": "trains on the real CIFAR-10 for minutes (integration/ does that)"}


def readme_text() -> str:
    source = Path(__file__).resolve().parent.parent / "README.md"
    if source.is_file():
        return source.read_text(encoding="utf-8")
    try:
        meta = metadata.metadata("tinytorch-training")
    except metadata.PackageNotFoundError:  # pragma: no cover - neither source nor install
        return ""
    return meta.get_payload() or meta.get("Description", "")


BLOCKS = re.findall(r"^```python\n(.*?)^```", readme_text(), flags=re.MULTILINE | re.DOTALL)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch, capsys):
    code = BLOCKS[index]
    for marker, reason in NOT_RUN.items():
        if marker in code:
            compile(code, f"README.md block {index}", "exec")  # still valid Python
            pytest.skip(reason)
    monkeypatch.chdir(tmp_path)  # the examples write under ./runs
    exec(compile(code, f"README.md block {index}", "exec"), {"__name__": f"readme_{index}"})
