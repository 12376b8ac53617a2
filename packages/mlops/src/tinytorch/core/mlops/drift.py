"""Drift statistics: is what the model sees in production still what it was trained on?

Two standard measures, both comparing a *reference* sample (from the training data) with a
*current* one (recent production traffic), one feature at a time:

**Population stability index (PSI).** Cut the reference into ``bins`` bins of equal
probability (its quantiles), count what fraction of each sample falls into each bin — ``p``
for the reference (about 1/bins each), ``q`` for the current — and sum

    PSI = Σ (q_i − p_i) · ln(q_i / p_i)

Identical distributions give 0. The usual reading: below 0.1 no change, 0.1–0.2 a moderate
shift, above 0.2 a significant one. Empty bins would divide by zero, so proportions are
floored at a small ``eps``.

**Two-sample Kolmogorov–Smirnov test.** The statistic is the largest vertical gap between the
two empirical CDFs, ``D = max_x |F_ref(x) − F_cur(x)|``. If both samples come from the same
continuous distribution, ``sqrt(n·m/(n+m)) · D`` tends (as the samples grow) to the
Kolmogorov distribution, whose survival function is

    Q(λ) = 2 Σ_{k≥1} (−1)^(k−1) exp(−2 k² λ²)

and the p-value is ``Q(sqrt(n·m/(n+m)) · D)``: the chance of a gap at least this large when
nothing changed. A small p-value (below 0.01, say) means drift.

Images have thousands of pixels, and testing each one would raise false alarms by the dozen
(1 % of 3072 features fail a 1 % test by chance). So images are first reduced to a few
*summary features* — the mean and standard deviation of each channel — which is where
lighting, contrast and colour shifts show up (:func:`summarize_features`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["psi", "psi_categorical", "ks_statistic", "ks_2samp", "kolmogorov_sf",
           "summarize_features", "FeatureDrift", "DriftResult", "DriftDetector"]

PSI_EPS = 1e-4


def _sample(values: Any, what: str) -> np.ndarray:
    array = np.asarray(getattr(values, "data", values), dtype=np.float64).ravel()
    if array.size == 0:
        raise ValueError(f"{what} is empty")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} contains NaN or infinite values")
    return array


def _psi_from_proportions(p: np.ndarray, q: np.ndarray, eps: float) -> float:
    """PSI from bin proportions: ``Σ_i (q_i − p_i) · ln(q_i / p_i)``.

    Args:
        p: (B,) reference proportions per bin (they sum to 1; some may be 0).
        q: (B,) current proportions per bin, same bins.
        eps: floor applied to both ``p`` and ``q`` before the sum, so an empty bin gives a
            large but finite term instead of ``ln 0``.

    Returns:
        The index as a Python float, ``>= 0`` (0 exactly when ``p == q``).
    """
    ### BEGIN SOLUTION
    ### HINT: np.maximum(p, eps) keeps empty bins from dividing by zero
    p = np.maximum(p, eps)
    q = np.maximum(q, eps)
    return float(np.sum((q - p) * np.log(q / p)))
    ### END SOLUTION


def psi(reference: Any, current: Any, bins: int = 10, eps: float = PSI_EPS) -> float:
    """Population stability index of ``current`` against ``reference`` (1-D samples).

    Bins are cut at the reference's quantiles (so each holds about 1/bins of it); the first
    and last bins are open-ended, so every current value falls into one.

    The cut points are the ``bins - 1`` interior quantiles of the reference, at probabilities
    ``1/bins, 2/bins, ..., (bins-1)/bins``, with repeats removed (a reference with ties may
    give fewer bins). A value ``v`` falls into bin ``i`` = the number of cut points ``<= v``.
    ``p`` and ``q`` are the fractions of the reference and of the current sample in each bin,
    and the result is :func:`_psi_from_proportions` of them (a float ``>= 0``).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> ref = rng.normal(size=5000)
        >>> round(psi(ref, rng.normal(size=5000)), 3) < 0.02
        True
        >>> psi(ref, rng.normal(1.0, 1.0, size=5000)) > 0.2
        True
    """
    if not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ValueError(f"psi: bins must be an int >= 2, got {bins!r}")
    ref = _sample(reference, "psi: reference")
    cur = _sample(current, "psi: current")
    ### BEGIN SOLUTION
    ### HINT: interior cut points np.quantile(ref, [1/bins, ..., (bins-1)/bins]), made unique;
    ### HINT: np.searchsorted(edges, x, side="right") is each value's bin
    edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    n_bins = len(edges) + 1
    p = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=n_bins) / ref.size
    q = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=n_bins) / cur.size
    ### END SOLUTION
    return _psi_from_proportions(p, q, eps)


def psi_categorical(reference: Any, current: Any, num_classes: int | None = None,
                    eps: float = PSI_EPS) -> float:
    """PSI of two samples of class labels (0..K-1): one bin per class."""
    ref = np.asarray(reference, dtype=np.int64).ravel()
    cur = np.asarray(current, dtype=np.int64).ravel()
    if ref.size == 0 or cur.size == 0:
        raise ValueError("psi_categorical: empty sample")
    if min(ref.min(), cur.min()) < 0:
        raise ValueError("psi_categorical: class labels must be >= 0")
    k = int(num_classes or max(ref.max(), cur.max()) + 1)
    p = np.bincount(ref, minlength=k) / ref.size
    q = np.bincount(cur, minlength=k) / cur.size
    return _psi_from_proportions(p, q, eps)


def ks_statistic(a: Any, b: Any) -> float:
    """``max |F_a(x) − F_b(x)|`` over all x: the largest gap between the empirical CDFs.

    ``F_a(x)`` is the fraction of ``a`` that is ``<= x`` (a step function that jumps only at
    values of ``a``). ``a`` and ``b`` are 1-D samples of any sizes; the result is a float in
    [0, 1]: 0 for identical samples, 1 when every value of one lies below every value of the
    other.

    Example:
        >>> ks_statistic([1, 2, 3, 4], [3, 4, 5, 6])
        0.5
    """
    a = np.sort(_sample(a, "ks_statistic: first sample"))
    b = np.sort(_sample(b, "ks_statistic: second sample"))
    ### BEGIN SOLUTION
    ### HINT: both CDFs only jump at sample values: evaluate them at every value of a and b
    ### HINT: (np.searchsorted(a, x, side="right") / len(a) is F_a(x))
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / a.size
    cdf_b = np.searchsorted(b, points, side="right") / b.size
    return float(np.max(np.abs(cdf_a - cdf_b)))
    ### END SOLUTION


def kolmogorov_sf(x: Any) -> Any:
    """``P(K > x)`` for the Kolmogorov distribution (the limit of sqrt(n)·D).

    ``x`` is a number or an array of any shape; the result has the same shape (a float for a
    scalar), each value in [0, 1]: 1 for ``x <= 0``, falling towards 0 as ``x`` grows.

    For x ≥ 1 the alternating series ``2 Σ (−1)^(k−1) exp(−2k²x²)`` converges in a few terms;
    for small x it does not, and the equivalent (Jacobi theta) form of the CDF,
    ``sqrt(2π)/x · Σ exp(−(2k−1)²π²/(8x²))``, is used instead.

    Example:
        >>> round(float(kolmogorov_sf(1.3581)), 4)
        0.05
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.ones_like(x)
    k = np.arange(1, 101, dtype=np.float64)
    ### BEGIN SOLUTION
    ### HINT: the series for x >= 1; 1 - (theta form of the CDF) for 0 < x < 1; 1 for x <= 0
    large = x >= 1.0
    small = (x > 0.0) & ~large
    if np.any(large):
        xl = x[large][..., None]
        signs = np.where(k % 2 == 1, 1.0, -1.0)
        out[large] = 2.0 * np.sum(signs * np.exp(-2.0 * k**2 * xl**2), axis=-1)
    if np.any(small):
        xs = x[small][..., None]
        cdf = np.sqrt(2.0 * np.pi) / xs[..., 0] * np.sum(
            np.exp(-((2.0 * k - 1.0) ** 2) * np.pi**2 / (8.0 * xs**2)), axis=-1)
        out[small] = 1.0 - cdf
    ### END SOLUTION
    out = np.clip(out, 0.0, 1.0)
    return out if out.ndim else float(out)


