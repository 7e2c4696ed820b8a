"""Tests of helpers.checks.architectures: right answers pass, typical mistakes get
a message that says what is wrong."""

from __future__ import annotations

import pytest
from torch import nn

from helpers.checks.architectures import (
    BLOCK_CASES,
    check_inverted_residual,
    check_separable_macs,
    expected_inverted_residual_macs,
    expected_inverted_residual_params,
)
from helpers.cost import count_macs, count_parameters
from helpers.models import InvertedResidual


def test_reference_formulas_match_our_block():
    for cin, cout, stride, t in BLOCK_CASES:
        block = InvertedResidual(cin, cout, stride, t)
        assert count_parameters(block) == expected_inverted_residual_params(cin, cout, t)
        assert count_macs(block, (1, cin, 9, 9)) == expected_inverted_residual_macs(
            cin, cout, stride, t, 9)


def test_inverted_residual_accepts_our_block():
    result = check_inverted_residual(InvertedResidual)
    assert result.passed and "all 6 cases" in result.message


class _Block(nn.Module):
    """A configurable learner block with one deliberate mistake at a time."""

    def __init__(self, cin, cout, stride, t, *, residual="right", last_act=False, bias=False,
                 stride_on_expand=False, act_after_add=False):
        super().__init__()
        hidden = cin * t
        s_exp, s_dw = (stride, 1) if stride_on_expand else (1, stride)
        self.expand = nn.Sequential(nn.Conv2d(cin, hidden, 1, stride=s_exp, bias=bias),
                                    nn.BatchNorm2d(hidden), nn.ReLU6()) if t != 1 else None
        self.dw = nn.Sequential(nn.Conv2d(hidden, hidden, 3, s_dw, 1, groups=hidden, bias=bias),
                                nn.BatchNorm2d(hidden), nn.ReLU6())
        project = [nn.Conv2d(hidden, cout, 1, bias=bias), nn.BatchNorm2d(cout)]
        if last_act:
            project.append(nn.ReLU6())
        self.project = nn.Sequential(*project)
        self.residual = {"right": stride == 1 and cin == cout, "never": False}[residual]
        self.after = nn.ReLU6() if act_after_add else nn.Identity()

    def forward(self, x):
        out = x if self.expand is None else self.expand(x)
        out = self.project(self.dw(out))
        return self.after(x + out if self.residual else out)


def test_fake_right_block_passes():
    assert check_inverted_residual(lambda *a: _Block(*a)).passed


@pytest.mark.parametrize("kwargs, words", [
    (dict(residual="never"), "residual connection"),
    (dict(last_act=True), "linear"),
    (dict(act_after_add=True), "linear"),
    (dict(bias=True), "bias=False"),
    (dict(stride_on_expand=True), "multiply-adds"),
])
def test_inverted_residual_mistakes_are_explained(kwargs, words):
    result = check_inverted_residual(lambda *a: _Block(*a, **kwargs))
    assert not result.passed
    assert words in result.message
    assert "make_block(" in result.message


def test_inverted_residual_reports_errors_and_wrong_types():
    def broken(cin, cout, stride, t):
        raise RuntimeError("oops")

    result = check_inverted_residual(broken)
    assert not result.passed and "RuntimeError: oops" in result.message
    result = check_inverted_residual(lambda *a: "block")
    assert not result.passed and "nn.Module" in result.message
    result = check_inverted_residual(lambda cin, cout, s, t: nn.Conv2d(cin, cout, 3, s, 1))
    assert not result.passed and "output shape" in result.message or "parameters" in result.message
    with pytest.raises(TypeError, match="make_block"):
        check_inverted_residual(42)


def _right(m, n, f, alpha, rho):
    m, n, f = round(m * alpha), round(n * alpha), round(f * rho)
    return 9 * m * f * f + m * n * f * f


def test_separable_macs_right_answer_passes():
    result = check_separable_macs(_right)
    assert result.passed and "Correct" in result.message


@pytest.mark.parametrize("wrong, words", [
    (lambda m, n, f, a, r: 9 * round(m * a) * round(f * r) ** 2, "only the depthwise"),
    (lambda m, n, f, a, r: round(m * a) * round(n * a) * round(f * r) ** 2, "only the pointwise"),
    (lambda m, n, f, a, r: _right(m, n, f, a, 1.0), "resolution multiplier"),
    (lambda m, n, f, a, r: float(_right(m, n, f, a, r)), "whole number"),
    (lambda m, n, f, a, r: _right(m, n, f, a, r) + 1, "Per output pixel"),
])
def test_separable_macs_mistakes_are_explained(wrong, words):
    result = check_separable_macs(wrong)
    assert not result.passed and words in result.message


def test_separable_macs_reports_errors():
    result = check_separable_macs(lambda *a: 1 / 0)
    assert not result.passed and "ZeroDivisionError" in result.message
    with pytest.raises(TypeError, match="fn"):
        check_separable_macs(None)
