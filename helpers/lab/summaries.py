"""Text for the page: a compact summary of a model, one line per layer (instead of
its full ``print``), and the one table formatter of the chapters and scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

__all__ = ["format_table", "module_summary"]


def _layer(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        k, s, d = m.kernel_size, m.stride, m.dilation
        text = f"Conv2d {m.in_channels}->{m.out_channels} {k[0]}x{k[1]}"
        text += f" stride {s[0]}" if s[0] == s[1] else f" stride {s}"
        if m.groups > 1:
            text += " depthwise" if m.groups == m.in_channels else f" groups {m.groups}"
        if d != (1, 1):
            text += f" dilation {d[0]}"
        return text + ("" if m.bias is None else " +bias")
    if isinstance(m, nn.BatchNorm2d):
        return f"BatchNorm2d {m.num_features}"
    if isinstance(m, nn.Linear):
        return f"Linear {m.in_features}->{m.out_features}"
    if isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
        return f"{type(m).__name__} {m.kernel_size} stride {m.stride}"
    return type(m).__name__


def module_summary(module: nn.Module) -> str:
    """One line per leaf layer: its name in ``module`` and a short description
    (convolutions with channels, kernel, stride, groups and dilation)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    leaves = [(name or type(module).__name__, m) for name, m in module.named_modules()
              if not list(m.children())]
    width = max(len(name) for name, _ in leaves)
    return "\n".join(f"{name:<{width}}  {_layer(m)}" for name, m in leaves)


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows as aligned plain text under a header line: the first column
    left-aligned, the others right-aligned. Values are printed with ``str``, so
    format numbers before passing them in."""
    if len(columns) == 0:
        raise ValueError("columns must not be empty")
    cells = [[str(c) for c in columns]]
    for i, row in enumerate(rows):
        if len(row) != len(columns):
            raise ValueError(f"rows[{i}] has {len(row)} values for {len(columns)} columns")
        cells.append([str(v) for v in row])
    widths = [max(len(r[j]) for r in cells) for j in range(len(columns))]

    def line(values: list[str]) -> str:
        parts = [values[0].ljust(widths[0])]
        parts += [v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])
