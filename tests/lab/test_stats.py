"""Tests of helpers.lab.stats against SciPy and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from helpers.lab.stats import (
    compare,
    detectable_difference,
    holm,
    mean_and_spread,
    paired_interval,
    tost,
    verdict,
)


def test_mean_and_spread():
    assert mean_and_spread([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert mean_and_spread([0.5]) == (0.5, 0.0)
    with pytest.raises(ValueError, match="values"):
        mean_and_spread([])
    assert mean_and_spread(np.array([1.0, 3.0])) == (2.0, pytest.approx(2**0.5))
    assert mean_and_spread([np.float32(0.5), np.int64(1)])[0] == 0.75
    with pytest.raises(TypeError, match="values"):
        mean_and_spread(None)
    with pytest.raises(TypeError, match="values"):
        mean_and_spread("0.5")
    with pytest.raises(TypeError, match=r"values\[1\]"):
        mean_and_spread([0.5, "0.7"])


def test_paired_interval():
    a = [1.0, 2.0, 3.0, 4.0]
    b = [0.5, 1.4, 2.6, 3.5]  # differences 0.5, 0.6, 0.4, 0.5
    mean, low, high = paired_interval(a, b)
    assert mean == pytest.approx(0.5)
    half = 3.182446305284263 * np.std([0.5, 0.6, 0.4, 0.5], ddof=1) / 2  # t(0.975, 3)
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half))
    shifted = paired_interval([x + 10 * i for i, x in enumerate(a)],
                              [y + 10 * i for i, y in enumerate(b)])
    assert shifted == pytest.approx((mean, low, high))
    assert paired_interval(np.array(a), np.array(b), confidence=0.5)[2] < high
    with pytest.raises(ValueError, match="pair"):
        paired_interval([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="two pairs"):
        paired_interval([1.0], [2.0])
    with pytest.raises(ValueError, match="confidence"):
        paired_interval(a, b, confidence=1.0)
    with pytest.raises(TypeError, match="a must"):
        paired_interval("ab", "cd")


def test_tost_matches_two_one_sided_scipy_tests():
    rng = np.random.default_rng(0)
    diffs = rng.normal(0.02, 0.1, size=30)
    margin = 0.08
    lower = stats.ttest_1samp(diffs, -margin, alternative="greater").pvalue
    upper = stats.ttest_1samp(diffs, margin, alternative="less").pvalue
    assert tost(list(diffs), margin) == pytest.approx(max(lower, upper), rel=1e-10)
    assert tost(list(diffs + 1.0), margin) > 0.99  # far outside the margin
    assert tost([0.01, 0.01], 0.05) == 0.0 and tost([0.1, 0.1], 0.05) == 1.0
    with pytest.raises(ValueError, match="margin"):
        tost(list(diffs), 0.0)


def test_holm_against_hand_computed_values():
    # sorted p: 0.01 (x4), 0.02 (x3), 0.03 (x2), 0.5 (x1), made monotone
    assert holm([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])
    assert holm([0.9, 0.8]) == [1.0, 1.0]
    with pytest.raises(ValueError, match="p_values"):
        holm([0.5, 1.5])


def test_detectable_difference_has_the_power_it_claims():
    spread, n = 0.2, 30
    delta = detectable_difference(spread, n, alpha=0.05, power=0.8)
    # the normal approximation (z quantiles) is a little optimistic
    z = (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * spread / np.sqrt(n)
    assert z < delta < 1.1 * z
    rng = np.random.default_rng(1)
    samples = rng.normal(delta, spread, size=(4000, n))
    power = np.mean(stats.ttest_1samp(samples, 0.0, axis=1).pvalue < 0.05)
    assert power == pytest.approx(0.8, abs=0.03)
    assert detectable_difference(spread, n, alpha=0.001) > delta
    with pytest.raises(ValueError, match="n must"):
        detectable_difference(0.1, 1)


@pytest.mark.parametrize("alpha", [0.05, 0.05 / 7, 0.001])
def test_detectable_difference_shrinks_with_n_and_meets_the_normal_limit(alpha):
    """More pairs detect smaller differences (SciPy's NaN in the noncentral t's far
    tail once made 60 pairs look three times worse than 30)."""
    values = [detectable_difference(1.0, n, alpha=alpha) for n in range(2, 130)]
    assert all(b < a for a, b in zip(values, values[1:], strict=False))
    z = (stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(0.8)) / np.sqrt(129)
    assert z < values[-1] < 1.05 * z


def test_compare_and_verdict():
    a = [0.50, 0.61, 0.42, 0.55, 0.47, 0.58]
    b = [x + 0.2 for x in a[::-1]]
    result = compare(a, b, margin=0.01)
    assert result.n == 6 and result.low < result.mean < result.high
    assert result.p_difference == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert verdict(result.mean, result.p_difference, result.p_equivalence) == "lower"
    assert verdict(0.3, 0.001, 0.2) == "higher"
    assert verdict(0.001, 0.001, 0.01) == "equivalent"
    assert verdict(0.1, 0.2, 0.2) == "inconclusive"
    with pytest.raises(ValueError, match="p_difference"):
        verdict(0.1, 2.0, 0.2)


def test_detectable_difference_refuses_levels_it_cannot_resolve_and_never_hangs():
    with pytest.raises(ValueError, match="alpha"):
        detectable_difference(1.0, 10, alpha=1e-17)
    previous = 0.0
    for alpha in (1e-3, 1e-6, 1e-9):  # a stricter level needs a larger difference
        d = detectable_difference(1.0, 10, alpha=alpha)
        assert math.isfinite(d) and d > previous
        previous = d


def test_values_near_floats_limit_give_a_correct_value_or_a_clear_error():
    assert mean_and_spread([1e308, 1e308]) == (1e308, 0.0)
    mean, spread = mean_and_spread([1e308, -1e308, 5e307])
    assert mean == pytest.approx(5e307 / 3) and spread == pytest.approx(np.std(
        [1.0, -1.0, 0.5], ddof=1) * 1e308)
    assert mean_and_spread([5e-324, 5e-324]) == (5e-324, 0.0)
    with pytest.raises(ValueError, match="spread of values"):
        mean_and_spread([1.7e308, -1.7e308])
    with pytest.raises(ValueError, match=r"a\[i\] - b\[i\] must be finite"):
        paired_interval([1e308, -1e308], [-1e308, 1e308])
    with pytest.raises(ValueError, match="values"):
        mean_and_spread([10**400, 1.0])
    with pytest.raises(ValueError, match="spread"):
        detectable_difference(1.7e308, 3)


def test_holm_refuses_an_empty_family():
    with pytest.raises(ValueError, match="p_values must hold at least one p-value"):
        holm([])
    assert holm(np.array([0.5])) == [0.5]
