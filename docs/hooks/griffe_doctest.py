"""Griffe extension for the API pages: bare doctest examples render as Python console code.

A docstring such as

    \"\"\"Module 04: layers.

        >>> layer = Dense(784, 128)
        >>> [name for name, _ in layer.named_parameters()]
        ['weight', 'bias']
    \"\"\"

loses its indentation when the docstring is cleaned, and Markdown would then read the example
as a paragraph (and `['weight', 'bias']` as a link). The same happens inside a Google-style
`Title:` section (`Example:`, `Note:`...), whose content griffe dedents. So a run of `>>>` lines
is fenced as ```pycon when it stands at the level of the text around it: at the left margin,
right under a `Title:` line, or level with the text before it. A run indented deeper than the
text before it is already a Markdown code block and is left alone, as is anything inside a
fenced block. A run is handled as a whole: its second line is never read as a new run.
"""
from __future__ import annotations

import re
from typing import Any

import griffe

_TITLE = re.compile(r"^\s*[A-Za-z][\w \-]*:\s*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _at_text_level(block_indent: int, out: list[str]) -> bool:
    if block_indent == 0:
        return True
    if out and _TITLE.match(out[-1]):  # a section's first lines (griffe dedents them)
        return _indent(out[-1]) < block_indent
    previous = next((p for p in reversed(out) if p.strip()), None)
    return previous is not None and not _TITLE.match(previous) and _indent(previous) == block_indent


def fence_doctests(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    fence: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if fence is None and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
        elif fence is not None and stripped.startswith(fence):
            fence = None
        elif fence is None and stripped.startswith(">>>"):
            if _at_text_level(_indent(line), out):
                pad = line[: _indent(line)]
                block = []
                while i < len(lines) and lines[i].strip():
                    block.append(lines[i])
                    i += 1
                if out and out[-1].strip() and not _TITLE.match(out[-1]):
                    out.append("")
                out += [f"{pad}```pycon", *block, f"{pad}```"]
                continue
            # indented deeper than the text: already a code block. Take the whole run, or its
            # second line would look level with the first and be fenced on its own.
            while i < len(lines) and lines[i].strip():
                out.append(lines[i])
                i += 1
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    """Fence bare doctest blocks in every docstring."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
