"""Tests of helpers.book.checks.architectures: right answers written in several ways
pass, typical mistakes get a message that says what is wrong, other wrong
answers get no false hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checks_support import assert_fails, assert_passes
from torch import nn

from helpers.book.checks.architectures import (
    BLOCK_CASES,
    WIDTH_CASES,
    check_inverted_residual,
    check_mobilenet_macs,
    expected_inverted_residual_params,
    expected_separable_macs,
)
from helpers.core.cost import conv2d_macs, count_parameters
from helpers.core.models import InvertedResidual

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BLOCK_GENERIC = "Expected expand 1x1 + BN + ReLU6 (unless the expansion is 1)"


def test_reference_formulas_match_our_block():
    for cin, cout, stride, t in BLOCK_CASES:
        block = InvertedResidual(cin, cout, stride, t)
        assert count_parameters(block) == expected_inverted_residual_params(cin, cout, t)


class _Block(nn.Module):
    """A configurable learner block with one deliberate mistake at a time."""

    def __init__(self, cin, cout, stride, t, *, residual="right", last_act=False, bias=False,
                 stride_on_expand=False, act_after_add=False, act=nn.ReLU6, acts=(True, True),
                 in_place="", no_norm=False, groups=True):
        super().__init__()
        hidden = cin * t
        s_exp, s_dw = (stride, 1) if stride_on_expand else (1, stride)

        def norm(c):
            return nn.Identity() if no_norm else nn.BatchNorm2d(c)

        def activation(on):
            return act() if on else nn.Identity()

        self.expand = nn.Sequential(nn.Conv2d(cin, hidden, 1, stride=s_exp, bias=bias),
                                    norm(hidden), activation(acts[0])) if t != 1 else None
        self.dw = nn.Sequential(nn.Conv2d(hidden, hidden, 3, s_dw, 1,
                                          groups=hidden if groups else 1, bias=bias),
                                norm(hidden), activation(acts[1]))
        project = [nn.Conv2d(hidden, cout, 1, bias=bias), norm(cout)]
        if last_act:
            project.append(act())
        self.project = nn.Sequential(*project)
        self.residual = {"right": stride == 1 and cin == cout, "never": False}[residual]
        self.after = act() if act_after_add else nn.Identity()
        self.in_place = in_place

    def forward(self, x):
        out = x if self.expand is None else self.expand(x)
        out = self.project(self.dw(out))
        if self.residual and self.in_place == "x += out":
            x += out
            return self.after(x)
        if self.residual and self.in_place == "out += x":
            out += x
            return self.after(out)
        return self.after(x + out if self.residual else out)


class _Functional(nn.Module):
    """A right block written with a ModuleList and functional activations."""

    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = cin * t
        self.convs = nn.ModuleList(
            ([nn.Conv2d(cin, hidden, 1, bias=False)] if t != 1 else [])
            + [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
               nn.Conv2d(hidden, cout, 1, bias=False)])
        self.norms = nn.ModuleList(nn.BatchNorm2d(c.out_channels) for c in self.convs)
        self.stride, self.same = stride, cin == cout

    def forward(self, x):
        out = x
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
            out = norm(conv(out))
            if i < len(self.convs) - 1:
                out = torch.clamp(out, 0, 6)
        return x + out if self.stride == 1 and self.same else out


@pytest.mark.parametrize("answer", [
    InvertedResidual,
    lambda *a: _Block(*a),
    lambda *a: _Block(*a, in_place="x += out"),
    lambda *a: _Block(*a, in_place="out += x"),
    lambda *a: _Block(*a, act=lambda: nn.ReLU6(inplace=True)),
    lambda *a: _Block(*a, act=lambda: nn.Hardtanh(0.0, 6.0)),
    _Functional,
    lambda cin, cout, s, t: _Block(np.int64(cin), cout, s, t),
    lambda *a: _Block(*a).double(),
], ids=["ours", "learner", "x += out", "out += x", "in-place ReLU6", "Hardtanh(0, 6)",
        "functional", "NumPy ints", "float64"])
def test_inverted_residual_accepts_right_answers(answer):
    result = check_inverted_residual(answer)
    assert_passes(result)
    assert "all 6 cases" in result.message


def test_inverted_residual_leaves_torchs_random_state_alone():
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    check_inverted_residual(InvertedResidual)
    assert torch.equal(torch.random.get_rng_state(), before)


@pytest.mark.parametrize("kwargs, words", [
    (dict(residual="never"), "residual connection"),
    (dict(last_act=True), "after the projection"),
    (dict(act_after_add=True), "linear"),
    (dict(act=nn.ReLU), "ReLU6"),
    (dict(acts=(False, False)), "There is no activation:"),
    (dict(acts=(False, True)), "no activation after the expansion"),
    (dict(acts=(True, False)), "no activation after the depthwise step"),
    (dict(bias=True), "bias=False"),
    (dict(stride_on_expand=True), "belongs to the depthwise step"),
    (dict(no_norm=True), "needs a BatchNorm2d"),
    (dict(groups=False), "groups="),
])
def test_inverted_residual_mistakes_are_explained(kwargs, words):
    assert_fails(check_inverted_residual(lambda *a: _Block(*a, **kwargs)), words, "make_block(")


@pytest.mark.parametrize("kwargs", [dict(acts=(False, False)), dict(act=nn.ReLU)])
def test_no_activation_and_relu_are_refused_even_for_blocks_without_expansion(kwargs):
    def only_t1(cin, cout, stride, t):
        return _Block(cin, cout, stride, t, **(kwargs if t == 1 else {}))

    assert_fails(check_inverted_residual(only_t1), "expansion=1")


class _Shuffled(_Block):  # the expansion's output channels permuted after the BN
    def forward(self, x):
        out = x if self.expand is None else self.expand(x).flip(1)
        out = self.project(self.dw(out))
        return x + out if self.residual else out


class _HalfResidual(_Block):
    def forward(self, x):
        out = self.project(self.dw(x if self.expand is None else self.expand(x)))
        return x / 2 + out if self.residual else out


class _Leaky(_Block):
    def __init__(self, *args):
        super().__init__(*args, act=lambda: nn.LeakyReLU(0.1))


class _Dropped(_Block):  # clamps the expansion at 5 instead of 6
    def __init__(self, *args):
        super().__init__(*args, act=lambda: nn.Hardtanh(0.0, 5.0))


@pytest.mark.parametrize("answer", [_Shuffled, _HalfResidual, _Leaky, _Dropped])
def test_inverted_residual_gives_no_false_hint(answer):
    result = check_inverted_residual(answer)
    assert_fails(result, "the output differs", BLOCK_GENERIC)


def test_inverted_residual_detects_other_changes_to_the_input():
    class Normalises(_Block):
        def forward(self, x):
            x -= x.mean()
            return super().forward(x)

    assert_fails(check_inverted_residual(Normalises), "changed its input x in place")


def test_inverted_residual_says_when_it_cannot_follow_the_block():
    class Wrapped(nn.Module):  # our block inside another module: followed all the same
        def __init__(self, cin, cout, stride, t):
            super().__init__()
            self.block = InvertedResidual(cin, cout, stride, t)

        def forward(self, x):
            with torch.no_grad():
                return self.block(x) * 1.0

    class Silent(nn.Module):  # right shape and count, but calls no convolution
        def __init__(self, cin, cout, stride, t):
            super().__init__()
            self.block = InvertedResidual(cin, cout, stride, t)
            self.out = nn.Parameter(torch.zeros(0))

        def forward(self, x):
            return torch.zeros(2, self.block.out_channels, *(
                [(9 - 1) // self.block.stride + 1] * 2))

    assert_passes(check_inverted_residual(Wrapped))
    assert_fails(check_inverted_residual(Silent), "nn.Conv2d and nn.BatchNorm2d")


def test_inverted_residual_reports_errors_and_wrong_types():
    def broken(cin, cout, stride, t):
        raise RuntimeError("oops")

    assert_fails(check_inverted_residual(broken), "RuntimeError: oops")
    assert_fails(check_inverted_residual(lambda *a: "block"), "nn.Module")
    result = check_inverted_residual(lambda cin, cout, s, t: nn.Conv2d(cin, cout, 3, s, 1))
    assert_fails(result, "parameters, expected")
    result = check_inverted_residual(lambda cin, cout, s, t: InvertedResidual(cin, cout, 1, t))
    assert_fails(result, "make_block(8, 8, stride=2", "output shape")
    with pytest.raises(TypeError, match="make_block"):
        check_inverted_residual(42)


# ----------------------------------------------------------------------------- MACs

MACS_GENERIC = "Per output pixel: 3*3*(alpha*M) for the depthwise step"


def _right(m, n, f, alpha, rho):
    m, n, f = round(m * alpha), round(n * alpha), round(f * rho)
    return 9 * m * f * f + m * n * f * f


def test_reference_macs_is_the_cost_modules():
    for m, n, f, alpha, rho in WIDTH_CASES:
        am, an, rf = round(m * alpha), round(n * alpha), round(f * rho)
        assert expected_separable_macs(m, n, f, alpha, rho) == conv2d_macs(
            am, am, 3, rf, groups=am) + conv2d_macs(am, an, 1, rf)


@pytest.mark.parametrize("answer", [
    _right,
    lambda m, n, f, a, r: np.int64(_right(m, n, f, a, r)),
    lambda m, n, f, a, r: int(_right(m, n, f, a, r)),
    lambda m, n, f, a, r: (9 + round(n * a)) * round(m * a) * round(f * r) ** 2,
    lambda m, n, f, a, r: _right(np.int64(m), n, f, np.float64(a), r),
], ids=["formula", "int64", "int()", "factored", "NumPy arithmetic"])
def test_separable_macs_right_answers_pass(answer):
    assert_passes(check_mobilenet_macs(answer))


@pytest.mark.parametrize("wrong, words", [
    (lambda m, n, f, a, r: 9 * round(m * a) * round(f * r) ** 2, "only the depthwise"),
    (lambda m, n, f, a, r: round(m * a) * round(n * a) * round(f * r) ** 2, "only the pointwise"),
    (lambda m, n, f, a, r: 9 * round(m * a) * round(n * a) * round(f * r) ** 2, "normal 3x3"),
    (lambda m, n, f, a, r: _right(m, n, f, a, 1.0), "resolution multiplier"),
    (lambda m, n, f, a, r: _right(m, n, f, 1.0, r), "width multiplier scales both"),
    (lambda m, n, f, a, r: _right(m, n, f, 1.0, 1.0), "ignores both"),
    (lambda m, n, f, a, r: float(_right(m, n, f, a, r)), "whole number"),
    (lambda m, n, f, a, r: 9 * m * a * (f * r) ** 2 + m * a * n * a * (f * r) ** 2, "Round"),
    (lambda m, n, f, a, r: int(9 * m * a * (f * r) ** 2 + m * a * n * a * (f * r) ** 2),
     "first, then multiply"),
    (lambda m, n, f, a, r: round((9 + n * a) * m * a * (f * r) ** 2), "first, then multiply"),
])
def test_separable_macs_mistakes_are_explained(wrong, words):
    assert_fails(check_mobilenet_macs(wrong), words)


@pytest.mark.parametrize("wrong", [
    lambda m, n, f, a, r: _right(m, n, f, a, r) + 1,
    lambda m, n, f, a, r: _right(m, n, f, a * a, r),  # alpha squared
    lambda m, n, f, a, r: _right(m, n, f, a, r * r),  # rho squared
    lambda m, n, f, a, r: _right(m, n, f, a, r) if a != 0.3 else 9 * 10 * 7 * 7,
    lambda m, n, f, a, r: 9 * int(m * a) * int(f * r) ** 2 + int(m * a) * int(n * a) * int(
        f * r) ** 2,
], ids=["off by one", "alpha squared", "rho squared", "mixture", "truncated"])
def test_separable_macs_gives_no_false_hint(wrong):
    assert_fails(check_mobilenet_macs(wrong), "expected", MACS_GENERIC)


def test_separable_macs_reports_errors():
    assert_fails(check_mobilenet_macs(lambda *a: 1 / 0), "ZeroDivisionError")
    with pytest.raises(TypeError, match="fn"):
        check_mobilenet_macs(None)
