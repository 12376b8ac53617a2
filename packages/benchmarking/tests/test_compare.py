"""A/B comparisons on a fake clock: alternated rounds, the per-round ratio, the verdict."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.benchmarking import ABSuite, ab_compare, compare_versions, get_model_spec


def costs(clock, durations):
    it = iter(durations)

    def fn():
        clock.advance(next(it))
    return fn


def test_ab_regression_on_fake_clock(clock):
    noise = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0]
    a = costs(clock, [5.0] + [1.0] * 7)                    # warm-up call, then 7 rounds
    b = costs(clock, [5.0] + [1.12 * x for x in noise])
    result = ab_compare({"v1": a, "v2": b}, title="step", rounds=7, min_time=0.0, timer=clock,
                        work=32)
    assert result.comparison.timings["v1"].times == pytest.approx((1.0,) * 7)
    assert result.comparison.timings["v2"].times == pytest.approx(tuple(1.12 * x for x in noise))
    c = result.change
    assert (c.a, c.b) == ("v1", "v2")
    assert c.estimate == pytest.approx(np.exp(np.mean(np.log(np.multiply(noise, 1.12)))) - 1)
    assert c.low < 0.12 < c.high and c.low > 0
    assert c.verdict == "regression"
    assert result.rate("v1") == pytest.approx(32.0)
    assert result.median("v2") == pytest.approx(1.12)
    md = result.to_markdown()
    assert "| v1 | 1.00 s |" in md and ": regression." in md
    d = result.to_dict()
    assert d["kind"] == "ab" and d["change"]["verdict"] == "regression"
    assert d["contenders"]["v2"]["rate"] == pytest.approx(32 / 1.12)


def test_ab_no_difference_on_fake_clock(clock):
    a = costs(clock, [1.0] + [1.0, 1.03, 0.98, 1.01, 0.99])
    b = costs(clock, [1.0] + [1.01, 0.99, 1.02, 0.98, 1.0])
    result = ab_compare({"A": a, "B": b}, rounds=5, min_time=0.0, timer=clock)
    assert result.change.verdict == "no significant difference"
    assert "no significant difference" in result.change.message()


def test_ab_needs_two_contenders():
    with pytest.raises(ValueError):
        ab_compare({"A": lambda: None}, rounds=3)
    with pytest.raises(ValueError):
        ab_compare({"A": lambda: None, "B": lambda: None}, rounds=1)


def test_compare_versions_structure():
    """Real timings (nothing asserted about them): the suite's shape and its report."""
    suite = compare_versions(get_model_spec("mlp"), against="same", batch=4,
                             modes=("latency", "train"), rounds=3, min_time=0.0)
    assert isinstance(suite, ABSuite) and list(suite.results) == ["latency", "train"]
    assert suite.results["train"].work == 4 and suite.results["latency"].work == 1
    for r in suite.results.values():
        assert r.change.verdict in ("regression", "improvement", "no significant difference",
                                    "negligible")
    md = suite.to_markdown()
    assert md.count("\n| ") >= 3 and "A/A test" in md
    assert suite.to_dict()["kind"] == "ab_suite"
    with pytest.raises(ValueError):
        compare_versions(get_model_spec("mlp"), against="nothing")
