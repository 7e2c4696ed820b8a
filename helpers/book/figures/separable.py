"""Figures of chapters 4 and 5: pointwise and depthwise separable convolution.

Every function returns a :class:`matplotlib.figure.Figure` (in the book's style
once a notebook has called :func:`helpers.book.figures.style.use_book_style`), sized
to read well at the width of the book's text column, with the book's colours
for channels and convolution kinds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import (
    EngFormatter,
    FixedLocator,
    FormatStrFormatter,
    NullFormatter,
    ScalarFormatter,
)

from helpers.book.figures import _slabs as slab
from helpers.book.figures.style import CHANNEL_COLORS, KIND_COLORS, channel_cmap, channel_color
from helpers.core._validate import require_array

__all__ = [
    "separable_conv_diagram",
    "plot_cost_breakdown",
    "plot_grey_conversion",
    "plot_image_row",
    "plot_pointwise_matmul",
    "plot_separable_ratio",
    "kernel_slices_figure",
]


def _check_image(image: np.ndarray, name: str) -> np.ndarray:
    """A grey (H, W) or colour (3, H, W) image (the book's channels-first layout),
    returned as floats in matplotlib's layout: (H, W) or (H, W, 3)."""
    require_array(image, name, ndim=(2, 3))
    if image.ndim == 3:
        if image.shape[0] != 3:
            raise ValueError(f"{name} must have shape (H, W) or (3, H, W), got {image.shape}")
        return np.asarray(image, dtype=float).transpose(1, 2, 0)
    return np.asarray(image, dtype=float)


def _color_for_step(step: str, index: int) -> str:
    """The kind colour if the step name mentions a kind, else a channel colour."""
    lowered = step.lower()
    for kind, color in KIND_COLORS.items():
        if kind in lowered:
            return color
    return CHANNEL_COLORS[(index + 3) % len(CHANNEL_COLORS)]


def separable_conv_diagram(in_channels: int = 3, out_channels: int = 4,
                           kernel_size: int = 3) -> Figure:
    """A depthwise separable convolution: a depthwise step (one ``k x k`` filter
    per channel) then a pointwise step (``N`` filters of shape ``(M, 1, 1)``)."""
    m, n, k, colors, fig, ax = slab.begin(in_channels, out_channels, kernel_size, (11.5, 4.8))

    # input
    slab.stack(ax, 0.0, 1.3, 2.4, colors, step=0.25)
    slab.caption(ax, 1.45, 1.0, f"input\n$({m}, H, W)$")

    # depthwise filters: m single k x k slabs in a column
    fsize, gap = 0.6, 0.25
    col_h = m * fsize + (m - 1) * gap
    top = 2.75 + col_h / 2
    ax.text(3.45, 2.75, r"$\star$", ha="center", va="center", fontsize=22, color=slab.EDGE)
    for i in range(m):
        fy = top - (i + 1) * fsize - i * gap
        slab.stack(ax, 3.9, fy, fsize, [colors[i]], step=0.0, grid=k)
    slab.caption(ax, 4.2, min(top - col_h, 1.0) - 0.25, f"${m}$ filters\n$(1, {k}, {k})$",
                 size=12)

    # intermediate
    slab.arrow(ax, (4.65, 2.75), (5.35, 2.75))
    slab.stack(ax, 5.45, 1.5, 2.0, colors, step=0.25)
    slab.caption(ax, 6.7, 1.0, f"$({m}, H', W')$", size=12)

    # pointwise filters: n tiny stacks of m 1x1 cells, each giving one map
    psize, pstep, pgap = 0.32, 0.09, 0.28
    ptop = 2.75 + (n * (psize + (m - 1) * pstep) + (n - 1) * pgap) / 2
    ax.text(8.75, 2.75, r"$\star$", ha="center", va="center", fontsize=22, color=slab.EDGE)
    pbottom = slab.filters_to_maps(ax, colors, n, x=9.35, top=ptop, size=psize, step=pstep,
                                   gap=pgap, grid=0, map_x=10.25, map_size=0.4,
                                   merge_at=(11.45, 2.75), font=11, pad=0.15)
    slab.caption(ax, 9.85, min(pbottom, 1.0) - 0.25,
                 f"${n}$ filters\n$({m}, 1, 1)$", size=12)

    # output: the n maps stacked, map 1 in front
    out_colors = [slab.OUTPUT_GREYS[j % len(slab.OUTPUT_GREYS)] for j in range(n)]
    slab.stack(ax, 11.55, 1.5, 2.0, out_colors, step=0.25)
    slab.caption(ax, 12.8, 1.0, f"output\n$({n}, H', W')$")

    # boxes around the two steps
    ymin = min(top - col_h, pbottom, 1.0) - 1.25
    ymax = max(top, ptop, 4.6) + 1.05
    for x0, x1, kind, name in ((3.15, 8.3, "depthwise", "depthwise step"),
                               (8.45, 11.0, "pointwise", "pointwise step")):
        ax.add_patch(FancyBboxPatch((x0, ymin + 0.15), x1 - x0, ymax - ymin - 0.55,
                                    boxstyle="round,pad=0.02,rounding_size=0.15",
                                    facecolor="none", edgecolor=KIND_COLORS[kind],
                                    linewidth=1.8, linestyle="--", zorder=1))
        ax.text((x0 + x1) / 2, ymax - 0.55, name, ha="center", va="top", fontsize=13,
                color=KIND_COLORS[kind], fontweight="bold")
    fig = slab.frame(fig, ax, (-0.3, ymin, 14.6, ymax),
                     "Depthwise separable convolution: filter each channel, then mix channels")
    return fig


def plot_grey_conversion(rgb: np.ndarray, grey: np.ndarray,
                         weights: Sequence[float], *, title: str | None = None) -> Figure:
    """A colour image, its three channels with their weights, and the grey result.

    ``rgb`` has shape (3, H, W) with values in [0, 1]; ``grey`` (H, W) is the
    output of the 1x1 convolution with ``weights`` (one per channel). Each
    channel is drawn from black to its book colour.
    """
    rgb = _check_image(rgb, "rgb")
    grey = _check_image(grey, "grey")
    if rgb.ndim != 3:
        raise ValueError(f"rgb must have shape (3, H, W), got {rgb.shape}")
    if grey.ndim != 2 or grey.shape != rgb.shape[:2]:
        raise ValueError(f"grey must have shape {rgb.shape[:2]} (the image's H, W), "
                         f"got {grey.shape}")
    if len(weights) != 3:
        raise ValueError(f"weights must hold 3 numbers (one per channel), got {len(weights)}")
    names = ("red", "green", "blue")
    height, width = grey.shape
    fig, axes = plt.subplots(1, 5, figsize=(9.0, 0.6 + 8.6 / 5 * height / width))
    axes[0].imshow(np.clip(rgb, 0, 1))
    axes[0].set_title("input (3 channels)")
    for c in range(3):
        axes[c + 1].imshow(rgb[:, :, c], cmap=channel_cmap(c), vmin=0, vmax=1)
        sign = "+ " if c else ""
        axes[c + 1].set_title(f"{sign}{weights[c]:.3f} x {names[c]}",
                              color=channel_color(c))
    axes[4].imshow(grey, cmap="gray", vmin=0, vmax=1)
    axes[4].set_title("= output (1 channel)")
    for ax in axes:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig


def plot_pointwise_matmul(weight: np.ndarray, x: np.ndarray, y: np.ndarray, *,
                          title: str | None = None, width: int | None = None) -> Figure:
    """A pointwise convolution drawn as the matrix product ``y = weight @ x``.

    ``weight`` has shape (N, M), ``x`` shape (M, P) (the input's channels by
    its P = H*W pixels) and ``y`` shape (N, P). Each matrix is a heat map (red
    positive, blue negative, one shared scale) with its shape in the title;
    every column of ``x`` is one pixel: with the image's ``width`` given, the
    columns are labelled by the pixel's (row, column). A colour bar gives the scale.
    """
    require_array(weight, "weight", ndim=2)
    require_array(x, "x", ndim=2)
    require_array(y, "y", ndim=2)
    n, m = weight.shape
    if x.shape[0] != m:
        raise ValueError(f"x must have {m} rows (weight has {m} columns), got shape {x.shape}")
    if y.shape != (n, x.shape[1]):
        raise ValueError(f"y must have shape {(n, x.shape[1])}, got {y.shape}")
    limit = float(max(np.abs(a).max() for a in (weight, x, y))) or 1.0
    pixels = x.shape[1]
    fig = plt.figure(figsize=(8.5, 1.2 + 0.32 * max(n, m)))
    grid = fig.add_gridspec(1, 5, width_ratios=[m + 1, 1.0, pixels, 1.0, pixels])
    panels = [
        (0, weight, f"W ({n} x {m})", "in channel", "out channel"),
        (2, x, f"X ({m} x {pixels})", "pixel", "in channel"),
        (4, y, f"Y = W @ X ({n} x {pixels})", "pixel", "out channel"),
    ]
    axes = []
    for column, matrix, name, xlabel, ylabel in panels:
        ax = fig.add_subplot(grid[0, column])
        shown = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="equal")
        ax.set_title(name)
        ax.set_xlabel(xlabel if width is None or xlabel != "pixel" else "pixel (row, column)")
        ax.set_ylabel(ylabel)
        ax.set_xticks(range(matrix.shape[1]) if matrix.shape[1] <= 9 else [])
        if width and xlabel == "pixel" and matrix.shape[1] <= 9:
            ax.set_xticklabels([f"{q // width},{q % width}" for q in range(matrix.shape[1])],
                               fontsize=7, rotation=90)
        axes.append(ax)
        ax.set_yticks(range(matrix.shape[0]))
        ax.grid(False)
    for column, symbol in ((1, "@"), (3, "=")):
        ax = fig.add_subplot(grid[0, column])
        ax.text(0.5, 0.5, symbol, ha="center", va="center", fontsize=22)
        ax.set_axis_off()
    fig.colorbar(shown, ax=axes, shrink=0.9, label="value")
    if title:
        fig.suptitle(title)
    return fig


