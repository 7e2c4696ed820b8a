"""Tests of helpers.book.checks.cost: right answers written in several ways pass,
each common slip gets its hint, other wrong answers get no false hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checks_support import assert_fails, assert_passes

from helpers.book.checks.cost import (
    INTENSITY_CASES,
    INTENSITY_KINDS,
    check_intensity,
    expected_intensity,
)
from helpers.lab.roofline import arithmetic_intensity

GENERIC = "FLOPs = 2 x multiply-adds; bytes = 4 x (input numbers + weights + output numbers)."


def weights(kind, c, k):
    return {"normal": k * k * c * c, "depthwise": k * k * c, "pointwise": c * c}[kind]


def macs(kind, c, s, k):
    return weights(kind, c, k) * s * s


def right(kind, c, s, k):
    return 2 * macs(kind, c, s, k) / (4 * (2 * c * s * s + weights(kind, c, k)))


def test_reference_is_the_roofline_modules_intensity():
    for kind in INTENSITY_KINDS:
        for c, s, k in INTENSITY_CASES:
            assert expected_intensity(kind, c, s, k) == pytest.approx(
                arithmetic_intensity(kind, c, s, k), rel=1e-12)


@pytest.mark.parametrize("answer", [
    right,
    lambda kind, c, s, k: np.float64(right(kind, c, s, k)),
    lambda kind, c, s, k: np.float32(right(kind, c, s, k)),
    lambda kind, c, s, k: np.float32(2) * np.float32(macs(kind, c, s, k))
    / (np.float32(4) * np.float32(2 * c * s * s + weights(kind, c, k))),
    lambda kind, c, s, k: torch.tensor(right(kind, c, s, k)),
    lambda kind, c, s, k: np.array(right(kind, c, s, k)),
    lambda kind, c, s, k: (2 * macs(kind, c, s, k)) / (8 * c * s * s + 4 * weights(kind, c, k)),
], ids=["float", "float64", "float32", "float32 arithmetic", "tensor", "0-d array",
        "expanded"])
def test_correct_answers_written_in_other_ways_pass(answer):
    result = check_intensity(answer)
    assert_passes(result)
    assert "Correct on all 123 cases" in result.message


def test_only_some_kinds():
    assert_passes(check_intensity(
        lambda kind, c, s, k: 2.0 * k * k * s * s / (4 * (2 * s * s + k * k)),
        kinds=("depthwise",)))


@pytest.mark.parametrize(("wrong", "hint"), [
    (lambda kind, c, s, k: right(kind, c, s, k) / 2, "2 FLOPs"),
    (lambda kind, c, s, k: right(kind, c, s, k) * 4, "4 bytes"),
    (lambda kind, c, s, k: 2 * macs(kind, c, s, k) / (8 * c * s * s), "weights are missing"),
    (lambda kind, c, s, k: 2 * macs(kind, c, s, k) / (4 * (c * s * s + weights(kind, c, k))),
     "written"),
    (lambda kind, c, s, k: 1 / right(kind, c, s, k), "bytes per FLOP"),
])
def test_common_slips_get_a_hint(wrong, hint):
    assert_fails(check_intensity(wrong), hint, "expected")


def test_normal_weights_in_a_depthwise_answer():
    def slip(kind, c, s, k):
        return 2 * macs(kind, c, s, k) / (4 * (2 * c * s * s + k * k * c * c))

    assert_fails(check_intensity(slip, kinds=("depthwise",)), "normal convolution")
    assert_fails(check_intensity(slip), "fn('depthwise'", "normal convolution")


@pytest.mark.parametrize("wrong", [
    lambda kind, c, s, k: 1.0,
    lambda kind, c, s, k: right(kind, c, s, k) * 1.01,
    lambda kind, c, s, k: 2 * macs(kind, c, s, k) / (4 * (3 * c * s * s + weights(kind, c, k))),
    lambda kind, c, s, k: right(kind, c, s, k) / 2 if kind == "pointwise" else right(
        kind, c, s, k) * 4,  # two different slips
    lambda kind, c, s, k: right(kind, c, s, 3),  # kernel size ignored
], ids=["constant", "1 percent off", "input read twice", "two slips", "k ignored"])
def test_other_wrong_answers_get_no_false_hint(wrong):
    assert_fails(check_intensity(wrong), "expected", GENERIC)


@pytest.mark.parametrize(("answer", "phrase"), [
    (lambda kind, c, s, k: "2.25", "return a number"),
    (lambda kind, c, s, k: None, "return a number"),
    (lambda kind, c, s, k: np.array([right(kind, c, s, k)]), "return a number"),
    (lambda kind, c, s, k: complex(right(kind, c, s, k)), "return a number"),
    (lambda kind, c, s, k: float("nan"), "returned nan"),
])
def test_wrong_types_are_reported(answer, phrase):
    assert_fails(check_intensity(answer), phrase)


def test_errors_are_reported():
    def boom(kind, c, s, k):
        raise ZeroDivisionError("oops")

    assert_fails(check_intensity(boom), "ZeroDivisionError: oops")


def test_checker_validates_its_arguments():
    with pytest.raises(TypeError, match="fn"):
        check_intensity(42)
    with pytest.raises(ValueError, match="kind"):
        check_intensity(right, kinds=("separable",))
    with pytest.raises(TypeError, match="kinds"):
        check_intensity(right, kinds="normal")
    assert set(INTENSITY_KINDS) == {"normal", "depthwise", "pointwise"}