def ks_2samp(a: Any, b: Any) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov test: ``(D, p-value)``, the p-value from the asymptotic
    Kolmogorov distribution, ``Q(sqrt(n·m/(n+m)) · D)``.

    Example:
        >>> d, p = ks_2samp([1, 2, 3, 4], [5, 6, 7, 8])
        >>> d, round(p, 4)
        (1.0, 0.0366)
    """
    a = _sample(a, "ks_2samp: first sample")
    b = _sample(b, "ks_2samp: second sample")
    d = ks_statistic(a, b)
    en = a.size * b.size / (a.size + b.size)
    return d, float(kolmogorov_sf(np.sqrt(en) * d))


def summarize_features(x: Any) -> tuple[np.ndarray, list[str]]:
    """Per-sample summary features to monitor, and their names.

    * (N, F) tabular inputs: the features themselves (``x[0]``, ``x[1]``...);
    * (N, C, H, W) images or (N, C, L) sequences: the mean and standard deviation of each
      channel (``channel0_mean``, ``channel0_std``...);
    * (N,): one feature; anything else: flattened per sample.
    """
    x = np.asarray(getattr(x, "data", x), dtype=np.float64)
    if x.ndim == 1:
        return x[:, None], ["x"]
    if x.ndim == 2:
        return x, [f"x[{i}]" for i in range(x.shape[1])]
    if x.ndim in (3, 4):
        flat = x.reshape(x.shape[0], x.shape[1], -1)
        features = np.concatenate([flat.mean(axis=2), flat.std(axis=2)], axis=1)
        c = x.shape[1]
        names = [f"channel{i}_mean" for i in range(c)] + [f"channel{i}_std" for i in range(c)]
        return features, names
    flat = x.reshape(x.shape[0], -1)
    return flat, [f"x[{i}]" for i in range(flat.shape[1])]


@dataclass
class FeatureDrift:
    """Drift of one monitored feature."""

    feature: str
    psi: float
    ks_statistic: float | None
    ks_pvalue: float | None
    psi_drift: bool
    ks_drift: bool

    @property
    def drifted(self) -> bool:
        """Either test says drift."""
        return self.psi_drift or self.ks_drift


@dataclass
class DriftResult:
    """Per-feature drift of a current sample against the reference."""

    features: list[FeatureDrift] = field(default_factory=list)
    samples: int = 0
    reference_samples: int = 0

    @property
    def drifted(self) -> list[FeatureDrift]:
        """The features where drift was found."""
        return [f for f in self.features if f.drifted]

    def __getitem__(self, name: str) -> FeatureDrift:
        for f in self.features:
            if f.feature == name:
                return f
        raise KeyError(f"no monitored feature {name!r} (features: "
                       f"{[f.feature for f in self.features]})")


class DriftDetector:
    """Compare current inputs (and predictions) with a reference taken from the training data.

    Args:
        reference: reference inputs as the model takes them (summarised with
            :func:`summarize_features`), or already summarised features with ``summarized=True``.
        probabilities: the model's class probabilities on the reference (enables
            prediction drift: PSI of the predicted class, PSI and KS of the confidence).
        feature_names: names of already summarised features.
        summarized: ``reference`` holds summary features, not raw inputs.
        psi_threshold: PSI above this is drift (0.2).
        ks_alpha: a KS p-value below this is drift (0.01).
        bins: PSI bins.
    """

    def __init__(self, reference: Any, probabilities: Any = None,
                 feature_names: list[str] | None = None, summarized: bool = False,
                 psi_threshold: float = 0.2, ks_alpha: float = 0.01, bins: int = 10) -> None:
        if summarized:
            features = np.asarray(reference, dtype=np.float64)
            if features.ndim == 1:
                features = features[:, None]
            names = list(feature_names or [f"x[{i}]" for i in range(features.shape[1])])
        else:
            features, names = summarize_features(reference)
        if len(names) != features.shape[1]:
            raise ValueError(f"DriftDetector: {len(names)} feature names for "
                             f"{features.shape[1]} features")
        self.reference = features
        self.feature_names = names
        self.reference_probabilities = (None if probabilities is None
                                        else np.asarray(probabilities, dtype=np.float64))
        self.psi_threshold = float(psi_threshold)
        self.ks_alpha = float(ks_alpha)
        self.bins = int(bins)

    @classmethod
    def from_version(cls, version: Any, **kwargs: Any) -> "DriftDetector":
        """The detector for a registered model version (its saved reference)."""
        ref = version.reference()
        if ref is None:
            raise ValueError(f"{version.name} v{version.version} was registered without data, so "
                             "it has no monitoring reference; register it with "
                             "data=(inputs, labels)")
        return cls(ref["inputs"], ref.get("probabilities"), ref["feature_names"], summarized=True,
                   **kwargs)

    def _feature(self, name: str, ref: np.ndarray, cur: np.ndarray,
                 ks: bool = True) -> FeatureDrift:
        value = psi(ref, cur, self.bins)
        d, p = ks_2samp(ref, cur) if ks else (None, None)
        return FeatureDrift(name, value, d, p, value > self.psi_threshold,
                            bool(p is not None and p < self.ks_alpha))

    def check(self, inputs: Any = None, probabilities: Any = None,
              summarized: bool = False) -> DriftResult:
        """Drift of ``inputs`` (raw, or summary features with ``summarized=True``) and of the
        model's ``probabilities`` on them, feature by feature."""
        result = DriftResult(reference_samples=len(self.reference))
        if inputs is not None:
            if summarized:
                features = np.asarray(inputs, dtype=np.float64).reshape(-1, len(self.feature_names))
            else:
                features, names = summarize_features(inputs)
                if names != self.feature_names:
                    raise ValueError(f"DriftDetector.check: inputs summarise to features "
                                     f"{names[:4]}..., the reference to "
                                     f"{self.feature_names[:4]}... (shapes differ)")
            result.samples = len(features)
            for i, name in enumerate(self.feature_names):
                result.features.append(self._feature(name, self.reference[:, i], features[:, i]))
        if probabilities is not None and self.reference_probabilities is not None:
            cur = np.asarray(probabilities, dtype=np.float64)
            ref = self.reference_probabilities
            if cur.shape[1:] != ref.shape[1:]:
                raise ValueError(f"DriftDetector.check: probabilities of shape {cur.shape}, the "
                                 f"reference's are {ref.shape}")
            result.samples = result.samples or len(cur)
            classes = psi_categorical(ref.argmax(axis=1), cur.argmax(axis=1), ref.shape[1])
            result.features.append(FeatureDrift("prediction.class", classes, None, None,
                                                classes > self.psi_threshold, False))
            result.features.append(self._feature("prediction.confidence", ref.max(axis=1),
                                                 cur.max(axis=1)))
        return result
