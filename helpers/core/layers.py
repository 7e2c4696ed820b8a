"""PyTorch layers: depthwise, pointwise and depthwise separable convolution.

The three share one set of constructor arguments (``kernel_size``, ``stride``,
``padding``, ``dilation``, ``depth_multiplier``, ``bias``), as timm's
convolution layers do. Each wraps ``nn.Conv2d``; its forward checks that the
input is a tensor ``(B, M, H, W)`` or ``(M, H, W)`` with ``in_channels`` channels.

``padding`` is an int, a pair ``(height, width)``, ``"valid"`` (no padding) or
``"same"``. With stride 1, ``"same"`` is PyTorch's (output size = input size; for
an even kernel the extra zero goes to the bottom/right). ``nn.Conv2d`` refuses
``"same"`` with a stride above 1; there the layers follow the book's one policy,
stated in :mod:`helpers.core.geometry` (torchvision's symmetric zeros).

The layers can be scripted with ``torch.jit.script`` (which recent PyTorch
deprecates in favour of ``torch.compile`` and ``torch.export``; those work too):
their forward checks its input only when run as Python (TorchScript skips the
checks).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from helpers.core._validate import (
    as_pair,
    require_bool,
    require_input_channels,
    require_layer_input,
    require_parameter_count,
    require_positive_int,
)
from helpers.core.geometry import Padding, output_length, resolve_padding, same_padding

__all__ = [
    "ConvBNReLU",
    "DepthwiseConv2d",
    "DepthwiseSeparableConv2d",
    "PointwiseConv2d",
    "odd_same_padding",
]

IntOrPair = int | tuple[int, int]


def _conv2d_padding(padding: Padding, kernel_size: tuple[int, int], stride: tuple[int, int],
                    dilation: tuple[int, int]) -> tuple[int, int] | str:
    """Turn our ``padding`` argument into one ``nn.Conv2d`` accepts (see
    :func:`helpers.core.geometry.resolve_padding`)."""
    (top, _), (left, _) = resolve_padding(padding, kernel_size, stride, dilation)
    if padding == "same" and stride == (1, 1):
        return "same"  # nn.Conv2d's own, which also handles even kernels
    return (top, left)


@torch.jit.unused
def _check_input(x: torch.Tensor, layer: nn.Module, conv: nn.Conv2d) -> None:
    """The checks of a layer's input (Python only: TorchScript skips them): a
    floating tensor with the right channels, dtype and device, large enough for
    the (dilated) kernel."""
    owner = type(layer).__name__
    require_input_channels(x, layer.in_channels, owner)
    require_layer_input(x, conv.weight, owner)
    if conv.padding != "same":
        for axis, size, k, d, p in zip(("height", "width"), x.shape[-2:], conv.kernel_size,
                                       conv.dilation, conv.padding, strict=True):
            output_length(size, k, 1, 2 * p, d, f"the input's {axis} ({owner})")


def _make_module(factory: Callable[..., nn.Module] | None, name: str, example: str,
                 *args: int) -> nn.Module | None:
    """``factory(*args)``, checked to be a new ``nn.Module``; None if there is no factory."""
    if factory is None:
        return None
    if isinstance(factory, nn.Module):
        raise TypeError(
            f"{name} must be a factory that makes a module, such as {example}, not a module "
            f"instance ({type(factory).__name__}(...)): each step needs its own"
        )
    if not callable(factory):
        raise TypeError(f"{name} must be None or a factory such as {example}, got {factory!r}")
    module = factory(*args)
    if not isinstance(module, nn.Module):
        raise TypeError(f"{name} must return an nn.Module, got {type(module).__name__}")
    return module


class _WrappedConv(nn.Module):
    """A named ``nn.Conv2d`` (``.conv``) that checks its input's channels.

    ``.weight`` and ``.bias`` are the inner convolution's parameters.
    """

    # Properties TorchScript leaves to Python (it cannot read their annotations).
    __jit_unused_properties__ = ["weight", "bias"]

    @property
    def weight(self) -> nn.Parameter:
        return self.conv.weight

    @property
    def bias(self) -> nn.Parameter | None:
        return self.conv.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            _check_input(x, self, self.conv)
        return self.conv(x)


class DepthwiseConv2d(_WrappedConv):
    """Depthwise convolution: ``depth_multiplier`` filters per input channel, no channel mixing.

    ``nn.Conv2d(in_channels, in_channels * depth_multiplier, groups=in_channels)``;
    output channel ``c * depth_multiplier + j`` comes from input channel ``c``.
    """

    def __init__(self, in_channels: int, kernel_size: IntOrPair = 3, stride: IntOrPair = 1,
                 padding: Padding = "same", dilation: IntOrPair = 1, depth_multiplier: int = 1,
                 bias: bool = True) -> None:
        super().__init__()
        self.in_channels = require_positive_int(in_channels, "in_channels")
        self.depth_multiplier = require_positive_int(depth_multiplier, "depth_multiplier")
        self.out_channels = self.in_channels * self.depth_multiplier
        kernel_size = as_pair(kernel_size, "kernel_size")
        stride = as_pair(stride, "stride")
        dilation = as_pair(dilation, "dilation")
        bias = require_bool(bias, "bias")
        require_parameter_count(self.out_channels * (kernel_size[0] * kernel_size[1] + 1),
                                type(self).__name__)
        self.conv = nn.Conv2d(
            self.in_channels, self.out_channels, kernel_size, stride=stride,
            padding=_conv2d_padding(padding, kernel_size, stride, dilation), dilation=dilation,
            groups=self.in_channels, bias=bias)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, depth_multiplier={self.depth_multiplier}"


class PointwiseConv2d(_WrappedConv):
    """Pointwise (1x1) convolution: mixes the channels at each pixel, no spatial extent.

    ``.weight`` has shape ``(out_channels, in_channels, 1, 1)``.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__()
        self.in_channels = require_positive_int(in_channels, "in_channels")
        self.out_channels = require_positive_int(out_channels, "out_channels")
        require_parameter_count(self.out_channels * (self.in_channels + 1), type(self).__name__)
        self.conv = nn.Conv2d(self.in_channels, self.out_channels, kernel_size=1,
                              bias=require_bool(bias, "bias"))


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
    bias : True gives both convolutions a bias, False neither. The default, None,
        gives only the biases that are not redundant: with a ``norm_layer``, none (a
        norm's shift does their job); with an ``activation`` and no norm, both (the
        depthwise bias then passes through the activation); with neither, the two
        steps are one linear map and a depthwise bias ``b_dw`` would only add
        ``P @ b_dw`` to the pointwise bias, so only the pointwise step has one, as in
        Keras' ``SeparableConv2D``.
    norm_layer : a factory called with a channel count, e.g. ``nn.BatchNorm2d`` (the class).
    activation : a factory called with no arguments, e.g. ``nn.ReLU`` (the class).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrPair = 3,
                 stride: IntOrPair = 1, padding: Padding = "same", dilation: IntOrPair = 1,
                 depth_multiplier: int = 1, bias: bool | None = None,
                 norm_layer: Callable[[int], nn.Module] | None = None,
                 activation: Callable[[], nn.Module] | None = None) -> None:
        super().__init__()
        if bias is None:  # only the biases that are not redundant (see above)
            depthwise_bias = norm_layer is None and activation is not None
            pointwise_bias = norm_layer is None
        else:
            depthwise_bias = pointwise_bias = require_bool(bias, "bias")
        self.in_channels = require_positive_int(in_channels, "in_channels")
        self.out_channels = require_positive_int(out_channels, "out_channels")
        # Registered in the order forward runs them; None is not registered.
        self.depthwise = DepthwiseConv2d(
            in_channels, kernel_size, stride, padding, dilation, depth_multiplier,
            depthwise_bias
        )
        hidden_channels = self.depthwise.out_channels
        norm, act = ("norm_layer", "nn.BatchNorm2d"), ("activation", "nn.ReLU")
        self.depthwise_norm = _make_module(norm_layer, *norm, hidden_channels)
        self.depthwise_act = _make_module(activation, *act)
        self.pointwise = PointwiseConv2d(hidden_channels, out_channels, pointwise_bias)
        self.pointwise_norm = _make_module(norm_layer, *norm, out_channels)
        self.pointwise_act = _make_module(activation, *act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            _check_input(x, self, self.depthwise.conv)
        unbatched = x.ndim == 3
        if unbatched:  # norms want a batch axis; nn.Conv2d does not
            x = x.unsqueeze(0)
        # Every step by name: a factory may return one module for both steps
        # (e.g. ``lambda: relu``), which ``self.children()`` would list only once.
        x = self.depthwise(x)
        if self.depthwise_norm is not None:
            x = self.depthwise_norm(x)
        if self.depthwise_act is not None:
            x = self.depthwise_act(x)
        x = self.pointwise(x)
        if self.pointwise_norm is not None:
            x = self.pointwise_norm(x)
        if self.pointwise_act is not None:
            x = self.pointwise_act(x)
        return x.squeeze(0) if unbatched else x

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
        if conv.bias is None and self.pointwise.conv.bias is None:
            text += ", bias=False"
        return text


def odd_same_padding(kernel_size: int, dilation: int = 1) -> int:
    """The zeros per side of "same" padding, for an odd kernel (symmetric)."""
    kernel_size = require_positive_int(kernel_size, "kernel_size")
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}")
    return same_padding(kernel_size, dilation)[0]


class ConvBNReLU(nn.Sequential):
    """A normal ``k x k`` convolution ("same" padding, odd ``k``), batch norm, ReLU:
    MobileNet's first layer, every layer of its all-normal twin, and the normal
    blocks of :func:`helpers.lab.cnn.make_cnn`. With ``batch_norm=False`` the norm is left out
    and the convolution gets a bias instead."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, batch_norm: bool = True) -> None:
        in_channels = require_positive_int(in_channels, "in_channels")
        out_channels = require_positive_int(out_channels, "out_channels")
        kernel_size = require_positive_int(kernel_size, "kernel_size")
        stride = require_positive_int(stride, "stride")
        batch_norm = require_bool(batch_norm, "batch_norm")
        require_parameter_count(out_channels * (kernel_size**2 * in_channels + 2),
                                type(self).__name__)
        conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                         padding=odd_same_padding(kernel_size), bias=not batch_norm)
        norm = [nn.BatchNorm2d(out_channels)] if batch_norm else []
        super().__init__(conv, *norm, nn.ReLU())
