"""Console output for ``tito``: one place that decides colours, widths and message shapes.

Consoles are made per call (not at import) so output follows ``sys.stdout`` as it is when a
command runs — which is what lets tests capture it.
"""

from __future__ import annotations

import argparse
import os
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["STATUS_STYLE", "console", "error", "escape", "formatter", "hint", "success",
           "table", "warning"]

#: How each check / block status is shown.
STATUS_STYLE = {
    "pass": "[green]✓ pass[/]",
    "warn": "[yellow]! warn[/]",
    "fail": "[red]✗ fail[/]",
    "caught": "[green]✓ caught[/]",
    "not caught": "[red]✗ NOT caught[/]",
    "error": "[red]✗ error[/]",
}


def console(stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr); 120 columns when not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and "COLUMNS" not in os.environ:
        width = 120
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def error(message: str, hint_text: str | None = None) -> None:
    """Print ``error: message`` (and a hint) on stderr."""
    err = console(stderr=True)
    err.print(f"[bold red]error:[/] {escape(message)}")
    if hint_text:
        err.print(f"[cyan]hint:[/] {escape(hint_text)}")


def warning(message: str) -> None:
    """Print ``warning: message`` on stderr."""
    console(stderr=True).print(f"[yellow]warning:[/] {escape(message)}")


def hint(message: str) -> None:
    """Print a next-step hint on stdout."""
    console().print(f"[cyan]→[/] {escape(message)}")


def success(message: str) -> None:
    """Print a green success line on stdout."""
    console().print(f"[green]✓[/] {escape(message)}")


def table(title: str, *columns: str) -> Table:
    """A table with the house style."""
    result = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        result.add_column(column)
    return result


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)


def formatter() -> type[argparse.HelpFormatter]:
    """The help formatter every parser uses (keeps descriptions' line breaks)."""
    return _Formatter
