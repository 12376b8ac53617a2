"""PSI and the Kolmogorov–Smirnov test on distributions whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.mlops import (DriftDetector, kolmogorov_sf, ks_2samp, ks_statistic, psi,
                                  psi_categorical, summarize_features)


# --------------------------------------------------------------------------- PSI
def test_psi_of_a_sample_against_itself_is_zero():
    x = np.random.default_rng(0).normal(size=1000)
    assert psi(x, x) == 0.0


def test_psi_by_hand_two_bins():
    ref = np.arange(10.0)              # median 4.5: bins (-inf, 4.5], (4.5, inf), p = [.5, .5]
    cur = np.array([0.0] * 8 + [9.0] * 2)  # q = [.8, .2]
    want = 0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5)
    assert psi(ref, cur, bins=2) == pytest.approx(want, rel=1e-12)  # 0.415888...


def test_psi_empty_bins_are_floored_at_eps():
    ref = np.arange(10.0)
    cur = np.full(10, 100.0)           # everything in the upper bin: q = [0, 1]
    eps = 1e-4
    want = (eps - 0.5) * math.log(eps / 0.5) + 0.5 * math.log(1.0 / 0.5)
    assert psi(ref, cur, bins=2) == pytest.approx(want, rel=1e-12)


def test_psi_bins_are_the_reference_quantiles_not_equal_widths():
    ref = np.arange(1000.0) ** 2        # skewed: equal-width bins would hold unequal shares
    cur = ref[:100]                     # exactly the reference's lowest decile
    eps = 1e-4
    want = (1 - 0.1) * math.log(1 / 0.1) + 9 * (eps - 0.1) * math.log(eps / 0.1)
    assert psi(ref, cur, bins=10) == pytest.approx(want, rel=1e-6)


def test_psi_identical_distributions_no_drift_shifted_drift():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=5000)
    assert psi(ref, rng.normal(size=5000)) < 0.02
    assert 0.1 < psi(ref, rng.normal(0.5, 1.0, size=5000)) < 0.4   # half a sigma: moderate
    assert psi(ref, rng.normal(1.0, 1.0, size=5000)) > 0.2          # one sigma: significant
    assert psi(ref, rng.normal(0.0, 2.0, size=5000)) > 0.2          # wider, same mean


def test_psi_is_not_symmetric_in_general_but_is_non_negative():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=2000), rng.exponential(size=2000)
    assert psi(a, b) > 0 and psi(b, a) > 0


def test_psi_with_ties_in_the_reference():
    ref = np.array([0.0] * 90 + [1.0] * 10)  # most quantiles coincide: fewer, unique edges
    assert psi(ref, ref.copy()) == 0.0
    assert psi(ref, np.array([1.0] * 50 + [0.0] * 50)) > 0.2


def test_psi_categorical():
    ref = np.array([0] * 50 + [1] * 50)
    cur = np.array([0] * 80 + [1] * 20)
    want = 0.3 * math.log(0.8 / 0.5) + (-0.3) * math.log(0.2 / 0.5)
    assert psi_categorical(ref, cur) == pytest.approx(want)
    assert psi_categorical(ref, ref, num_classes=3) == 0.0


def test_psi_refuses_bad_input():
    with pytest.raises(ValueError, match="bins"):
        psi([1.0, 2.0], [1.0], bins=1)
    with pytest.raises(ValueError, match="empty"):
        psi([], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        psi([1.0, float("nan")], [1.0])


# --------------------------------------------------------------------------- KS
def brute_force_d(a, b):
    points = np.concatenate([a, b])
    return max(abs(np.mean(a <= t) - np.mean(b <= t)) for t in points)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-20, 20), min_size=1, max_size=30),
       st.lists(st.integers(-20, 20), min_size=1, max_size=30))
def test_ks_statistic_is_the_largest_cdf_gap(a, b):
    a, b = np.array(a, float), np.array(b, float)  # small integers: plenty of ties
    assert ks_statistic(a, b) == pytest.approx(brute_force_d(a, b), abs=1e-12)


def test_ks_statistic_examples():
    assert ks_statistic([1, 2, 3, 4], [3, 4, 5, 6]) == 0.5
    assert ks_statistic([1, 2, 3], [1, 2, 3]) == 0.0
    assert ks_statistic([1, 2], [10, 20, 30]) == 1.0


# Critical values of the Kolmogorov distribution: P(K > x) = alpha (standard tables).
@pytest.mark.parametrize("x,alpha", [(1.22385, 0.10), (1.35810, 0.05), (1.48022, 0.025),
                                     (1.62762, 0.01), (1.94947, 0.001), (0.82757, 0.50)])
def test_ks_pvalue_kolmogorov_survival_function_matches_the_tables(x, alpha):
    assert kolmogorov_sf(x) == pytest.approx(alpha, rel=2e-4)


def test_ks_pvalue_kolmogorov_limits_and_both_formulas_agree():
    assert kolmogorov_sf(0.0) == 1.0 and kolmogorov_sf(-1.0) == 1.0
    assert kolmogorov_sf(10.0) < 1e-80
    # P(K <= 1) = 0.7300003283 (e.g. Marsaglia, Tsang & Wang 2003)
    assert kolmogorov_sf(1.0) == pytest.approx(1 - 0.7300003283, abs=1e-9)
    below, above = kolmogorov_sf(np.array([1.0 - 1e-9, 1.0 + 1e-9]))
    assert below == pytest.approx(above, abs=1e-8)  # the two series meet continuously
    xs = np.linspace(0.05, 3, 60)
    values = kolmogorov_sf(xs)
    assert values.shape == (60,) and np.all(np.diff(values) <= 0)  # decreasing (1.0 at first)
    assert np.all(np.diff(values[5:]) < 0)


def test_ks_pvalue_2samp_by_hand():
    d, p = ks_2samp([1, 2, 3, 4], [5, 6, 7, 8])
    # D = 1, n·m/(n+m) = 2, lambda = sqrt(2): Q = 2 (e^-4 - e^-16 + e^-36 - ...)
    want = 2 * (math.exp(-4) - math.exp(-16) + math.exp(-36))
    assert d == 1.0 and p == pytest.approx(want, rel=1e-12)
    d, p = ks_2samp(np.arange(100.0), np.arange(100.0) + 20)
    assert d == pytest.approx(0.2)
    assert p == pytest.approx(2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * 2.0)
                                      for k in range(1, 10)), rel=1e-10)  # lambda = sqrt(50)·0.2


def test_ks_pvalue_same_distribution_no_drift_shifted_drift():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=2000)
    d, p = ks_2samp(ref, rng.normal(size=1000))
    assert d < 0.06 and p > 0.01
    d, p = ks_2samp(ref, rng.normal(0.3, 1.0, size=1000))
    assert p < 1e-6
    d, p = ks_2samp(ref, rng.uniform(-1.7, 1.7, size=1000))  # same mean and spread, other shape
    assert p < 0.01


def test_ks_pvalue_roughly_uniform_without_drift():
    rng = np.random.default_rng(3)
    ps = np.array([ks_2samp(rng.normal(size=200), rng.normal(size=200))[1] for _ in range(200)])
    # under no drift, about 10% of p-values fall below 0.1 (the asymptotic p is slightly
    # conservative at this sample size), and nearly none below 0.01
    assert 0.02 < np.mean(ps < 0.1) < 0.2 and np.mean(ps < 0.01) < 0.04


# --------------------------------------------------------------------------- features, detector
def test_summary_features():
    x = np.zeros((5, 3, 4, 4))
    x[:, 1] = 2.0
    x[:, 2, :, :2] = 1.0
    features, names = summarize_features(x)
    assert names == ["channel0_mean", "channel1_mean", "channel2_mean",
                     "channel0_std", "channel1_std", "channel2_std"]
    np.testing.assert_allclose(features[0], [0, 2, 0.5, 0, 0, 0.5])
    tab, tab_names = summarize_features(np.ones((4, 2)))
    assert tab.shape == (4, 2) and tab_names == ["x[0]", "x[1]"]
    assert summarize_features(np.ones(4))[1] == ["x"]


def test_detector_finds_the_feature_that_moved():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(2000, 3))
    det = DriftDetector(ref)
    same = det.check(rng.normal(size=(1000, 3)))
    assert same.drifted == [] and same.samples == 1000 and same.reference_samples == 2000
    moved = rng.normal(size=(1000, 3))
    moved[:, 1] += 1.0
    result = det.check(moved)
    assert [f.feature for f in result.drifted] == ["x[1]"]
    f = result["x[1]"]
    assert f.psi > 0.2 and f.ks_pvalue < 0.01 and f.psi_drift and f.ks_drift
    with pytest.raises(KeyError, match="no monitored feature"):
        result["x[9]"]


def test_detector_on_images_uses_channel_statistics_and_predictions():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(500, 3, 6, 6))
    probs = rng.dirichlet(np.ones(4), size=500)
    det = DriftDetector(ref, probs)
    brighter = rng.normal(size=(300, 3, 6, 6))
    brighter[:, 0] += 0.5  # the red channel brightens
    skewed = rng.dirichlet([8, 1, 1, 1], size=300)  # the model now mostly says class 0
    result = det.check(brighter, skewed)
    drifted = {f.feature for f in result.drifted}
    assert {"channel0_mean", "prediction.class", "prediction.confidence"} <= drifted
    assert not drifted & {"channel1_mean", "channel2_mean"}
    assert result["prediction.class"].ks_pvalue is None  # classes: PSI only
    with pytest.raises(ValueError, match="summarise to features"):
        det.check(rng.normal(size=(10, 4, 6, 6)))
