"""Checkers for chapter 1 (counting parameters)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from helpers.checks import CheckResult, failed, passed
from helpers.cost import conv2d_params

#: The running example first (its numbers tell mistakes apart), then a grid.
CASES: tuple[tuple[int, int, int, bool], ...] = (
    (3, 8, 3, False),
    (3, 8, 3, True),
    *itertools.product((1, 3, 16), (1, 3, 32), (1, 3, 5), (False, True)),
)


def expected_separable_params(in_channels: int, out_channels: int, kernel_size: int,
                              bias: bool) -> int:
    """Reference answer: depthwise (k*k*M [+M]) plus pointwise (M*N [+N])."""
    depthwise = conv2d_params(in_channels, in_channels, kernel_size, groups=in_channels,
                              bias=bias)
    pointwise = conv2d_params(in_channels, out_channels, 1, bias=bias)
    return depthwise + pointwise


def check_separable_params(fn: Callable[..., object]) -> CheckResult:
    """Check ``fn(in_channels, out_channels, kernel_size, bias)``, a learner's
    count of a depthwise separable convolution's parameters, on many cases."""
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")
    for m, n, k, bias in CASES:
        want = expected_separable_params(m, n, k, bias)
        try:
            got = fn(m, n, k, bias)
        except Exception as exc:  # report the learner's error as a message
            return failed(
                f"fn({m}, {n}, {k}, bias={bias}) raised {type(exc).__name__}: {exc}"
            )
        if isinstance(got, bool) or not isinstance(got, int):
            return failed(
                f"fn({m}, {n}, {k}, bias={bias}) returned {got!r} "
                f"({type(got).__name__}); return a whole number (int)."
            )
        if got != want:
            return failed(
                f"fn(in_channels={m}, out_channels={n}, kernel_size={k}, bias={bias}) "
                f"returned {got}, expected {want}. {_hint(m, n, k, bias, got)}"
            )
    return passed(f"Correct on all {len(CASES)} cases.")


def _hint(m: int, n: int, k: int, bias: bool, got: int) -> str:
    depthwise_w, pointwise_w = k * k * m, m * n
    guesses = {
        k * k * m * n: "That is a normal convolution's weight count (k*k*M*N).",
        depthwise_w: "That is only the depthwise step; add the pointwise step (M*N).",
        pointwise_w: "That is only the pointwise step; add the depthwise step (k*k*M).",
        depthwise_w + pointwise_w: "The weights are right; with bias=True add one bias "
        "per depthwise filter (M) and one per pointwise filter (N).",
        depthwise_w + pointwise_w + n: "Close: the depthwise step has biases too (M of them).",
        depthwise_w + pointwise_w + m: "Close: the pointwise step has biases too (N of them).",
    }
    if not bias:
        guesses[depthwise_w + pointwise_w + m + n] = "With bias=False, count no biases."
    return guesses.get(got, "Count the depthwise step (k*k*M) and the pointwise step (M*N) "
                            "separately, then add them.")
