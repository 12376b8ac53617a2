"""`tito kernels` / `python -m tinytorch.core.kernels`: checks first, and prints what it measured.

The printed numbers are tested on a fake clock: every contender of the real --quick suite is
run for real (and checked against its baseline), but also "takes" a duration the test chose,
so the table must show exactly the medians and ratios that follow from those durations.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from tinytorch.core.kernels import cli, suite
from tinytorch.core.kernels.timing import format_seconds


def _slow_to_fast(clock):
    """Wrap the real quick suite: contender i of each experiment costs 2**-i seconds (powers
    of two, so the fake clock's sums are exact)."""
    real = suite.build_experiments
    costs = {}

    def build(quick=False, sections=None, seed=0):
        experiments = real(quick=quick, sections=sections, seed=seed)
        for exp in experiments:
            wrapped = {}
            for i, (name, fn) in enumerate(exp.contenders.items()):
                cost = 2.0 ** -i
                costs[(exp.title, name)] = cost

                def timed(fn=fn, cost=cost):
                    result = fn()
                    clock.advance(cost)
                    return result
                wrapped[name] = timed
            exp.contenders = wrapped
        return experiments
    return build, costs


def _rows(lines, title):
    """The contender rows printed under the experiment ``title``: name -> columns."""
    start = next(i for i, line in enumerate(lines) if line.endswith(title))
    header = next(i for i in range(start, len(lines)) if lines[i].lstrip().startswith("contender"))
    rows = {}
    for line in lines[header + 1:]:
        if not line.strip():
            break
        cols = re.split(r"\s{2,}", line.strip())
        rows[cols[0]] = cols[1:]
    return rows


def test_quick_table_follows_the_clock(clock, monkeypatch, capsys, tmp_path):
    build, costs = _slow_to_fast(clock)
    monkeypatch.setattr(suite, "build_experiments", build)
    path = tmp_path / "kernels.json"
    code = cli.main(["--quick", "--repeat", "2", "--min-time", "0", "--json", str(path)],
                    timer=clock)
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    report = json.loads(path.read_text())
    titles = [e["title"] for e in report["experiments"]]
    assert {e["section"] for e in report["experiments"]} == set(suite.SECTIONS)
    for exp in report["experiments"]:
        assert exp["check"] == "passed", (exp["title"], exp["check"])
        rows = _rows(lines, exp["title"])
        assert list(rows) == list(exp["contenders"])
        for i, (name, entry) in enumerate(exp["contenders"].items()):
            cost = costs[(exp["title"], name)]
            assert entry["median"] == cost and entry["runs"] == 2
            assert entry["speedup"] == 2.0 ** i
            median, iqr, runs, speedup, *rate = rows[name]
            assert median == format_seconds(cost)
            assert iqr == format_seconds(0.0)
            assert runs == "2x1"
            assert speedup == cli.format_ratio(2.0 ** i)
            if exp["unit"]:
                assert rate == [cli._rate(exp["work"] / cost / suite.UNITS[exp["unit"]][1])]
    # the summary: the best non-baseline contender is the last (cheapest) one
    summary = lines[lines.index(next(l for l in lines if l.startswith("Measured speed-ups"))):]
    for title, exp in zip(titles, report["experiments"]):
        row = next(l for l in summary if l.endswith(f"[{exp['section']}] {title}"))
        n = len(exp["contenders"])
        assert row.split()[0] == cli.format_ratio(2.0 ** (n - 1))
    assert report["machine"]["cpus"] >= 1 and "numpy" in report["machine"]
    assert report["options"]["quick"] is True


def test_a_wrong_kernel_is_reported_and_fails_the_run(clock, monkeypatch, capsys):
    bad = suite.Experiment("fused", "a deliberately wrong contender",
                           {"right": lambda: np.arange(3.0), "wrong": lambda: np.arange(3.0) + 1})
    monkeypatch.setattr(suite, "build_experiments", lambda **kw: [bad])
    code = cli.main(["--quick", "--repeat", "1", "--min-time", "0"], timer=clock)
    captured = capsys.readouterr()
    assert code == 1
    assert "MISMATCH" in captured.out and "CHECK FAILED" in captured.err


def test_real_clock_quick_section_via_python_m(tmp_path):
    """`python -m tinytorch.core.kernels` runs with the real clock and saves consistent JSON."""
    path = tmp_path / "k.json"
    proc = subprocess.run([sys.executable, "-m", "tinytorch.core.kernels", "--quick", "--only",
                           "dtype", "--repeat", "3", "--json", str(path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "load average" in proc.stdout and "[dtype]" in proc.stdout
    report = json.loads(path.read_text())
    for exp in report["experiments"]:
        base = exp["contenders"][exp["baseline"]]
        for entry in exp["contenders"].values():
            assert entry["median"] == pytest.approx(float(np.median(entry["times"])))
            assert entry["speedup"] == pytest.approx(base["median"] / entry["median"])
            assert entry["median"] > 0 and len(entry["times"]) == 3


def test_registered_as_a_tito_command():
    eps = importlib.metadata.entry_points(group="tinytorch.tito")
    (ep,) = [e for e in eps if e.name == "kernels"]
    assert ep.value == "tinytorch.core.kernels.cli:register"
    parser = argparse.ArgumentParser(prog="tito")
    ep.load()(parser.add_subparsers())
    args = parser.parse_args(["kernels", "--quick", "--only", "matmul", "--json", "x.json"])
    assert args.func is cli.run and args.quick and args.only == ["matmul"]
    with pytest.raises(SystemExit):
        parser.parse_args(["kernels", "--only", "nonsense"])


def test_bad_options(capsys):
    assert cli.main(["--repeat", "0"]) == 2
    assert "--repeat" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown section"):
        suite.build_experiments(sections=["nope"])


def test_format_ratio():
    assert cli.format_ratio(965.1) == "965x"
    assert cli.format_ratio(27.44) == "27.4x"
    assert cli.format_ratio(1.0) == "1.00x"
    assert cli.format_ratio(0.52) == "0.52x"
    assert cli.format_ratio(0.4) == "0.40x"
    assert cli.format_ratio(0.004612) == "0.0046x"


def test_docstring_examples_run():
    import doctest

    import tinytorch.core.kernels as package
    from tinytorch.core.kernels import layout, ops, timing

    for module in (package, layout, ops, timing):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0, module.__name__
