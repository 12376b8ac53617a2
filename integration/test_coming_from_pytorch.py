"""docs/coming-from-pytorch.md cannot drift from the code.

Every table row names TinyTorch objects in its second column, relative to the section's
``<!-- base: module -->`` comment (or as a full ``tinytorch.…`` path): ``Tensor.scatter``,
``einsum``, ``Conv2d(padding_mode=, groups=)``. For a row marked *supported* or *differs* each
name must resolve, and each ``arg=`` written after it must be a parameter of it; for a row
marked *missing*, the name (or, when arguments are listed, each argument) must NOT exist — so
implementing a missing feature fails this test until the page says so.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

import tinytorch.core.autograd  # noqa: F401  (the engine: Tensor.backward and friends)

PAGE = Path(__file__).resolve().parents[1] / "docs" / "coming-from-pytorch.md"
STATUSES = ("supported", "differs", "missing")
BASE = re.compile(r"<!--\s*base:\s*([\w.]+)\s*-->")
CODE = re.compile(r"`([^`]+)`")
ENTRY = re.compile(r"^([\w.]+)(?:\((.*)\))?$")


def _rows() -> list:
    rows, base = [], None
    for number, line in enumerate(PAGE.read_text(encoding="utf-8").splitlines(), 1):
        found = BASE.search(line)
        if found:
            base = found.group(1)
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or len(cells) != 4 or cells[2] not in STATUSES:
            continue
        assert base, f"line {number}: a table row before any <!-- base: ... --> comment"
        names = CODE.findall(cells[1])
        assert names, f"line {number}: no `name` in the TinyTorch column: {cells[1]!r}"
        rows.append((number, base, names, cells[2]))
    return rows


def _resolve(path: str):
    """The object at a dotted path: attributes first (``autograd.gradcheck`` is the function,
    not the module of that name), a submodule import only where there is no attribute."""
    parts = path.split(".")
    obj = importlib.import_module(parts[0])
    for i, name in enumerate(parts[1:], 2):
        if hasattr(obj, name):
            obj = getattr(obj, name)
            continue
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            raise AttributeError(f"{path}: no {name!r} in {'.'.join(parts[:i - 1])}") from None
    return obj


def _parameters(obj) -> set:
    target = obj.__init__ if inspect.isclass(obj) else obj
    return set(inspect.signature(target).parameters)


ROWS = _rows()


def test_the_page_has_its_tables():
    assert len(ROWS) >= 50
    assert {status for *_, status in ROWS} == set(STATUSES)


@pytest.mark.parametrize("line, base, names, status", ROWS, ids=[f"line{r[0]}" for r in ROWS])
def test_each_row_says_what_the_code_has(line, base, names, status):
    for text in names:
        match = ENTRY.match(text.strip())
        assert match, f"line {line}: cannot read {text!r} (write Name or Name(arg=, ...))"
        name, args = match.group(1), [a.strip().rstrip("=") for a in (match.group(2) or "").split(",")
                                      if a.strip()]
        path = name if name.startswith("tinytorch.") else f"{base}.{name}"
        if status == "missing" and not args:
            with pytest.raises(AttributeError):
                _resolve(path)
            continue
        obj = _resolve(path)
        params = _parameters(obj)
        for arg in args:
            if status == "missing":
                assert arg not in params, (f"line {line}: {name} now takes {arg}=: mark the row "
                                           "supported (or differs) and say so")
            else:
                assert arg in params, f"line {line}: {name} has no argument {arg!r} ({sorted(params)})"
