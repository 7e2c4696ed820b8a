"""Tests of helpers.checks.overfitting: right answers pass, typical mistakes get a hint."""

from __future__ import annotations

import pytest

from helpers.checks.overfitting import check_generalisation_gap, check_width_for_budget
from helpers.digits import cnn_parameters, separable_width_for_budget


def test_gap_checker_accepts_the_right_answer():
    result = check_generalisation_gap(lambda h: h.train_acc[-1] - h.val_acc[-1])
    assert result.passed and "Correct" in str(result)


@pytest.mark.parametrize("wrong, hint", [
    (lambda h: h.val_acc[-1] - h.train_acc[-1], "sign"),
    (lambda h: 100 * (h.train_acc[-1] - h.val_acc[-1]), "percent"),
    (lambda h: h.train_acc[0] - h.val_acc[0], "first epoch"),
    (lambda h: h.val_loss[-1] - h.train_loss[-1], "loss"),
    (lambda h: max(h.train_acc) - max(h.val_acc), "best epochs"),
    (lambda h: 0.5, "Subtract"),
])
def test_gap_checker_explains_mistakes(wrong, hint):
    result = check_generalisation_gap(wrong)
    assert not result.passed
    assert hint in result.message and "expected" in result.message


def test_gap_checker_reports_errors_and_types():
    assert "raised ZeroDivisionError" in check_generalisation_gap(lambda h: 1 / 0).message
    assert "return a number" in check_generalisation_gap(lambda h: "0.1").message
    with pytest.raises(TypeError, match="fn"):
        check_generalisation_gap(0.1)


def test_width_checker_accepts_the_reference():
    result = check_width_for_budget(separable_width_for_budget)
    assert result.passed and "Correct" in result.message


def first_reaching(target: int) -> int:
    width = 1
    while cnn_parameters("separable", width) < target:
        width += 1
    return width


def last_below(target: int) -> int:
    return max(1, first_reaching(target) - 1)


@pytest.mark.parametrize("wrong, hint", [
    (first_reaching, "first width that reaches"),
    (last_below, "last width below"),
    (lambda target: 8, "cnn_parameters"),
])
def test_width_checker_explains_mistakes(wrong, hint):
    result = check_width_for_budget(wrong)
    assert not result.passed
    assert hint in result.message and "The target is" in result.message


def test_width_checker_reports_errors_and_types():
    assert "return a width" in check_width_for_budget(lambda t: 8.0).message
    assert "raised ValueError" in check_width_for_budget(lambda t: int("x")).message
    with pytest.raises(TypeError, match="fn"):
        check_width_for_budget(None)