def plot_cost_breakdown(layers: Mapping[str, Mapping[str, object]], *,
                        title: str | None = None) -> Figure:
    """Stacked bars of parameters and multiply-adds, step by step, per layer.

    ``layers`` maps a layer's name to its steps, and each step's name to a pair
    ``(parameters, multiply_adds)`` or to a :class:`helpers.core.cost.Cost`. A step
    whose name contains a convolution kind (``"depthwise"``, ``"pointwise"``,
    ...) gets that kind's colour. Totals (and, for several steps, the sum they
    come from) are written at the end of each bar.
    """
    if not layers:
        raise ValueError("layers must map at least one layer name to its steps")
    pairs: dict[str, dict[str, tuple[float, float]]] = {}
    for name, steps in layers.items():
        if not steps:
            raise ValueError(f"layers[{name!r}] has no steps")
        pairs[name] = {}
        for step, cost in steps.items():
            pair = (cost.params, cost.macs) if hasattr(cost, "macs") else tuple(cost)
            if len(pair) != 2 or any(float(v) < 0 for v in pair[:2]):
                raise ValueError(f"layers[{name!r}][{step!r}] must be a Cost or a pair "
                                 f"(parameters, multiply_adds) of non-negative numbers, "
                                 f"got {cost!r}")
            pairs[name][step] = (float(pair[0]), float(pair[1]))
    step_names: list[str] = []
    for steps in layers.values():
        step_names += [s for s in steps if s not in step_names]
    colors = {s: _color_for_step(s, i) for i, s in enumerate(step_names)}
    names = list(layers)
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 1.2 + 0.75 * len(names)),
                             sharey=True)
    for which, (ax, label) in enumerate(zip(axes, ("parameters", "multiply-adds"),
                                            strict=True)):
        labelled: set[str] = set()
        for row, name in enumerate(names):
            left = 0.0
            total = sum(c[which] for c in pairs[name].values()) or 1.0
            for step, cost in pairs[name].items():
                value = cost[which]
                ax.barh(row, value, left=left, color=colors[step], height=0.6,
                        label=None if step in labelled else step)
                if len(pairs[name]) > 1 and value / total < 0.03:  # too thin to see: mark it
                    ax.plot(left + value / 2, row - 0.42, marker="v", markersize=8,
                            color=colors[step], clip_on=False)
                labelled.add(step)
                left += value
            text = f" {left:,.0f}"
            if len(pairs[name]) > 1:  # small steps may be too thin to see: name them
                text += " = " + " + ".join(f"{c[which]:,.0f}" for c in pairs[name].values())
            ax.text(left, row, text, va="center", fontsize=10)
        ax.set_xlabel(label)
        ax.set_yticks(range(len(names)), names)
        if which == 0:
            ax.invert_yaxis()  # first layer on top (the y axis is shared)
        ax.set_xlim(0, ax.get_xlim()[1] * 1.25)
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    if title:
        fig.suptitle(title)
    return fig


