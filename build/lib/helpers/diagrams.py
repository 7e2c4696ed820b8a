"""Diagrams of convolutions, drawn by code.

The three classic pictures (normal, depthwise and depthwise separable
convolution) are drawn as stacks of slabs, one slab a channel, so that the
reader can follow each input channel by its colour
(:data:`helpers.viz.CHANNEL_COLORS`) through every step. The module also makes
the figures of chapters 2 and 3: the sliding-window animation, padding, stride
and dilation, filtered photos, and the block-diagonal weight of a depthwise
convolution.

Every function returns a matplotlib :class:`~matplotlib.figure.Figure` (the
animation returns HTML) and checks its arguments.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle
from PIL import Image

from helpers._validate import check_array, check_int, check_positive_int
from helpers.viz import KIND_COLORS, channel_color

__all__ = [
    "normal_conv_diagram",
    "depthwise_conv_diagram",
    "separable_conv_diagram",
    "sliding_window_animation",
    "conv_settings_figure",
    "filtered_photo_figure",
    "channels_filtered_figure",
    "block_diagonal_weight_figure",
]

EDGE = "#222222"
OUTPUT_GREYS = ("#4D4D4D", "#6E6E6E", "#8F8F8F", "#AFAFAF", "#5E5E5E", "#7F7F7F",
                "#9F9F9F", "#BFBFBF")
MAX_DRAWN_CHANNELS = 8


# ---------------------------------------------------------------------------
# Drawing primitives
# ---------------------------------------------------------------------------


def _stack(ax: Axes, x: float, y: float, size: float, colors: Sequence[str], *,
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


def _label(ax: Axes, x: float, y: float, text: str, *, size: float = 13,
           va: str = "top", **kwargs) -> None:
    ax.text(x, y, text, ha="center", va=va, fontsize=size, color=EDGE, **kwargs)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float],
           color: str = EDGE) -> None:
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.4,
                            "shrinkA": 2, "shrinkB": 2})


def _finish(fig: Figure, ax: Axes, box: tuple[float, float, float, float],
            title: str) -> Figure:
    x0, y0, x1, y1 = box
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=15)
    return fig


def _check_channels(value: int, name: str) -> int:
    value = check_positive_int(value, name)
    if value > MAX_DRAWN_CHANNELS:
        raise ValueError(f"{name} must be at most {MAX_DRAWN_CHANNELS} to be drawn, got {value}")
    return value


def _check_kernel(kernel_size: int) -> int:
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    if kernel_size > 7:
        raise ValueError(f"kernel_size must be at most 7 to be drawn, got {kernel_size}")
    return kernel_size


def _new_axes(width: float, height: float) -> tuple[Figure, Axes]:
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    ax.grid(False)
    return fig, ax


# ---------------------------------------------------------------------------
# The three classic pictures
# ---------------------------------------------------------------------------


def normal_conv_diagram(in_channels: int = 3, out_channels: int = 4,
                        kernel_size: int = 3) -> Figure:
    """A normal convolution: an ``H x W x M`` input, ``N`` filters of
    ``k x k x M`` (each spans every input channel), an ``H' x W' x N`` output
    with one map per filter."""
    m = _check_channels(in_channels, "in_channels")
    n = _check_channels(out_channels, "out_channels")
    k = _check_kernel(kernel_size)
    colors = [channel_color(i) for i in range(m)]
    fig, ax = _new_axes(10, 4.6)

    # input
    _stack(ax, 0.0, 1.2, 3.0, colors, step=0.3)
    _label(ax, 1.6, 0.9, f"input\n$H \\times W \\times {m}$")

    # filters: one column of n small stacks, each giving one output map
    fsize, fstep = 0.75, 0.12
    gap = 0.45
    col_h = n * (fsize + (m - 1) * fstep) + (n - 1) * gap
    top = 2.7 + col_h / 2
    fx = 5.3
    fright = fx + fsize + (m - 1) * fstep
    msize, mx = 0.6, 7.7
    for j in range(n):
        grey = OUTPUT_GREYS[j % len(OUTPUT_GREYS)]
        fy = top - (j + 1) * (fsize + (m - 1) * fstep) - j * gap
        yc = fy + fsize / 2
        _stack(ax, fx, fy, fsize, colors, step=fstep, grid=k)
        ax.text(fx - 0.2, yc, f"{j + 1}", ha="right", va="center", fontsize=12,
                color=grey, fontweight="bold")
        _arrow(ax, (fright + 0.1, yc), (mx - 0.1, yc), color=grey)
        _stack(ax, mx, yc - msize / 2, msize, [grey], step=0.0)  # map j
        _arrow(ax, (mx + msize + 0.1, yc), (9.5, 2.65), color="#777777")
    bottom = top - col_h
    _label(ax, fx + 0.35, bottom - 0.3,
           f"$N = {n}$ filters\neach ${k} \\times {k} \\times {m}$")
    _label(ax, mx + msize / 2, bottom - 0.3, "one map\nper filter", size=12)
    ax.text(4.2, 2.7, "$*$", ha="center", va="center", fontsize=26, color=EDGE)

    # output: the n maps stacked, map 1 in front
    out_colors = [OUTPUT_GREYS[j % len(OUTPUT_GREYS)] for j in range(n)]
    _stack(ax, 9.6, 1.35, 2.6, out_colors, step=0.3)
    _label(ax, 11.0, 0.9, f"output\n$H' \\times W' \\times {n}$")

    ymin = min(bottom - 1.5, -0.4)
    ymax = max(top + 0.4, 5.5)
    fig = _finish(fig, ax, (-0.4, ymin, 13.6, ymax),
                  "Normal convolution: every filter reads every input channel")
    return fig


def depthwise_conv_diagram(in_channels: int = 3, kernel_size: int = 3) -> Figure:
    """A depthwise convolution: each of the ``M`` input channels gets its own
    ``k x k`` filter and gives one output map of the same colour."""
    m = _check_channels(in_channels, "in_channels")
    k = _check_kernel(kernel_size)
    colors = [channel_color(i) for i in range(m)]
    fig, ax = _new_axes(10, max(4.2, 1.15 * m + 1.2))

    row_h = 1.3
    height = m * row_h
    mid = height / 2

    _stack(ax, 0.0, mid - 1.5, 2.6, colors, step=0.3)
    _label(ax, 1.6, mid - 1.8, f"input\n$H \\times W \\times {m}$")

    for i in range(m):
        yc = height - (i + 0.5) * row_h
        _arrow(ax, (3.3, mid), (4.0, yc), color=colors[i])
        _stack(ax, 4.1, yc - 0.45, 0.9, [colors[i]], step=0.0)  # channel i
        ax.text(5.35, yc, "$*$", ha="center", va="center", fontsize=20, color=EDGE)
        _stack(ax, 5.75, yc - 0.3, 0.6, [colors[i]], step=0.0, grid=k)  # its filter
        _arrow(ax, (6.45, yc), (7.15, yc), color=colors[i])
        _stack(ax, 7.25, yc - 0.4, 0.8, [colors[i]], step=0.0)  # its output map
        _arrow(ax, (8.15, yc), (9.1, mid), color=colors[i])
    _label(ax, 4.55, -0.1, "channel $c$", size=12)
    _label(ax, 6.05, -0.1, f"filter $c$\n${k} \\times {k}$", size=12)
    _label(ax, 7.65, -0.1, "map $c$", size=12)

    _stack(ax, 9.2, mid - 1.4, 2.4, colors, step=0.3)
    _label(ax, 10.7, mid - 1.7, f"output\n$H' \\times W' \\times {m}$")
    fig = _finish(fig, ax, (-0.4, min(-0.9, mid - 2.5), 12.8, height + 0.3),
                  "Depthwise convolution: one filter per channel, channels never mix")
    return fig


def separable_conv_diagram(in_channels: int = 3, out_channels: int = 4,
                           kernel_size: int = 3) -> Figure:
    """A depthwise separable convolution: a depthwise step (one ``k x k`` filter
    per channel) then a pointwise step (``N`` filters of ``1 x 1 x M``)."""
    m = _check_channels(in_channels, "in_channels")
    n = _check_channels(out_channels, "out_channels")
    k = _check_kernel(kernel_size)
    colors = [channel_color(i) for i in range(m)]
    fig, ax = _new_axes(11.5, 4.8)

    # input
    _stack(ax, 0.0, 1.3, 2.4, colors, step=0.25)
    _label(ax, 1.45, 1.0, f"input\n$H \\times W \\times {m}$")

    # depthwise filters: m single k x k slabs in a column
    fsize, gap = 0.6, 0.25
    col_h = m * fsize + (m - 1) * gap
    top = 2.75 + col_h / 2
    ax.text(3.45, 2.75, "$*$", ha="center", va="center", fontsize=22, color=EDGE)
    for i in range(m):
        fy = top - (i + 1) * fsize - i * gap
        _stack(ax, 3.9, fy, fsize, [colors[i]], step=0.0, grid=k)
    _label(ax, 4.2, min(top - col_h, 1.0) - 0.25, f"${m}$ filters\n${k} \\times {k}$", size=12)

    # intermediate
    _arrow(ax, (4.65, 2.75), (5.35, 2.75))
    _stack(ax, 5.45, 1.5, 2.0, colors, step=0.25)
    _label(ax, 6.7, 1.0, f"$H' \\times W' \\times {m}$", size=12)

    # pointwise filters: n tiny stacks of m 1x1 cells, each giving one map
    psize, pstep, pgap = 0.32, 0.09, 0.28
    pcol_h = n * (psize + (m - 1) * pstep) + (n - 1) * pgap
    ptop = 2.75 + pcol_h / 2
    ax.text(8.75, 2.75, "$*$", ha="center", va="center", fontsize=22, color=EDGE)
    px, mx, msize = 9.35, 10.25, 0.4
    pright = px + psize + (m - 1) * pstep
    for j in range(n):
        grey = OUTPUT_GREYS[j % len(OUTPUT_GREYS)]
        py = ptop - (j + 1) * (psize + (m - 1) * pstep) - j * pgap
        yc = py + psize / 2
        _stack(ax, px, py, psize, colors, step=pstep)
        ax.text(px - 0.15, yc, f"{j + 1}", ha="right", va="center", fontsize=11,
                color=grey, fontweight="bold")
        _arrow(ax, (pright + 0.05, yc), (mx - 0.05, yc), color=grey)
        _stack(ax, mx, yc - msize / 2, msize, [grey], step=0.0)  # map j
        _arrow(ax, (mx + msize + 0.08, yc), (11.45, 2.75), color="#777777")
    pbottom = ptop - pcol_h
    _label(ax, 9.85, min(pbottom, 1.0) - 0.25,
           f"${n}$ filters\n$1 \\times 1 \\times {m}$", size=12)

    # output: the n maps stacked, map 1 in front
    out_colors = [OUTPUT_GREYS[j % len(OUTPUT_GREYS)] for j in range(n)]
    _stack(ax, 11.55, 1.5, 2.0, out_colors, step=0.25)
    _label(ax, 12.8, 1.0, f"output\n$H' \\times W' \\times {n}$")

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
    fig = _finish(fig, ax, (-0.3, ymin, 14.6, ymax),
                  "Depthwise separable convolution: filter each channel, then mix channels")
    return fig


# ---------------------------------------------------------------------------
# Chapter 2: the sliding window, padding / stride / dilation, filtered photos
# ---------------------------------------------------------------------------


def _fix_animation_ids(html: str, html_id: str) -> str:
    """Replace matplotlib's random per-call element id by ``html_id`` so that
    the HTML is the same on every run."""
    found = re.search(r'id="_anim_img([0-9a-f]+)"', html)
    if found is None:  # pragma: no cover - depends on matplotlib's template
        raise RuntimeError("could not find the animation's id in matplotlib's HTML")
    return html.replace(found.group(1), html_id)


def _quantize_frames(html: str, colors: int = 32) -> str:
    """Re-encode the animation's PNG frames with a palette of ``colors`` colours
    (the frames are flat diagrams, so this loses nothing visible and makes the
    HTML several times smaller)."""

    def shrink(match: re.Match) -> str:
        data = base64.b64decode(re.sub(r"\\\n|\s", "", match.group(2)))
        image = Image.open(io.BytesIO(data)).convert("RGB")
        small = image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT,
                               dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        small.save(buffer, format="PNG", optimize=True)
        encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
        return f'{match.group(1)}"data:image/png;base64,{encoded}"'

    return re.sub(r'(frames\[\d+\] = )"data:image/png;base64,(.*?)"', shrink, html,
                  flags=re.DOTALL)


def sliding_window_animation(input_size: int = 6, kernel_size: int = 3, *, seed: int = 0,
                             dpi: int = 80, interval: int = 700,
                             html_id: str = "slidingwindow") -> str:
    """The window of a convolution sliding over a small input, as self-contained
    JavaScript HTML (display it with ``IPython.display.HTML``).

    Left: the input of whole numbers with the current ``k x k`` window outlined;
    middle: the kernel; right: the output filled in up to the current position.
    The input and kernel come from ``numpy.random.default_rng(seed)``, and the
    element ids are fixed by ``html_id``, so the HTML is the same on every run.
    """
    size = check_int(input_size, "input_size", minimum=2)
    k = check_positive_int(kernel_size, "kernel_size")
    if k > size:
        raise ValueError(f"kernel_size ({k}) must not exceed input_size ({size})")
    if size > 10:
        raise ValueError(f"input_size must be at most 10 to keep the animation small, got {size}")
    dpi = check_int(dpi, "dpi", minimum=20)
    interval = check_positive_int(interval, "interval")
    if not isinstance(html_id, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", html_id):
        raise ValueError(f"html_id must be a plain identifier (letters, digits, _), "
                         f"got {html_id!r}")

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, size=(size, size))
    w = rng.integers(-1, 2, size=(k, k))
    out_size = size - k + 1
    y = np.array([[int(np.sum(x[i:i + k, j:j + k] * w)) for j in range(out_size)]
                  for i in range(out_size)])

    fig, axes = plt.subplots(1, 3, figsize=(6.4, 2.8), dpi=dpi,
                             gridspec_kw={"width_ratios": [size, k + 1.2, out_size]},
                             layout="constrained")
    cell_kw = {"ha": "center", "va": "center", "fontsize": 11}

    def grid(ax: Axes, values: np.ndarray, title: str, shown: np.ndarray | None = None):
        rows, cols = values.shape
        ax.set_xlim(-0.5, cols - 0.5)
        ax.set_ylim(rows - 0.5, -0.5)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for s in ax.spines.values():
            s.set_visible(False)
        ax.set_title(title, fontsize=11)
        ax.hlines(np.arange(rows + 1) - 0.5, -0.5, cols - 0.5, color="#BBBBBB", lw=1)
        ax.vlines(np.arange(cols + 1) - 0.5, -0.5, rows - 0.5, color="#BBBBBB", lw=1)
        texts = {}
        for i in range(rows):
            for j in range(cols):
                visible = shown is None or shown[i, j]
                texts[i, j] = ax.text(j, i, str(values[i, j]) if visible else "", **cell_kw)
        return texts

    grid(axes[0], x, f"input {size}x{size}")
    kernel_ax = axes[1]
    grid(kernel_ax, w, f"kernel {k}x{k}")
    kernel_ax.set_xlim(-0.5, k - 0.5 + 1.2)
    out_texts = grid(axes[2], y, f"output {out_size}x{out_size}",
                     shown=np.zeros_like(y, dtype=bool))

    window = Rectangle((-0.5, -0.5), k, k, facecolor=channel_color(2), alpha=0.25,
                       edgecolor=channel_color(2), lw=3)
    axes[0].add_patch(window)
    current = Rectangle((-0.5, -0.5), 1, 1, facecolor=channel_color(0), alpha=0.3,
                        edgecolor=channel_color(0), lw=3)
    axes[2].add_patch(current)
    caption = fig.suptitle(" ", fontsize=12)

    positions = [(i, j) for i in range(out_size) for j in range(out_size)]
    caption.set_text(f"output[{out_size - 1}, {out_size - 1}] = sum of window x kernel = -00")
    fig.canvas.draw()  # lay the figure out once, then freeze the layout (much faster)
    fig.set_layout_engine("none")

    def update(frame: int):
        i, j = positions[frame]
        window.set_xy((j - 0.5, i - 0.5))
        current.set_xy((j - 0.5, i - 0.5))
        if frame == 0:
            for t in out_texts.values():
                t.set_text("")
        for fi in range(frame + 1):
            a, b = positions[fi]
            out_texts[a, b].set_text(str(y[a, b]))
        caption.set_text(f"output[{i}, {j}] = sum of window x kernel = {y[i, j]}")
        return [window, current, caption, *out_texts.values()]

    anim = animation.FuncAnimation(fig, update, frames=len(positions), interval=interval,
                                   blit=False, repeat=True)
    with mpl.rc_context({"savefig.dpi": dpi, "animation.frame_format": "png"}):
        html = anim.to_jshtml(default_mode="loop")
    plt.close(fig)
    html = _fix_animation_ids(_quantize_frames(html), html_id)
    # matplotlib writes the frame <img> without alt text; describe the animation.
    alt = (f"Animation: a {k} by {k} window slides over a {size} by {size} input; at each "
           f"position the window times the kernel, summed, gives one value of the "
           f"{out_size} by {out_size} output.")
    return html.replace(f'<img id="_anim_img{html_id}"',
                        f'<img alt="{alt}" id="_anim_img{html_id}"', 1)


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
    size = check_positive_int(input_size, "input_size")
    k = check_positive_int(kernel_size, "kernel_size")
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
        p = check_int(s.get("padding", 0), "padding", minimum=0)
        st = check_positive_int(s.get("stride", 1), "stride")
        d = check_positive_int(s.get("dilation", 1), "dilation")
        span = d * (k - 1) + 1
        if size + 2 * p < span:
            raise ValueError(f"setting {dict(s)}: the dilated kernel ({span} wide) does not "
                             f"fit in the padded input ({size + 2 * p} wide)")
        parsed.append((p, st, d, (size + 2 * p - span) // st + 1))

    first, last = channel_color(2), channel_color(0)
    ncols = 2 if len(parsed) == 4 else min(len(parsed), 3)
    nrows = -(-len(parsed) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 3.5 * nrows + 0.5),
                             layout="constrained", squeeze=False)
    for ax in axes.flat[len(parsed):]:
        ax.set_visible(False)
    for ax, (p, st, d, out) in zip(axes.flat, parsed, strict=False):
        total = size + 2 * p
        ax.set_xlim(-0.6, total - 0.4)
        ax.set_ylim(total - 0.4, -0.6)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for sp in ax.spines.values():
            sp.set_visible(False)
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
    image = check_array(image, name, ndim=3)
    if image.shape[0] != 3:
        raise ValueError(f"{name} must have layout (3, H, W), got shape {image.shape}")
    return image


def filtered_photo_figure(image: np.ndarray, outputs: Mapping[str, np.ndarray], *,
                          symmetric: Sequence[str] = ()) -> Figure:
    """The photo ``image`` (3, H, W) next to filter outputs, one panel each.

    ``outputs`` maps a title to a 2-D map (shown in grey) or a (3, H, W) image
    (shown in colour, clipped to [0, 1]). Titles listed in ``symmetric`` are
    shown with a diverging colour map centred on zero (e.g. edge filters).
    """
    image = _check_photo(image)
    if not isinstance(outputs, Mapping) or len(outputs) == 0:
        raise ValueError("outputs must be a non-empty mapping of title -> array")
    panels = [("photo", image)]
    for title, out in outputs.items():
        out = check_array(out, f"outputs[{title!r}]", ndim=(2, 3))
        if out.ndim == 3 and out.shape[0] != 3:
            raise ValueError(f"outputs[{title!r}] must be (H, W) or (3, H, W), got {out.shape}")
        panels.append((title, out))
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.1 * nrows),
                             layout="constrained", squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (title, out) in zip(axes.flat, panels, strict=False):
        ax.grid(False)
        ax.set_xticks([])
        ax.set_yticks([])
        if out.ndim == 3:
            ax.imshow(_as_display_image(out), interpolation="nearest")
        elif title in symmetric:
            lim = float(np.max(np.abs(out))) or 1.0
            ax.imshow(out, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        else:
            ax.imshow(out, cmap="gray", interpolation="nearest")
        ax.set_title(title, fontsize=11)
    return fig


# ---------------------------------------------------------------------------
# Chapter 3: channels filtered separately, block-diagonal weight
# ---------------------------------------------------------------------------


def _channel_cmap(index: int) -> LinearSegmentedColormap:
    """Black to the channel's colour to white: intensity in the channel's hue."""
    return LinearSegmentedColormap.from_list(
        f"channel{index}", ["black", channel_color(index), "white"])


def channels_filtered_figure(image: np.ndarray, filtered: np.ndarray, *,
                             filter_names: Sequence[str] | None = None) -> Figure:
    """Top row: the channels of ``image`` (C, H, W); bottom row: each channel
    after its own filter, ``filtered`` (C, H', W'), each in its channel's colour."""
    image = check_array(image, "image", ndim=3)
    filtered = check_array(filtered, "filtered", ndim=3)
    c = image.shape[0]
    if filtered.shape[0] != c:
        raise ValueError(f"filtered must have one map per channel of image ({c}), "
                         f"got shape {filtered.shape}")
    if c > MAX_DRAWN_CHANNELS:
        raise ValueError(f"image must have at most {MAX_DRAWN_CHANNELS} channels, got {c}")
    if filter_names is None:
        filter_names = [f"filter {i}" for i in range(c)]
    if len(filter_names) != c:
        raise ValueError(f"filter_names must name {c} filters, got {len(filter_names)}")
    names = ["red", "green", "blue"] if c == 3 else [f"channel {i}" for i in range(c)]
    fig, axes = plt.subplots(2, c, figsize=(2.6 * c, 4.3), layout="constrained",
                             squeeze=False)
    for i in range(c):
        for row, data, title in ((0, image[i], f"{names[i]} channel"),
                                 (1, filtered[i], f"{names[i]} * {filter_names[i]}")):
            ax = axes[row, i]
            ax.grid(False)
            ax.set_xticks([])
            ax.set_yticks([])
            lo, hi = float(np.min(data)), float(np.max(data))
            ax.imshow(data, cmap=_channel_cmap(i), vmin=lo, vmax=hi if hi > lo else lo + 1,
                      interpolation="nearest")
            ax.set_title(title, fontsize=11, color=channel_color(i))
    axes[0, 0].set_ylabel("input", fontsize=11)
    axes[1, 0].set_ylabel("depthwise output", fontsize=11)
    return fig


