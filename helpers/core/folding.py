"""Batch norm folded into the convolution before it (chapter 10).

:func:`fold_batch_norm` returns a copy of a model with every batch norm folded
into the convolution before it (PyTorch's ``torch.nn.utils.fusion.fuse_conv_bn_eval``
does the arithmetic), equal to the original in evaluation mode.
"""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from helpers.core.layers import DepthwiseSeparableConv2d

__all__ = ["count_batch_norms", "fold_batch_norm"]


def _check_module(module: object, name: str = "model") -> nn.Module:
    if not isinstance(module, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
    return module



def count_batch_norms(model: nn.Module) -> int:
    """Number of ``nn.BatchNorm2d`` modules in ``model``."""
    model = _check_module(model)
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def _conv_of(module: nn.Module) -> tuple[nn.Module, str] | None:
    """``(owner, attribute)`` of the ``nn.Conv2d`` that ``module`` is or wraps, or None.

    The book's :class:`~helpers.core.layers.DepthwiseConv2d` and
    :class:`~helpers.core.layers.PointwiseConv2d` keep theirs in ``.conv``.
    """
    inner = getattr(module, "conv", None)
    if type(module) is not nn.Conv2d and isinstance(inner, nn.Conv2d):
        return module, "conv"
    return None


def _fold_children(parent: nn.Module) -> int:
    """Fold each (convolution, batch norm) pair among ``parent``'s direct children."""
    folded = 0
    names = list(parent._modules)
    for before, name in zip(names, names[1:], strict=False):
        bn, conv_module = parent._modules[name], parent._modules[before]
        if not isinstance(bn, nn.BatchNorm2d) or conv_module is None:
            continue
        if isinstance(conv_module, nn.Conv2d):
            owner, attribute, conv = parent, before, conv_module
        elif (found := _conv_of(conv_module)) is not None:
            owner, attribute = found
            conv = getattr(owner, attribute)
        else:
            continue
        if conv.out_channels != bn.num_features:
            raise ValueError(f"cannot fold {name!r}: {bn.num_features} features after a "
                             f"convolution with {conv.out_channels} output channels")
        setattr(owner, attribute, fuse_conv_bn_eval(conv, bn))
        parent._modules[name] = nn.Identity()
        folded += 1
    return folded


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with each batch norm folded into the
    convolution before it, and replaced by ``nn.Identity``.

    In evaluation mode a batch norm computes ``gamma * (y - mu) / sqrt(var + eps) + beta``
    per channel with fixed statistics: an affine map of each output channel of
    the convolution, which ``torch.nn.utils.fusion.fuse_conv_bn_eval`` merges into
    that convolution's weight (scaled per output channel) and bias.

    A pair is folded when the convolution (an ``nn.Conv2d``, or a book layer
    holding one in ``.conv``) is the child registered right before the batch
    norm in an ``nn.Sequential`` or a
    :class:`~helpers.core.layers.DepthwiseSeparableConv2d`: containers whose forward
    runs their children in order. Other batch norms are left in place; count
    them with :func:`count_batch_norms`. The original model is not changed.
    """
    model = _check_module(model)
    folded = copy.deepcopy(model).eval()
    containers = (nn.Sequential, DepthwiseSeparableConv2d)
    for module in list(folded.modules()):
        if isinstance(module, containers):
            _fold_children(module)
    return folded
