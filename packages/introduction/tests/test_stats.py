"""Counting lines, public API, tests and solution blocks."""

from __future__ import annotations

import textwrap

from tinytorch.introduction import (ModuleGraph, count_code_lines, count_solution_blocks,
                                    count_tests, graph_stats, module_files, module_stats,
                                    public_api)

SOURCE = textwrap.dedent('''\
    """A module docstring
    on two lines."""
    # a comment line

    import numpy as np  # a trailing comment


    def relu(x):
        """max(x, 0)"""
        ### BEGIN SOLUTION
        ### HINT: keep the positive part
        return np.maximum(x, 0)
        ### END SOLUTION


    async def fetch():
        pass


    def _helper():
        return 1


    class Layer:
        def forward(self, x):
            ### BEGIN SOLUTION
            return x
            ### END SOLUTION


    class _Private:
        pass

    EXAMPLE = """
    ### BEGIN SOLUTION
    """
''')

TESTS = textwrap.dedent('''\
    import pytest


    def test_one():
        pass


    @pytest.mark.parametrize("x", [1, 2, 3])
    def test_two(x):
        def test_nested():  # not collected
            pass


    async def test_async():
        pass


    def helper_test():
        pass


    class TestGroup:
        def test_a(self):
            pass

        def helper(self):
            pass

        async def test_b(self):
            pass


    class Group:  # not a Test* class: not collected
        def test_c(self):
            pass
''')


def test_code_lines():
    assert count_code_lines("") == 0
    assert count_code_lines("x = 1\n\n   \n# only a comment\n  # indented comment\ny = 2  # note\n") == 2
    # docstring lines count, comment-only lines do not
    assert count_code_lines(SOURCE) == 17  # a line of a string that starts with # counts as a comment


def test_public_api():
    functions, classes = public_api(SOURCE)
    assert functions == ["relu", "fetch"]
    assert classes == ["Layer"]


def test_count_tests():
    assert count_tests(TESTS) == 5
    assert count_tests("") == 0
    assert count_tests("class TestEmpty:\n    x = 1\n") == 0


def test_solution_blocks_are_comments_not_strings():
    assert count_solution_blocks(SOURCE) == 2
    assert count_solution_blocks('s = "### BEGIN SOLUTION"\n') == 0
    assert count_solution_blocks("x = 1\n") == 0


def test_module_stats_from_a_package_folder(tmp_path, package, node):
    pkg = package(tmp_path, "toy", 3, files={
        "src/tinytorch/core/toy/__init__.py": SOURCE,
        "src/tinytorch/core/toy/__pycache__/junk.py": "def ignored(): pass\n",
        "tests/test_toy.py": TESTS,
        "tests/helpers.py": "def test_like_but_in_helpers(): pass\n",
    })
    n = node("toy", 3, path=pkg)
    src, tests = module_files(n)
    assert [p.name for p in src] == ["__init__.py"]
    assert sorted(p.name for p in tests) == ["helpers.py", "test_toy.py"]
    s = module_stats(n)
    assert (s.files, s.code_lines, s.public_functions, s.public_classes, s.solution_blocks) == (1, 17, 2, 1, 2)
    assert (s.test_files, s.tests) == (2, 6)
    assert s.found


def test_module_stats_from_recorded_wheel_files(tmp_path, node):
    site = tmp_path / "site"
    (site / "tinytorch/core/toy/tests").mkdir(parents=True)
    (site / "tinytorch/core/toy/a.py").write_text(SOURCE)
    (site / "tinytorch/core/toy/tests/test_a.py").write_text(TESTS)
    (site / "tinytorch/core/toy/data.txt").write_text("not python\n")
    files = tuple(site / p for p in ("tinytorch/core/toy/a.py", "tinytorch/core/toy/tests/test_a.py",
                                      "tinytorch/core/toy/data.txt"))
    s = module_stats(node("toy", 3, installed_files=files))
    assert (s.files, s.tests, s.solution_blocks) == (1, 5, 2)


def test_a_module_without_files_is_not_found(node):
    s = module_stats(node("ghost", 9))
    assert not s.found and s.code_lines == 0


def test_a_file_that_does_not_parse_adds_its_lines_only(tmp_path, package, node):
    pkg = package(tmp_path, "broken", 3, files={"src/tinytorch/broken.py": "def oops(:\n    pass\n"})
    s = module_stats(node("broken", 3, path=pkg))
    assert (s.files, s.code_lines, s.public_functions) == (1, 2, 0)


def test_graph_stats_in_learning_order(tmp_path, package, node):
    a = package(tmp_path, "a", 1, files={"src/a.py": "def f():\n    pass\n"})
    b = package(tmp_path, "b", 2, ("a",), files={"src/b.py": "class K:\n    pass\n"})
    g = ModuleGraph.from_nodes([node("b", 2, ("a",), path=b), node("a", 1, path=a)])
    stats = graph_stats(g)
    assert list(stats) == ["tinytorch-a", "tinytorch-b"]
    assert stats["tinytorch-a"].public_functions == 1 and stats["tinytorch-b"].public_classes == 1
