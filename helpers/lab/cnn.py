"""The small CNN of the experiments: 8x8 digits, normal or depthwise separable.

:func:`make_cnn` builds it (chapters 7 and 9 train it); :func:`cnn_parameters`
counts it without building weights; :func:`separable_width_for_budget` finds the
width at which the separable network has a given number of parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from helpers.core._validate import (
    require_bool,
    require_positive_int,
    require_seed,
    require_seeds,
)
from helpers.core.cost import count_parameters
from helpers.core.layers import DepthwiseConv2d, DepthwiseSeparableConv2d, PointwiseConv2d
from helpers.core.models import ConvBNReLU

__all__ = ["CNN_KINDS", "MAX_PARAMETERS", "cnn_parameters", "make_cnn", "make_cnn_ensemble",
           "separable_width_for_budget", "stack_cnns"]

#: The two kinds of network :func:`make_cnn` builds.
CNN_KINDS = ("normal", "separable")

#: The largest network :func:`make_cnn` builds (80 MB of float64 weights): a
#: larger width is almost surely a typo, and would allocate before failing.
MAX_PARAMETERS = 10_000_000


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
    :class:`~helpers.core.layers.DepthwiseSeparableConv2d` with a
    norm and ReLU after each step; the stem stays normal (one input channel).
    Convolutions followed by a norm have no bias. ``seed`` makes the initial
    weights the same on any machine without touching PyTorch's global random
    state. The model is float32; :func:`helpers.lab.train.train` trains it in float64.
    Networks above :data:`MAX_PARAMETERS` parameters are refused before anything
    is allocated.
    """
    if kind not in CNN_KINDS:
        raise ValueError(f"kind must be one of {CNN_KINDS}, got {kind!r}")
    width = require_positive_int(width, "width")
    batch_norm = require_bool(batch_norm, "batch_norm")
    num_classes = require_positive_int(num_classes, "num_classes")
    if torch.empty(0).device.type != "meta":  # counted on the meta device: no memory
        try:
            count = cnn_parameters(kind, width, batch_norm=batch_norm, num_classes=num_classes)
        except ValueError as error:  # one of its layers alone is over the core's bound
            raise ValueError(f"width={width} gives a network above the limit of "
                             f"{MAX_PARAMETERS:,} parameters") from error
        if count > MAX_PARAMETERS:
            raise ValueError(f"width={width} (num_classes={num_classes}) gives {count:,} "
                             f"parameters, above the limit of {MAX_PARAMETERS:,}")
    if seed is not None:
        # Draw the initial weights in float64, then round them to float32. PyTorch's
        # float32 initialisers round differently on different CPUs (with or without
        # fused multiply-add), and training grows a last-bit difference into another
        # network; float64 draws differ by ~1e-16 at most and round to the same
        # float32 weights on every machine.
        seed = require_seed(seed, "seed")
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


def cnn_parameters(kind: str, width: int, *, batch_norm: bool = True,
                   num_classes: int = 10) -> int:
    """Number of parameters of ``make_cnn(kind, width, ...)``, counted on the model
    built on the meta device (shapes only: no memory, no random numbers)."""
    with torch.device("meta"):
        return count_parameters(make_cnn(kind, width, batch_norm=batch_norm,
                                         num_classes=num_classes))


def separable_width_for_budget(target_params: int, *, batch_norm: bool = True,
                               max_width: int = 1024) -> int:
    """The width at which the separable CNN's parameter count is closest to ``target_params``
    (the smaller width on a tie), searched by bisection up to ``max_width``."""
    target_params = require_positive_int(target_params, "target_params")
    max_width = require_positive_int(max_width, "max_width")

    def count(width: int) -> int:
        return cnn_parameters("separable", width, batch_norm=batch_norm)

    try:
        largest = count(max_width)
    except ValueError as error:  # the network at max_width is over the core's bound
        raise ValueError(f"max_width={max_width} gives a network above the limit of "
                         f"this book ({error})") from None
    if largest < target_params:
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


# --------------------------------------------------------------------------
# Many seeds at once: one network of grouped convolutions
# --------------------------------------------------------------------------


class _Replicate(nn.Module):
    """``(B, C, H, W) -> (B, S*C, H, W)``: the same images for every member; or
    ``(B, S, C, H, W) -> (B, S*C, H, W)``: each member its own images."""

    def __init__(self, members: int) -> None:
        super().__init__()
        self.members = members

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 5:
            if x.shape[1] != self.members:
                raise ValueError(f"the ensemble has {self.members} members, got images for "
                                 f"{x.shape[1]}")
            return x.flatten(1, 2)
        return x.repeat(1, self.members, 1, 1)


