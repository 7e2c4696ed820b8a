"""The one helper that runs a module in evaluation mode and gives every submodule
its own train/eval mode back afterwards (batch norm keeps its statistics)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

__all__ = ["evaluating"]


@contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """``module`` in evaluation mode inside the ``with`` block; afterwards, even
    after an error, each of its submodules has the mode it had before."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, training in modes:
            m.training = training
