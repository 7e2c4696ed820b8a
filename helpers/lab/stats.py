"""Statistics for paired experiments: intervals, equivalence, multiplicity, power.

Runs pair up when they share everything but the thing compared (here: the data
split, the seed and the mini-batch order). :func:`paired_interval` gives the mean
paired difference with its Student-t interval; :func:`tost` tests equivalence
(two one-sided tests: is the difference inside ``(-margin, margin)``?);
:func:`holm` adjusts a family of p-values for multiplicity (Holm's step-down
method); :func:`detectable_difference` is the smallest true difference a paired
t-test detects with a given power. :func:`compare` runs all of them on one pair
of samples and :func:`verdict` reads the adjusted p-values.

Usage::

    from helpers.lab.stats import compare, holm, verdict

    result = compare(a, b, margin=0.05)  # a[i] and b[i]: one pair
    print(result.mean, result.low, result.high, result.p_difference, result.p_equivalence)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from helpers.core._validate import _describe, require_number, require_positive_int

__all__ = ["Comparison", "compare", "detectable_difference", "holm", "mean_and_spread",
           "paired_interval", "tost", "verdict"]


def _numbers(values: object, name: str) -> list[float]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a sequence of numbers, got {_describe(values)}")
    return [require_number(v, f"{name}[{i}]") for i, v in enumerate(values)]


def _differences(a: object, b: object) -> list[float]:
    a, b = _numbers(a, "a"), _numbers(b, "b")
    if len(a) != len(b):
        raise ValueError(f"a and b must pair up, got {len(a)} and {len(b)} values")
    if len(a) < 2:
        raise ValueError("a and b need at least two pairs")
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    if not all(map(math.isfinite, diffs)):
        raise ValueError("a[i] - b[i] must be finite: a difference is beyond float's range")
    return diffs


def mean_and_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of ``values`` (spread 0 for one value).

    Computed on the values scaled by a power of two (exactly), so that values
    near float's limit (1e308) do not overflow on the way.
    """
    values = _numbers(values, "values")
    if not values:
        raise ValueError("values must not be empty")
    scale = math.ldexp(1.0, math.frexp(max(map(abs, values)))[1] - 1)  # scaled: below 2
    scaled = [v / scale for v in values]
    spread = statistics.stdev(scaled) * scale if len(values) > 1 else 0.0
    if not math.isfinite(spread):
        raise ValueError("the spread of values is beyond float's range")
    return statistics.fmean(scaled) * scale, spread