class _GroupedLinear(nn.Module):
    """``members`` independent linear layers on ``(B, S*F)``, as one grouped 1x1
    convolution; returns ``(B, S, out_features)``."""

    def __init__(self, layers: list[nn.Linear]) -> None:
        super().__init__()
        self.members, self.out_features = len(layers), layers[0].out_features
        in_features = layers[0].in_features
        self.conv = nn.Conv1d(self.members * in_features, self.members * self.out_features, 1,
                              groups=self.members, bias=layers[0].bias is not None)
        with torch.no_grad():
            self.conv.weight.copy_(torch.cat([layer.weight for layer in layers])[..., None])
            if self.conv.bias is not None:
                self.conv.bias.copy_(torch.cat([layer.bias for layer in layers]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x[..., None]).view(len(x), self.members, self.out_features)


def _stack_layer(layers: list[nn.Module]) -> list[nn.Module]:
    """One layer of the ensemble from the same layer of every member."""
    first, members = layers[0], len(layers)
    if isinstance(first, DepthwiseSeparableConv2d):
        # Its steps are its children, registered in the order forward runs them;
        # make_cnn builds every step as a module of its own.
        steps = [list(layer.children()) for layer in layers]
        return [stacked for same_step in zip(*steps, strict=True)
                for stacked in _stack_layer(list(same_step))]
    if isinstance(first, DepthwiseConv2d | PointwiseConv2d):
        return _stack_layer([layer.conv for layer in layers])
    if isinstance(first, nn.Conv2d):
        conv = nn.Conv2d(members * first.in_channels, members * first.out_channels,
                         first.kernel_size, stride=first.stride, padding=first.padding,
                         dilation=first.dilation, groups=members * first.groups,
                         bias=first.bias is not None)
        with torch.no_grad():
            conv.weight.copy_(torch.cat([layer.weight for layer in layers]))
            if conv.bias is not None:
                conv.bias.copy_(torch.cat([layer.bias for layer in layers]))
        return [conv]
    if isinstance(first, nn.BatchNorm2d) and first.affine and first.track_running_stats:
        norm = nn.BatchNorm2d(members * first.num_features, eps=first.eps,
                              momentum=first.momentum)
        with torch.no_grad():
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(norm, name).copy_(torch.cat([getattr(layer, name) for layer in layers]))
        return [norm]
    if isinstance(first, nn.Linear):
        return [_GroupedLinear(layers)]
    if isinstance(first, nn.ReLU | nn.MaxPool2d | nn.AdaptiveAvgPool2d | nn.Flatten):
        return [first]
    raise TypeError(f"stack_cnns cannot stack a {type(first).__name__}: models must be "
                    "make_cnn models")


def stack_cnns(models: list[nn.Sequential]) -> nn.Sequential:
    """One network that runs ``len(models)`` CNNs of :func:`make_cnn` side by side.

    Every layer becomes a grouped layer with one group per member (convolutions
    with ``groups`` multiplied by the number of members, batch norms over all
    the members' channels, the linear heads as one grouped 1x1 convolution), so
    the members never exchange a number: the output ``(B, S, classes)`` holds
    each member's logits, and training the sum of the members' losses trains
    each member exactly as on its own, in one pass instead of ``S``. The models
    must have the same kind and width.
    """
    if not isinstance(models, list | tuple):
        raise TypeError(f"models must be a list of make_cnn models, got {type(models).__name__}")
    if not models:
        raise ValueError("models must be a non-empty list of make_cnn models, got an empty one")
    for i, model in enumerate(models):
        if not isinstance(model, nn.Sequential) or next(model.parameters(), None) is None:
            raise TypeError(f"models[{i}] must be a make_cnn model (an nn.Sequential with "
                            f"parameters), got {type(model).__name__}")
    if len({repr(model) for model in models}) != 1:  # every layer's settings and sizes
        raise ValueError("models must all have the same kind and width (the same layers)")
    if len({(p.dtype, p.device) for model in models for p in model.parameters()}) != 1:
        raise ValueError("models must all have the same dtype and device")
    layers: list[nn.Module] = [_Replicate(len(models))]
    for index in range(len(models[0])):
        layers += _stack_layer([model[index] for model in models])
    return nn.Sequential(*layers).to(next(models[0].parameters()).dtype)


def make_cnn_ensemble(kind: str, width: int, seeds: list[int] | tuple[int, ...], *,
                      batch_norm: bool = True, num_classes: int = 10) -> nn.Sequential:
    """:func:`stack_cnns` of ``make_cnn(kind, width, seed=s)`` for every ``s`` in ``seeds``
    (a list, tuple or 1-D integer array): the same initial weights as the separately
    built models. Ensembles above :data:`MAX_PARAMETERS` parameters are refused."""
    seeds = require_seeds(seeds, "seeds")
    total = len(seeds) * cnn_parameters(kind, width, batch_norm=batch_norm,
                                        num_classes=num_classes)
    if total > MAX_PARAMETERS:
        raise ValueError(f"{len(seeds)} seeds (members) of width={width} give {total:,} "
                         f"parameters, above the limit of {MAX_PARAMETERS:,}")
    return stack_cnns([make_cnn(kind, width, batch_norm=batch_norm, seed=seed,
                                num_classes=num_classes) for seed in seeds])
