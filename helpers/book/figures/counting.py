"""Figures of chapter 1: the weights of the running example, and how the counts
of each convolution kind grow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from helpers.book.figures import _slabs as slab
from helpers.book.figures.style import CHANNEL_COLORS, KIND_COLORS


def plot_counts_vs_channels(
    channels: Sequence[int],
    counts: Mapping[str, Sequence[int]],
    *,
    xlabel: str = "channels (in = out)",
    ylabel: str = "parameters",
    title: str | None = None,
    logx: bool = True,
    logy: bool = True,
) -> Figure:
    """Line plot of one count (parameters or multiply-adds) per convolution kind.

    ``counts`` maps a kind (``"normal"``, ``"depthwise"``, ...) to one value per
    entry of ``channels``.
    """
    if len(channels) == 0:
        raise ValueError("channels must not be empty")
    if not counts:
        raise ValueError("counts must map at least one convolution kind to values")
    for kind, values in counts.items():
        if len(values) != len(channels):
            raise ValueError(
                f"counts[{kind!r}] has {len(values)} values but channels has {len(channels)}"
            )
    fig, ax = plt.subplots()
    for kind, values in counts.items():
        ax.plot(channels, values, marker="o", label=kind, color=KIND_COLORS.get(kind))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(channels), [str(c) for c in channels])
        ax.minorticks_off()
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend()
    return fig


def running_example_weights(in_channels: int = 3, out_channels: int = 3,
                            kernel_size: int = 3) -> Figure:
    """The weights of the running example, one small block per filter, drawn to
    count: a normal convolution's ``N`` filters of shape ``(M, k, k)``; a depthwise
    convolution's ``M`` filters of shape ``(1, k, k)``, one per channel; a
    pointwise convolution's ``N`` filters of shape ``(M, 1, 1)``. Each slab is
    one input channel in its colour; the counts under each group are computed.
    """
    m, n, k, colors, fig, ax = slab.begin(in_channels, out_channels, kernel_size, (10, 3.9))
    size, step, gap = 0.9, 0.16, 0.35
    groups = (
        ("normal", n, colors, k, size, f"$N = {n}$ filters, each $({m}, {k}, {k})$",
         k * k * m * n, f"${k} \\cdot {k} \\cdot {m} \\cdot {n}$"),
        ("depthwise", m, None, k, size, f"$M = {m}$ filters, each $(1, {k}, {k})$",
         k * k * m, f"${k} \\cdot {k} \\cdot {m}$"),
        ("pointwise", n, colors, 0, 0.34, f"$N = {n}$ filters, each $({m}, 1, 1)$",
         m * n, f"${m} \\cdot {n}$"),
    )
    x0, top = 0.0, 2.6
    for kind, count, stack_colors, grid, cell, label, total, formula in groups:
        width = 0.0
        for j in range(count):
            cs = [colors[j]] if stack_colors is None else list(stack_colors)
            x = x0 + j * (size + (m - 1) * step + gap)
            slab.stack(ax, x, top - size, cell, cs, step=step * cell / size, grid=grid)
            width = x + size + (m - 1) * step - x0
        centre = x0 + width / 2
        ax.text(centre, top + 0.75, kind, ha="center", va="bottom", fontsize=13,
                color=KIND_COLORS[kind], fontweight="bold")
        slab.caption(ax, centre, top - size - 0.2, label, size=11)
        slab.caption(ax, centre, top - size - 0.75, f"{formula} = {total} weights", size=12)
        x0 += width + 0.9
    ax.text(x0 - 0.3, top - size - 1.5,
            f"separable = depthwise + pointwise = {k * k * m} + {m * n} = "
            f"{k * k * m + m * n} weights, against {k * k * m * n}",
            ha="right", va="top", fontsize=12, color=KIND_COLORS["separable"])
    return slab.frame(fig, ax, (-0.3, top - size - 2.0, x0 - 0.2, top + 1.3),
                      f"The running example's weights: {m} channels in, {n} out, "
                      f"{k}x{k} kernels")


def receptive_field_figure(row: int = 0, col: int = 6, out_channel: int = 0) -> Figure:
    """The static picture of the page's output explorer: which inputs of the
    running example (8x8, 3 channels, 3x3 filters, padding 1) feed output
    ``(out_channel, row, col)`` in a normal, depthwise, pointwise and depthwise
    separable convolution, with the multiply-adds per position (all 3 outputs)."""
    size, in_ch, out_ch, k, pad = 8, 3, 3, 3, 1
    for value, name, high in ((row, "row", size), (col, "col", size),
                              (out_channel, "out_channel", out_ch)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < high:
            raise ValueError(f"{name} must be an int in [0, {high - 1}], got {value!r}")
    layers = (("normal", k, "all", k * k * in_ch * out_ch, f"{k * k * in_ch}·{out_ch}"),
              ("depthwise", k, "own", k * k * in_ch, f"{k * k}·{in_ch}"),
              ("pointwise", 1, "all", in_ch * out_ch, f"{in_ch}·{out_ch}"),
              ("separable", k, "all", k * k * in_ch + in_ch * out_ch,
               f"{k * k * in_ch} + {in_ch * out_ch}"))
    fig, axes = plt.subplots(len(layers), in_ch, figsize=(6.2, 8.4))
    side = size + 2 * pad
    for (kind, window, channels, macs, formula), row_axes in zip(layers, axes, strict=True):
        half = (window - 1) // 2
        for c, ax in enumerate(row_axes):
            image = np.ones((side, side, 3)) * 0.93
            image[pad:-pad, pad:-pad] = 0.8  # the image; the light ring is the zero padding
            if channels == "all" or c == out_channel:
                rows = slice(row + pad - half, row + pad + half + 1)
                cols = slice(col + pad - half, col + pad + half + 1)
                image[rows, cols] = to_rgb(CHANNEL_COLORS[c])
            ax.imshow(image, extent=(-pad - 0.5, size + pad - 0.5, size + pad - 0.5, -pad - 0.5))
            ax.add_patch(Rectangle((-0.5, -0.5), size, size, fill=False, linewidth=1.2))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if c == 0:
                ax.set_ylabel(f"{kind}\n{macs} = {formula}\nMACs per position", fontsize=10,
                              color=KIND_COLORS[kind])
            if kind == "normal":
                ax.set_title(f"input channel {c}", fontsize=10)
    fig.suptitle(f"Inputs that feed output channel {out_channel}, row {row}, column {col}\n"
                 "(outer ring: zero padding)", fontsize=11)
    return fig
