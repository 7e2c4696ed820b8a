"""Checkers for the chapter on cost in practice (arithmetic intensity)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

from helpers.bench import BYTES_PER_FLOAT32, arithmetic_intensity, conv_macs, conv_weights
from helpers.checks import CheckResult, failed, passed

#: The kinds the exercise asks for (a separable convolution is two of them in a row).
INTENSITY_KINDS: tuple[str, ...] = ("normal", "depthwise", "pointwise")

#: (channels, size, kernel_size) cases: MobileNet's layers and some odd ones.
INTENSITY_CASES: tuple[tuple[int, int, int], ...] = (
    (32, 112, 3), (128, 56, 3), (256, 28, 3), (512, 14, 3), (1024, 7, 3),
    *itertools.product((1, 3, 64), (1, 5, 16), (1, 3, 5, 7)),
)


def _close(got: float, want: float) -> bool:
    return math.isclose(got, want, rel_tol=1e-6, abs_tol=0.0)


def _hint(kind: str, c: int, s: int, k: int, got: float) -> str:
    """Name the likely slip by recomputing the intensity with common mistakes."""
    macs = conv_macs(kind, c, s, k)
    weights = conv_weights(kind, c, k)
    act = c * s * s
    b = BYTES_PER_FLOAT32
    wrong = {
        macs / (b * (2 * act + weights)):
            "That is multiply-adds per byte; count 2 FLOPs (a multiply and an add) "
            "per multiply-add.",
        2 * macs / (2 * act + weights):
            "That is FLOPs per *number* moved; a float32 number is 4 bytes.",
        2 * macs / (b * 2 * act):
            "The weights are missing from the bytes moved: they are read once too.",
        2 * macs / (b * (act + weights)):
            "Only the reads are counted: the output must be written as well.",
        (b * (2 * act + weights)) / (2 * macs):
            "That is bytes per FLOP: divide FLOPs by bytes, not bytes by FLOPs.",
    }
    if kind != "normal":
        normal_weights = conv_weights("normal", c, k)
        wrong[2 * macs / (b * (2 * act + normal_weights))] = (
            "The weights counted are those of a normal convolution (k*k*C*C); "
            f"a {kind} convolution has fewer.")
    for value, message in wrong.items():
        if _close(got, value):
            return message
    return ("FLOPs = 2 x multiply-adds; bytes = 4 x (input numbers + weights + output "
            "numbers). Check each part for this case.")


def check_intensity(fn: Callable[..., object],
                    kinds: Sequence[str] = INTENSITY_KINDS) -> CheckResult:
    """Check ``fn(kind, channels, size, kernel_size)``: the arithmetic intensity (FLOPs per
    byte, float32, minimal traffic) of a ``channels -> channels`` "same" convolution on a
    ``size x size`` input, for each kind in ``kinds`` and many layers."""
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")
    if isinstance(kinds, str) or not isinstance(kinds, Sequence) or not kinds:
        raise TypeError(f"kinds must be a non-empty sequence of kinds, got {kinds!r}")
    for kind in kinds:
        if kind not in INTENSITY_KINDS:
            raise ValueError(f"each kind must be one of {INTENSITY_KINDS}, got {kind!r}")
    checked = 0
    for kind in kinds:
        for c, s, k in INTENSITY_CASES:
            want = arithmetic_intensity(kind, c, s, k)
            call = f"fn({kind!r}, channels={c}, size={s}, kernel_size={k})"
            try:
                got = fn(kind, c, s, k)
            except Exception as exc:  # report the learner's error as a message
                return failed(f"{call} raised {type(exc).__name__}: {exc}")
            if isinstance(got, bool) or not isinstance(got, int | float):
                return failed(f"{call} returned {got!r} ({type(got).__name__}); "
                              "return a number (a float).")
            if not _close(float(got), want):
                return failed(f"{call} returned {float(got):.6g}, expected {want:.6g} "
                              f"FLOP/byte. {_hint(kind, c, s, k, float(got))}")
            checked += 1
    return passed(f"Correct on all {checked} cases ({', '.join(kinds)}).")
