"""The harness's statistics, calibration and alternation, on a fake clock (no real timing)."""

from __future__ import annotations

import gc
import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.kernels import Comparison, Timing, benchmark, compare, format_seconds, quartiles


# --------------------------------------------------------------------------- quartiles
def test_quartiles_by_hand():
    assert quartiles([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx((2.75, 4.5, 6.25))
    assert quartiles([3.0]) == (3.0, 3.0, 3.0)
    assert quartiles([5, 1]) == pytest.approx((2.0, 3.0, 4.0))
    assert quartiles([4, 1, 3, 2, 5]) == pytest.approx((2.0, 3.0, 4.0))  # order does not matter


@given(st.lists(st.floats(0, 1e3, allow_nan=False), min_size=1, max_size=30))
@settings(max_examples=60, deadline=None)
def test_quartiles_match_numpy_and_statistics(values):
    expected = np.percentile(values, [25, 50, 75])
    np.testing.assert_allclose(quartiles(values), expected, rtol=1e-12, atol=1e-9)
    if len(values) > 1:
        q = statistics.quantiles(values, n=4, method="inclusive")
        np.testing.assert_allclose(quartiles(values), q, rtol=1e-12, atol=1e-9)


def test_quartiles_of_nothing():
    with pytest.raises(ValueError, match="at least one"):
        quartiles([])


# --------------------------------------------------------------------------- benchmark
def test_benchmark_reports_each_run_and_its_statistics(clock):
    # one warm-up call taking 100 s (must not count), then five runs
    fn = clock.costs([100.0, 4.0, 1.0, 3.0, 2.0, 10.0])
    t = benchmark(fn, repeat=5, warmup=1, timer=clock, name="f")
    assert isinstance(t, Timing)
    assert t.name == "f" and t.warmup == 1 and t.number == 1 and t.runs == 5
    assert t.times == (4.0, 1.0, 3.0, 2.0, 10.0)
    assert t.median == 3.0
    assert (t.q1, t.q3) == (2.0, 4.0)
    assert t.iqr == 2.0
    assert t.best == 1.0
    assert t.rate(30.0) == 10.0  # 30 units of work in 3 s
    d = t.to_dict()
    assert d["median"] == 3.0 and d["iqr"] == 2.0 and d["times"] == [4.0, 1.0, 3.0, 2.0, 10.0]


def test_benchmark_divides_a_run_by_its_calls(clock):
    fn = clock.costs([1.0, 2.0, 3.0] + [5.0, 5.0, 5.0] + [0.5, 0.5, 2.0])
    t = benchmark(fn, repeat=3, warmup=0, number=3, timer=clock)
    assert t.number == 3
    assert t.times == pytest.approx((2.0, 5.0, 1.0))
    assert t.median == pytest.approx(2.0)


def test_benchmark_passes_the_arguments(clock):
    seen = []

    def fn(a, b):
        seen.append((a, b))
        clock.advance(1.0)

    benchmark(fn, 3, "x", repeat=2, warmup=1, timer=clock)
    assert seen == [(3, "x")] * 3


def test_benchmark_min_time_doubles_the_calls_until_a_run_is_long_enough(clock):
    calls = []

    def fn():
        calls.append(1)
        clock.advance(0.25)

    t = benchmark(fn, repeat=4, warmup=0, min_time=1.5, timer=clock)
    # runs of 1, 2, 4 calls last 0.25, 0.5, 1.0 s (too short); 8 calls last 2.0 s
    assert t.number == 8
    assert len(calls) == (1 + 2 + 4 + 8) + 4 * 8  # calibration runs are not reported
    assert t.times == pytest.approx((0.25,) * 4)


def test_benchmark_without_min_time_makes_one_call_per_run(clock):
    t = benchmark(clock.costs([1.0] * 10), repeat=3, warmup=0, timer=clock)
    assert t.number == 1 and t.runs == 3


def test_benchmark_pauses_gc_while_timing_and_restores_it(clock):
    states = []

    def fn():
        states.append(gc.isenabled())
        clock.advance(1.0)

    assert gc.isenabled()
    benchmark(fn, repeat=2, warmup=1, timer=clock)
    assert states == [True, False, False]
    assert gc.isenabled()


@pytest.mark.parametrize("kwargs", [{"repeat": 0}, {"warmup": -1}, {"min_time": -1.0},
                                    {"number": 0}, {"min_time": math.nan}])
def test_benchmark_rejects_bad_options(kwargs):
    with pytest.raises(ValueError):
        benchmark(lambda: None, **kwargs)


def test_benchmark_with_the_real_clock_returns_positive_times():
    t = benchmark(sum, range(100), repeat=3)
    assert t.runs == 3 and all(x >= 0 for x in t.times)
    assert t.name == "sum"


# --------------------------------------------------------------------------- compare
def _contenders(clock, costs: dict, log: list) -> dict:
    def make(name, cost):
        def fn():
            log.append(name)
            clock.advance(cost)
        return fn
    return {name: make(name, cost) for name, cost in costs.items()}


def test_compare_alternates_abc_cba(clock):
    log = []
    cmp = compare(_contenders(clock, {"A": 1.0, "B": 2.0, "C": 4.0}, log), repeat=4, warmup=1,
                  timer=clock)
    assert log[:3] == ["A", "B", "C"]  # warm-up
    assert log[3:] == ["A", "B", "C", "C", "B", "A", "A", "B", "C", "C", "B", "A"]
    assert cmp.order == tuple(log[3:])


def test_compare_ratios_follow_the_clock(clock):
    cmp = compare(_contenders(clock, {"slow": 8.0, "fast": 2.0, "mid": 4.0}, []), repeat=3,
                  warmup=0, timer=clock)
    assert isinstance(cmp, Comparison)
    assert cmp.baseline == "slow"
    assert cmp.timings["fast"].median == 2.0
    assert cmp.speedup("fast") == 4.0 and cmp.speedup("mid") == 2.0 and cmp.speedup("slow") == 1.0
    assert cmp.speedups == {"slow": 1.0, "fast": 4.0, "mid": 2.0}
    assert cmp.paired_speedup("fast") == 4.0
    assert cmp.fastest == "fast"
    assert compare(_contenders(clock, {"a": 3.0, "b": 6.0}, []), repeat=1, warmup=0, timer=clock,
                   baseline="b").speedup("a") == 2.0
    d = cmp.to_dict()
    assert d["baseline"] == "slow" and d["contenders"]["fast"]["speedup"] == 4.0
    assert "4.00x" in str(cmp)


def test_compare_paired_speedup_uses_rounds(clock):
    # the machine slows down 10x after the first round; paired ratios stay 2.0
    costs = iter([1.0, 0.5, 5.0, 10.0, 10.0, 5.0])
    fns = {"base": lambda: clock.advance(next(costs)), "new": lambda: clock.advance(next(costs))}
    cmp = compare(fns, repeat=3, warmup=0, timer=clock)
    assert cmp.timings["base"].times == (1.0, 10.0, 10.0)
    assert cmp.timings["new"].times == (0.5, 5.0, 5.0)
    assert cmp.paired_speedup("new") == 2.0


def test_compare_calibrates_each_contender_on_its_own(clock):
    cmp = compare(_contenders(clock, {"slow": 1.0, "fast": 0.125}, []), repeat=2, warmup=0,
                  min_time=1.0, timer=clock)
    assert cmp.timings["slow"].number == 1
    assert cmp.timings["fast"].number == 8
    assert cmp.speedup("fast") == pytest.approx(8.0)


def test_compare_errors():
    with pytest.raises(ValueError, match="at least one"):
        compare({})
    with pytest.raises(ValueError, match="baseline"):
        compare({"a": lambda: None}, baseline="b")


def test_compare_zero_times_do_not_divide_by_zero(clock):
    cmp = compare({"a": lambda: None, "b": lambda: None}, repeat=2, warmup=0, timer=clock)
    assert math.isnan(cmp.speedup("b"))
    assert Timing("t", (0.0,)).rate(1.0) == math.inf


def test_format_seconds():
    assert format_seconds(1.5) == "1.50 s"
    assert format_seconds(0.0123) == "12.3 ms"
    assert format_seconds(0.000456) == "456 µs"
    assert format_seconds(7.8e-8) == "78.0 ns"
    assert format_seconds(0.0) == "0 s"
    assert format_seconds(123.0) == "123 s"
    assert format_seconds(0.9999996) == "1.00 s"  # rounded before the unit is chosen
    assert format_seconds(0.00099996) == "1.00 ms"
