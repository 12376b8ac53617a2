"""``tito lab [<m>]``: open a module's lesson notebook in JupyterLab, in its workspace."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import sys
from pathlib import Path

from ..lesson import LAB_EXTRA, find_lesson, lesson_filename
from ..process import TitoError, run
from ..registry import Module, resolve_module
from . import ui

__all__ = ["lab_command", "register", "run_lab"]


def register(top: argparse._SubParsersAction) -> dict[str, argparse._SubParsersAction]:
    """Add ``tito lab``; it has no sub-commands for plugins."""
    lab = top.add_parser(
        "lab", help="open a module's lesson notebook in JupyterLab",
        description="Start JupyterLab in your workspace of the module "
                    "(./tinytorch-student/<folder>, or --dir) with its lesson notebook "
                    "<NN>_<folder>.ipynb open — written there by `tito module start`, or now if "
                    "it is missing. Without a module, start JupyterLab in the current folder. "
                    f"Needs the optional extra: {LAB_EXTRA}",
        epilog="example: tito module start tensor && tito lab tensor",
        formatter_class=ui.formatter())
    lab.add_argument("module", nargs="?",
                     help="number (02 or 2), folder (tensor) or distribution (tinytorch-tensor)")
    lab.add_argument("--dir", type=Path, help="your workspace "
                                              "(default ./tinytorch-student/<folder>)")
    lab.add_argument("--print-command", action="store_true",
                     help="print the command and the folder it would run in, and stop")
    lab.set_defaults(func=run_lab)
    return {}


def _notebook(module: Module, workspace: Path) -> Path | None:
    """The lesson notebook in ``workspace``, written from the lesson source if missing."""
    from ..notebook import write_notebook

    name = lesson_filename(module)
    notebook = workspace / name.replace(".py", ".ipynb")
    if notebook.is_file():
        return notebook
    in_workspace = workspace / "lesson" / name
    source = in_workspace if in_workspace.is_file() else find_lesson(module)
    return write_notebook(source, notebook) if source is not None else None


def lab_command(module: Module | None, directory: Path | None) -> tuple[list[str], Path]:
    """The JupyterLab command for ``module`` (or the current folder) and where to run it.

    Raises:
        TitoError: if the module has no workspace.
    """
    from ..dists import get_installed
    from ..workspace import find_workspace

    cmd = [sys.executable, "-m", "jupyterlab"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # JupyterLab refuses to start as root without it (containers, course VMs run as root)
        cmd.append("--allow-root")
    if module is None:
        return cmd, (directory or Path.cwd()).resolve()
    workspace = find_workspace(module, directory, get_installed(module.distribution))
    notebook = _notebook(module, workspace)
    if notebook is not None:
        cmd.append(notebook.name)
    return cmd, workspace


def run_lab(args: argparse.Namespace) -> int:
    """Start JupyterLab (or print how it would be started); return its exit code."""
    module = resolve_module(args.module) if args.module else None
    cmd, folder = lab_command(module, args.dir)
    if args.print_command:
        print(f"cd {shlex.quote(str(folder))} && {shlex.join(cmd)}")
        return 0
    if importlib.util.find_spec("jupyterlab") is None:
        raise TitoError(f"JupyterLab is not installed: {LAB_EXTRA}")
    if module is not None and not cmd[-1].endswith(".ipynb"):
        ui.warning(f"{module.distribution} has no lesson notebook; opening its workspace")
    ui.hint(f"starting JupyterLab in {folder} (stop it with Ctrl+C)")
    return run(cmd, cwd=folder).returncode
