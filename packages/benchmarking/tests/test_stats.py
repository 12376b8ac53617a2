"""Percentiles, t quantiles and intervals, bootstrap intervals and the regression verdict,
on samples whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.benchmarking import (VERDICTS, bootstrap_interval, percentile, percentiles,
                                         relative_change, t_cdf, t_interval, t_quantile, verdict)


# ------------------------------------------------------------------ percentiles
def test_percentiles_of_known_samples():
    one_to_ten = list(range(1, 11))
    assert percentile(one_to_ten, 0) == 1
    assert percentile(one_to_ten, 100) == 10
    assert percentile(one_to_ten, 50) == 5.5
    assert percentile(one_to_ten, 90) == pytest.approx(9.1)
    assert percentile(one_to_ten, 99) == pytest.approx(9.91)
    assert percentile([10, 20, 30, 40], 50) == 25
    assert percentile([10, 20, 30, 40], 25) == 17.5
    assert percentile([7.0], 99) == 7.0
    assert percentile([3, 1, 2], 50) == 2  # unsorted input
    assert percentiles(one_to_ten) == {"p50": 5.5, "p90": pytest.approx(9.1),
                                       "p99": pytest.approx(9.91)}


def test_percentile_errors():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1, 2], 101)
    with pytest.raises(ValueError):
        percentile([1, float("nan")], 50)


@settings(max_examples=60)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40), st.floats(0, 100))
def test_percentile_matches_numpy(values, q):
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-9, abs=1e-6)


# ------------------------------------------------------------------ Student's t
@pytest.mark.parametrize("p, df, expected", [
    (0.975, 1, 12.7062), (0.975, 4, 2.7764), (0.975, 9, 2.2622), (0.975, 30, 2.0423),
    (0.95, 5, 2.0150), (0.995, 10, 3.1693), (0.975, 1000, 1.9623),
])
def test_t_quantiles_from_tables(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-4)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=1e-4)
    assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-9)


def test_t_cdf_shape():
    assert t_cdf(0.0, 3) == 0.5
    assert t_cdf(-2.0, 10) == pytest.approx(1 - t_cdf(2.0, 10))
    assert t_quantile(0.5, 7) == 0.0
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)


def test_t_interval_by_hand():
    values = [10.0, 12.0, 11.0, 13.0, 9.0]
    # mean 11, s = sqrt(2.5), se = sqrt(0.5), t(0.975, 4) = 2.776445
    ci = t_interval(values)
    half = 2.776445105 * math.sqrt(0.5)
    assert ci.estimate == 11.0
    assert ci.low == pytest.approx(11 - half, abs=1e-6)
    assert ci.high == pytest.approx(11 + half, abs=1e-6)
    assert ci.method == "t" and ci.n == 5 and ci.level == 0.95
    narrower = t_interval(values, level=0.5)
    assert narrower.low > ci.low and narrower.high < ci.high
    with pytest.raises(ValueError):
        t_interval([1.0])


def test_t_interval_coverage_is_about_right():
    """Of 400 intervals on normal samples of 6, about 95% contain the true mean (seeded)."""
    rng = np.random.default_rng(0)
    hits = sum(t_interval(rng.normal(5.0, 2.0, 6)).contains(5.0) for _ in range(400))
    assert 0.91 <= hits / 400 <= 0.99


# ------------------------------------------------------------------ bootstrap
def test_bootstrap_interval():
    values = [1.0, 2.0, 3.0, 4.0, 100.0]
    ci = bootstrap_interval(values)
    assert ci.estimate == 3.0 and ci.method == "bootstrap" and ci.n == 5
    assert 1.0 <= ci.low <= 3.0 <= ci.high <= 100.0
    assert bootstrap_interval(values) == ci  # seeded
    same = bootstrap_interval([4.0] * 10, statistic=np.mean)
    assert (same.low, same.estimate, same.high) == (4.0, 4.0, 4.0)


def test_bootstrap_interval_of_a_mean_matches_theory():
    """For 400 normal values the bootstrap CI of the mean is close to mean ± 1.96 σ/√n."""
    rng = np.random.default_rng(1)
    x = rng.normal(10.0, 3.0, 400)
    ci = bootstrap_interval(x, statistic=np.mean, resamples=4000)
    se = x.std(ddof=1) / 20
    assert ci.low == pytest.approx(x.mean() - 1.96 * se, abs=0.3 * se)
    assert ci.high == pytest.approx(x.mean() + 1.96 * se, abs=0.3 * se)


def test_bootstrap_with_a_plain_statistic():
    ci = bootstrap_interval([1.0, 2.0, 3.0, 4.0], statistic=lambda r: float(max(r)))
    assert ci.estimate == 4.0 and ci.high == 4.0 and ci.low >= 2.0


# ------------------------------------------------------------------ the verdict
def test_verdict_rules():
    assert verdict(0.08, 0.16, 0.12) == "regression"
    assert verdict(-0.16, -0.08, -0.12) == "improvement"
    assert verdict(-0.03, 0.05, 0.01) == "no significant difference"
    assert verdict(0.0, 0.05, 0.02) == "no significant difference"  # touching 0 counts
    assert verdict(0.002, 0.008, 0.005) == "negligible"
    assert verdict(-0.008, -0.002, -0.005) == "negligible"
    assert verdict(0.002, 0.008, 0.005, threshold=0.001) == "regression"
    # a throughput (higher is better) that went up is an improvement
    assert verdict(0.08, 0.16, 0.12, higher_is_better=True) == "improvement"
    assert verdict(-0.16, -0.08, -0.12, higher_is_better=True) == "regression"
    assert set(VERDICTS) == {"regression", "improvement", "no significant difference", "negligible"}
    with pytest.raises(ValueError):
        verdict(0.2, 0.1, 0.15)


def test_relative_change_paired_on_synthetic_samples():
    a = np.array([10.0, 10.2, 9.9, 10.1, 10.0, 10.3])
    # B is 12% slower in every round, with a little noise
    noise = np.array([1.0, 1.01, 0.99, 1.0, 1.005, 0.995])
    change = relative_change(a, a * 1.12 * noise, labels=("v1", "v2"))
    assert change.verdict == "regression"
    assert change.low < 0.12 < change.high
    assert change.estimate == pytest.approx(0.12, abs=0.01)
    msg = change.message()
    assert msg.startswith("v2 is 12.") and "slower than v1" in msg and msg.endswith(": regression")
    faster = relative_change(a, a / 1.2 * noise)
    assert faster.verdict == "improvement" and "faster" in faster.message()


def test_relative_change_no_difference():
    rng = np.random.default_rng(3)
    a = 10 + rng.normal(0, 0.5, 9)
    b = 10 + rng.normal(0, 0.5, 9)
    change = relative_change(a, b)
    assert change.low < 0 < change.high
    assert change.verdict == "no significant difference"
    assert "no significant difference" in change.message()


def test_relative_change_pairs_the_rounds():
    """The machine drifts 2x over the rounds; pairing still sees the constant 5% gap."""
    drift = np.linspace(1.0, 2.0, 8)
    a = 10 * drift
    b = 10.5 * drift * np.array([1, 1.001, 0.999, 1, 1.002, 0.998, 1, 1.001])
    assert relative_change(a, b).verdict == "regression"
    unpaired = relative_change(a, b, paired=False)
    assert unpaired.verdict == "no significant difference"  # the drift swamps it
    assert unpaired.method.startswith("bootstrap")


def test_relative_change_identical_and_errors():
    same = relative_change([2.0, 4.0, 3.0], [2.0, 4.0, 3.0])
    assert (same.low, same.estimate, same.high) == (0.0, 0.0, 0.0)
    assert same.verdict == "no significant difference"
    with pytest.raises(ValueError):
        relative_change([1.0], [1.0])
    with pytest.raises(ValueError):
        relative_change([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        relative_change([1.0, -2.0], [1.0, 2.0])
