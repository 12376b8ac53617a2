"""The docstring examples of the modules students read, and the README's first example, run."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

from tinytorch.core.benchmarking import flops, scenarios, stats

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.parametrize("module", [flops, stats, scenarios], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0


def test_readme_profiler_example(capsys):
    if not README.exists():  # installed from a wheel: the README is not shipped with the tests
        pytest.skip("README.md is not next to the tests")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    first = blocks[0]
    assert "Profiler(model)" in first
    exec(compile(first, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "└ 3: Conv2d" in out and "Total params: 545,098" in out
