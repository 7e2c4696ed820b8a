"""PyTorch layers: depthwise, pointwise and depthwise separable convolution.

The three share one set of constructor arguments (``kernel_size``, ``stride``,
``padding``, ``dilation``, ``depth_multiplier``, ``bias``), as timm's
convolution layers do. Each wraps ``nn.Conv2d``; its forward checks that the
input is ``(N, C, H, W)`` with ``in_channels`` channels.

``padding`` is an int, a pair ``(height, width)``, ``"valid"`` (no padding) or
``"same"``. With stride 1, ``"same"`` is PyTorch's (output size = input size; for
an even kernel the extra zero goes to the bottom/right). ``nn.Conv2d`` refuses
``"same"`` with a stride above 1, so there we use the MobileNet convention: a
symmetric ``dilation * (kernel_size - 1) // 2`` zeros on each side, which for odd
kernels gives an output of ``ceil(size / stride)``, like TensorFlow's "same"
(TensorFlow puts its zeros on different sides, so values at the border differ).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from helpers._validate import as_pair, check_input_channels, check_positive_int

__all__ = ["DepthwiseConv2d", "DepthwiseSeparableConv2d", "PointwiseConv2d"]

Padding = int | tuple[int, int] | str
IntOrPair = int | tuple[int, int]


def _conv2d_padding(
    padding: Padding,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
) -> tuple[int, int] | str:
    """Turn our ``padding`` argument into one ``nn.Conv2d`` accepts (see the module docstring)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0)
        if padding == "same":
            if stride == (1, 1):
                return "same"
            pad_h, pad_w = (d * (k - 1) // 2 for k, d in zip(kernel_size, dilation, strict=True))
            return (pad_h, pad_w)
        raise ValueError(
            f"padding must be 'valid', 'same', a non-negative int or a pair of them, "
            f"got {padding!r}"
        )
    return as_pair(padding, "padding", minimum=0)


def _check_bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _make_module(
    factory: Callable[..., nn.Module] | None, name: str, *args: int
) -> nn.Module | None:
    """``factory(*args)``, checked to be an ``nn.Module``; None if there is no factory."""
    if factory is None:
        return None
    if not callable(factory):
        raise TypeError(
            f"{name} must be None or a callable returning an nn.Module, got {factory!r}"
        )
    module = factory(*args)
    if not isinstance(module, nn.Module):
        raise TypeError(f"{name} must return an nn.Module, got {type(module).__name__}")
    return module


class _WrappedConv(nn.Module):
    """A named ``nn.Conv2d`` (``.conv``) that checks its input's channels.

    ``.weight`` and ``.bias`` are the inner convolution's parameters.
    """

    conv: nn.Conv2d
    in_channels: int

    @property
    def weight(self) -> nn.Parameter:
        return self.conv.weight

    @property
    def bias(self) -> nn.Parameter | None:
        return self.conv.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_channels(x, self.in_channels, type(self).__name__)
        return self.conv(x)


class DepthwiseConv2d(_WrappedConv):
    """Depthwise convolution: ``depth_multiplier`` filters per input channel, no channel mixing.

    ``nn.Conv2d(in_channels, in_channels * depth_multiplier, groups=in_channels)``;
    output channel ``c * depth_multiplier + j`` comes from input channel ``c``.
    The inner convolution is ``.conv``; ``.weight`` and ``.bias`` are its parameters.
    """

    def __init__(
        self,
        in_channels: int,
        kernel_size: IntOrPair = 3,
        stride: IntOrPair = 1,
        padding: Padding = "same",
        dilation: IntOrPair = 1,
        depth_multiplier: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.depth_multiplier = check_positive_int(depth_multiplier, "depth_multiplier")
        self.out_channels = self.in_channels * self.depth_multiplier
        kernel_size = as_pair(kernel_size, "kernel_size")
        stride = as_pair(stride, "stride")
        dilation = as_pair(dilation, "dilation")
        self.conv = nn.Conv2d(
            self.in_channels,
            self.out_channels,
            kernel_size,
            stride=stride,
            padding=_conv2d_padding(padding, kernel_size, stride, dilation),
            dilation=dilation,
            groups=self.in_channels,
            bias=_check_bool(bias, "bias"),
        )

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, depth_multiplier={self.depth_multiplier}"


class PointwiseConv2d(_WrappedConv):
    """Pointwise (1x1) convolution: mixes the channels at each pixel, no spatial extent.

    The inner convolution is ``.conv``; ``.weight`` (shape ``(out, in, 1, 1)``) and
    ``.bias`` are its parameters.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        self.conv = nn.Conv2d(
            self.in_channels, self.out_channels, kernel_size=1, bias=_check_bool(bias, "bias")
        )


class DepthwiseSeparableConv2d(nn.Module):
    """Depthwise separable convolution: ``.depthwise`` then ``.pointwise``.

    Without ``norm_layer`` and ``activation`` the two steps are composed directly
    (as in Xception). With them, each step is followed by its own norm and
    activation, as in MobileNet: depthwise, norm, activation, pointwise, norm,
    activation. The extra modules are ``.depthwise_norm``, ``.depthwise_act``,
    ``.pointwise_norm`` and ``.pointwise_act`` (None when absent).

    Parameters
    ----------
    in_channels, out_channels : channels of the input and of the output.
    kernel_size, stride, padding, dilation, depth_multiplier : of the depthwise step
        (see :class:`DepthwiseConv2d`); the pointwise step maps
        ``in_channels * depth_multiplier`` channels to ``out_channels``.
    bias : give both convolutions a bias. Default None means True without a
        ``norm_layer`` and False with one (a norm's shift makes a bias redundant).
    norm_layer : called with a channel count to make a norm, e.g. ``nn.BatchNorm2d``.
    activation : called with no arguments to make an activation, e.g. ``nn.ReLU``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: IntOrPair = 3,
        stride: IntOrPair = 1,
        padding: Padding = "same",
        dilation: IntOrPair = 1,
        depth_multiplier: int = 1,
        bias: bool | None = None,
        norm_layer: Callable[[int], nn.Module] | None = None,
        activation: Callable[[], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if bias is None:
            bias = norm_layer is None
        self.in_channels = check_positive_int(in_channels, "in_channels")
        self.out_channels = check_positive_int(out_channels, "out_channels")
        # Registered in the order forward runs them; None is not registered.
        self.depthwise = DepthwiseConv2d(
            in_channels, kernel_size, stride, padding, dilation, depth_multiplier, bias
        )
        hidden_channels = self.depthwise.out_channels
        self.depthwise_norm = _make_module(norm_layer, "norm_layer", hidden_channels)
        self.depthwise_act = _make_module(activation, "activation")
        self.pointwise = PointwiseConv2d(hidden_channels, out_channels, bias)
        self.pointwise_norm = _make_module(norm_layer, "norm_layer", out_channels)
        self.pointwise_act = _make_module(activation, "activation")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input_channels(x, self.in_channels, type(self).__name__)
        for layer in self.children():  # depthwise, [norm, act], pointwise, [norm, act]
            x = layer(x)
        return x

    def extra_repr(self) -> str:
        conv = self.depthwise.conv
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={conv.kernel_size}, "
            f"stride={conv.stride}, padding={conv.padding}"
        )
        if conv.dilation != (1, 1):
            text += f", dilation={conv.dilation}"
        if self.depthwise.depth_multiplier != 1:
            text += f", depth_multiplier={self.depthwise.depth_multiplier}"
        if conv.bias is None:
            text += ", bias=False"
        return text
