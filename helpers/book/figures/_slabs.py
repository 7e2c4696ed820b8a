"""Drawing primitives of the book's convolution diagrams: stacks of slabs, one
slab a channel in its colour (:func:`helpers.book.figures.style.channel_color`),
labels and arrows. Used by :mod:`helpers.book.figures.convolution` and
:mod:`helpers.book.figures.separable`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from helpers.book.figures.style import channel_color
from helpers.core._validate import require_positive_int

EDGE = "#222222"
OUTPUT_GREYS = ("#4D4D4D", "#6E6E6E", "#8F8F8F", "#AFAFAF", "#5E5E5E", "#7F7F7F",
                "#9F9F9F", "#BFBFBF")
MAX_DRAWN_CHANNELS = 8


# ---------------------------------------------------------------------------
# Drawing primitives
# ---------------------------------------------------------------------------


def stack(ax: Axes, x: float, y: float, size: float, colors: Sequence[str], *,
           step: float, grid: int = 0, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """Draw ``len(colors)`` square slabs, the first in front, the rest receding
    up and to the right by ``step``. Returns the bounding box (x0, y0, x1, y1).

    ``grid`` draws a ``grid x grid`` lattice on the front slab (kernel cells).
    """
    n = len(colors)
    for i in reversed(range(n)):
        ax.add_patch(Rectangle((x + i * step, y + i * step), size, size, facecolor=colors[i],
                               edgecolor=EDGE, linewidth=1.0, alpha=alpha, zorder=2 + n - i))
    if grid > 1:
        for t in np.linspace(0, size, grid + 1)[1:-1]:
            ax.plot([x + t, x + t], [y, y + size], color="white", lw=0.8, zorder=3 + n)
            ax.plot([x, x + size], [y + t, y + t], color="white", lw=0.8, zorder=3 + n)
    extra = (n - 1) * step
    return x, y, x + size + extra, y + size + extra


def caption(ax: Axes, x: float, y: float, text: str, *, size: float = 13,
           va: str = "top", **kwargs) -> None:
    ax.text(x, y, text, ha="center", va=va, fontsize=size, color=EDGE, **kwargs)


def arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float],
           color: str = EDGE) -> None:
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.4,
                            "shrinkA": 2, "shrinkB": 2})


def frame(fig: Figure, ax: Axes, box: tuple[float, float, float, float],
          title: str) -> Figure:
    """Fit the axes to ``box`` (x0, y0, x1, y1), hide them and title the diagram."""
    x0, y0, x1, y1 = box
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=15)
    return fig


def check_channels(value: int, name: str) -> int:
    value = require_positive_int(value, name)
    if value > MAX_DRAWN_CHANNELS:
        raise ValueError(f"{name} must be at most {MAX_DRAWN_CHANNELS} to be drawn, got {value}")
    return value


def check_kernel(kernel_size: int) -> int:
    kernel_size = require_positive_int(kernel_size, "kernel_size")
    if kernel_size > 7:
        raise ValueError(f"kernel_size must be at most 7 to be drawn, got {kernel_size}")
    return kernel_size


def begin(in_channels: int, out_channels: int, kernel_size: int,
          figsize: tuple[float, float]) -> tuple[int, int, int, list[str], Figure, Axes]:
    """Check a diagram's arguments and open its axes: ``(M, N, k, channel colours, fig, ax)``."""
    m = check_channels(in_channels, "in_channels")
    n = check_channels(out_channels, "out_channels")
    k = check_kernel(kernel_size)
    return (m, n, k, [channel_color(i) for i in range(m)], *new_axes(*figsize))


def new_axes(width: float, height: float) -> tuple[Figure, Axes]:
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    ax.grid(False)
    return fig, ax


def filters_to_maps(ax: Axes, colors: Sequence[str], n: int, *, x: float, top: float,
                    size: float, step: float, gap: float, grid: int, map_x: float,
                    map_size: float, merge_at: tuple[float, float], font: float,
                    pad: float) -> float:
    """A column of ``n`` filters (stacks of ``colors``), each with an arrow to its grey
    output map and on to ``merge_at``. Returns the bottom of the column."""
    right = x + size + (len(colors) - 1) * step
    for j in range(n):
        grey = OUTPUT_GREYS[j % len(OUTPUT_GREYS)]
        y = top - (j + 1) * (size + (len(colors) - 1) * step) - j * gap
        yc = y + size / 2
        stack(ax, x, y, size, colors, step=step, grid=grid)
        ax.text(x - pad, yc, f"{j + 1}", ha="right", va="center", fontsize=font,
                color=grey, fontweight="bold")
        arrow(ax, (right + pad / 2, yc), (map_x - pad / 2, yc), color=grey)
        stack(ax, map_x, yc - map_size / 2, map_size, [grey], step=0.0)  # map j
        arrow(ax, (map_x + map_size + pad / 2, yc), merge_at, color="#777777")
    return top - n * (size + (len(colors) - 1) * step) - (n - 1) * gap
