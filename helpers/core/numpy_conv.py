"""Convolutions from scratch in NumPy, with the semantics of ``torch.nn.functional.conv2d``.

Shapes follow PyTorch: input ``(B, M, H, W)`` (or ``(M, H, W)`` without a batch
dimension), weight ``(N, M // groups, kh, kw)``. Like every deep learning
library, "convolution" here is cross-correlation (the kernel is not flipped)
and padding adds zeros. The output has the inputs' dtype; integers compute in
float64, and float16 computes in float32 and rounds once at the end, as
PyTorch does. An empty batch (``B = 0``) gives an empty output.

- ``conv2d_naive``: explicit loops, to read; use it on tiny inputs only.
- ``conv2d``: the same result, vectorised (im2col and one matrix product).
- ``depthwise_conv2d``, ``pointwise_conv2d``, ``separable_conv2d``: the pieces of
  a depthwise separable convolution.

The output-size formula and "same" padding live in :mod:`helpers.core.geometry`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from helpers.core._validate import as_pair, require_array, require_positive_int
from helpers.core.geometry import (
    Padding,
    SidePadding,
    kernel_span,
    output_length,
    resolve_padding,
)

__all__ = [
    "conv2d",
    "conv2d_naive",
    "depthwise_conv2d",
    "pointwise_conv2d",
    "separable_conv2d",
]

IntOrPair = int | tuple[int, int]


# ---------------------------------------------------------------------------
# Argument checks shared by every function below


class _ConvArgs(NamedTuple):
    """Checked arguments of a convolution."""

    x: np.ndarray  # (B, M, H, W), in the compute dtype
    weight: np.ndarray  # (N, M // groups, kh, kw), in the compute dtype
    bias: np.ndarray | None  # (N,)
    stride: tuple[int, int]
    padding: SidePadding
    dilation: tuple[int, int]
    groups: int
    out_size: tuple[int, int]
    batched: bool  # False if x came without a batch dimension
    dtype: np.dtype  # of the result (float16 computes in float32, then rounds)


def _parse_conv_args(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: IntOrPair,
    padding: Padding,
    dilation: IntOrPair,
    groups: int,
    weight_name: str = "weight",
    bias_name: str = "bias",
) -> _ConvArgs:
    """Check the arguments of a convolution as PyTorch would, with clearer messages."""
    x = require_array(x, "x", ndim=(3, 4), empty_batch=True)
    weight = require_array(weight, weight_name, ndim=4)
    stride = as_pair(stride, "stride")
    dilation = as_pair(dilation, "dilation")
    groups = require_positive_int(groups, "groups")
    batched = x.ndim == 4
    if not batched:
        x = x[np.newaxis]
    channels, height, width = x.shape[1:]
    out_channels, channels_per_group, kernel_h, kernel_w = weight.shape
    if channels % groups:
        raise ValueError(f"groups={groups} must divide the {channels} channels of x")
    if out_channels % groups:
        raise ValueError(
            f"groups={groups} must divide the {out_channels} output channels of "
            f"{weight_name} ({weight_name}.shape[0])"
        )
    if channels_per_group * groups != channels:
        raise ValueError(
            f"x has {channels} channels but {weight_name} with shape {weight.shape} and "
            f"groups={groups} expects {channels_per_group * groups} "
            f"({weight_name}.shape[1] * groups)"
        )
    if bias is not None:
        bias = require_array(bias, bias_name, ndim=1)
        if bias.shape != (out_channels,):
            raise ValueError(
                f"{bias_name} must have shape ({out_channels},), one value per output channel, "
                f"got shape {bias.shape}"
            )
    padding = resolve_padding(padding, (kernel_h, kernel_w), stride, dilation)
    (top, bottom), (left, right) = padding
    out_size = (
        output_length(height, kernel_h, stride[0], top + bottom, dilation[0], "height"),
        output_length(width, kernel_w, stride[1], left + right, dilation[1], "width"),
    )
    # Output dtype follows the inputs (float32 stays float32); integers compute in float64.
    dtype = np.result_type(x, weight, *(() if bias is None else (bias,)))
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    compute = np.promote_types(dtype, np.float32)  # float16 sums in float32
    return _ConvArgs(
        x=x.astype(compute, copy=False),
        weight=weight.astype(compute, copy=False),
        bias=None if bias is None else bias.astype(compute, copy=False),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        out_size=out_size,
        batched=batched,
        dtype=dtype,
    )


def _zero_pad(x: np.ndarray, padding: SidePadding) -> np.ndarray:
    """Surround each (H, W) image of ``x`` with zeros: ``((top, bottom), (left, right))``."""
    (top, bottom), (left, right) = padding
    if top == bottom == left == right == 0:
        return x
    n, channels, height, width = x.shape
    padded = np.zeros((n, channels, height + top + bottom, width + left + right), x.dtype)
    padded[:, :, top : top + height, left : left + width] = x
    return padded


def _bias_and_shape(out: np.ndarray, args: _ConvArgs) -> np.ndarray:
    """Add the bias, round to the result dtype, and drop the batch axis if ``x`` had none."""
    if args.bias is not None:
        out += args.bias[:, np.newaxis, np.newaxis]
    out = out.astype(args.dtype, copy=False)
    return out if args.batched else out[0]


# ---------------------------------------------------------------------------
# Normal convolution


def conv2d_naive(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: IntOrPair = 1,
    padding: Padding = 0,
    dilation: IntOrPair = 1,
    groups: int = 1,
) -> np.ndarray:
    """2-D convolution written as plain loops: the definition, one multiply-add at a time.

    Same arguments and result as :func:`conv2d` (and ``torch.nn.functional.conv2d``),
    but slow: use it on tiny inputs.
    """
    args = _parse_conv_args(x, weight, bias, stride, padding, dilation, groups)
    x = _zero_pad(args.x, args.padding)
    weight, bias = args.weight, args.bias
    n_images = x.shape[0]
    out_channels, channels_per_group, kernel_h, kernel_w = weight.shape
    filters_per_group = out_channels // args.groups
    (stride_h, stride_w), (dilation_h, dilation_w) = args.stride, args.dilation
    out_h, out_w = args.out_size

    out = np.zeros((n_images, out_channels, out_h, out_w), dtype=x.dtype)
    for b in range(n_images):  # every image
        for o in range(out_channels):  # every filter
            # Filter o sees only the channels of its group.
            first_channel = (o // filters_per_group) * channels_per_group
            for row in range(out_h):  # every output pixel
                for col in range(out_w):
                    total = 0.0 if bias is None else bias[o]
                    for c in range(channels_per_group):  # every weight of the filter
                        for i in range(kernel_h):
                            for j in range(kernel_w):
                                pixel = x[
                                    b,
                                    first_channel + c,
                                    row * stride_h + i * dilation_h,
                                    col * stride_w + j * dilation_w,
                                ]
                                total += weight[o, c, i, j] * pixel
                    out[b, o, row, col] = total
    out = out.astype(args.dtype, copy=False)  # float16 was summed in float32
    return out if args.batched else out[0]


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
           stride: IntOrPair = 1, padding: Padding = 0, dilation: IntOrPair = 1,
           groups: int = 1) -> np.ndarray:
    """2-D convolution, vectorised; same semantics as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : array ``(B, M, H, W)`` or ``(M, H, W)``.
    weight : array ``(N, M // groups, kh, kw)``.
    bias : array ``(N,)`` or None.
    stride, dilation : int or pair ``(height, width)``.
    padding : int, pair, ``"valid"`` (no padding) or ``"same"`` (output size = input size;
        stride 1 only; an odd total puts the extra zero at the bottom/right, as PyTorch).
    groups : split the channels into this many groups, each convolved with its own filters.

    Returns
    -------
    array ``(B, N, H', W')`` (no B if ``x`` had none), dtype of the inputs.
    """
    args = _parse_conv_args(x, weight, bias, stride, padding, dilation, groups)
    padded = _zero_pad(args.x, args.padding)
    n_images = padded.shape[0]
    out_channels, channels_per_group, kernel_h, kernel_w = args.weight.shape
    (stride_h, stride_w), (dilation_h, dilation_w) = args.stride, args.dilation
    out_h, out_w = args.out_size
    groups = args.groups

    # Every patch the kernel visits, as a view (no copy): (B, M, H', W', kh, kw).
    span = (kernel_span(kernel_h, dilation_h), kernel_span(kernel_w, dilation_w))
    patches = sliding_window_view(padded, span, axis=(2, 3))
    patches = patches[:, :, ::stride_h, ::stride_w, ::dilation_h, ::dilation_w]

    # im2col: per group, one column of channels_per_group*kh*kw inputs for each output pixel.
    # This reshape copies: each input pixel lands in up to kh*kw columns (chapter 2).
    columns = patches.reshape(n_images, groups, channels_per_group, out_h, out_w, kernel_h,
                              kernel_w)
    columns = columns.transpose(0, 1, 2, 5, 6, 3, 4).reshape(
        n_images, groups, channels_per_group * kernel_h * kernel_w, out_h * out_w
    )
    # Per group, one matrix product: (filters, inputs per filter) @ (inputs per filter, pixels).
    filters = args.weight.reshape(groups, out_channels // groups, -1)
    out = (filters @ columns).reshape(n_images, out_channels, out_h, out_w)
    return _bias_and_shape(out, args)


# ---------------------------------------------------------------------------
# The pieces of a depthwise separable convolution


def depthwise_conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                     stride: IntOrPair = 1, padding: Padding = 0,
                     dilation: IntOrPair = 1) -> np.ndarray:
    """Depthwise convolution: each channel convolved with its own filter(s), no mixing.

    ``weight`` has shape ``(M * m, 1, kh, kw)`` for a depth multiplier ``m``: output
    channel ``c*m + j`` is input channel ``c`` convolved with filter ``c*m + j``. This is
    ``conv2d(x, weight, groups=M)``; other arguments as in :func:`conv2d`.
    """
    return _depthwise_conv2d(x, weight, bias, stride, padding, dilation, "weight", "bias")


def _depthwise_conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                      stride: IntOrPair, padding: Padding, dilation: IntOrPair,
                      weight_name: str, bias_name: str) -> np.ndarray:
    """:func:`depthwise_conv2d`, naming its weight and bias as the caller calls them."""
    x = require_array(x, "x", ndim=(3, 4), empty_batch=True)
    weight = require_array(weight, weight_name, ndim=4)
    channels = x.shape[-3]
    if weight.shape[1] != 1 or weight.shape[0] % channels:
        raise ValueError(
            f"{weight_name} must have shape (M * depth_multiplier, 1, kh, kw) with M={channels} "
            f"(the channels of x), got {weight.shape}"
        )
    args = _parse_conv_args(x, weight, bias, stride, padding, dilation, channels,
                            weight_name=weight_name, bias_name=bias_name)
    multiplier = weight.shape[0] // channels
    # filters[c, j]: the j-th filter of channel c, shape (kh, kw).
    filters = args.weight.reshape(channels, multiplier, *weight.shape[2:])
    return _bias_and_shape(_shift_and_add(args.x, filters, args), args)


def _shift_and_add(x: np.ndarray, filters: np.ndarray, args: _ConvArgs) -> np.ndarray:
    """Each tap (i, j) of a filter scales a shifted copy of its channel; the copies add up."""
    n_images, channels = x.shape[:2]
    multiplier, kernel_h, kernel_w = filters.shape[1:]
    (stride_h, stride_w), (dilation_h, dilation_w) = args.stride, args.dilation
    out_h, out_w = args.out_size
    padded = _zero_pad(x, args.padding)[:, :, np.newaxis]  # (B, M, 1, Hp, Wp)
    out = np.zeros((n_images, channels, multiplier, out_h, out_w), dtype=x.dtype)
    for i in range(kernel_h):
        for j in range(kernel_w):
            # The input pixels that tap (i, j) meets, one per output pixel.
            rows = slice(i * dilation_h, i * dilation_h + stride_h * (out_h - 1) + 1, stride_h)
            cols = slice(j * dilation_w, j * dilation_w + stride_w * (out_w - 1) + 1, stride_w)
            out += filters[:, :, i, j, np.newaxis, np.newaxis] * padded[..., rows, cols]
    return out.reshape(n_images, channels * multiplier, out_h, out_w)


def pointwise_conv2d(x: np.ndarray, weight: np.ndarray,
                     bias: np.ndarray | None = None) -> np.ndarray:
    """Pointwise (1x1) convolution: the same linear map of the channels at every pixel.

    ``weight`` has shape ``(N, M)`` or ``(N, M, 1, 1)``.
    """
    return _pointwise_conv2d(x, weight, bias, "weight", "bias")


def _pointwise_conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                      weight_name: str, bias_name: str) -> np.ndarray:
    """:func:`pointwise_conv2d`, naming its weight and bias as the caller calls them."""
    weight = require_array(weight, weight_name, ndim=(2, 4))
    if weight.ndim == 4 and weight.shape[2:] != (1, 1):
        raise ValueError(
            f"{weight_name} must have shape (out_channels, C) or (out_channels, C, 1, 1), "
            f"got {weight.shape}"
        )
    weight = weight.reshape(weight.shape[0], weight.shape[1], 1, 1)
    args = _parse_conv_args(x, weight, bias, 1, 0, 1, 1,
                            weight_name=weight_name, bias_name=bias_name)
    n_images, channels, height, width = args.x.shape
    # (out, C) @ (N, C, pixels): a matrix product mixing the channels of every pixel.
    out = args.weight[:, :, 0, 0] @ args.x.reshape(n_images, channels, height * width)
    return _bias_and_shape(out.reshape(n_images, args.weight.shape[0], height, width), args)


def separable_conv2d(x: np.ndarray, depthwise_weight: np.ndarray,
                     pointwise_weight: np.ndarray, depthwise_bias: np.ndarray | None = None,
                     pointwise_bias: np.ndarray | None = None, stride: IntOrPair = 1,
                     padding: Padding = 0, dilation: IntOrPair = 1) -> np.ndarray:
    """Depthwise separable convolution: :func:`depthwise_conv2d`, then :func:`pointwise_conv2d`.

    ``depthwise_weight`` is ``(M * m, 1, kh, kw)``; ``pointwise_weight`` is
    ``(N, M * m)`` or ``(N, M * m, 1, 1)``. ``stride``,
    ``padding`` and ``dilation`` apply to the depthwise step.
    """
    depthwise_weight = require_array(depthwise_weight, "depthwise_weight", ndim=4)
    pointwise_weight = require_array(pointwise_weight, "pointwise_weight", ndim=(2, 4))
    if pointwise_weight.shape[1] != depthwise_weight.shape[0]:
        raise ValueError(
            f"pointwise_weight must take the {depthwise_weight.shape[0]} channels made by the "
            f"depthwise step (depthwise_weight.shape[0]) as input (pointwise_weight.shape[1]), "
            f"got {pointwise_weight.shape[1]}"
        )
    hidden = _depthwise_conv2d(x, depthwise_weight, depthwise_bias, stride, padding, dilation,
                               "depthwise_weight", "depthwise_bias")
    return _pointwise_conv2d(hidden, pointwise_weight, pointwise_bias,
                             "pointwise_weight", "pointwise_bias")
