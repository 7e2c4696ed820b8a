"""The small CNN of the experiments: 8x8 digits, normal or depthwise separable.

:func:`make_cnn` builds it (chapters 7 and 9 train it); :func:`cnn_parameters`
counts it without building weights; :func:`separable_width_for_budget` finds the
width at which the separable network has a given number of parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from helpers._validate import check_bool, check_int, check_positive_int
from helpers.cost import count_parameters
from helpers.layers import DepthwiseSeparableConv2d
from helpers.models import ConvBNReLU

__all__ = ["CNN_KINDS", "cnn_parameters", "make_cnn", "separable_width_for_budget"]

#: The two kinds of network :func:`make_cnn` builds.
CNN_KINDS = ("normal", "separable")


def make_cnn(kind: str = "normal", width: int = 8, *, batch_norm: bool = True,
             seed: int | None = None, num_classes: int = 10) -> nn.Sequential:
    """A small CNN for 8x8 digits, with normal or depthwise separable convolutions.

    Layers (``w = width``; "conv" is the ``kind`` of convolution, each one
    followed by batch norm, if ``batch_norm``, and ReLU)::

        stem:    Conv2d(1, w, 3x3), MaxPool 2      8x8 -> 4x4   (normal in both kinds)
        block 1: conv(w, 2w, 3x3)                  4x4
        block 2: conv(2w, 2w, 3x3)                 4x4
        head:    global average pool, Linear(2w, num_classes)

    ``kind="separable"`` makes the blocks
    :class:`~helpers.layers.DepthwiseSeparableConv2d` with a
    norm and ReLU after each step; the stem stays normal (one input channel).
    Convolutions followed by a norm have no bias. ``seed`` makes the initial
    weights the same on any machine without touching PyTorch's global random
    state. The model is float32; :func:`helpers.train.train` trains it in float64.
    """
    if kind not in CNN_KINDS:
        raise ValueError(f"kind must be one of {CNN_KINDS}, got {kind!r}")
    width = check_positive_int(width, "width")
    batch_norm = check_bool(batch_norm, "batch_norm")
    num_classes = check_positive_int(num_classes, "num_classes")
    if seed is not None:
        # Draw the initial weights in float64, then round them to float32. PyTorch's
        # float32 initialisers round differently on different CPUs (with or without
        # fused multiply-add), and training grows a last-bit difference into another
        # network; float64 draws differ by ~1e-16 at most and round to the same
        # float32 weights on every machine.
        seed = check_int(seed, "seed", minimum=0)
        default_dtype = torch.get_default_dtype()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            torch.set_default_dtype(torch.float64)
            try:
                model = make_cnn(kind, width, batch_norm=batch_norm, num_classes=num_classes)
            finally:
                torch.set_default_dtype(default_dtype)
        return model.float()

    def block(in_channels: int, out_channels: int) -> list[nn.Module]:
        if kind == "normal":
            return list(ConvBNReLU(in_channels, out_channels, batch_norm=batch_norm))
        return [DepthwiseSeparableConv2d(in_channels, out_channels, 3, padding=1,
                                         norm_layer=nn.BatchNorm2d if batch_norm else None,
                                         activation=nn.ReLU)]

    return nn.Sequential(
        *ConvBNReLU(1, width, batch_norm=batch_norm), nn.MaxPool2d(2),
        *block(width, 2 * width), *block(2 * width, 2 * width),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, num_classes),
    )


def cnn_parameters(kind: str, width: int, *, batch_norm: bool = True) -> int:
    """Number of parameters of ``make_cnn(kind, width, batch_norm=...)``, counted on the model."""
    with torch.device("meta"):  # shapes only: no memory, no random numbers
        return count_parameters(make_cnn(kind, width, batch_norm=batch_norm))


def separable_width_for_budget(target_params: int, *, batch_norm: bool = True,
                               max_width: int = 1024) -> int:
    """The width at which the separable CNN's parameter count is closest to ``target_params``
    (the smaller width on a tie), searched by bisection up to ``max_width``."""
    target_params = check_positive_int(target_params, "target_params")
    max_width = check_positive_int(max_width, "max_width")

    def count(width: int) -> int:
        return cnn_parameters("separable", width, batch_norm=batch_norm)

    if count(max_width) < target_params:
        raise ValueError(f"target_params={target_params} needs a width above "
                         f"max_width={max_width}")
    low, high = 1, max_width  # invariant: count(high) >= target
    while low < high:
        middle = (low + high) // 2
        if count(middle) >= target_params:
            high = middle
        else:
            low = middle + 1
    if high > 1 and target_params - count(high - 1) <= count(high) - target_params:
        return high - 1
    return high
