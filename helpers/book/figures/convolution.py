"""Figures of chapters 2 and 3: the normal and depthwise convolution diagrams,
which input positions an output reads (padding, stride, dilation), filtered
photos, channels filtered one by one, and the block-diagonal weight of a
depthwise convolution. The sliding-window animation is in
:mod:`helpers.book.figures.animation`.

Every function checks its arguments and returns a matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from helpers.book.figures import _slabs as slab
from helpers.book.figures.style import bare_axes, channel_cmap, channel_color
from helpers.core._validate import require_array, require_int, require_positive_int
from helpers.core.geometry import conv_output_size

__all__ = [
    "block_diagonal_weight_figure",
    "channel_sum_diagram",
    "channels_filtered_figure",
    "conv_settings_figure",
    "depthwise_conv_diagram",
    "filtered_photo_figure",
    "normal_conv_diagram",
]


def normal_conv_diagram(in_channels: int = 3, out_channels: int = 4,
                        kernel_size: int = 3) -> Figure:
    """A normal convolution: an ``(M, H, W)`` input, ``N`` filters of shape
    ``(M, k, k)`` (each spans every input channel), an ``(N, H', W')`` output
    with one map per filter."""
    m, n, k, colors, fig, ax = slab.begin(in_channels, out_channels, kernel_size, (10, 4.6))

    # input
    slab.stack(ax, 0.0, 1.2, 3.0, colors, step=0.3)
    slab.caption(ax, 1.6, 0.9, f"input\n$(M, H, W) = ({m}, H, W)$")

    # filters: one column of n small stacks, each giving one output map
    fsize, fstep, gap = 0.75, 0.12, 0.45
    top = 2.7 + (n * (fsize + (m - 1) * fstep) + (n - 1) * gap) / 2
    fx, msize, mx = 5.3, 0.6, 7.7
    bottom = slab.filters_to_maps(ax, colors, n, x=fx, top=top, size=fsize, step=fstep,
                                  gap=gap, grid=k, map_x=mx, map_size=msize,
                                  merge_at=(9.5, 2.65), font=12, pad=0.2)
    slab.caption(ax, fx + 0.35, bottom - 0.3,
                 f"$N = {n}$ filters\neach $({m}, {k}, {k})$")
    slab.caption(ax, mx + msize / 2, bottom - 0.3, "one map\nper filter", size=12)
    ax.text(4.2, 2.7, r"$\star$", ha="center", va="center", fontsize=26, color=slab.EDGE)

    # output: the n maps stacked, map 1 in front
    out_colors = [slab.OUTPUT_GREYS[j % len(slab.OUTPUT_GREYS)] for j in range(n)]
    slab.stack(ax, 9.6, 1.35, 2.6, out_colors, step=0.3)
    slab.caption(ax, 11.0, 0.9, f"output\n$(N, H', W') = ({n}, H', W')$")

    ymin = min(bottom - 1.5, -0.4)
    ymax = max(top + 0.4, 5.5)
    fig = slab.frame(fig, ax, (-0.4, ymin, 13.6, ymax),
                     "Normal convolution: every filter reads every input channel")
    return fig


def depthwise_conv_diagram(in_channels: int = 3, kernel_size: int = 3) -> Figure:
    """A depthwise convolution: each of the ``M`` input channels gets its own
    ``k x k`` filter and gives one output map of the same colour."""
    m = slab.check_channels(in_channels, "in_channels")
    k = slab.check_kernel(kernel_size)
    colors = [channel_color(i) for i in range(m)]
    fig, ax = slab.new_axes(10, max(4.2, 1.15 * m + 1.2))

    row_h = 1.3
    height = m * row_h
    mid = height / 2

    slab.stack(ax, 0.0, mid - 1.5, 2.6, colors, step=0.3)
    slab.caption(ax, 1.6, mid - 1.8, f"input\n$(M, H, W) = ({m}, H, W)$")

    for i in range(m):
        yc = height - (i + 0.5) * row_h
        slab.arrow(ax, (3.3, mid), (4.0, yc), color=colors[i])
        slab.stack(ax, 4.1, yc - 0.45, 0.9, [colors[i]], step=0.0)  # channel i
        ax.text(5.35, yc, r"$\star$", ha="center", va="center", fontsize=20, color=slab.EDGE)
        slab.stack(ax, 5.75, yc - 0.3, 0.6, [colors[i]], step=0.0, grid=k)  # its filter
        slab.arrow(ax, (6.45, yc), (7.15, yc), color=colors[i])
        slab.stack(ax, 7.25, yc - 0.4, 0.8, [colors[i]], step=0.0)  # its output map
        slab.arrow(ax, (8.15, yc), (9.1, mid), color=colors[i])
    slab.caption(ax, 4.55, -0.1, "channel $c$", size=12)
    slab.caption(ax, 6.05, -0.1, f"filter $c$\n${k} \\times {k}$", size=12)
    slab.caption(ax, 7.65, -0.1, "map $c$", size=12)

    slab.stack(ax, 9.2, mid - 1.4, 2.4, colors, step=0.3)
    slab.caption(ax, 10.7, mid - 1.7, f"output\n$(M, H', W') = ({m}, H', W')$")
    fig = slab.frame(fig, ax, (-0.4, min(-0.9, mid - 2.5), 12.8, height + 0.3),
                     "Depthwise convolution: one filter per channel, channels never mix")
    return fig


def channel_sum_diagram(in_channels: int = 3, kernel_size: int = 3) -> Figure:
    """One filter of a normal convolution, taken apart: each input channel ``c``
    is filtered by the filter's slice ``c`` into a partial map, and the ``M``
    partial maps are added (with the bias) into one output map. The sum is what
    a depthwise convolution leaves out."""
    m = slab.check_channels(in_channels, "in_channels")
    k = slab.check_kernel(kernel_size)
    colors = [channel_color(i) for i in range(m)]
    row_h = 1.3
    height = m * row_h
    mid = height / 2
    fig, ax = slab.new_axes(10, max(4.2, 1.15 * m + 1.4))

    for i in range(m):
        yc = height - (i + 0.5) * row_h
        slab.stack(ax, 0.6, yc - 0.45, 0.9, [colors[i]], step=0.0)  # channel i
        ax.text(1.85, yc, r"$\star$", ha="center", va="center", fontsize=20, color=slab.EDGE)
        slab.stack(ax, 2.25, yc - 0.3, 0.6, [colors[i]], step=0.0, grid=k)  # slice i
        slab.arrow(ax, (2.95, yc), (3.65, yc), color=colors[i])
        slab.stack(ax, 3.75, yc - 0.4, 0.8, [colors[i]], step=0.0)  # partial map i
        if i > 0:
            ax.text(4.15, yc + row_h / 2, "$+$", ha="center", va="center", fontsize=22,
                    color=slab.EDGE, fontweight="bold")
        slab.arrow(ax, (4.65, yc), (6.0, mid), color=colors[i])
    slab.caption(ax, 1.05, -0.1, "channel $c$", size=12)
    slab.caption(ax, 2.55, -0.1, f"slice $c$ of\nthe filter, ${k} \\times {k}$", size=12)
    slab.caption(ax, 4.15, -0.1, "partial\nmap $c$", size=12)
    ax.text(6.45, mid, "$\\Sigma$\n+ bias", ha="center", va="center", fontsize=15,
            color=slab.EDGE)
    slab.arrow(ax, (6.95, mid), (7.75, mid))
    grey = slab.OUTPUT_GREYS[0]
    slab.stack(ax, 7.85, mid - 0.55, 1.1, [grey], step=0.0)
    slab.caption(ax, 8.4, mid - 0.8, "one output\nchannel", size=12)
    return slab.frame(fig, ax, (-0.2, min(-0.9, mid - 2.2), 10.2, height + 0.3),
                      f"One filter of a normal convolution: {m} partial maps, added")


def _receptive_field(size: int, k: int, padding: int, stride: int, dilation: int,
                     out_pos: tuple[int, int]) -> list[tuple[int, int]]:
    """The padded-input positions read by output ``out_pos``."""
    i0, j0 = out_pos[0] * stride, out_pos[1] * stride
    return [(i0 + a * dilation, j0 + b * dilation) for a in range(k) for b in range(k)]


def conv_settings_figure(input_size: int = 7, kernel_size: int = 3,
                         settings: Sequence[Mapping[str, int]] | None = None) -> Figure:
    """Which input positions one output reads, for several (padding, stride,
    dilation) settings.

    One panel a setting: the input grid (padding cells hatched), the positions
    read by the first output (blue) and by the last output (vermillion), and
    the output size in the title.
    """
    size = require_positive_int(input_size, "input_size")
    k = require_positive_int(kernel_size, "kernel_size")
    if settings is None:
        settings = (
            {"padding": 0, "stride": 1, "dilation": 1},
            {"padding": 1, "stride": 1, "dilation": 1},
            {"padding": 0, "stride": 2, "dilation": 1},
            {"padding": 0, "stride": 1, "dilation": 2},
        )
    if len(settings) == 0:
        raise ValueError("settings must hold at least one setting")
    parsed = []
    for s in settings:
        if not isinstance(s, Mapping):
            raise TypeError(f"each setting must be a dict, got {type(s).__name__}")
        unknown = set(s) - {"padding", "stride", "dilation"}
        if unknown:
            raise ValueError(f"unknown setting keys {sorted(unknown)}; "
                             "use padding, stride, dilation")
        p = require_int(s.get("padding", 0), "padding", minimum=0)
        st = require_positive_int(s.get("stride", 1), "stride")
        d = require_positive_int(s.get("dilation", 1), "dilation")
        try:
            parsed.append((p, st, d, conv_output_size(size, k, st, p, d)))
        except ValueError as error:
            raise ValueError(f"setting {dict(s)}: {error}") from None

    first, last = channel_color(2), channel_color(0)
    ncols = 2 if len(parsed) == 4 else min(len(parsed), 3)
    nrows = -(-len(parsed) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 3.5 * nrows + 0.5),
                             layout="constrained", squeeze=False)
    for ax in axes.flat[len(parsed):]:
        ax.set_visible(False)
    for ax, (p, st, d, out) in zip(axes.flat, parsed, strict=False):
        total = size + 2 * p
        bare_axes(ax, (-0.6, total - 0.4), (total - 0.4, -0.6))
        for i in range(total):
            for j in range(total):
                pad = not (p <= i < p + size and p <= j < p + size)
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1,
                                       facecolor="#F2F2F2" if pad else "white",
                                       hatch="//" if pad else None,
                                       edgecolor="#AAAAAA", lw=0.8))
        for pos, color, marker_offset in (((0, 0), first, -0.15), ((out - 1, out - 1), last, 0.15)):
            for i, j in _receptive_field(size, k, p, st, d, pos):
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor=color, alpha=0.35,
                                       edgecolor=color, lw=2))
                ax.plot(j + marker_offset, i + marker_offset, "o", color=color, ms=4)
        ax.set_title(f"padding {p}, stride {st}, dilation {d}\n"
                     f"output {out}x{out}", fontsize=12)
    handles = [Rectangle((0, 0), 1, 1, facecolor=first, alpha=0.5, edgecolor=first),
               Rectangle((0, 0), 1, 1, facecolor=last, alpha=0.5, edgecolor=last),
               Rectangle((0, 0), 1, 1, facecolor="#F2F2F2", hatch="//", edgecolor="#AAAAAA")]
    fig.legend(handles, ["read by the first output", "read by the last output",
                         "padding (zeros)"], loc="outside lower center", ncol=3, fontsize=11)
    fig.suptitle(f"A {k}x{k} kernel on a {size}x{size} input", fontsize=14)
    return fig


def _as_display_image(image: np.ndarray) -> np.ndarray:
    """(C, H, W) in [0, 1] to (H, W, C) for imshow."""
    return np.clip(np.moveaxis(image, 0, -1), 0.0, 1.0)


def _check_photo(image: np.ndarray, name: str = "image") -> np.ndarray:
    image = require_array(image, name, ndim=3)
    if image.shape[0] != 3:
        raise ValueError(f"{name} must have layout (3, H, W), got shape {image.shape}")
    return image


def filtered_photo_figure(image: np.ndarray, outputs: Mapping[str, np.ndarray], *,
                          symmetric: Sequence[str] = ()) -> Figure:
    """The photo ``image`` (3, H, W), large on the left, next to filter outputs
    in a grid of two columns.

    ``outputs`` maps a title to a 2-D map (shown in grey) or a (3, H, W) image
    (shown in colour, clipped to [0, 1]). Titles listed in ``symmetric`` (e.g.
    edge filters) share one diverging colour scale centred on zero, red
    positive and blue negative, drawn as a colour bar; its ends are the 98th
    percentile of their absolute values, so a few strong edges do not wash out
    the rest.
    """
    image = _check_photo(image)
    if not isinstance(outputs, Mapping) or len(outputs) == 0:
        raise ValueError("outputs must be a non-empty mapping of title -> array")
    panels = []
    for title, out in outputs.items():
        out = require_array(out, f"outputs[{title!r}]", ndim=(2, 3))
        if out.ndim == 3 and out.shape[0] != 3:
            raise ValueError(f"outputs[{title!r}] must be (H, W) or (3, H, W), got {out.shape}")
        panels.append((title, out))
    signed = [out for title, out in panels if title in symmetric and out.ndim == 2]
    lim = 1.0
    if signed:
        values = np.abs(np.concatenate([out.ravel() for out in signed]))
        lim = float(np.percentile(values, 98)) or float(values.max()) or 1.0
    rows = -(-len(panels) // 2)
    aspect = image.shape[1] / image.shape[2]
    panel_w = 2.3
    fig = plt.figure(figsize=(2 * panel_w + 2 * panel_w + (0.9 if signed else 0.2),
                              rows * (panel_w * aspect + 0.45) + 0.1), layout="constrained")
    grid = fig.add_gridspec(rows, 4, width_ratios=[1, 1, 1, 1])
    big = fig.add_subplot(grid[:, :2])
    big.imshow(_as_display_image(image), interpolation="nearest")
    big.set_title(f"photo, {image.shape[1]} x {image.shape[2]} pixels", fontsize=11)
    mappable, signed_axes = None, []
    for index, (title, out) in enumerate(panels):
        ax = fig.add_subplot(grid[index // 2, 2 + index % 2])
        if out.ndim == 3:
            ax.imshow(_as_display_image(out), interpolation="nearest")
        elif title in symmetric:
            mappable = ax.imshow(out, cmap="RdBu_r", vmin=-lim, vmax=lim,
                                 interpolation="nearest")
            signed_axes.append(ax)
        else:
            ax.imshow(out, cmap="gray", interpolation="nearest")
        ax.set_title(title, fontsize=11)
    for ax in fig.axes:
        ax.set_axis_off()
    if mappable is not None:
        bar = fig.colorbar(mappable, ax=signed_axes, shrink=0.9, extend="both")
        bar.set_label("response\n(red +, blue -)")
    return fig


def channels_filtered_figure(image: np.ndarray, filtered: np.ndarray, *,
                             filter_names: Sequence[str] | None = None) -> Figure:
    """Top row: the channels of ``image`` (C, H, W); bottom row: each channel
    after its own filter, ``filtered`` (C, H', W'), each in its channel's colour."""
    image = require_array(image, "image", ndim=3)
    filtered = require_array(filtered, "filtered", ndim=3)
    c = image.shape[0]
    if filtered.shape[0] != c:
        raise ValueError(f"filtered must have one map per channel of image ({c}), "
                         f"got shape {filtered.shape}")
    if c > slab.MAX_DRAWN_CHANNELS:
        raise ValueError(f"image must have at most {slab.MAX_DRAWN_CHANNELS} channels, got {c}")
    if filter_names is None:
        filter_names = [f"filter {i}" for i in range(c)]
    if len(filter_names) != c:
        raise ValueError(f"filter_names must name {c} filters, got {len(filter_names)}")
    names = ["red", "green", "blue"] if c == 3 else [f"channel {i}" for i in range(c)]
    fig, axes = plt.subplots(2, c, figsize=(2.6 * c, 4.3), layout="constrained",
                             squeeze=False)
    for i in range(c):
        for row, data, title in ((0, image[i], f"{names[i]} channel"),
                                 (1, filtered[i], f"{names[i]} ⋆ {filter_names[i]}")):
            ax = axes[row, i]
            ax.grid(False)
            ax.set_xticks([])
            ax.set_yticks([])
            lo, hi = float(np.min(data)), float(np.max(data))
            if row == 1 and lo < 0 < hi and abs(np.mean(data)) < 0.25 * np.std(data):
                # a signed response centred on zero (an edge filter): red-blue
                lim = float(np.percentile(np.abs(data), 99)) or max(-lo, hi)
                shown = ax.imshow(data, cmap="RdBu_r", vmin=-lim, vmax=lim,
                                  interpolation="nearest")
                fig.colorbar(shown, ax=ax, shrink=0.8, extend="both").set_label("response")
            else:
                ax.imshow(data, cmap=channel_cmap(i, to_white=True), vmin=lo,
                          vmax=hi if hi > lo else lo + 1, interpolation="nearest")
            ax.set_title(title, fontsize=11, color=channel_color(i))
    axes[0, 0].set_ylabel("input", fontsize=11)
    axes[1, 0].set_ylabel("depthwise output", fontsize=11)
    return fig


