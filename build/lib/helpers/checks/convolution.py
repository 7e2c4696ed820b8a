"""Checkers for chapters 2 and 3 (normal and depthwise convolution).

Each checker runs a learner's function on many cases, compares it with
PyTorch, and says which case is wrong, what it got and what it expected, with a
hint when the mistake looks like a common one.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from helpers.checks import CheckResult, failed, passed

#: (input_size, kernel_size, padding, stride, dilation) cases for the output size.
OUTPUT_SIZE_CASES: tuple[tuple[int, int, int, int, int], ...] = tuple(
    case
    for case in itertools.product((5, 8, 13, 32), (1, 2, 3, 5), (0, 1, 2), (1, 2, 3), (1, 2))
    if case[0] + 2 * case[2] >= case[4] * (case[1] - 1) + 1
)

#: (channels, height, width, kernel_size) cases for a depthwise convolution.
DEPTHWISE_CASES: tuple[tuple[int, int, int, int], ...] = (
    (1, 5, 5, 3), (3, 6, 6, 3), (3, 7, 5, 3), (4, 8, 8, 1), (2, 9, 6, 5), (5, 6, 7, 2),
)


@functools.lru_cache(maxsize=1024)
def torch_output_size(input_size: int, kernel_size: int, padding: int, stride: int,
                      dilation: int) -> int:
    """The output size PyTorch gives (by running ``F.conv2d`` on zeros)."""
    x = torch.zeros(1, 1, input_size, input_size)
    w = torch.zeros(1, 1, kernel_size, kernel_size)
    return int(F.conv2d(x, w, padding=padding, stride=stride, dilation=dilation).shape[-1])


def _check_callable(fn: object) -> None:
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")


def check_output_size(fn: Callable[..., object]) -> CheckResult:
    """Check ``fn(input_size, kernel_size, padding, stride, dilation)``, a
    learner's output-size formula, against PyTorch on many settings."""
    _check_callable(fn)
    answers: dict[tuple[int, int, int, int, int], int] = {}
    for case in OUTPUT_SIZE_CASES:
        call = ("fn(input_size={}, kernel_size={}, padding={}, stride={}, "
                "dilation={})".format(*case))
        try:
            got = fn(*case)
        except Exception as exc:  # report the learner's error as a message
            return failed(f"{call} raised {type(exc).__name__}: {exc}")
        if isinstance(got, bool) or not isinstance(got, int | np.integer):
            return failed(f"{call} returned {got!r} ({type(got).__name__}); return a whole "
                          "number (int). Hint: use floor division // rather than /.")
        answers[case] = int(got)
    for case, got in answers.items():
        want = torch_output_size(*case)
        if got != want:
            call = ("fn(input_size={}, kernel_size={}, padding={}, stride={}, "
                    "dilation={})".format(*case))
            return failed(f"{call} returned {got}, PyTorch gives {want}. "
                          f"{_output_size_hint(answers)}")
    return passed(f"Correct on all {len(OUTPUT_SIZE_CASES)} settings.")