def plot_separable_ratio(channels: Sequence[int], ratios: Mapping[int, Sequence[float]], *,
                         measured: Mapping[int, Sequence[float]] | None = None,
                         title: str | None = None) -> Figure:
    """The separable-to-normal cost ratio against output channels, one line per kernel.

    ``ratios`` maps a kernel size ``k`` to the ratio ``1/N + 1/k**2`` at each
    entry of ``channels`` (N). ``measured`` (optional, same shape) adds the
    ratios counted on real layers as markers. A dashed line marks each
    floor ``1/k**2``, which the ratio approaches as N grows.
    """
    if len(channels) == 0:
        raise ValueError("channels must not be empty")
    if any(int(c) < 1 for c in channels):
        raise ValueError(f"channels must be positive, got {list(channels)}")
    if not ratios:
        raise ValueError("ratios must map at least one kernel size to values")
    for source, values_by_k in (("ratios", ratios), ("measured", measured or {})):
        for k, values in values_by_k.items():
            if len(values) != len(channels):
                raise ValueError(f"{source}[{k}] has {len(values)} values but channels "
                                 f"has {len(channels)}")
    palette = ("#0072B2", "#009E73", "#E69F00", "#CC79A7", "#D55E00", "#56B4E9")
    fig, ax = plt.subplots(figsize=(7.5, 4.3))
    for i, (k, values) in enumerate(sorted(ratios.items())):
        color = palette[i % len(palette)]
        ax.plot(channels, values, color=color, label=f"k = {k}:  1/N + 1/{k * k}")
        ax.axhline(1 / k**2, color=color, linestyle="--", linewidth=1)
        if measured and k in measured:
            ax.plot(channels, measured[k], "o", color=color, markersize=5,
                    markerfacecolor="white")
    if measured:
        ax.plot([], [], "o", color="#4D4D4D", markerfacecolor="white",
                label="counted on PyTorch layers")
    ax.plot([], [], "--", color="#4D4D4D", linewidth=1, label="floor 1/k²")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_major_locator(FixedLocator([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2]))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("output channels N")
    ax.set_ylabel("separable / normal (params and MACs)")
    ax.legend(loc="upper right", fontsize=10)
    ax.set_title(title or "How much of a normal convolution's cost is left")
    return fig


