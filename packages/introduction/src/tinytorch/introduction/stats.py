"""Live statistics of each module, counted from its files every time they are asked for.

For one module: its lines of code, its public functions and classes (read with ``ast``), its
tests (the functions pytest collects) and its solution blocks (the ``### BEGIN SOLUTION``
markers a student's version replaces). The files are the module's ``src/`` and ``tests/``
in the checkout or an editable install's folder, or the files a wheel recorded.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import asdict, dataclass
from pathlib import Path

from .graph import ModuleGraph, ModuleNode

__all__ = [
    "BEGIN_MARKER",
    "ModuleStats",
    "count_code_lines",
    "public_api",
    "count_tests",
    "count_solution_blocks",
    "module_files",
    "module_stats",
    "graph_stats",
]

#: The comment that opens a solution block (the setup module turns each block into a stub).
BEGIN_MARKER = "### BEGIN SOLUTION"


def count_code_lines(source: str) -> int:
    """Lines that hold code: not blank, and not only a comment.

    A docstring's lines count (they are part of the lesson); ``x = 1  # note`` counts;
    ``# note`` alone does not.

    Args:
        source: the text of one Python file.

    Returns:
        The number of lines that, stripped of surrounding whitespace, are non-empty and
        do not start with ``#``. Example: ``"x = 1\\n\\n# hi\\n  y = 2  # two\\n"`` -> 2.
    """
    ### BEGIN SOLUTION
    ### HINT: source.splitlines(), then str.strip() each line before looking at it
    count = 0
    for line in source.splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            count += 1
    return count
    ### END SOLUTION


def public_api(source: str) -> tuple:
    """``(functions, classes)``: the public names a file defines at its top level.

    Public means not starting with ``_``. Methods are part of their class, not counted apart.
    """
    tree = ast.parse(source)
    functions = [n.name for n in tree.body
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and not n.name.startswith("_")]
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")]
    return functions, classes


def count_tests(source: str) -> int:
    """The test functions pytest collects from a file by default.

    Top-level functions named ``test*``, and methods named ``test*`` of top-level classes
    named ``Test*`` (``async def`` included). Parametrised cases count once.

    Args:
        source: the text of one test file (it must parse).

    Returns:
        The count. Nested functions and methods of non-``Test*`` classes do not count.
    """
    tree = ast.parse(source)
    ### BEGIN SOLUTION
    ### HINT: walk tree.body; look inside ast.ClassDef nodes whose name starts with "Test"
    funcs = (ast.FunctionDef, ast.AsyncFunctionDef)
    count = 0
    for node in tree.body:
        if isinstance(node, funcs) and node.name.startswith("test"):
            count += 1
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            count += sum(1 for m in node.body if isinstance(m, funcs) and m.name.startswith("test"))
    return count
    ### END SOLUTION


def count_solution_blocks(source: str) -> int:
    """How many solution blocks a file has: ``### BEGIN SOLUTION`` *comments*.

    Read with ``tokenize``, so a marker inside a string (a docstring that shows a block, a
    test that builds one) is not a block.

    Args:
        source: the text of one Python file.

    Returns:
        The number of COMMENT tokens whose text, stripped, equals :data:`BEGIN_MARKER`.
    """
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    ### BEGIN SOLUTION
    ### HINT: each token has .type (compare with tokenize.COMMENT) and .string (the text)
    return sum(1 for tok in tokens
               if tok.type == tokenize.COMMENT and tok.string.strip() == BEGIN_MARKER)
    ### END SOLUTION


@dataclass
class ModuleStats:
    """What one module holds, counted from its files.

    Attributes:
        folder: the module's short name.
        files: Python files in its source (tests excluded).
        code_lines: lines of code of the source (see :func:`count_code_lines`).
        public_functions: public top-level functions of the source.
        public_classes: public top-level classes of the source.
        test_files: Python files of its tests.
        test_lines: lines of code of its tests.
        tests: test functions (see :func:`count_tests`).
        solution_blocks: solution blocks of the source (see :func:`count_solution_blocks`).
        found: False when no file of the module could be read (not installed, say).
    """

    folder: str
    files: int = 0
    code_lines: int = 0
    public_functions: int = 0
    public_classes: int = 0
    test_files: int = 0
    test_lines: int = 0
    tests: int = 0
    solution_blocks: int = 0
    found: bool = False

    def to_dict(self) -> dict:
        """Plain values."""
        return asdict(self)


def _is_test_path(parts: tuple) -> bool:
    return "tests" in parts


def module_files(node: ModuleNode) -> tuple:
    """``(source files, test files)`` of a module: its project folder's ``src/`` and ``tests/``,
    or, for an installed wheel, the ``.py`` files it recorded (tests are those under ``tests/``)."""
    if node.path is not None and (node.path / "src").is_dir():
        src = sorted(p for p in (node.path / "src").rglob("*.py") if "__pycache__" not in p.parts)
        tests_dir = node.path / "tests"
        tests = sorted(p for p in tests_dir.rglob("*.py") if "__pycache__" not in p.parts) \
            if tests_dir.is_dir() else []
        return src, tests
    py = [p for p in node.installed_files if p.suffix == ".py" and "__pycache__" not in p.parts]
    return (sorted(p for p in py if not _is_test_path(p.parts)),
            sorted(p for p in py if _is_test_path(p.parts)))


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def module_stats(node: ModuleNode) -> ModuleStats:
    """Count one module's files (a file that cannot be parsed adds its lines only)."""
    src, tests = module_files(node)
    stats = ModuleStats(node.folder, found=bool(src or tests))
    for path in src:
        text = _read(path)
        if text is None:
            continue
        stats.files += 1
        stats.code_lines += count_code_lines(text)
        try:
            functions, classes = public_api(text)
            stats.solution_blocks += count_solution_blocks(text)
        except (SyntaxError, tokenize.TokenError):
            continue
        stats.public_functions += len(functions)
        stats.public_classes += len(classes)
    for path in tests:
        text = _read(path)
        if text is None:
            continue
        stats.test_files += 1
        stats.test_lines += count_code_lines(text)
        try:
            stats.tests += count_tests(text)
        except SyntaxError:
            continue
    return stats


def graph_stats(graph: ModuleGraph) -> dict:
    """``name -> ModuleStats`` for every module of the graph, in learning order."""
    return {n.name: module_stats(n) for n in graph.ordered_nodes()}
