"""stub_source / find_blocks on tricky but valid inputs: the result compiles and raises."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.setup.stubbing import find_blocks, stub_message, stub_source


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def run_stubbed(text: str, module: str = "pkg.mod") -> dict:
    namespace: dict = {}
    exec(compile(stub_source(text, module), "<stubbed>", "exec"), namespace)
    return namespace


def test_stub_source_function_block_becomes_raise_with_hint_kept():
    text = src('''
        def relu(x):
            """ReLU."""
            ### BEGIN SOLUTION
            ### HINT: keep the positive part
            ### HINT: zero the rest
            return max(x, 0)
            ### END SOLUTION
    ''')
    out = stub_source(text, "tinytorch.core.activations.functions")
    assert out == src('''
        def relu(x):
            """ReLU."""
            ### HINT: keep the positive part
            ### HINT: zero the rest
            raise NotImplementedError("tinytorch.core.activations.functions.relu: implement this (see the hint above)")
    ''')
    with pytest.raises(NotImplementedError, match=r"^pkg\.mod\.relu: implement this"):
        run_stubbed(text)["relu"](1)


def test_stub_source_code_around_the_block_is_kept_and_indentation_follows_the_block():
    text = src('''
        def f(x, flag):
            y = x + 1
            if flag:
                ### BEGIN SOLUTION
                y = y * 2
                for i in range(3):
                    y += i
                ### END SOLUTION
            return y
    ''')
    out = stub_source(text)
    assert "    y = x + 1\n" in out and "    return y\n" in out
    assert '        raise NotImplementedError("f: implement this (see the docstring)")\n' in out
    f = run_stubbed(text)["f"]
    assert f(1, False) == 2
    with pytest.raises(NotImplementedError):
        f(1, True)


def test_innermost_methods_decorators_nested_functions_and_async_get_qualified_names():
    text = src('''
        import functools

        class Tensor:
            @property
            def shape(self):
                ### BEGIN SOLUTION
                return (1,)
                ### END SOLUTION

            @staticmethod
            @functools.lru_cache(maxsize=None)
            def make(n):
                def helper(k):
                    ### BEGIN SOLUTION
                    return k * 2
                    ### END SOLUTION
                return helper(n)

            class Inner:
                async def go(self):
                    ### BEGIN SOLUTION
                    return 1
                    ### END SOLUTION
    ''')
    names = [b.qualname for b in find_blocks(text)]
    assert names == ["Tensor.shape", "Tensor.make.<locals>.helper", "Tensor.Inner.go"]
    ns = run_stubbed(text, "m")
    with pytest.raises(NotImplementedError, match=r"^m\.Tensor\.shape: "):
        ns["Tensor"]().shape
    with pytest.raises(NotImplementedError, match=r"m\.Tensor\.make\.<locals>\.helper"):
        ns["Tensor"].make(3)


def test_stub_source_markers_in_strings_and_docstrings_are_not_blocks():
    text = src('''
        def f():
            """Example::

                ### BEGIN SOLUTION
                return 1
                ### END SOLUTION
            """
            marker = "### BEGIN SOLUTION"
            return marker
    ''')
    assert find_blocks(text) == []
    assert stub_source(text) == text


def test_stub_source_several_blocks_in_one_function_and_only_selects_some():
    text = src('''
        def f(x):
            ### BEGIN SOLUTION
            a = x
            ### END SOLUTION
            b = 1
            ### BEGIN SOLUTION
            return a + b
            ### END SOLUTION
    ''')
    blocks = find_blocks(text, "m.py")
    assert [(b.begin, b.end, b.code_lines) for b in blocks] == [(2, 4, (3,)), (6, 8, (7,))]
    assert blocks[0].location == "m.py:2"
    second_only = stub_source(text, only=[6])
    assert "    a = x\n" in second_only and "return a + b" not in second_only
    assert second_only.count("raise NotImplementedError") == 1
    assert stub_source(text, only=[]) == text


def test_stub_source_tabs_crlf_comments_and_blank_lines_inside_a_block():
    text = "def f():\r\n\t### BEGIN SOLUTION\r\n\r\n\t# a comment\r\n\treturn 1\r\n\t### END SOLUTION\r\n"
    out = stub_source(text)
    assert out == 'def f():\r\n\traise NotImplementedError("f: implement this (see the docstring)")\r\n'
    assert find_blocks(text)[0].code_lines == (5,)


def test_stub_source_block_with_nested_def_and_multiline_expression():
    text = src('''
        def outer(xs):
            ### BEGIN SOLUTION
            def key(v):
                return -v
            return sorted(
                xs,
                key=key,
            )
            ### END SOLUTION
    ''')
    with pytest.raises(NotImplementedError, match="outer: implement this"):
        run_stubbed(text)["outer"]([1, 2])


def test_stub_source_messages():
    assert stub_message("a.b", "C.f", True) == "a.b.C.f: implement this (see the hint above)"
    assert stub_message("", "f", False) == "f: implement this (see the docstring)"


@settings(max_examples=60, deadline=None)
@given(
    depth=st.integers(0, 3),
    width=st.sampled_from([2, 4, 8]),
    hints=st.lists(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
                   max_size=3),
    in_class=st.booleans(),
    body=st.sampled_from(["return x", "y = x\nreturn y", "if x:\n    return 1\nreturn 0"]),
)
def test_stub_source_any_well_formed_block_stubs_to_code_that_compiles_and_raises(depth, width, hints,
                                                                      in_class, body):
    pad = " " * width
    lines = []
    indent = ""
    if in_class:
        lines.append("class K:")
        indent = pad
        lines.append(f"{indent}@staticmethod")
    lines.append(f"{indent}def f(x):")
    indent += pad
    for level in range(depth):
        lines.append(f"{indent}if x is not None:  # level {level}")
        indent += pad
    lines.append(f"{indent}### BEGIN SOLUTION")
    lines += [f"{indent}### HINT: {h}" for h in hints]
    lines += [indent + line if line else line for line in body.replace("    ", pad).split("\n")]
    lines.append(f"{indent}### END SOLUTION")
    if depth:
        lines.append(f"{pad * (2 if in_class else 1)}return None")
    text = "\n".join(lines) + "\n"
    out = stub_source(text, "gen")
    assert out.count("### HINT:") == len(hints)
    ns: dict = {}
    exec(compile(out, "<gen>", "exec"), ns)
    func = ns["K"].f if in_class else ns["f"]
    with pytest.raises(NotImplementedError, match=("gen.K.f" if in_class else "gen.f") + ": "):
        func(1)