def plot_image_row(images: Sequence[np.ndarray], titles: Sequence[str], *,
                   title: str | None = None, symmetric: bool = False) -> Figure:
    """A row of images with titles: colour (3, H, W) in [0, 1] or grey (H, W).

    Grey images are scaled to their own range, or with ``symmetric=True``
    around zero on one red-blue colour map shared by every grey panel, with a
    colour bar (for signed filter responses: red positive, blue negative; the
    scale ends at the 99th percentile of the absolute values, so that a few
    extreme pixels do not wash out the rest). The row fits the book's text column.
    """
    if len(images) == 0:
        raise ValueError("images must not be empty")
    if len(titles) != len(images):
        raise ValueError(f"titles has {len(titles)} entries but images has {len(images)}")
    checked = [_check_image(image, f"images[{i}]") for i, image in enumerate(images)]
    panel = min(2.7, 8.8 / len(checked))  # fit the row into the text column
    aspect = checked[0].shape[0] / checked[0].shape[1]
    fig, axes = plt.subplots(1, len(checked), squeeze=False,
                             figsize=(panel * len(checked) + 0.2,
                                      panel * aspect + (0.9 if title else 0.5)))
    grey = [image for image in checked if image.ndim == 2]
    # one scale for every grey panel, ending at the 99th percentile, so that a few
    # extreme pixels (often at a zero-padded border) do not wash out the rest
    values = np.abs(np.concatenate([g.ravel() for g in grey])) if grey else np.ones(1)
    limit = float(np.percentile(values, 99)) or float(values.max()) or 1.0
    shown = None
    for ax, image, name in zip(axes[0], checked, titles, strict=True):
        if image.ndim == 3:
            ax.imshow(np.clip(image, 0, 1))
        elif symmetric:
            shown = ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit)
        else:
            ax.imshow(image, cmap="gray")
        ax.set_title(name)
        ax.set_axis_off()
    if shown is not None:
        fig.colorbar(shown, ax=axes[0].tolist(), shrink=0.8, extend="both", label="response")
    if title:
        fig.suptitle(title)
    return fig