#: Common wrong formulas (h, k, p, s, d) -> size, and what to tell the learner.
_OUTPUT_SIZE_MISTAKES: tuple[tuple[Callable[[int, int, int, int, int], int], str], ...] = (
    (lambda h, k, p, s, d: (h + 2 * p - k) // s + 1,
     "The dilated kernel covers d*(k-1)+1 positions, not k."),
    (lambda h, k, p, s, d: (h - d * (k - 1) - 1) // s + 1,
     "Padding adds p zeros on both sides: use H + 2p."),
    (lambda h, k, p, s, d: (h + p - d * (k - 1) - 1) // s + 1,
     "Padding adds p positions on both sides: 2p, not p."),
    (lambda h, k, p, s, d: (h + 2 * p - d * (k - 1) - 1) // s,
     "Count the first position too: add 1 after dividing."),
    (lambda h, k, p, s, d: (h + 2 * p - d * (k - 1)) // s,
     "Add 1 after dividing by the stride, not before."),
    (lambda h, k, p, s, d: -(-(h + 2 * p - d * (k - 1) - 1) // s) + 1,
     "Round down (floor): a window that would stick out past the end is dropped."),
)


def _output_size_hint(answers: dict[tuple[int, int, int, int, int], int]) -> str:
    """The hint of the common mistake that reproduces all the learner's answers."""
    for mistake, hint in _OUTPUT_SIZE_MISTAKES:
        if all(mistake(*case) == got for case, got in answers.items()):
            return hint
    return "The formula is floor((H + 2p - d(k-1) - 1) / s) + 1."


def reference_depthwise(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """PyTorch's depthwise convolution of ``x`` (C, H, W) with ``weight`` (C, k, k):
    ``F.conv2d`` with ``groups=C``, no padding, stride 1."""
    c = x.shape[0]
    out = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(weight)[:, None], groups=c)
    return out[0].numpy()


def check_depthwise(fn: Callable[..., object], *, seed: int = 0) -> CheckResult:
    """Check ``fn(x, weight)``, a learner's depthwise convolution, against
    PyTorch's ``F.conv2d(..., groups=C)``.

    ``x`` has shape (C, H, W), ``weight`` shape (C, k, k); ``fn`` must return
    the (C, H - k + 1, W - k + 1) array (no padding, stride 1) in which output
    channel ``c`` is input channel ``c`` cross-correlated with ``weight[c]``.
    """
    _check_callable(fn)
    rng = np.random.default_rng(seed)
    for c, h, w, k in DEPTHWISE_CASES:
        x = rng.standard_normal((c, h, w))
        weight = rng.standard_normal((c, k, k))
        call = f"fn(x of shape {x.shape}, weight of shape {weight.shape})"
        want = reference_depthwise(x, weight)
        try:
            got = fn(x.copy(), weight.copy())
        except Exception as exc:  # report the learner's error as a message
            return failed(f"{call} raised {type(exc).__name__}: {exc}")
        if isinstance(got, torch.Tensor):
            got = got.detach().cpu().numpy()
        if not isinstance(got, np.ndarray):
            return failed(f"{call} returned a {type(got).__name__}; return a NumPy array.")
        if got.shape != want.shape:
            return failed(f"{call} returned shape {got.shape}, expected {want.shape}: one "
                          f"map per channel, each (H - k + 1) x (W - k + 1). "
                          f"{_depthwise_shape_hint(got.shape, want.shape)}")
        if not np.allclose(got, want, atol=1e-8, rtol=1e-6):
            return failed(f"{call}: values differ from PyTorch's groups={c} convolution "
                          f"(largest difference {float(np.max(np.abs(got - want))):.3g}). "
                          f"{_depthwise_value_hint(x, weight, got)}")
    return passed(f"Matches PyTorch's depthwise convolution (groups=C) on all "
                  f"{len(DEPTHWISE_CASES)} cases.")


def _depthwise_shape_hint(got: tuple[int, ...], want: tuple[int, ...]) -> str:
    if len(got) == 2:
        return "You returned a single map: keep one output channel per input channel."
    if len(got) == 4 and got[0] == 1:
        return "Drop the batch dimension: return (C, H', W')."
    return ""


def _depthwise_value_hint(x: np.ndarray, weight: np.ndarray, got: np.ndarray) -> str:
    c = x.shape[0]
    flipped = reference_depthwise(x, np.ascontiguousarray(weight[:, ::-1, ::-1]))
    if np.allclose(got, flipped, atol=1e-8):
        return ("Your result is a true convolution (kernel flipped); deep learning "
                "libraries compute cross-correlation: do not flip the kernel.")
    mixed = F.conv2d(torch.from_numpy(x)[None],
                     torch.from_numpy(weight)[:, None].expand(c, c, *weight.shape[1:]))
    if np.allclose(got, mixed[0].numpy(), atol=1e-8):
        return ("Each output sums over all channels: that is a normal convolution. In a "
                "depthwise one, channel c only sees weight[c].")
    return "Output channel c must be input channel c cross-correlated with weight[c] alone."
