"""Checkers for the chapter on cost in practice (arithmetic intensity)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

from helpers.book.checks import _common as common

#: The kinds the exercise asks for (a separable convolution is two of them in a row).
INTENSITY_KINDS: tuple[str, ...] = ("normal", "depthwise", "pointwise")

#: Bytes of one float32 number.
BYTES_PER_FLOAT32 = 4

#: (channels, size, kernel_size) cases: MobileNet's layers and some odd ones.
INTENSITY_CASES: tuple[tuple[int, int, int], ...] = (
    (32, 112, 3), (128, 56, 3), (256, 28, 3), (512, 14, 3), (1024, 7, 3),
    *itertools.product((1, 3, 64), (1, 5, 16), (1, 3, 5, 7)),
)


def _weights(kind: str, c: int, k: int) -> int:
    """Weights of a ``c -> c`` convolution of ``kind`` (no bias)."""
    return {"normal": k * k * c * c, "depthwise": k * k * c, "pointwise": c * c}[kind]


def _macs(kind: str, c: int, s: int, k: int) -> int:
    """Multiply-adds of a ``c -> c`` "same" convolution on an ``s x s`` input."""
    return _weights(kind, c, k) * s * s


def expected_intensity(kind: str, channels: int, size: int, kernel_size: int) -> float:
    """Reference: 2 FLOPs a multiply-add over the bytes of the input, the
    weights and the output, each read or written once (float32)."""
    activation = channels * size * size
    moved = BYTES_PER_FLOAT32 * (2 * activation + _weights(kind, channels, kernel_size))
    return 2 * _macs(kind, channels, size, kernel_size) / moved


def _mistakes() -> list[tuple[Callable[[str, int, int, int], float], str]]:
    """Wrong formulas of (kind, C, size, k), each with what to tell the learner."""
    b = BYTES_PER_FLOAT32

    def act(c: int, s: int) -> int:
        return c * s * s

    return [
        (lambda kind, c, s, k: _macs(kind, c, s, k) / (b * (2 * act(c, s)
                                                              + _weights(kind, c, k))),
         "That is multiply-adds per byte; count 2 FLOPs (a multiply and an add) per "
         "multiply-add."),
        (lambda kind, c, s, k: 2 * _macs(kind, c, s, k) / (2 * act(c, s)
                                                          + _weights(kind, c, k)),
         "That is FLOPs per *number* moved; a float32 number is 4 bytes."),
        (lambda kind, c, s, k: 2 * _macs(kind, c, s, k) / (b * 2 * act(c, s)),
         "The weights are missing from the bytes moved: they are read once too."),
        (lambda kind, c, s, k: 2 * _macs(kind, c, s, k) / (b * (act(c, s)
                                                                + _weights(kind, c, k))),
         "Only the reads are counted: the output must be written as well."),
        (lambda kind, c, s, k: 1 / expected_intensity(kind, c, s, k),
         "That is bytes per FLOP: divide FLOPs by bytes, not bytes by FLOPs."),
        (lambda kind, c, s, k: 2 * _macs(kind, c, s, k) / (
            b * (2 * act(c, s) + _weights("normal", c, k))),
         "The weights counted are those of a normal convolution (k*k*C*C); a depthwise "
         "or pointwise convolution has fewer."),
    ]


@common.checker
def check_intensity(fn: Callable[..., object],
                    kinds: Sequence[str] = INTENSITY_KINDS) -> str:
    """Check ``fn(kind, channels, size, kernel_size)``: the arithmetic intensity (FLOPs per
    byte, float32, minimal traffic) of a ``channels -> channels`` "same" convolution on a
    ``size x size`` input, for each kind in ``kinds`` and many layers. Any real number
    type is accepted, within the tolerance of its dtype."""
    common.require_callable(fn)
    if isinstance(kinds, str) or not isinstance(kinds, Sequence) or not kinds:
        raise common.bad_argument(
            TypeError(f"kinds must be a non-empty sequence of kinds, got {kinds!r}"))
    for kind in kinds:
        if kind not in INTENSITY_KINDS:
            raise common.bad_argument(
                ValueError(f"each kind must be one of {INTENSITY_KINDS}, got {kind!r}"))
    cases = [(kind, *case) for kind in kinds for case in INTENSITY_CASES]
    answers: dict[tuple[str, int, int, int], tuple[float, float]] = {}
    for case in cases:
        where = "fn({!r}, channels={}, size={}, kernel_size={})".format(*case)
        answers[case] = common.as_real(common.call(fn, case, where), where)

    def same(answer: tuple[float, float], want: float) -> bool:
        got, rtol = answer
        return math.isclose(got, want, rel_tol=rtol, abs_tol=0.0)

    for case, (got, _) in answers.items():
        want = expected_intensity(*case)
        if not same(answers[case], want):
            hint = common.first_match(_mistakes(), answers, same) or (
                "FLOPs = 2 x multiply-adds; bytes = 4 x (input numbers + weights + "
                "output numbers). Check each part for this case.")
            where = "fn({!r}, channels={}, size={}, kernel_size={})".format(*case)
            raise common.Refusal(f"{where} returned {got:.6g}, expected {want:.6g} FLOP/byte. "
                                 f"{hint}")
    return f"Correct on all {len(cases)} cases ({', '.join(kinds)})."
