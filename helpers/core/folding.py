"""Batch norm folded into the convolution before it (chapter 10).

:func:`fold_batch_norm` returns a copy of a model with every batch norm folded
into the convolution before it (PyTorch's ``torch.nn.utils.fusion.fuse_conv_bn_eval``
does the arithmetic), equal to the original in evaluation mode.
"""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from helpers.core._validate import require_module
from helpers.core.layers import DepthwiseConv2d, DepthwiseSeparableConv2d, PointwiseConv2d

__all__ = ["count_batch_norms", "fold_batch_norm"]

#: Modules whose forward is exactly their inner ``.conv`` (the book's own layers).
_WRAPPERS = (DepthwiseConv2d, PointwiseConv2d)


def count_batch_norms(model: nn.Module) -> int:
    """Number of ``nn.BatchNorm2d`` modules in ``model``."""
    model = require_module(model)
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def _runs_children_in_order(module: nn.Module) -> bool:
    """Whether ``module``'s forward is known to run its children one after the
    other and nothing else: an ``nn.Sequential`` (or a subclass that keeps its
    forward) or the book's :class:`~helpers.core.layers.DepthwiseSeparableConv2d`."""
    if type(module) is DepthwiseSeparableConv2d:
        return True
    return isinstance(module, nn.Sequential) and type(module).forward is nn.Sequential.forward


def _conv_of(parent: nn.Module, name: str) -> tuple[nn.Module, str] | None:
    """``(owner, attribute)`` of the ``nn.Conv2d`` whose output child ``name`` of
    ``parent`` is, or None when that is not provably so: the child must be an
    ``nn.Conv2d`` or one of the book's layers (not a learner's module that holds
    a ``.conv`` and may do more after it, such as a ReLU)."""
    child = parent._modules[name]
    if type(child) is nn.Conv2d:
        return parent, name
    if type(child) in _WRAPPERS and type(child.conv) is nn.Conv2d:
        return child, "conv"
    return None


def _fold_children(parent: nn.Module) -> int:
    """Fold each (convolution, batch norm) pair among ``parent``'s direct children."""
    folded = 0
    names = list(parent._modules)
    for before, name in zip(names, names[1:], strict=False):
        bn = parent._modules[name]
        if (type(bn) is not nn.BatchNorm2d or parent._modules[before] is None
                or bn.running_mean is None or bn.running_var is None):
            continue  # only a batch norm with running statistics is affine in eval mode
        found = _conv_of(parent, before)
        if found is None:
            continue
        owner, attribute = found
        conv = getattr(owner, attribute)
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

    A pair is folded only where that is provably exact: the convolution (an
    ``nn.Conv2d``, or the book's :class:`~helpers.core.layers.DepthwiseConv2d` or
    :class:`~helpers.core.layers.PointwiseConv2d`) is the child registered right
    before the batch norm in an ``nn.Sequential`` or a
    :class:`~helpers.core.layers.DepthwiseSeparableConv2d`, containers whose forward
    runs their children in order and nothing else. Other batch norms (after a
    module of one's own that may apply a ReLU after its convolution, say) are
    left in place; count them with :func:`count_batch_norms`. The original model
    is not changed.
    """
    model = require_module(model)
    folded = copy.deepcopy(model).eval()
    for module in list(folded.modules()):
        if _runs_children_in_order(module):
            _fold_children(module)
    return folded
