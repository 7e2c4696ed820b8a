"""Architectures built from depthwise separable convolutions.

- :func:`mobilenet_v1`: MobileNetV1 with a width multiplier, any input
  resolution, and ``separable=False`` for its all-normal-convolution twin
  (:func:`helpers.lab.paper_tables.mobilenet_v1_table` lists its layers like the
  paper's Table 1).
- :class:`XceptionSeparableConv2d`, :class:`XceptionEntryBlock`,
  :class:`XceptionMiddleBlock`, :func:`xception_middle_flow`: Xception's
  separable convolution (nothing between the two steps), an entry-flow block
  and the middle flow.
- :class:`InvertedResidual`: MobileNetV2's block with a linear bottleneck.
- :func:`atrous_separable_conv2d`: DeepLabv3+'s dilated separable convolution.

The small CNN of the experiments is in :mod:`helpers.lab.cnn`.
"""

from __future__ import annotations

import torch
from torch import nn

from helpers.core._validate import (
    require_bool,
    require_number,
    require_parameter_count,
    require_positive_int,
)
from helpers.core.layers import (
    ConvBNReLU,
    DepthwiseConv2d,
    DepthwiseSeparableConv2d,
    PointwiseConv2d,
    odd_same_padding,
)

__all__ = [
    "MOBILENET_V1_BODY",
    "MOBILENET_V1_STEM_CHANNELS",
    "MobileNetV1",
    "mobilenet_v1",
    "mobilenet_v1_parameters",
    "scaled_channels",
    "XceptionSeparableConv2d",
    "XceptionEntryBlock",
    "XceptionMiddleBlock",
    "xception_middle_flow",
    "InvertedResidual",
    "atrous_separable_conv2d",
]

#: Output channels of the first, normal 3x3 convolution (stride 2).
MOBILENET_V1_STEM_CHANNELS = 32

#: MobileNetV1's 13 depthwise separable layers as (output channels, stride of
#: the depthwise step), as in the paper's Table 1 with the second-to-last
#: stride read as 1 (see the note of ``helpers.lab.paper_tables.MOBILENET_TABLE1_BODY``).
MOBILENET_V1_BODY: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)


def _check_width_multiplier(value: object) -> float:
    return require_number(value, "width_multiplier", low=0, low_open=True)


def scaled_channels(channels: int, width_multiplier: float, divisor: int = 1) -> int:
    """Channels of a layer thinned by the width multiplier: ``channels * width_multiplier``
    rounded to the nearest multiple of ``divisor`` (halves round up), and never
    below ``divisor``. With ``divisor > 1`` the result is also never more than
    10 % below ``channels * width_multiplier`` (the rule of later MobileNets,
    ``divisor=8``).
    """
    channels = require_positive_int(channels, "channels")
    width_multiplier = _check_width_multiplier(width_multiplier)
    divisor = require_positive_int(divisor, "divisor")
    target = channels * width_multiplier
    rounded = max(divisor, int(target / divisor + 0.5) * divisor)
    if divisor > 1 and rounded < 0.9 * target:
        rounded += divisor
    return rounded


class MobileNetV1(nn.Module):
    """MobileNetV1: a 3x3 stride-2 convolution, 13 depthwise separable layers
    (batch norm and ReLU after both steps), global average pooling and a fully
    connected classifier (logits). Works at any input resolution.

    With ``separable=False`` each separable layer becomes one normal 3x3
    convolution with the same channels and stride ("Conv MobileNet").
    """

    def __init__(self, width_multiplier: float = 1.0, num_classes: int = 1000,
                 separable: bool = True) -> None:
        super().__init__()
        self.width_multiplier = _check_width_multiplier(width_multiplier)
        self.num_classes = require_positive_int(num_classes, "num_classes")
        self.separable = require_bool(separable, "separable")

        def width(c: int) -> int:
            return scaled_channels(c, self.width_multiplier)

        require_parameter_count(
            mobilenet_v1_parameters(self.width_multiplier, self.num_classes, self.separable),
            f"MobileNetV1(width_multiplier={self.width_multiplier:g}, "
            f"num_classes={self.num_classes})",
            "a width multiplier is a fraction such as 0.75, not a percentage")
        channels = width(MOBILENET_V1_STEM_CHANNELS)
        self.stem = ConvBNReLU(3, channels, 3, stride=2)
        blocks: list[nn.Module] = []
        for out, stride in MOBILENET_V1_BODY:
            out = width(out)
            if self.separable:
                blocks.append(DepthwiseSeparableConv2d(
                    channels, out, 3, stride=stride, padding=1, bias=False,
                    norm_layer=nn.BatchNorm2d, activation=nn.ReLU))
            else:
                blocks.append(ConvBNReLU(channels, out, 3, stride=stride))
            channels = out
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, self.num_classes)

    @property
    def out_channels(self) -> int:
        """Channels entering the classifier (1024 at width 1)."""
        return self.classifier.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            _check_image(x)
        x = self.blocks(self.stem(x))
        return self.classifier(torch.flatten(self.pool(x), 1))

    def extra_repr(self) -> str:
        return (f"width_multiplier={self.width_multiplier}, num_classes={self.num_classes}, "
                f"separable={self.separable}")


