"""Figures in the docs come from results files: blocks of Markdown rendered from them.

A README holds a block between two markers::

    <!-- figures: serve_load begin -->
    ... rendered from capstone/benchmarks/results/serve_load.json ...
    <!-- figures: serve_load end -->

A benchmark script renders the block from its results file (``render``) and
``write_block`` puts it in place; ``integration/test_readme_figures.py`` renders it again and
fails when the README and the results file disagree, so nobody types a figure by hand.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["read_block", "write_block"]


def _pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- figures: {re.escape(name)} begin -->\n)(.*?)"
                      rf"(<!-- figures: {re.escape(name)} end -->)", re.DOTALL)


def read_block(path: Path, name: str) -> str:
    """The text between the markers of block ``name`` in ``path`` (ValueError if missing)."""
    match = _pattern(name).search(Path(path).read_text())
    if match is None:
        raise ValueError(f"{path}: no '<!-- figures: {name} begin/end -->' markers")
    return match.group(2)


def write_block(path: Path, name: str, body: str) -> bool:
    """Replace block ``name`` in ``path`` by ``body``; True when the file changed."""
    path = Path(path)
    text = path.read_text()
    read_block(path, name)  # the markers must be there
    new = _pattern(name).sub(lambda m: m.group(1) + body + m.group(3), text, count=1)
    if new != text:
        path.write_text(new)
    return new != text