def paired_interval(a: Sequence[float], b: Sequence[float],
                    confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of the paired differences ``a[i] - b[i]`` and its Student-t confidence
    interval ``(mean, low, high)``.

    Pairing removes what the two runs of a pair share, so the interval is
    narrower than one from two independent means.
    """
    confidence = require_number(confidence, "confidence", low=0, high=1, low_open=True,
                              high_open=True)
    diffs = _differences(a, b)
    mean, spread = mean_and_spread(diffs)
    t = float(stats.t.ppf(0.5 + confidence / 2, len(diffs) - 1))
    half = t * spread / math.sqrt(len(diffs))
    return mean, mean - half, mean + half


def tost(diffs: Sequence[float], margin: float) -> float:
    """p-value of the two one-sided t-tests that the mean of ``diffs`` lies within
    ``(-margin, margin)``: small when the data show the difference is smaller than
    the margin (equivalence), the larger of the two one-sided p-values."""
    diffs = _numbers(diffs, "diffs")
    margin = require_number(margin, "margin", low=0, low_open=True)
    if len(diffs) < 2:
        raise ValueError("diffs needs at least two values")
    mean, spread = mean_and_spread(diffs)
    if spread == 0:
        return 0.0 if abs(mean) < margin else 1.0
    se = spread / math.sqrt(len(diffs))
    df = len(diffs) - 1
    p_low = float(stats.t.sf((mean + margin) / se, df))  # H0: mean <= -margin
    p_high = float(stats.t.cdf((mean - margin) / se, df))  # H0: mean >= +margin
    return max(p_low, p_high)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (same order as given):
    reject hypothesis ``i`` at family-wise level ``alpha`` when its adjusted p-value
    is below ``alpha``."""
    p = _numbers(p_values, "p_values")
    if not p:
        raise ValueError("p_values must hold at least one p-value (a family), got none")
    if any(not 0 <= v <= 1 for v in p):
        raise ValueError("p_values must lie in [0, 1]")
    order = sorted(range(len(p)), key=p.__getitem__)
    adjusted = [0.0] * len(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def detectable_difference(spread: float, n: int, alpha: float = 0.05,
                          power: float = 0.8) -> float:
    """The smallest true mean difference that a two-sided paired t-test at level
    ``alpha`` detects with probability ``power``, for ``n`` pairs whose differences
    have standard deviation ``spread`` (solved with the noncentral t distribution)."""
    spread = require_number(spread, "spread", low=0)
    n = require_positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    # Levels below 1e-10 are beyond what float64 and SciPy's noncentral t resolve.
    alpha = require_number(alpha, "alpha", low=1e-10, high=1, high_open=True)
    power = require_number(power, "power", low=0, high=1, low_open=True, high_open=True)
    df = n - 1
    critical = float(stats.t.ppf(1 - alpha / 2, df))

    def enough(delta: float) -> bool:  # power at a true difference of delta spreads
        shift = delta * math.sqrt(n)
        # The far tail (the test's wrong side) is below 1e-15 where SciPy returns
        # NaN for it; a NaN in the main term counts as not enough.
        wrong_side = float(stats.nct.cdf(-critical, df, shift))
        achieved = stats.nct.sf(critical, df, shift) + (0.0 if math.isnan(wrong_side)
                                                       else wrong_side)
        return bool(achieved >= power)

    low, high = 0.0, 1.0
    for _ in range(60):
        if enough(high):
            break
        high *= 2
    else:
        raise ValueError(f"no difference reaches power={power} at alpha={alpha} with n={n}")
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    if not math.isfinite(high * spread):
        raise ValueError(f"spread={spread} is too large: the difference is beyond float's range")
    return high * spread


@dataclass(frozen=True)
class Comparison:
    """One paired comparison ``a - b``: mean difference, 95 % interval, spread of the
    differences, number of pairs, the two-sided t-test's p-value (is there a
    difference?) and TOST's (is it within the margin?)."""

    mean: float
    low: float
    high: float
    spread: float
    n: int
    margin: float
    p_difference: float
    p_equivalence: float


def compare(a: Sequence[float], b: Sequence[float], margin: float) -> Comparison:
    """Paired comparison of ``a`` and ``b`` (``a[i]`` pairs with ``b[i]``)."""
    diffs = _differences(a, b)
    mean, low, high = paired_interval(a, b)
    spread = mean_and_spread(diffs)[1]
    if spread == 0:
        p_difference = 1.0 if mean == 0 else 0.0
    else:
        p_difference = float(stats.ttest_1samp(diffs, 0.0).pvalue)
    return Comparison(mean, low, high, spread, len(diffs), margin, p_difference,
                      tost(diffs, margin))


def verdict(mean: float, p_difference: float, p_equivalence: float,
            alpha: float = 0.05) -> str:
    """"equivalent" (within the margin), "lower", "higher" or "inconclusive", from
    (multiplicity-adjusted) p-values at level ``alpha``. Equivalence is read first:
    a difference shown to lie within the margin is too small to matter, even if
    it is not zero."""
    mean = require_number(mean, "mean")
    p_difference = require_number(p_difference, "p_difference", low=0, high=1)
    p_equivalence = require_number(p_equivalence, "p_equivalence", low=0, high=1)
    alpha = require_number(alpha, "alpha", low=0, high=1, low_open=True, high_open=True)
    if p_equivalence < alpha:
        return "equivalent"
    if p_difference < alpha:
        return "lower" if mean < 0 else "higher"
    return "inconclusive"
