"""tito dev check-stubs on the toy package: caught, caught only by the whole suite, not caught."""

from __future__ import annotations

import pytest

from tinytorch.setup.checkstubs import check_package, collect_blocks

MISSED = '''

def halve(x):
    """Half of x (no test calls it)."""
    ### BEGIN SOLUTION
    return x / 2
    ### END SOLUTION


def swallowed(x):
    """Its only test expects any exception, so a stub slips through."""
    ### BEGIN SOLUTION
    if x < 0:
        raise ValueError(x)
    return x
    ### END SOLUTION
'''

SWALLOW_TEST = '''

import pytest

from tinytorch.toy.ops import swallowed


def test_swallowed_rejects_negatives():
    with pytest.raises(Exception):
        swallowed(-1)
'''




@pytest.mark.slow  # nested pytest runs
def test_every_block_of_the_toy_is_caught(toy_package):
    seen = []
    report = check_package(toy_package, jobs=2, timeout=300, on_result=seen.append)
    assert report.error == "", report.error
    assert report.ok and report.block_count == 3
    assert "3 passed" in report.reference_summary
    by_name = {r.block.qualname: r for r in report.blocks}
    assert by_name["double"].status == "caught"
    assert by_name["double"].test == "tests/test_toy.py::test_double"
    assert by_name["double"].runs == 1  # the coverage map sent it straight to its test
    assert by_name["Scaler.__call__"].test == "tests/test_toy.py::test_scaler"
    # triple runs only in a subprocess: the map has no test for it, the whole suite catches it
    assert by_name["triple"].status == "caught"
    assert by_name["triple"].test == "tests/test_toy.py::test_triple_in_a_subprocess"
    assert len(seen) == 3 and all(r.seconds > 0 for r in seen)


@pytest.mark.slow  # nested pytest runs
def test_uncaught_blocks_are_reported_with_file_line_and_name(make_toy):
    from textwrap import dedent

    base = make_toy()
    folder = make_toy(
        "leaky",
        **{
            "src/tinytorch/toy/ops.py": (base / "src/tinytorch/toy/ops.py").read_text() + MISSED,
            "tests/test_swallow.py": dedent(SWALLOW_TEST),
        },
    )
    report = check_package(folder, jobs=1, timeout=300)
    assert not report.ok and report.error == ""
    missed = {r.block.qualname: r for r in report.blocks if r.status != "caught"}
    assert sorted(missed) == ["halve", "swallowed"]
    assert missed["halve"].block.location == "src/tinytorch/toy/ops.py:33"
    assert "whole suite" in missed["halve"].detail
    # its own test first, then the suite without slow tests, then the whole suite
    assert missed["swallowed"].runs == 3


@pytest.mark.slow  # nested pytest runs
def test_failing_reference_is_an_error_and_no_block_is_run(make_toy):
    folder = make_toy("broken", **{"tests/test_more.py": "def test_fails():\n    assert 1 == 2\n"})
    report = check_package(folder, jobs=1)
    assert not report.ok and report.blocks == []
    assert "reference tests do not pass" in report.error and "test_fails" in report.error


def test_packages_without_blocks_are_fine(make_toy):
    folder = make_toy("plain", **{"src/tinytorch/toy/ops.py": "def double(x):\n    return 2 * x\n\n"
                                  "class Scaler:\n    def __init__(self, k):\n        self.k = k\n"
                                  "    def __call__(self, x):\n        return self.k * x\n"})
    report = check_package(folder)
    assert report.ok and report.block_count == 0 and report.blocks == []


def test_malformed_markers_are_an_error(make_toy):
    folder = make_toy("bad", **{"src/tinytorch/toy/bad.py": "def f():\n    ### BEGIN SOLUTION\n"
                                "    return 1\n"})
    report = check_package(folder)
    assert not report.ok
    assert report.error.startswith("src/tinytorch/toy/bad.py:2: ")
    with pytest.raises(ValueError):
        collect_blocks(folder)


@pytest.mark.slow  # nested pytest runs
def test_cli_exit_code(tito, make_toy):
    """Exit code 1 when a block is not caught; the output names it."""
    leaky = make_toy("leaky", **{"tests/test_toy.py": "from tinytorch.toy.ops import double\n\n"
                                 "def test_double():\n    assert double(2) == 4\n"})
    bad = tito("dev", "check-stubs", "--path", str(leaky), "--jobs", "2")
    assert bad.returncode == 1
    assert "NOT caught" in bad.stdout and "ops.py:" in bad.stdout and "Scaler.__call__" in bad.stdout
    assert "✓ caught" in bad.stdout and "tinytorch-toy" in bad.stdout
