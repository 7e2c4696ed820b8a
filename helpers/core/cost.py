"""What a convolution costs: parameters and multiply-accumulates (MACs).

Closed-form formulas, and counts of real PyTorch modules. A MAC is one
multiplication of a weight by an input plus the addition into the running sum.
We count, like ``torch.utils.flop_counter`` (which reports FLOPs = 2 * MACs),
only the products of convolutions and matrix products: bias additions, norms,
activations and pooling are not counted. MACs are per image; a batch of N
costs N times as much.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from helpers.core._validate import as_pair, require_bool, require_module, require_positive_int
from helpers.core.modes import evaluating

__all__ = [
    "KINDS",
    "Cost",
    "conv_cost",
    "conv2d_macs",
    "conv2d_params",
    "count_macs",
    "count_macs_by_module",
    "count_parameters",
    "depthwise_conv_cost",
    "normal_conv_cost",
    "pointwise_conv_cost",
    "separable_conv_cost",
    "separable_conv_params",
    "separable_cost_ratio",
]

#: The convolution kinds of the book, in its order.
KINDS: tuple[str, ...] = ("normal", "depthwise", "pointwise", "separable")

IntOrPair = int | tuple[int, int]

#: The largest input (numbers in all) :func:`count_macs` runs a module on: 400 MB of float32.
MAX_INPUT_NUMBERS = 10**8


@dataclass(frozen=True)
class Cost:
    """Parameters and multiply-accumulates of a layer; ``a + b`` adds two costs."""

    params: int
    macs: int

    def __add__(self, other: Cost) -> Cost:
        if not isinstance(other, Cost):
            return NotImplemented  # Python then raises TypeError naming both types
        return Cost(self.params + other.params, self.macs + other.macs)


# ---------------------------------------------------------------------------
# Formulas


def _check_conv(in_channels: int, out_channels: int, kernel_size: IntOrPair,
                groups: int) -> tuple[int, int, tuple[int, int], int]:
    """The checked ``(in_channels, out_channels, (kh, kw), groups)`` of a convolution."""
    in_channels = require_positive_int(in_channels, "in_channels")
    out_channels = require_positive_int(out_channels, "out_channels")
    kernel = as_pair(kernel_size, "kernel_size")
    groups = require_positive_int(groups, "groups")
    for count, name in ((in_channels, "in_channels"), (out_channels, "out_channels")):
        if count % groups:
            raise ValueError(f"groups={groups} must divide {name}={count}")
    return in_channels, out_channels, kernel, groups


def conv2d_params(in_channels: int, out_channels: int, kernel_size: IntOrPair, groups: int = 1,
                  bias: bool = False) -> int:
    """Parameters of a 2-D convolution: ``out * (in / groups) * kh * kw`` (+ ``out`` for a bias)."""
    in_channels, out_channels, (kernel_h, kernel_w), groups = _check_conv(
        in_channels, out_channels, kernel_size, groups)
    weights = out_channels * (in_channels // groups) * kernel_h * kernel_w
    return weights + (out_channels if require_bool(bias, "bias") else 0)


def conv2d_macs(in_channels: int, out_channels: int, kernel_size: IntOrPair,
                output_size: IntOrPair, groups: int = 1) -> int:
    """MACs of a 2-D convolution on one image: ``out * (in / groups) * kh * kw * out_h * out_w``.

    Each output value takes ``(in / groups) * kh * kw`` multiply-accumulates.
    ``output_size`` is the output's ``(height, width)`` (an int for a square).
    """
    in_channels, out_channels, (kernel_h, kernel_w), groups = _check_conv(
        in_channels, out_channels, kernel_size, groups)
    out_h, out_w = as_pair(output_size, "output_size")
    return out_channels * (in_channels // groups) * kernel_h * kernel_w * out_h * out_w


def normal_conv_cost(in_channels: int, out_channels: int, kernel_size: IntOrPair,
                     output_size: IntOrPair, bias: bool = False) -> Cost:
    """Cost of a normal convolution (every filter sees every input channel)."""
    return Cost(
        conv2d_params(in_channels, out_channels, kernel_size, bias=bias),
        conv2d_macs(in_channels, out_channels, kernel_size, output_size),
    )


def depthwise_conv_cost(in_channels: int, kernel_size: IntOrPair, output_size: IntOrPair,
                        depth_multiplier: int = 1, bias: bool = False) -> Cost:
    """Cost of a depthwise convolution: ``depth_multiplier`` filters per input channel."""
    out_channels = require_positive_int(in_channels, "in_channels") * require_positive_int(
        depth_multiplier, "depth_multiplier"
    )
    return Cost(
        conv2d_params(in_channels, out_channels, kernel_size, groups=in_channels, bias=bias),
        conv2d_macs(in_channels, out_channels, kernel_size, output_size, groups=in_channels),
    )


def pointwise_conv_cost(in_channels: int, out_channels: int, output_size: IntOrPair,
                        bias: bool = False) -> Cost:
    """Cost of a pointwise (1x1) convolution."""
    return normal_conv_cost(in_channels, out_channels, 1, output_size, bias=bias)


def separable_conv_cost(in_channels: int, out_channels: int, kernel_size: IntOrPair,
                        output_size: IntOrPair, depth_multiplier: int = 1,
                        bias: bool = False) -> Cost:
    """Cost of a depthwise separable convolution: depthwise plus pointwise.

    ``output_size`` is the size of the output (the depthwise step sets it; the
    pointwise step keeps it). ``bias`` gives both steps a bias.
    """
    depthwise = depthwise_conv_cost(in_channels, kernel_size, output_size, depth_multiplier, bias)
    hidden_channels = in_channels * depth_multiplier
    return depthwise + pointwise_conv_cost(hidden_channels, out_channels, output_size, bias)


def separable_conv_params(in_channels: int, out_channels: int, kernel_size: IntOrPair,
                          depth_multiplier: int = 1, bias: bool = False) -> int:
    """Parameters of a depthwise separable convolution (they do not depend on the image):
    ``kh*kw*M*m + M*m*N`` without bias."""
    return separable_conv_cost(in_channels, out_channels, kernel_size, 1, depth_multiplier,
                               bias).params


def conv_cost(kind: str, channels: int, size: int, kernel_size: IntOrPair = 3) -> Cost:
    """Cost of a ``channels -> channels`` convolution of ``kind`` (one of :data:`KINDS`),
    stride 1, "same" padding, no bias, on a ``size x size`` image."""
    if not isinstance(kind, str):
        raise TypeError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "normal":
        return normal_conv_cost(channels, channels, kernel_size, size)
    if kind == "depthwise":
        return depthwise_conv_cost(channels, kernel_size, size)
    if kind == "pointwise":
        return pointwise_conv_cost(channels, channels, size)
    return separable_conv_cost(channels, channels, kernel_size, size)


def separable_cost_ratio(out_channels: int, kernel_size: IntOrPair) -> Fraction:
    """Separable over normal cost, ``1/N + 1/(kh*kw)``, exactly (as a Fraction).

    The same for parameters and MACs, without bias and with depth multiplier 1;
    ``N`` is ``out_channels``. Use ``float(...)`` for a decimal.
    """
    out_channels = require_positive_int(out_channels, "out_channels")
    kernel_h, kernel_w = as_pair(kernel_size, "kernel_size")
    return Fraction(1, out_channels) + Fraction(1, kernel_h * kernel_w)


# ---------------------------------------------------------------------------
# Counts of real modules


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``module`` (shared parameters counted once)."""
    require_module(module, "module")
    trainable_only = require_bool(trainable_only, "trainable_only")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _count_flops(module: nn.Module, input_shape: Sequence[int]) -> FlopCounterMode:
    """Run ``module`` once on an input of ``input_shape`` under PyTorch's FLOP counter.

    It runs on PyTorch's ``meta`` device, with stand-ins for its parameters and
    buffers (``torch.func.functional_call``): the counter needs only shapes, so
    counting a large network costs no arithmetic and leaves its weights alone.
    The module runs in eval mode and gets its modes back afterwards.
    """
    require_module(module, "module")
    if isinstance(input_shape, str) or not isinstance(input_shape, Sequence | torch.Size):
        raise TypeError(f"input_shape must be a sequence of positive ints, got {input_shape!r}")
    shape = tuple(require_positive_int(size, "input_shape entries") for size in input_shape)
    if not shape or math.prod(shape) > MAX_INPUT_NUMBERS:
        raise ValueError(f"input_shape must have 1 to {MAX_INPUT_NUMBERS:,} entries in all, "
                         f"got {shape}")
    first = next(module.parameters(), None)
    dtype = torch.get_default_dtype() if first is None else first.dtype
    device = None if first is None else first.device
    stand_ins = {name: torch.empty_like(t, device="meta") for name, t in
                 (*module.named_parameters(), *module.named_buffers())}
    with evaluating(module), torch.no_grad():
        try:
            try:
                with FlopCounterMode(display=False) as counter:
                    torch.func.functional_call(
                        module, stand_ins, (torch.empty(shape, dtype=dtype, device="meta"),))
            except (RuntimeError, ValueError, NotImplementedError):
                # The meta device's messages are terse ("Invalid channel dimensions"),
                # and a module may need real values: run it for real, which either
                # counts or fails with PyTorch's full message.
                with FlopCounterMode(display=False) as counter:
                    module(torch.zeros(shape, dtype=dtype, device=device))
        except (RuntimeError, ValueError) as error:
            raise ValueError(f"module cannot run on an input of input_shape={shape}: "
                             f"{str(error).splitlines()[0]}") from error
    return counter


def count_macs(module: nn.Module, input_shape: Sequence[int]) -> int:
    """MACs of one forward pass of ``module`` on an input of ``input_shape`` (batch included).

    Counted by ``torch.utils.flop_counter.FlopCounterMode``: total FLOPs // 2.
    """
    return _count_flops(module, input_shape).get_total_flops() // 2


def count_macs_by_module(module: nn.Module, input_shape: Sequence[int]) -> dict[str, int]:
    """MACs of every submodule, keyed by its name in ``module.named_modules()``.

    The root is ``""`` (the total); a module's MACs include its children's, so add
    up leaves, not everything. Modules with no counted operation get 0.
    """
    counts = _count_flops(module, input_shape).get_flop_counts()
    # The counter names modules "<root class>.<path>", e.g. "Sequential.0.conv".
    root = type(module).__name__
    by_module = {}
    for name, _ in module.named_modules():
        key = f"{root}.{name}" if name else root
        by_module[name] = sum(counts.get(key, {}).values()) // 2
    return by_module
