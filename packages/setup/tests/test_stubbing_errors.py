"""Malformed solution blocks are rejected with the file and line in the message."""

from __future__ import annotations

import textwrap

import pytest

from tinytorch.setup.stubbing import StubError, find_blocks, stub_source


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


CASES = {
    "begin without end": (src('''
        def f():
            ### BEGIN SOLUTION
            return 1
    '''), 2, "without a matching"),
    "end without begin": (src('''
        def f():
            return 1
            ### END SOLUTION
    '''), 3, "without a ### BEGIN"),
    "nested begin": (src('''
        def f():
            ### BEGIN SOLUTION
            x = 1
            ### BEGIN SOLUTION
            return x
            ### END SOLUTION
    '''), 4, "nested"),
    "module level": (src('''
        ### BEGIN SOLUTION
        X = 1
        ### END SOLUTION
    '''), 1, "module level"),
    "class level": (src('''
        class C:
            def f(self):
                return 1

            ### BEGIN SOLUTION
            y = 2
            ### END SOLUTION
    '''), 5, "class level (in class C)"),
    "misspelt marker": (src('''
        def f():
            ## BEGIN SOLUTION
            return 1
    '''), 2, "malformed marker"),
    "lower-case marker": (src('''
        def f():
            ### end solution
            return 1
    '''), 2, "malformed marker"),
    "empty block": (src('''
        def f():
            ### BEGIN SOLUTION
            ### HINT: nothing here
            ### END SOLUTION
            return 1
    '''), 2, "empty solution block"),
    "end indented differently": (src('''
        def f():
            ### BEGIN SOLUTION
            return 1
        ### END SOLUTION
    '''), 4, "not indented like"),
    "begin indented unlike its code": (src('''
        def f():
                ### BEGIN SOLUTION
            return 1
                ### END SOLUTION
    '''), 2, "not indented like the code"),
    "block running into the next function": (src('''
        def f():
            ### BEGIN SOLUTION
            return 1
        def g():
            ### END SOLUTION
            return 2
    '''), 2, "runs past the end of f"),
    "not python": ("def f(:\n    ### BEGIN SOLUTION\n", 1, "not valid Python"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_innermost_malformed_blocks_name_file_and_line(case):
    text, line, words = CASES[case]
    with pytest.raises(StubError) as info:
        find_blocks(text, "pkg/mod.py")
    assert str(info.value).startswith(f"pkg/mod.py:{line}: "), str(info.value)
    assert words in str(info.value)
    assert info.value.filename == "pkg/mod.py" and info.value.line == line
    with pytest.raises(StubError):
        stub_source(text, "pkg.mod", "pkg/mod.py")


def test_error_is_a_value_error():
    assert issubclass(StubError, ValueError)


def test_a_block_must_hold_whole_statements():
    # Stubbing this would silently drop the `else:` branch and change what `if` means.
    text = src('''
        def f(x):
            if x:
                y = 1
            ### BEGIN SOLUTION
            else:
                y = 2
            ### END SOLUTION
            return y
    ''')
    with pytest.raises(StubError, match=r"^<string>:4: solution block starts in the middle"):
        stub_source(text)
    cut = src('''
        def f(x):
            ### BEGIN SOLUTION
            if x:
                y = 1
            ### END SOLUTION
            else:
                y = 2
            return y
    ''')
    with pytest.raises(StubError, match=r"^<string>:2: the statement at line 3 runs past"):
        stub_source(cut)


def test_a_stub_that_would_not_compile_is_rejected(monkeypatch):
    import tinytorch.setup.stubbing as stubbing

    monkeypatch.setattr(stubbing, "_py_string", lambda text: "(")
    text = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
    with pytest.raises(StubError, match=r"^m\.py:\d+: the stubbed source does not compile"):
        stub_source(text, filename="m.py")
