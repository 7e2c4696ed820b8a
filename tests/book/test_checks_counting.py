"""Tests of helpers.book.checks.counting: right answers written in several ways pass,
typical mistakes get their hint, other wrong answers get no false hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checks_support import assert_fails, assert_passes

from helpers.book.checks.counting import CASES, check_separable_params, expected_separable_params
from helpers.core.cost import conv2d_params

GENERIC = "separately, then add them"


def correct(m, n, k, bias):
    return k * k * m + m * n + ((m + n) if bias else 0)


def test_reference_answer_matches_the_seed_example_and_the_cost_module():
    assert expected_separable_params(3, 3, 3, False) == 36
    for m, n, k, bias in CASES:
        assert expected_separable_params(m, n, k, bias) == conv2d_params(
            m, m, k, groups=m, bias=bias) + conv2d_params(m, n, 1, bias=bias)


@pytest.mark.parametrize("answer", [
    correct,
    lambda m, n, k, b: np.int64(correct(m, n, k, b)),
    lambda m, n, k, b: np.int32(correct(m, n, k, b)),
    lambda m, n, k, b: np.array(correct(m, n, k, b)),
    lambda m, n, k, b: torch.tensor(correct(m, n, k, b)),
    lambda m, n, k, b: k ** 2 * m + int(b) * m + m * n + int(b) * n,
    lambda m, n, k, b: sum(p.numel() for p in (
        torch.nn.Conv2d(m, m, k, groups=m, bias=b, device="meta").parameters()))
    + sum(p.numel() for p in torch.nn.Conv2d(m, n, 1, bias=b, device="meta").parameters()),
], ids=["formula", "int64", "int32", "0-d array", "0-d tensor", "bools as ints", "torch"])
def test_correct_answers_written_in_other_ways_pass(answer):
    result = check_separable_params(answer)
    assert_passes(result)
    assert str(len(CASES)) in result.message


@pytest.mark.parametrize(("answer", "hint"), [
    (lambda m, n, k, b: k * k * m * n, "normal convolution"),
    (lambda m, n, k, b: k * k * m, "only the depthwise step"),
    (lambda m, n, k, b: m * n, "only the pointwise step"),
    (lambda m, n, k, b: k * k * m + m * n, "one bias"),
    (lambda m, n, k, b: k * k * m + m * n + m + n, "count no biases"),
    (lambda m, n, k, b: k * k * m + m * n + (n if b else 0), "depthwise step has biases"),
    (lambda m, n, k, b: k * k * m + m * n + (m if b else 0), "pointwise step has biases"),
])
def test_typical_mistakes_get_their_hint(answer, hint):
    assert_fails(check_separable_params(answer), hint, "expected")


@pytest.mark.parametrize("answer", [
    # right on the running example (3, 8, 3), wrong elsewhere
    lambda m, n, k, b: 27 + 24 + (11 if b else 0),
    lambda m, n, k, b: 9 * m + m * n + ((m + n) if b else 0),  # k fixed at 3
    lambda m, n, k, b: k * k * m + m * n + ((m + n) if b else 0) + (m == 1),
    lambda m, n, k, b: k * k * n + m * n + ((m + n) if b else 0),  # depthwise on N
    lambda m, n, k, b: k * k * m * n if b else k * k * m,  # a mixture of two mistakes
], ids=["constant", "k=3", "off by one", "depthwise on N", "mixture"])
def test_other_wrong_answers_get_no_tailored_hint(answer):
    assert_fails(check_separable_params(answer), "expected", GENERIC)


@pytest.mark.parametrize(("answer", "phrase"), [
    (lambda m, n, k, b: float(correct(m, n, k, b)), "Convert it with int"),
    (lambda m, n, k, b: correct(m, n, k, b) / 2, "whole number"),
    (lambda m, n, k, b: str(correct(m, n, k, b)), "whole number"),
    (lambda m, n, k, b: np.float32(correct(m, n, k, b)), "whole number"),
    (lambda m, n, k, b: bool(b), "whole number"),
    (lambda m, n, k, b: 1 // 0, "ZeroDivisionError"),
])
def test_wrong_types_and_errors_are_reported_not_raised(answer, phrase):
    assert_fails(check_separable_params(answer), phrase)


def test_checker_rejects_a_non_function():
    with pytest.raises(TypeError, match="fn must be a function"):
        check_separable_params(42)