def kernel_slices_figure(kernels: Mapping[str, np.ndarray], *,
                         multipliers: np.ndarray | None = None) -> Figure:
    """Normal-convolution kernels ``(N, M, k, k)`` drawn as slices, side by side.

    Each panel is a grid: row ``o`` (output channel), column ``c`` (input
    channel), tile ``W[o, c]`` (a ``k x k`` filter). One red-blue scale, centred on
    zero, serves every panel. ``multipliers`` (optional, ``(N, M)``) writes
    ``x P[o, c]`` under each tile of the first panel.
    """
    if not kernels:
        raise ValueError("kernels must map at least one title to a kernel")
    arrays = {t: np.asarray(require_array(w, f"kernels[{t!r}]", ndim=4), float)
              for t, w in kernels.items()}
    n, m, kh, kw = next(iter(arrays.values())).shape
    if any(w.shape != (n, m, kh, kw) for w in arrays.values()):
        raise ValueError("every kernel must have the same shape (N, M, k, k)")
    if multipliers is not None and np.shape(multipliers) != (n, m):
        raise ValueError(f"multipliers must have shape ({n}, {m}), got {np.shape(multipliers)}")
    limit = max(float(np.abs(w).max()) for w in arrays.values()) or 1.0
    fig, axes = plt.subplots(1, len(arrays), squeeze=False,
                             figsize=(max(2.6 * len(arrays) + 0.8, 4.6), 2.6 * n / m + 0.9))
    for ax, (title, w) in zip(axes[0], arrays.items(), strict=True):
        gap = np.full((n, m, kh + 1, kw + 1), np.nan)  # a blank line between tiles
        gap[:, :, :kh, :kw] = w
        grid = gap.transpose(0, 2, 1, 3).reshape(n * (kh + 1), m * (kw + 1))[:, :-1]
        image = ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks([c * (kw + 1) + (kw - 1) / 2 for c in range(m)],
                      [f"in {c}" for c in range(m)])
        ax.set_yticks([o * (kh + 1) + (kh - 1) / 2 for o in range(n)],
                      [f"out {o}" for o in range(n)])
        ax.tick_params(length=0)
        ax.grid(False)
        ax.set_title(title, fontsize=11)
        if multipliers is not None and ax is axes[0][0]:
            for o in range(n):
                for c in range(m):
                    ax.text(c * (kw + 1) + (kw - 1) / 2, o * (kh + 1) + kh,
                            f"x {multipliers[o, c]:+g}", ha="center", va="center", fontsize=7.5)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="weight")
    return fig
