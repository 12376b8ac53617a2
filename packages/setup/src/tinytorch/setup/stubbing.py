"""Turn reference code into a student's version: find and stub solution blocks.

A solution block sits inside a function or method body::

    def relu(x: Tensor) -> Tensor:
        ### BEGIN SOLUTION
        ### HINT: keep the positive part, zero the rest
        return x.relu()
        ### END SOLUTION

:func:`stub_source` replaces each block by its hint lines (kept as comments) followed by
``raise NotImplementedError("<module>.<qualname>: implement this ...")`` at the block's
indentation, so the stubbed module still imports and every call of the function says what to
write. :func:`find_blocks` lists the blocks with file, line and enclosing qualified name, and
rejects malformed markers with a :class:`StubError` naming the file and line.

Markers are recognised only in comments (the tokenizer tells them apart from strings), so a
docstring that shows an example block is left alone.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "BEGIN_MARKER",
    "END_MARKER",
    "HINT_PREFIX",
    "SolutionBlock",
    "StubError",
    "find_blocks",
    "stub_message",
    "stub_source",
]

BEGIN_MARKER = "### BEGIN SOLUTION"
END_MARKER = "### END SOLUTION"
HINT_PREFIX = "### HINT:"

# A comment that looks like a marker but is not spelled exactly like one (a typo to report).
_LOOKS_LIKE_MARKER = re.compile(r"^#+\s*(BEGIN|END)\s*SOLUTION\b", re.IGNORECASE)


class StubError(ValueError):
    """A malformed solution block; the message starts with ``file:line:``."""

    def __init__(self, filename: str, line: int, message: str) -> None:
        super().__init__(f"{filename}:{line}: {message}")
        self.filename = filename
        self.line = line


@dataclass(frozen=True)
class SolutionBlock:
    """One ``### BEGIN SOLUTION`` … ``### END SOLUTION`` block.

    Attributes:
        filename: The file it was found in (as given to :func:`find_blocks`).
        begin: 1-based line of the BEGIN marker.
        end: 1-based line of the END marker.
        indent: The whitespace in front of the BEGIN marker.
        qualname: Qualified name of the enclosing function, e.g. ``Tensor.__add__``.
        hints: The ``### HINT:`` lines directly after BEGIN, stripped.
        code_lines: The lines of the block holding code (not blank, not comments).
    """

    filename: str
    begin: int
    end: int
    indent: str
    qualname: str
    hints: tuple[str, ...]
    code_lines: tuple[int, ...]

    @property
    def location(self) -> str:
        """``file:line`` of the BEGIN marker."""
        return f"{self.filename}:{self.begin}"


def stub_message(module: str, qualname: str, has_hints: bool) -> str:
    """The text of the ``NotImplementedError`` raised by a stubbed block."""
    where = f"{module}.{qualname}" if module else qualname
    pointer = "see the hint above" if has_hints else "see the docstring"
    return f"{where}: implement this ({pointer})"


def _comment_lines(text: str, filename: str) -> dict[int, tuple[int, str]]:
    """Map line number → (column, comment text) for lines holding only a comment."""
    found: dict[int, tuple[int, str]] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT and not tok.line[: tok.start[1]].strip():
                found[tok.start[0]] = (tok.start[1], tok.string.rstrip())
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        line = getattr(exc, "lineno", None) or (exc.args[1][0] if len(exc.args) > 1 else 1)
        raise StubError(filename, int(line), f"cannot tokenize: {exc.args[0]}") from None
    return found


@dataclass(frozen=True)
class _Scope:
    qualname: str
    kind: str  # "function" or "class"
    header: int  # line of the ``def``/``class`` keyword (decorators come before it)
    end: int


def _scopes(tree: ast.Module) -> list[_Scope]:
    """Every function and class with its qualified name and line span."""
    scopes: list[_Scope] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qual = prefix + child.name
                is_class = isinstance(child, ast.ClassDef)
                end = child.end_lineno or child.lineno
                scopes.append(_Scope(qual, "class" if is_class else "function", child.lineno, end))
                visit(child, qual + ("." if is_class else ".<locals>."))
            else:
                visit(child, prefix)

    visit(tree, "")
    return scopes


def _statement_spans(tree: ast.Module) -> list[tuple[int, int]]:
    """(first line, last line) of every statement; a decorated one starts at its decorator."""
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            decorators = getattr(node, "decorator_list", [])
            start = min([node.lineno, *(d.lineno for d in decorators)])
            spans.append((start, node.end_lineno or node.lineno))
    return spans


def _innermost(scopes: list[_Scope], line: int) -> _Scope | None:
    """The innermost function or class whose body contains ``line``.

    Args:
        scopes: every function and class of the file (from :func:`_scopes`), each with the
            line of its ``def``/``class`` keyword (``header``) and its last line (``end``).
        line: a 1-based line number.

    Returns:
        The scope with ``header < line <= end`` that starts last (scopes nest, so the one
        that starts last is the innermost), or None when no scope contains the line (module
        level). The ``def`` line itself is not inside its function.
    """
    best: _Scope | None = None
    ### BEGIN SOLUTION
    ### HINT: a scope contains the line when header < line <= end; inner scopes start later
    for scope in scopes:
        if scope.header < line <= scope.end and (best is None or scope.header >= best.header):
            best = scope
    ### END SOLUTION
    return best


def find_blocks(text: str, filename: str = "<string>") -> list[SolutionBlock]:
    """List the solution blocks of a Python source, checking that each is well formed.

    Args:
        text: The Python source.
        filename: Used in error messages and stored on each block.

    Returns:
        The blocks in file order.

    Raises:
        StubError: for a BEGIN without END, an END without BEGIN, a nested BEGIN, a misspelt
            marker, an empty block, a block at module or class level, or a block whose
            markers are not indented like its code.
    """
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        raise StubError(filename, exc.lineno or 1, f"not valid Python: {exc.msg}") from None
    comments = _comment_lines(text, filename)
    scopes = _scopes(tree)
    spans = _statement_spans(tree)
    lines = text.splitlines()
    blocks: list[SolutionBlock] = []
    open_line: int | None = None
    for lineno in sorted(comments):
        col, comment = comments[lineno]
        if comment == BEGIN_MARKER:
            if open_line is not None:
                raise StubError(
                    filename, lineno, f"nested {BEGIN_MARKER} (the block opened at line "
                    f"{open_line} has no {END_MARKER} before it)"
                )
            open_line = lineno
        elif comment == END_MARKER:
            if open_line is None:
                raise StubError(filename, lineno, f"{END_MARKER} without a {BEGIN_MARKER}")
            blocks.append(_make_block(filename, lines, comments, scopes, spans, open_line, lineno))
            open_line = None
        elif _LOOKS_LIKE_MARKER.match(comment):
            raise StubError(
                filename, lineno, f"malformed marker {comment!r}: write exactly "
                f"{BEGIN_MARKER!r} or {END_MARKER!r}"
            )
    if open_line is not None:
        raise StubError(filename, open_line, f"{BEGIN_MARKER} without a matching {END_MARKER}")
    return blocks


def _make_block(
    filename: str,
    lines: list[str],
    comments: dict[int, tuple[int, str]],
    scopes: list[_Scope],
    spans: list[tuple[int, int]],
    begin: int,
    end: int,
) -> SolutionBlock:
    indent = lines[begin - 1][: comments[begin][0]]
    if lines[end - 1][: comments[end][0]] != indent:
        raise StubError(filename, end, f"{END_MARKER} is not indented like its {BEGIN_MARKER} "
                        f"(line {begin})")
    hints: list[str] = []
    lineno = begin + 1
    while lineno < end and lineno in comments and comments[lineno][1].startswith(HINT_PREFIX):
        hints.append(comments[lineno][1])
        lineno += 1
    code = tuple(n for n in range(begin + 1, end) if lines[n - 1].strip() and n not in comments)
    if not code:
        raise StubError(filename, begin, "empty solution block (no code between the markers)")
    first_line = lines[code[0] - 1]
    if first_line[: len(first_line) - len(first_line.lstrip())] != indent:
        raise StubError(filename, begin, f"{BEGIN_MARKER} is not indented like the code under "
                        f"it (line {code[0]})")
    scope = _innermost(scopes, begin)
    if scope is None or scope.kind != "function":
        where = "module level" if scope is None else f"class level (in class {scope.qualname})"
        raise StubError(filename, begin, f"solution block at {where}: blocks must sit inside "
                        "a function or method body")
    if code[-1] > scope.end:
        raise StubError(filename, begin, f"solution block runs past the end of "
                        f"{scope.qualname} (its END marker is at line {end})")
    first, last = code[0], code[-1]
    if not any(start == first for start, _ in spans):
        raise StubError(filename, begin, f"solution block starts in the middle of a statement "
                        f"(line {first}); put {BEGIN_MARKER} before a whole statement")
    for start, stop in spans:
        if first <= start <= last < stop:
            raise StubError(filename, begin, f"the statement at line {start} runs past "
                            f"{END_MARKER} (line {end}); a block holds whole statements")
    return SolutionBlock(filename, begin, end, indent, scope.qualname, tuple(hints), code)


def _py_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def stub_source(
    text: str,
    module: str = "",
    filename: str = "<string>",
    only: Iterable[int] | None = None,
) -> str:
    """Replace solution blocks by ``raise NotImplementedError(...)``.

    Args:
        text: Reference Python source.
        module: Dotted module name used in the error message (``tinytorch.core.tensor.ops``).
        filename: Used in error messages.
        only: BEGIN line numbers of the blocks to stub; ``None`` stubs every block.

    Returns:
        The student's source: each chosen block becomes its hint lines followed by a
        ``raise`` at the block's indentation; everything else is unchanged.

    Raises:
        StubError: for malformed markers (see :func:`find_blocks`), or if the result would
            not compile.
    """
    blocks = find_blocks(text, filename)
    chosen = None if only is None else set(only)
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if text.count("\r\n") * 2 > text.count("\n") else "\n"
    out: list[str] = []
    cursor = 0  # index into lines of the next line to copy
    ### BEGIN SOLUTION
    ### HINT: copy the lines before each block, then its hints and a raise at its indentation
    for block in blocks:
        if chosen is not None and block.begin not in chosen:
            continue
        out.extend(lines[cursor : block.begin - 1])
        out.extend(f"{block.indent}{hint}{newline}" for hint in block.hints)
        message = stub_message(module, block.qualname, bool(block.hints))
        out.append(f"{block.indent}raise NotImplementedError({_py_string(message)}){newline}")
        cursor = block.end
    out.extend(lines[cursor:])
    ### END SOLUTION
    result = "".join(out)
    try:
        compile(result, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise StubError(filename, exc.lineno or 1,
                        f"the stubbed source does not compile: {exc.msg}") from None
    return result
