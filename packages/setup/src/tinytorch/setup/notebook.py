"""Lesson sources in jupytext's *percent* format, turned into Jupyter notebooks.

A lesson is kept in the repository as a plain Python file that also runs as a script:

.. code-block:: python

    # ---
    # jupyter:
    #   kernelspec:
    #     display_name: Python 3
    #     language: python
    #     name: python3
    # ---

    # %% [markdown]
    # # Tensors
    #
    # Prose, every line commented.

    # %% Exercise 1
    check("tensor", "binary")

:func:`percent_to_notebook` reads that format into an nbformat 4.5 notebook (a plain ``dict``,
the JSON structure of an ``.ipynb``) with the standard library only, so ``tito module start``
can write a student's notebook without jupytext installed. It covers what the lessons use:
the YAML header (a comment block between ``# ---`` lines, read for its ``kernelspec``), code
cells (``# %%``, optionally followed by a title), markdown cells (``# %% [markdown]`` or
``[md]``, each line's leading ``# `` or ``#`` removed) and raw cells (``# %% [raw]``). As in
jupytext, blank lines separating cells belong to no cell, and a title after ``# %%`` is kept
as the cell's ``title`` metadata.

Where the two readings differ, it is on whitespace no lesson should have: every blank line at
the end of a cell is dropped here, while jupytext drops at most two (and keeps a last line
holding only spaces). ``tests/test_lesson.py`` compares both readings on every lesson.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_KERNELSPEC", "percent_to_notebook", "read_notebook", "write_notebook"]

#: The kernel every lesson runs on unless its header names another.
DEFAULT_KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}

#: ``# %%`` then an optional ``[type]`` then an optional title.
_MARKER = re.compile(r"^# %%(?:\s+\[(?P<kind>\w+)\])?(?P<rest>.*)$")
_KINDS = {"markdown": "markdown", "md": "markdown", "raw": "raw"}


def _header(lines: list[str]) -> tuple[dict[str, Any], int]:
    """Parse the ``# ---`` YAML comment block at the top; return (mapping, lines used).

    Only nested mappings of scalars are understood (what jupytext writes); that is enough
    to read the ``kernelspec``. Without a header the mapping is empty and no line is used.
    """
    if not lines or lines[0].rstrip() != "# ---":
        return {}, 0
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    for index in range(1, len(lines)):
        line = lines[index].rstrip()
        if line == "# ---":
            used = index + 1
            if used < len(lines) and not lines[used].strip():
                used += 1  # the blank line after the header belongs to it
            return root, used
        body = line[2:] if line.startswith("# ") else line.lstrip("#")
        if not body.strip() or ":" not in body:
            continue
        indent = len(body) - len(body.lstrip())
        key, _, value = body.strip().partition(":")
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if value.strip():
            parent[key.strip()] = value.strip().strip("\"'")
        else:
            child: dict[str, Any] = {}
            parent[key.strip()] = child
            stack.append((indent, child))
    return {}, 0  # no closing "# ---": not a header after all


def _uncomment(line: str) -> str:
    """A markdown line without its comment prefix (``# `` or a lone ``#``)."""
    if line.startswith("# "):
        return line[2:]
    if line.startswith("#"):
        return line[1:]
    return line


def _trim(lines: list[str]) -> list[str]:
    """``lines`` without the blank lines at the end (they separate cells)."""
    end = len(lines)
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    return lines[:end]


def _cell(index: int, kind: str, lines: list[str], title: str) -> dict[str, Any]:
    if kind != "code":
        lines = [_uncomment(line) for line in lines]
    cell: dict[str, Any] = {
        "cell_type": kind,
        "id": f"cell-{index:03d}",
        "metadata": {"title": title} if title else {},
        "source": "\n".join(lines),
    }
    if kind == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    return cell


def percent_to_notebook(text: str) -> dict[str, Any]:
    """Convert a percent-format lesson into an nbformat 4.5 notebook.

    Args:
        text: The lesson source (see the module docstring for the format).

    Returns:
        The notebook as a JSON-ready ``dict``: ``nbformat`` 4, ``nbformat_minor`` 5, the
        header's ``kernelspec`` (python3 by default) in its metadata, and one cell per
        ``# %%`` marker (plus one for any code before the first marker), each with a stable
        ``id`` (``cell-000``, ``cell-001``…), its source as one string, and for code cells
        no outputs and no execution count.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    header, used = _header(lines)
    cells: list[dict[str, Any]] = []
    kind, title = "code", ""
    body: list[str] = []

    def flush() -> None:
        cells.append(_cell(len(cells), kind, _trim(body), title))

    started = False
    for line in lines[used:]:
        match = _MARKER.match(line.rstrip())
        if match is None:
            body.append(line.rstrip("\n"))
            continue
        if started or _trim(body):
            flush()
        started = True
        kind = _KINDS.get((match.group("kind") or "").lower(), "code")
        title, body = match.group("rest").strip(), []
    if started or _trim(body):
        flush()
    jupyter = header.get("jupyter", {}) if isinstance(header.get("jupyter"), dict) else {}
    kernelspec = jupyter.get("kernelspec") or dict(DEFAULT_KERNELSPEC)
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": kernelspec,
            "language_info": {"name": kernelspec.get("language", "python")},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _source_lines(source: str) -> list[str]:
    """A cell source in the on-disk form: a list of lines, each but the last ending in ``\\n``."""
    return source.splitlines(keepends=True)


def write_notebook(src: Path, dest: Path) -> Path:
    """Convert the percent-format lesson ``src`` into the notebook file ``dest``.

    Args:
        src: The lesson source (``02_tensor.py``).
        dest: The ``.ipynb`` file to write (its folder is created if needed).

    Returns:
        ``dest``.

    Raises:
        OSError: if ``src`` cannot be read or ``dest`` written.
    """
    notebook = percent_to_notebook(src.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        cell["source"] = _source_lines(cell["source"])
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return dest


def read_notebook(path: Path) -> dict[str, Any]:
    """A lesson as a notebook dict: converted from a ``.py`` source, or read from an ``.ipynb``."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        return json.loads(text)
    return percent_to_notebook(text)
