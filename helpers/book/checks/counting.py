"""Checkers for chapter 1 (counting parameters)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from helpers.book.checks import _common as common

#: The running example first (its numbers tell mistakes apart), then a grid.
CASES: tuple[tuple[int, int, int, bool], ...] = (
    (3, 8, 3, False),
    (3, 8, 3, True),
    *itertools.product((1, 3, 16), (1, 3, 32), (1, 3, 5), (False, True)),
)


def expected_separable_params(in_channels: int, out_channels: int, kernel_size: int,
                              bias: bool) -> int:
    """Reference answer: depthwise (k*k*M [+M]) plus pointwise (M*N [+N])."""
    m, n, k = in_channels, out_channels, kernel_size
    return k * k * m + m * n + ((m + n) if bias else 0)


#: Wrong formulas of (M, N, k, bias) and what to tell the learner who uses one.
_MISTAKES: tuple[tuple[Callable[[int, int, int, bool], int], str], ...] = (
    (lambda m, n, k, b: k * k * m * n,
     "That is a normal convolution's weight count (k*k*M*N)."),
    (lambda m, n, k, b: k * k * m * n + (n if b else 0),
     "That is a normal convolution's count (k*k*M*N weights, N biases)."),
    (lambda m, n, k, b: k * k * m + (m if b else 0),
     "That is only the depthwise step; add the pointwise step (M*N)."),
    (lambda m, n, k, b: k * k * m,
     "That is only the depthwise step; add the pointwise step (M*N)."),
    (lambda m, n, k, b: m * n + (n if b else 0),
     "That is only the pointwise step; add the depthwise step (k*k*M)."),
    (lambda m, n, k, b: m * n,
     "That is only the pointwise step; add the depthwise step (k*k*M)."),
    (lambda m, n, k, b: k * k * m + m * n,
     "The weights are right; with bias=True add one bias per depthwise filter (M) "
     "and one per pointwise filter (N)."),
    (lambda m, n, k, b: k * k * m + m * n + m + n,
     "With bias=False, count no biases."),
    (lambda m, n, k, b: k * k * m + m * n + (n if b else 0),
     "Close: the depthwise step has biases too (M of them)."),
    (lambda m, n, k, b: k * k * m + m * n + (m if b else 0),
     "Close: the pointwise step has biases too (N of them)."),
)


def _where(case: tuple[int, int, int, bool]) -> str:
    return "fn(in_channels={}, out_channels={}, kernel_size={}, bias={})".format(*case)


@common.checker
def check_separable_params(fn: Callable[..., object]) -> str:
    """Check ``fn(in_channels, out_channels, kernel_size, bias)``, a learner's
    count of a depthwise separable convolution's parameters, on many cases."""
    common.require_callable(fn)
    answers = common.collect(fn, CASES, _where, common.as_int)
    expected = {case: expected_separable_params(*case) for case in CASES}
    common.compare_all(answers, expected, int.__eq__, _where, _MISTAKES,
                       "Count the depthwise step (k*k*M) and the pointwise step (M*N) "
                       "separately, then add them, with one bias per filter if bias=True.")
    return f"Correct on all {len(CASES)} cases."