def block_diagonal_weight_figure(weight: np.ndarray, *, title: str | None = None) -> Figure:
    """A normal convolution's weight (N, M, k, k) as a grid of ``k x k`` tiles:
    tile (o, c) is the slice ``weight[o, c]`` that filter ``o`` applies to input
    channel ``c``. Non-zero weights are coloured by their signed value (red
    positive, blue negative, scale in the colour bar); exact zeros are light grey
    (legend). The weight of a depthwise convolution written as a normal one shows
    as tiles on the diagonal only."""
    weight = require_array(weight, "weight", ndim=4)
    n, c, kh, kw = weight.shape
    if c > slab.MAX_DRAWN_CHANNELS or n > 2 * slab.MAX_DRAWN_CHANNELS:
        raise ValueError(f"weight must have at most {slab.MAX_DRAWN_CHANNELS} input channels "
                         f"and {2 * slab.MAX_DRAWN_CHANNELS} filters to be drawn, got shape "
                         f"{weight.shape}")
    matrix = weight.transpose(0, 2, 1, 3).reshape(n * kh, c * kw)  # [o*kh + a, c*kw + b]
    scale = float(np.max(np.abs(matrix))) or 1.0
    cell = min(0.28, 4.2 / max(n * kh, c * kw))
    fig, ax = plt.subplots(figsize=(cell * c * kw + 3.4, cell * n * kh + 1.9),
                           layout="constrained")
    zero_color = "#D9D9D9"
    ax.imshow(np.ones((*matrix.shape, 3)) * np.array(to_rgb(zero_color)), aspect="equal",
              interpolation="nearest")
    shown = np.ma.masked_where(matrix == 0, matrix)
    image = ax.imshow(shown, cmap="RdBu_r", vmin=-scale, vmax=scale, aspect="equal",
                      interpolation="nearest")
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(True)
    ax.set_xticks(np.arange(-0.5, c * kw, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, n * kh, 1), minor=True)
    ax.grid(which="minor", color="white", lw=0.6)
    ax.tick_params(which="minor", length=0)
    for ch in range(1, c):
        ax.axvline(ch * kw - 0.5, color=slab.EDGE, lw=1.2)
    for o in range(1, n):
        ax.axhline(o * kh - 0.5, color=slab.EDGE, lw=1.2)
    ax.set_xticks([(ch + 0.5) * kw - 0.5 for ch in range(c)])
    ax.set_xticklabels([str(ch) for ch in range(c)], fontsize=10)
    for tick, ch in zip(ax.get_xticklabels(), range(c), strict=True):
        tick.set_color(channel_color(ch))
    ax.set_yticks([(o + 0.5) * kh - 0.5 for o in range(n)])
    ax.set_yticklabels([str(o) for o in range(n)], fontsize=10)
    ax.set_xlabel(f"input channel (one {kh}x{kw} slice each)")
    ax.set_ylabel("filter (output channel)")
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    bar.set_label("weight value")
    fig.legend(handles=[Rectangle((0, 0), 1, 1, facecolor=zero_color, edgecolor=slab.EDGE,
                                  lw=0.6, label="zero (never stored by a depthwise layer)")],
               loc="outside lower center", frameon=False, fontsize=10)
    zeros = int(np.sum(matrix == 0))
    ax.set_title(title or f"{zeros} of {matrix.size} weights are zero", fontsize=11)
    return fig