def block_diagonal_weight_figure(weight: np.ndarray, *, title: str | None = None) -> Figure:
    """A normal convolution's weight (N, C, k, k) as a grid of ``k x k`` tiles:
    tile (o, c) is the slice ``weight[o, c]`` that filter ``o`` applies to input
    channel ``c``. Zero weights are white; the others take the colour of their
    input channel, darker for larger magnitude. The weight of a depthwise
    convolution written as a normal one shows as tiles on the diagonal only."""
    weight = check_array(weight, "weight", ndim=4)
    n, c, kh, kw = weight.shape
    if c > MAX_DRAWN_CHANNELS or n > 2 * MAX_DRAWN_CHANNELS:
        raise ValueError(f"weight must have at most {MAX_DRAWN_CHANNELS} input channels and "
                         f"{2 * MAX_DRAWN_CHANNELS} filters to be drawn, got shape {weight.shape}")
    matrix = weight.transpose(0, 2, 1, 3).reshape(n * kh, c * kw)  # [o*kh + a, c*kw + b]
    scale = float(np.max(np.abs(matrix))) or 1.0
    rgb = np.ones((*matrix.shape, 3))
    for ch in range(c):
        cols = slice(ch * kw, (ch + 1) * kw)
        strength = 0.3 + 0.7 * np.abs(matrix[:, cols]) / scale
        color = np.array(to_rgb(channel_color(ch)))
        tile = 1 - strength[..., None] * (1 - color)
        nonzero = matrix[:, cols] != 0
        rgb[:, cols][nonzero] = tile[nonzero]
    cell = min(0.28, 4.2 / max(n * kh, c * kw))
    fig, ax = plt.subplots(figsize=(cell * c * kw + 2.4, cell * n * kh + 1.5),
                           layout="constrained")
    ax.imshow(rgb, aspect="equal", interpolation="nearest")
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(True)
    ax.set_xticks(np.arange(-0.5, c * kw, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, n * kh, 1), minor=True)
    ax.grid(which="minor", color="#E4E4E4", lw=0.6)
    ax.tick_params(which="minor", length=0)
    for ch in range(1, c):
        ax.axvline(ch * kw - 0.5, color=EDGE, lw=1.2)
    for o in range(1, n):
        ax.axhline(o * kh - 0.5, color=EDGE, lw=1.2)
    ax.set_xticks([(ch + 0.5) * kw - 0.5 for ch in range(c)])
    ax.set_xticklabels([str(ch) for ch in range(c)], fontsize=10)
    for label, ch in zip(ax.get_xticklabels(), range(c), strict=True):
        label.set_color(channel_color(ch))
    ax.set_yticks([(o + 0.5) * kh - 0.5 for o in range(n)])
    ax.set_yticklabels([str(o) for o in range(n)], fontsize=10)
    ax.set_xlabel(f"input channel (one {kh}x{kw} slice each)")
    ax.set_ylabel("filter (output channel)")
    zeros = int(np.sum(matrix == 0))
    ax.set_title(title or f"{zeros} of {matrix.size} weights are zero", fontsize=11)
    return fig
