"""Source code names a course module by name, not by number (issue 23).

"module 09" written into code (a message, a docstring, a comment) goes stale the day the
course is renumbered, and a user told "module 09" still has to look up what to install. Code
says "tinytorch-autograd" / "the autograd module"; where a number is wanted it comes from the
registry (``tinytorch.setup.registry``, read from ``packages/*/pyproject.toml``). Lesson
notebooks (``packages/*/lesson/``) and READMEs are prose for students and keep their numbers:
only ``packages/*/src`` is checked.

``ALLOWED`` listed the places not converted yet, file by file; every one is converted now, and
the list stays empty (a count above its entry fails, and so does an entry whose file has fewer
places than listed).
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: "module 09", "Module 2", "modules 02" — a course module by its number.
NUMBERED = re.compile(r"\b[Mm]odules? \d{1,2}\b")

ALLOWED: dict[str, int] = {}  # every place is converted; keep it empty


def numbered_references() -> dict[str, list[str]]:
    """Every ``packages/*/src`` Python file with numbered module references: path -> lines."""
    found: dict[str, list[str]] = {}
    for path in sorted(ROOT.glob("packages/*/src/**/*.py")):
        lines = [f"{n}: {line.strip()}"
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 for _ in NUMBERED.findall(line)]
        if lines:
            found[path.relative_to(ROOT).as_posix()] = lines
    return found


def test_the_pattern_finds_numbers_and_not_names():
    text = "needs module 09; Module 2's rule; modules 02 to 05; the autograd module; module's 3"
    assert NUMBERED.findall(text) == ["module 09", "Module 2", "modules 02"]


def test_no_new_numbered_module_reference_in_source_code():
    found = numbered_references()
    assert len(list(ROOT.glob("packages/*/src/**/*.py"))) > 100  # the checkout's sources
    over = {path: lines for path, lines in found.items() if len(lines) > ALLOWED.get(path, 0)}
    assert not over, ("name the module (tinytorch-autograd, 'the autograd module') instead of "
                      f"its number: {over}")


def test_the_allow_list_only_shrinks():
    found = numbered_references()
    stale = {path: (allowed, len(found.get(path, [])))
             for path, allowed in ALLOWED.items() if len(found.get(path, [])) < allowed}
    assert not stale, f"lower or drop these ALLOWED entries (listed, found): {stale}"
