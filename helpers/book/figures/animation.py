"""The sliding window of a convolution as a small, self-contained HTML animation
(chapter 2): the same HTML on every run, with alt text, and PNG frames reduced
to a palette so the page stays light.
"""

from __future__ import annotations

import base64
import io
import re

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from PIL import Image

from helpers.book.figures.style import bare_axes, channel_color
from helpers.core._validate import require_array, require_int, require_positive_int

__all__ = ["sliding_window_animation"]


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


# matplotlib's player asks a CDN for Font Awesome icons: the book loads nothing
# from the network, so its buttons show plain text symbols instead.
_ICONS = {"fa-minus": "\u2212", "fa-fast-backward": "|\u25c0\u25c0", "fa-step-backward": "|\u25c0",
          "fa-play fa-flip-horizontal": "\u25c0", "fa-pause": "\u275a\u275a", "fa-play": "\u25b6",
          "fa-step-forward": "\u25b6|", "fa-fast-forward": "\u25b6\u25b6|", "fa-plus": "+"}


def _offline_buttons(html: str) -> str:
    """Drop the CDN stylesheet and put text symbols in place of the icon font."""
    html = re.sub(r'<link rel="stylesheet"\s+href="https?://[^"]*font-awesome[^"]*">\s*', "", html)
    return re.sub(r'<i class="fa ([^"]+)"></i>',
                  lambda m: f'<span aria-hidden="true">{_ICONS.get(m.group(1), "")}</span>', html)


def _whole_square(values: np.ndarray, name: str) -> np.ndarray:
    """A square 2-D array of whole numbers, as int64."""
    values = require_array(values, name, ndim=2)
    if values.shape[0] != values.shape[1] or values.size == 0:
        raise ValueError(f"{name} must be a non-empty square array, got shape {values.shape}")
    if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
        raise ValueError(f"{name} must hold whole numbers, to be read off the animation")
    return np.round(values).astype(np.int64)


def sliding_window_animation(x: np.ndarray | None = None, kernel: np.ndarray | None = None, *,
                             input_size: int = 6, kernel_size: int = 3, seed: int = 0,
                             dpi: int = 200, interval: int = 700,
                             html_id: str = "slidingwindow") -> str:
    """The window of a convolution sliding over a small input, as self-contained
    JavaScript HTML (display it with ``IPython.display.HTML``).

    Left: the input with the current ``k x k`` window outlined; middle: the
    kernel; right: the output filled in up to the current position. Give the
    worked example itself as ``x`` (square, at most 10 x 10) and ``kernel``
    (square, whole numbers, as floats or ints); without them the input and kernel
    come from ``numpy.random.default_rng(seed)`` with ``input_size`` and
    ``kernel_size``. The frames are drawn at ``dpi`` and shown at the size of a
    100-dpi figure, so they stay sharp on high-density screens; the element ids
    are fixed by ``html_id``, so the HTML is the same on every run.
    """
    dpi = require_int(dpi, "dpi", minimum=20)
    interval = require_positive_int(interval, "interval")
    if not isinstance(html_id, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", html_id):
        raise ValueError(f"html_id must be a plain identifier (letters, digits, _), "
                         f"got {html_id!r}")
    if (x is None) != (kernel is None):
        raise ValueError("give both x and kernel, or neither")
    if x is None:
        size = require_int(input_size, "input_size", minimum=2)
        k = require_positive_int(kernel_size, "kernel_size")
        if k > size:
            raise ValueError(f"kernel_size ({k}) must not exceed input_size ({size})")
        if size > 10:
            raise ValueError(f"input_size must be at most 10 to keep the animation small, "
                             f"got {size}")
        rng = np.random.default_rng(seed)
        x = rng.integers(0, 4, size=(size, size))
        w = rng.integers(-1, 2, size=(k, k))
    else:
        x = _whole_square(x, "x")
        w = _whole_square(kernel, "kernel")
        size, k = x.shape[0], w.shape[0]
        if k > size:
            raise ValueError(f"kernel ({k}x{k}) must not be larger than x ({size}x{size})")
        if size > 10:
            raise ValueError(f"x must be at most 10 x 10 to keep the animation small, "
                             f"got {size} x {size}")
    out_size = size - k + 1
    y = np.array([[int(np.sum(x[i:i + k, j:j + k] * w)) for j in range(out_size)]
                  for i in range(out_size)])

    fig, axes = plt.subplots(1, 3, figsize=(6.4, 2.8), dpi=dpi,
                             gridspec_kw={"width_ratios": [size, k + 1.2, out_size]},
                             layout="constrained")
    cell_kw = {"ha": "center", "va": "center", "fontsize": 11}

    def grid(ax: Axes, values: np.ndarray, title: str, shown: np.ndarray | None = None):
        rows, cols = values.shape
        bare_axes(ax, (-0.5, cols - 0.5), (rows - 0.5, -0.5))
        ax.set_title(title, fontsize=11)
        # unclipped: the outer lines sit on the axes' edge and would lose half their width
        ax.hlines(np.arange(rows + 1) - 0.5, -0.5, cols - 0.5, color="#BBBBBB", lw=1,
                  clip_on=False)
        ax.vlines(np.arange(cols + 1) - 0.5, -0.5, rows - 0.5, color="#BBBBBB", lw=1,
                  clip_on=False)
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
                       edgecolor=channel_color(2), lw=3, clip_on=False)
    axes[0].add_patch(window)
    current = Rectangle((-0.5, -0.5), 1, 1, facecolor=channel_color(0), alpha=0.3,
                        edgecolor=channel_color(0), lw=3, clip_on=False)
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
    html = _offline_buttons(_fix_animation_ids(_quantize_frames(html), html_id))
    # matplotlib writes the frame <img> without alt text; describe the animation.
    alt = (f"Animation: a {k} by {k} window slides over a {size} by {size} input; at each "
           f"position the window times the kernel, summed, gives one value of the "
           f"{out_size} by {out_size} output.")
    # Shown at the size of a 100-dpi figure: the extra pixels make it sharp on HiDPI screens.
    width = round(6.4 * 100)
    return html.replace(f'<img id="_anim_img{html_id}"',
                        f'<img alt="{alt}" style="width: {width}px; max-width: 100%; '
                        f'height: auto" id="_anim_img{html_id}"', 1)
