"""Checkers for chapters 2 and 3 (normal and depthwise convolution).

Each checker runs a learner's function on many cases, compares it with
PyTorch, and says which case is wrong, what it got and what it expected, with a
hint when the evidence shows a common mistake.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import numbers
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from helpers.book.checks import _common as common
from helpers.core import numpy_conv

#: (input_size, kernel_size, padding, stride, dilation) cases for the output size.
OUTPUT_SIZE_CASES: tuple[tuple[int, int, int, int, int], ...] = tuple(
    case
    for case in itertools.product((5, 8, 13, 32), (1, 2, 3, 5), (0, 1, 2), (1, 2, 3), (1, 2))
    if case[0] + 2 * case[2] >= case[4] * (case[1] - 1) + 1
)

#: (channels, height, width, kernel_size) cases for a depthwise convolution:
#: several channels first (with one channel, depthwise and normal agree),
#: non-square images, kernels of size 1, 2 (even), 3 and 5.
DEPTHWISE_CASES: tuple[tuple[int, int, int, int], ...] = (
    (3, 6, 6, 3), (3, 7, 5, 3), (4, 8, 8, 1), (2, 9, 6, 5), (5, 6, 7, 2), (1, 5, 5, 3),
)


@functools.lru_cache(maxsize=1024)
def torch_output_size(input_size: int, kernel_size: int, padding: int, stride: int,
                      dilation: int) -> int:
    """The output size PyTorch gives (by running ``F.conv2d`` on zeros)."""
    x = torch.zeros(1, 1, input_size, input_size)
    w = torch.zeros(1, 1, kernel_size, kernel_size)
    return int(F.conv2d(x, w, padding=padding, stride=stride, dilation=dilation).shape[-1])


def _size_call(case: tuple[int, int, int, int, int]) -> str:
    return ("fn(input_size={}, kernel_size={}, padding={}, stride={}, "
            "dilation={})".format(*case))


def _read_size(value: object, where: str) -> int:
    return common.as_int(value, where, "Hint: use floor division // rather than /.")


@common.checker
def check_output_size(fn: Callable[..., object]) -> str:
    """Check ``fn(input_size, kernel_size, padding, stride, dilation)``, a
    learner's output-size formula, against PyTorch on many settings."""
    common.require_callable(fn)
    answers = common.collect(fn, OUTPUT_SIZE_CASES, _size_call, _read_size)
    expected = {case: torch_output_size(*case) for case in OUTPUT_SIZE_CASES}
    common.compare_all(answers, expected, int.__eq__, _size_call, _OUTPUT_SIZE_MISTAKES,
                       "The formula is floor((H + 2p - d(k-1) - 1) / s) + 1.",
                       expected_word="PyTorch gives")
    return f"Correct on all {len(OUTPUT_SIZE_CASES)} settings."


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


def reference_depthwise(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """PyTorch's depthwise convolution of ``x`` (M, H, W) with ``weight`` (M, k, k):
    ``F.conv2d`` with ``groups=C``, no padding, stride 1."""
    c = x.shape[0]
    out = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(weight)[:, None], groups=c)
    return out[0].numpy()


