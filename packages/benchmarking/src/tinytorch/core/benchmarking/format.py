"""Formatting helpers shared by the reports: numbers with units, plain-text and Markdown tables."""

from __future__ import annotations

import math
from typing import Sequence

from tinytorch.core.kernels import format_seconds

__all__ = ["format_count", "format_flops", "format_bytes", "format_seconds", "format_rate",
           "text_table", "markdown_table"]


def format_count(n: float) -> str:
    """An integer with thousands separators: ``'545,098'``."""
    return f"{int(n):,}"


def _scaled(value: float, units: Sequence[tuple]) -> str:
    if value is None or not math.isfinite(value):
        return str(value)
    for suffix, scale in units:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {suffix}".rstrip()
    return f"{value:.3g}"


def format_flops(n: float) -> str:
    """FLOPs with a decimal prefix: ``'12.4 M'``, ``'1.59 G'``, ``'640'``."""
    if n == 0:
        return "0"
    return _scaled(float(n), (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3), ("", 1.0)))


def format_bytes(n: float) -> str:
    """Bytes with a decimal prefix: ``'4.19 MB'``, ``'512 B'``."""
    if n == 0:
        return "0 B"
    return _scaled(float(n), (("GB", 1e9), ("MB", 1e6), ("kB", 1e3), ("B", 1.0)))


def format_rate(per_second: float, unit: str = "samples/s") -> str:
    """``'2,852 samples/s'`` (three significant figures below 1000)."""
    if not math.isfinite(per_second):
        return f"{per_second} {unit}"
    if per_second >= 1000:
        return f"{per_second:,.0f} {unit}"
    return f"{per_second:.3g} {unit}"


def text_table(head: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    """A fixed-width table framed by ``=`` rules (``align``: one 'l' or 'r' per column)."""
    ncol = len(head)
    align = align or "l" * ncol
    widths = [max(len(str(head[i])), *(len(str(r[i])) for r in rows)) if rows else len(head[i])
              for i in range(ncol)]

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).ljust(w) if a == "l" else str(c).rjust(w)
                 for c, w, a in zip(cells, widths, align)]
        return "  ".join(parts).rstrip()

    rule = "=" * (sum(widths) + 2 * (ncol - 1))
    return "\n".join([rule, line(head), rule, *(line(r) for r in rows), rule])


def markdown_table(head: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table (``align``: one 'l' or 'r' per column)."""
    align = align or "l" * len(head)
    sep = ["---:" if a == "r" else "---" for a in align[:len(head)]]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(head), "| " + " | ".join(sep) + " |", *(line(r) for r in rows)])
