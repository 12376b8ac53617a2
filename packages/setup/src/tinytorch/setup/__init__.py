"""TinyTorch's setup module: the ``tito`` command and the course's tooling.

``tinytorch.setup`` imports no other TinyTorch package: it discovers the installed modules at
run time (``importlib.metadata``, entry points, files on disk). The pieces a student or an
author uses from Python:

* :func:`stub_source` / :func:`find_blocks` — turn reference code into a student's version;
* :func:`resolve_module` / :data:`MODULES` — the course's module registry;
* :func:`main` — the ``tito`` command line (also ``python -m tinytorch.setup``).
"""

from __future__ import annotations

from .registry import MODULES, Module, UnknownModuleError, resolve_module
from .stubbing import SolutionBlock, StubError, find_blocks, stub_source
from .version import __version__


def main(argv: list[str] | None = None) -> int:
    """Run ``tito`` with ``argv``; return its exit code."""
    from .cli import main as _main

    return _main(argv)


__all__ = [
    "MODULES",
    "Module",
    "SolutionBlock",
    "StubError",
    "UnknownModuleError",
    "__version__",
    "find_blocks",
    "main",
    "resolve_module",
    "stub_source",
]