@common.checker
def check_depthwise(fn: Callable[..., object], *, seed: int = 0) -> str:
    """Check ``fn(x, weight)``, a learner's depthwise convolution, against
    PyTorch's ``F.conv2d(..., groups=C)``.

    ``x`` has shape (M, H, W), ``weight`` shape (M, k, k), both float64 with
    negative entries; ``fn`` must return the (M, H - k + 1, W - k + 1) array
    (no padding, stride 1) in which output channel ``c`` is input channel ``c``
    cross-correlated with ``weight[c]``, and leave ``x`` and ``weight`` as they
    were. Arrays, tensors and nested lists are accepted, within the tolerance
    of their dtype. The exercise forbids a grouped convolution (``groups=`` in
    PyTorch or NumPy, or ``depthwise_conv2d``): an answer that runs one is refused.
    """
    common.require_callable(fn)
    rng = np.random.default_rng(common.require_seed(seed))
    used: list[int] = []

    def watched(*args: object) -> object:
        with grouped_convolutions() as found:
            try:
                return fn(*args)
            finally:
                used.extend(found)

    for c, h, w, k in DEPTHWISE_CASES:
        x = rng.standard_normal((c, h, w))
        weight = rng.standard_normal((c, k, k))
        where = f"fn(x of shape {x.shape}, weight of shape {weight.shape})"
        want = reference_depthwise(x, weight)

        def shape_hint(shape: tuple[int, ...], want: tuple[int, ...] = want.shape,
                       given: tuple[int, ...] = x.shape) -> str:
            return (": one map per channel, each (H - k + 1) x (W - k + 1). "
                    + _depthwise_shape_hint(shape, want, given))

        got, rtol, right = common.array_answer(watched, {"x": x, "weight": weight}, want, where,
                                               shape_hint=shape_hint)
        if used:
            raise common.Refusal(f"{where} ran a grouped convolution (groups={used[0]}): the "
                                 "exercise asks for the depthwise convolution without groups= or "
                                 "depthwise_conv2d. Filter each channel c with weight[c] as a "
                                 "one-channel convolution, and stack the results.")
        if not right:
            raise common.Refusal(f"{where}: values differ from PyTorch's groups={c} convolution "
                                 f"(largest difference {common.largest_error(got, want):.3g}). "
                                 f"{_depthwise_value_hint(x, weight, got, rtol)}")
    return (f"Matches PyTorch's depthwise convolution (groups=C) on all "
            f"{len(DEPTHWISE_CASES)} cases.")


def _depthwise_shape_hint(got: tuple[int, ...], want: tuple[int, ...],
                          given: tuple[int, ...]) -> str:
    if got == want[1:]:
        return "You returned a single map: keep one output channel per input channel."
    if got == (1, *want):
        return "Drop the batch dimension: return (M, H', W')."
    if got == given:
        return "Your output has the input's size: this exercise uses no padding."
    return ""


def _depthwise_value_hint(x: np.ndarray, weight: np.ndarray, got: np.ndarray,
                          rtol: float) -> str:
    c = x.shape[0]
    flipped = reference_depthwise(x, np.ascontiguousarray(weight[:, ::-1, ::-1]))
    if weight.shape[-1] > 1 and common.close(got, flipped, rtol):
        return ("Your result is a true convolution (kernel flipped); deep learning "
                "libraries compute cross-correlation: do not flip the kernel.")
    mixed = F.conv2d(torch.from_numpy(x)[None],
                     torch.from_numpy(weight)[:, None].expand(c, c, *weight.shape[1:]))
    if c > 1 and common.close(got, mixed[0].numpy(), rtol):
        return ("Each output sums over all channels: that is a normal convolution. In a "
                "depthwise one, channel c only sees weight[c].")
    want = reference_depthwise(x, weight)
    return ("Output channel c must be input channel c cross-correlated with weight[c] "
            "alone." + common.precision_hint(got, want, rtol))


class _GroupedConvs(TorchFunctionMode):
    """Records the ``groups`` of every grouped PyTorch convolution run inside it."""

    #: (function name, position of ``groups`` among its arguments)
    _GROUPS_AT = {"conv1d": 6, "conv2d": 6, "conv3d": 6, "convolution": 8,
                  "_convolution": 8}

    def __init__(self, found: list[int]) -> None:
        super().__init__()
        self.found = found

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        at = self._GROUPS_AT.get(getattr(func, "__name__", ""))
        if at is not None:
            groups = kwargs.get("groups", args[at] if len(args) > at else 1)
            if isinstance(groups, numbers.Integral) and groups > 1:
                self.found.append(int(groups))
        return func(*args, **kwargs)


@contextlib.contextmanager
def grouped_convolutions() -> Iterator[list[int]]:
    """The ``groups`` of every grouped convolution run inside the block, as a list:
    PyTorch's (seen by a ``TorchFunctionMode``, so ``nn.Conv2d(groups=...)`` and
    ``F.conv2d(..., groups=...)`` alike) and the book's NumPy ones (seen by a
    profile hook on the argument parser they share, so ``depthwise_conv2d`` too)."""
    found: list[int] = []
    parser = numpy_conv._parse_conv_args.__code__

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is parser:
            groups = frame.f_locals.get("groups")
            if isinstance(groups, numbers.Integral) and groups > 1:
                found.append(int(groups))

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        with _GroupedConvs(found):
            yield found
    finally:
        sys.setprofile(previous)