def mobilenet_v1(width_multiplier: float = 1.0, num_classes: int = 1000,
                 separable: bool = True) -> MobileNetV1:
    """Build :class:`MobileNetV1` with the given width multiplier.

    ``separable=False`` gives the all-normal-convolution twin. A model above
    :data:`helpers.core._validate.MAX_PARAMETERS` parameters is refused before
    anything is allocated.
    """
    return MobileNetV1(width_multiplier, num_classes, separable)


def mobilenet_v1_parameters(width_multiplier: float = 1.0, num_classes: int = 1000,
                            separable: bool = True) -> int:
    """Parameters of :func:`mobilenet_v1` with these arguments, counted without
    building it (weights, two per batch-norm channel, the classifier)."""
    width = _check_width_multiplier(width_multiplier)
    num_classes = require_positive_int(num_classes, "num_classes")
    separable = require_bool(separable, "separable")
    cin = scaled_channels(MOBILENET_V1_STEM_CHANNELS, width)
    total = 27 * cin + 2 * cin
    for out, _ in MOBILENET_V1_BODY:
        out = scaled_channels(out, width)
        total += (11 * cin + cin * out + 2 * out) if separable else (9 * cin * out + 2 * out)
        cin = out
    return total + cin * num_classes + num_classes


@torch.jit.unused
def _check_image(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"MobileNetV1 expects a torch.Tensor (B, 3, H, W), got "
                        f"{type(x).__name__}; convert it with torch.from_numpy")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(
            f"MobileNetV1 expects input of shape (B, 3, H, W), got {tuple(x.shape)}")
    if not (x.is_floating_point() or x.is_quantized):  # quantized: an int8 copy's input
        raise TypeError(f"MobileNetV1 expects a floating-point input, got dtype {x.dtype}")


