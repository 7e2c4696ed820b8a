"""Tests of helpers.checks.cost: right answers pass, each common slip gets its hint."""

from __future__ import annotations

import pytest

from helpers.checks.cost import INTENSITY_KINDS, check_intensity


def weights(kind, c, k):
    return {"normal": k * k * c * c, "depthwise": k * k * c, "pointwise": c * c}[kind]


def macs(kind, c, s, k):
    return weights(kind, c, k) * s * s


def right(kind, c, s, k):
    return 2 * macs(kind, c, s, k) / (4 * (2 * c * s * s + weights(kind, c, k)))


def test_a_correct_answer_passes():
    result = check_intensity(right)
    assert result.passed and bool(result)
    assert "Correct" in str(result)


def test_only_some_kinds():
    assert check_intensity(lambda kind, c, s, k: 2.0 * k * k * s * s / (4 * (2 * s * s + k * k)),
                           kinds=("depthwise",))


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda kind, c, s, k: right(kind, c, s, k) / 2, "2 FLOPs"),
        (lambda kind, c, s, k: right(kind, c, s, k) * 4, "4 bytes"),
        (lambda kind, c, s, k: 2 * macs(kind, c, s, k) / (8 * c * s * s), "weights are missing"),
        (lambda kind, c, s, k: 2 * macs(kind, c, s, k) / (4 * (c * s * s + weights(kind, c, k))),
         "written"),
        (lambda kind, c, s, k: 1 / right(kind, c, s, k), "bytes per FLOP"),
        (lambda kind, c, s, k: 1.0, "FLOPs = 2 x"),
    ],
)
def test_common_slips_get_a_hint(wrong, hint):
    result = check_intensity(wrong)
    assert not result.passed
    assert hint in result.message
    assert "expected" in result.message


def test_normal_weights_in_a_depthwise_answer():
    def slip(kind, c, s, k):
        return 2 * macs(kind, c, s, k) / (4 * (2 * c * s * s + k * k * c * c))

    result = check_intensity(slip, kinds=("depthwise",))
    assert not result.passed and "normal convolution" in result.message


def test_errors_and_wrong_types_are_reported():
    def boom(kind, c, s, k):
        raise ZeroDivisionError("oops")

    result = check_intensity(boom)
    assert not result.passed and "ZeroDivisionError: oops" in result.message
    result = check_intensity(lambda kind, c, s, k: "2.25")
    assert not result.passed and "return a number" in result.message


def test_checker_validates_its_arguments():
    with pytest.raises(TypeError, match="fn"):
        check_intensity(42)
    with pytest.raises(ValueError, match="kind"):
        check_intensity(right, kinds=("separable",))
    with pytest.raises(TypeError, match="kinds"):
        check_intensity(right, kinds="normal")
    assert set(INTENSITY_KINDS) == {"normal", "depthwise", "pointwise"}
