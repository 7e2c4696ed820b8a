"""Tests of helpers.book.checks.overfitting: right answers written in several ways
pass, typical mistakes get their hint, other wrong answers get no false hint."""

from __future__ import annotations

import functools
import statistics

import numpy as np
import pytest
import torch
from checks_support import assert_fails, assert_passes

from helpers.book.checks.overfitting import (
    GAP_CASES,
    check_generalisation_gap,
    check_width_for_budget,
    expected_width,
    separable_cnn_parameters,
)
from helpers.lab.cnn import cnn_parameters, separable_width_for_budget

GAP_GENERIC = "Subtract the last validation accuracy from the last training accuracy."
WIDTH_GENERIC = "walk up until it reaches the target"


def test_gap_cases_have_curves_that_go_up_and_down():
    def last_is_not(curve, pick):
        return curve.index(pick(curve)) != len(curve) - 1

    for pick in (max, min):
        assert any(last_is_not(h.train_acc, pick) for h in GAP_CASES)
        assert any(last_is_not(h.val_acc, pick) for h in GAP_CASES)
    assert any(h.train_acc.index(min(h.train_acc)) > 0
               and h.val_acc.index(min(h.val_acc)) > 0 for h in GAP_CASES)
    assert any(h.train_acc[-1] < h.val_acc[-1] for h in GAP_CASES)  # a negative gap
    assert any(len(h.train_acc) == 1 for h in GAP_CASES)


@pytest.mark.parametrize("answer", [
    lambda h: h.train_acc[-1] - h.val_acc[-1],
    lambda h: h.gap(),
    lambda h: h.gap(len(h.epoch) - 1),
    lambda h: np.float32(h.train_acc[-1]) - np.float32(h.val_acc[-1]),
    lambda h: np.subtract(h.train_acc, h.val_acc)[-1],
    lambda h: torch.tensor(h.train_acc)[-1] - torch.tensor(h.val_acc)[-1],
    lambda h: float(np.array(h.train_acc)[-1] - np.array(h.val_acc)[-1]),
    lambda h: [t - v for t, v in zip(h.train_acc, h.val_acc, strict=True)][-1],
    lambda h: -(h.val_acc[-1] - h.train_acc[-1]),
], ids=["index -1", "History.gap", "gap(last)", "float32", "np.subtract", "tensor",
        "float", "list", "minus"])
def test_gap_checker_accepts_right_answers(answer):
    result = check_generalisation_gap(answer)
    assert_passes(result)
    assert f"all {len(GAP_CASES)} histories" in result.message


@pytest.mark.parametrize("wrong, hint", [
    (lambda h: h.val_acc[-1] - h.train_acc[-1], "sign"),
    (lambda h: 100 * (h.train_acc[-1] - h.val_acc[-1]), "percent"),
    (lambda h: abs(h.train_acc[-1] - h.val_acc[-1]), "keep its sign"),
    (lambda h: h.train_acc[0] - h.val_acc[0], "first epoch"),
    (lambda h: h.val_loss[-1] - h.train_loss[-1], "gap in loss"),
    (lambda h: h.train_loss[-1] - h.val_loss[-1], "difference of losses"),
    (lambda h: max(h.train_acc) - max(h.val_acc), "best epochs"),
    (lambda h: statistics.mean(h.train_acc) - statistics.mean(h.val_acc), "mean gap"),
])
def test_gap_checker_explains_mistakes(wrong, hint):
    assert_fails(check_generalisation_gap(wrong), hint, "expected")


@pytest.mark.parametrize("wrong", [
    lambda h: max(h.train_acc) - h.val_acc[-1],  # passed when every history only rose
    lambda h: h.train_acc[-1] - max(h.val_acc),
    lambda h: min(h.train_acc) - min(h.val_acc),
    lambda h: h.train_acc[-2] - h.val_acc[-2] if len(h.train_acc) > 1 else h.gap(),
    lambda h: h.train_acc[int(np.argmax(h.val_acc))] - max(h.val_acc),  # at the best epoch
    lambda h: max(a - b for a, b in zip(h.train_acc, h.val_acc, strict=True)),
    lambda h: 0.5,
], ids=["max train", "max val", "min", "second to last", "best val epoch", "largest gap",
        "constant"])
def test_gap_checker_gives_no_false_hint(wrong):
    assert_fails(check_generalisation_gap(wrong), "expected", GAP_GENERIC)


def test_gap_checker_detects_a_change_to_the_history():
    assert_fails(check_generalisation_gap(lambda h: h.train_acc.pop() - h.val_acc.pop()),
                 "changed the history")


def test_gap_checker_reports_errors_and_types():
    assert_fails(check_generalisation_gap(lambda h: 1 / 0), "raised ZeroDivisionError")
    assert_fails(check_generalisation_gap(lambda h: "0.1"), "return a number")
    assert_fails(check_generalisation_gap(lambda h: h.train_acc), "return a number")
    with pytest.raises(TypeError, match="fn"):
        check_generalisation_gap(0.1)


# ----------------------------------------------------------------------------- width


def test_parameter_formula_is_the_models_count():
    for width in (*range(1, 25), 50, 99):
        assert separable_cnn_parameters(width) == count(width)


def test_reference_width_is_the_libraries():
    for target in (50, 88, 1030, 3778, 5_000, 12_345):
        assert expected_width(target) == separable_width_for_budget(target)


@functools.lru_cache
def count(width: int) -> int:
    """The learner's count: the model's, as the notebook's exercise uses it."""
    return cnn_parameters("separable", width)


def first_reaching(target: int) -> int:
    width = 1
    while count(width) < target:
        width += 1
    return width


def last_below(target: int) -> int:
    return max(1, first_reaching(target) - 1)


def larger_on_tie(target: int) -> int:
    width = first_reaching(target)
    if width > 1 and target - count(width - 1) < count(width) - target:
        return width - 1
    return width


def closest_by_search(target: int) -> int:
    return min(range(1, 100), key=lambda w: (abs(count(w) - target), w))


@pytest.mark.parametrize("answer", [
    separable_width_for_budget,
    closest_by_search,
    lambda t: np.int64(closest_by_search(t)),
    lambda t: torch.tensor(closest_by_search(t)),
], ids=["library", "search", "int64", "tensor"])
def test_width_checker_accepts_right_answers(answer):
    assert_passes(check_width_for_budget(answer))


@pytest.mark.parametrize("wrong, hint", [
    (first_reaching, "first width that reaches"),
    (last_below, "last width below"),
    (larger_on_tie, "On a tie, return the smaller width."),
])
def test_width_checker_explains_mistakes(wrong, hint):
    assert_fails(check_width_for_budget(wrong), hint, "The target is")


@pytest.mark.parametrize("wrong", [
    lambda target: 8,
    lambda target: closest_by_search(target) + 2,
    lambda target: first_reaching(target) if target < 2000 else last_below(target),
    lambda target: round((target / 6) ** 0.5),  # the square term alone
], ids=["constant", "off by two", "mixture", "square term"])
def test_width_checker_gives_no_false_hint(wrong):
    assert_fails(check_width_for_budget(wrong), "The target is", WIDTH_GENERIC)


def test_width_checker_reports_errors_and_types():
    assert_fails(check_width_for_budget(lambda t: 8.0), "whole number")
    assert_fails(check_width_for_budget(lambda t: int("x")), "raised ValueError")
    with pytest.raises(TypeError, match="fn"):
        check_width_for_budget(None)