class XceptionSeparableConv2d(nn.Module):
    """Xception's separable convolution: a ``k x k`` depthwise convolution straight
    into a 1x1 pointwise one, with **no** norm or non-linearity between them, no
    biases, "same" padding (odd ``k``). Norms and ReLUs go around it.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        kernel_size = require_positive_int(kernel_size, "kernel_size")
        dilation = require_positive_int(dilation, "dilation")
        self.conv = DepthwiseSeparableConv2d(
            in_channels, out_channels, kernel_size, stride=stride,
            padding=odd_same_padding(kernel_size, dilation), dilation=dilation, bias=False,
            norm_layer=None, activation=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class XceptionEntryBlock(nn.Module):
    """One block of Xception's entry flow:

    ``[ReLU] -> SepConv 3x3 -> BN -> ReLU -> SepConv 3x3 -> BN -> MaxPool 3x3/2``,
    added to a shortcut ``Conv 1x1 stride 2 -> BN``. The output has
    ``out_channels`` channels and half the height and width (rounded up).

    ``relu_first=False`` drops the leading ReLU, as in the first such block,
    which follows a convolution that already ends in ReLU.
    """

    def __init__(self, in_channels: int, out_channels: int, relu_first: bool = True) -> None:
        super().__init__()
        in_channels = require_positive_int(in_channels, "in_channels")
        out_channels = require_positive_int(out_channels, "out_channels")
        self.relu_first = require_bool(relu_first, "relu_first")
        layers: list[nn.Module] = [nn.ReLU()] if relu_first else []
        layers += [
            XceptionSeparableConv2d(in_channels, out_channels),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            XceptionSeparableConv2d(out_channels, out_channels),
            nn.BatchNorm2d(out_channels),
            nn.MaxPool2d(3, stride=2, padding=1),
        ]
        self.main = nn.Sequential(*layers)
        self.shortcut = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False),
            nn.BatchNorm2d(out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.shortcut(x)


class XceptionMiddleBlock(nn.Module):
    """One block of Xception's middle flow: three times
    ``ReLU -> SepConv 3x3 -> BN`` at ``channels`` channels, added to the
    block's input (an identity shortcut). Shape in = shape out.
    """

    def __init__(self, channels: int = 728) -> None:
        super().__init__()
        channels = require_positive_int(channels, "channels")
        layers: list[nn.Module] = []
        for _ in range(3):
            layers += [nn.ReLU(), XceptionSeparableConv2d(channels, channels),
                       nn.BatchNorm2d(channels)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + x


def xception_middle_flow(channels: int = 728, repeats: int = 8) -> nn.Sequential:
    """Xception's middle flow: ``repeats`` :class:`XceptionMiddleBlock` in a row
    (the paper: 8 blocks at 728 channels on a 19 x 19 map)."""
    channels = require_positive_int(channels, "channels")
    repeats = require_positive_int(repeats, "repeats")
    require_parameter_count(3 * repeats * (11 * channels + channels * channels + 2 * channels),
                            "xception_middle_flow")
    return nn.Sequential(*(XceptionMiddleBlock(channels) for _ in range(repeats)))


class InvertedResidual(nn.Module):
    """MobileNetV2's inverted residual with a linear bottleneck:

    - expand: 1x1 convolution ``in -> t * in``, batch norm, ReLU6 (left out when
      the expansion factor ``t`` is 1);
    - depthwise: 3x3 depthwise convolution with ``stride``, batch norm, ReLU6;
    - project: 1x1 convolution ``t * in -> out``, batch norm, and **no**
      activation (the linear bottleneck).

    The input is added to the output when ``stride == 1`` and
    ``in_channels == out_channels`` (:attr:`use_residual`).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 expansion: int = 6) -> None:
        super().__init__()
        in_channels = require_positive_int(in_channels, "in_channels")
        out_channels = require_positive_int(out_channels, "out_channels")
        stride = require_positive_int(stride, "stride")
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        expansion = require_positive_int(expansion, "expansion")
        hidden = in_channels * expansion
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.expansion = stride, expansion
        self.use_residual = stride == 1 and in_channels == out_channels
        self.expand = None if expansion == 1 else nn.Sequential(
            PointwiseConv2d(in_channels, hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
        )
        self.depthwise = nn.Sequential(
            DepthwiseConv2d(hidden, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
        )
        self.project = nn.Sequential(
            PointwiseConv2d(hidden, out_channels, bias=False),
            nn.BatchNorm2d(out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.expand is None else self.expand(x)
        out = self.project(self.depthwise(out))
        return x + out if self.use_residual else out

    def extra_repr(self) -> str:
        return (f"{self.in_channels} -> {self.out_channels}, stride={self.stride}, "
                f"expansion={self.expansion}, residual={self.use_residual}")


def atrous_separable_conv2d(in_channels: int, out_channels: int, dilation: int = 1,
                            kernel_size: int = 3, stride: int = 1) -> DepthwiseSeparableConv2d:
    """DeepLabv3+'s atrous separable convolution: a depthwise convolution with holes
    (``dilation``), then a pointwise one, each followed by batch norm and ReLU, with
    "same" padding (odd ``kernel_size``). Its parameters do not depend on
    ``dilation``; its receptive field is :func:`helpers.core.geometry.kernel_span`.
    """
    kernel_size = require_positive_int(kernel_size, "kernel_size")
    dilation = require_positive_int(dilation, "dilation")
    return DepthwiseSeparableConv2d(
        in_channels, out_channels, kernel_size, stride=stride,
        padding=odd_same_padding(kernel_size, dilation), dilation=dilation, bias=False,
        norm_layer=nn.BatchNorm2d, activation=nn.ReLU)
