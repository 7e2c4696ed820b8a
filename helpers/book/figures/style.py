"""The book's figure style and colours.

Figures have a white background and dark text, so they read the same in the
book's light and dark themes, and every channel of a tensor keeps one colour
across the whole book (:data:`CHANNEL_COLORS`), as every convolution kind does
(:data:`KIND_COLORS`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.patches import Rectangle

from helpers.core._validate import require_bool, require_int

#: One colour per input channel (red, green, blue for the seed's RGB input),
#: then more from a colour-blind-safe palette (Okabe and Ito).
CHANNEL_COLORS: tuple[str, ...] = (
    "#D55E00",  # vermillion (channel 0, "red")
    "#009E73",  # bluish green (channel 1, "green")
    "#0072B2",  # blue (channel 2, "blue")
    "#E69F00",  # orange
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)

#: Colours of the convolution kinds, used by every comparison plot.
KIND_COLORS: dict[str, str] = {
    "normal": "#4D4D4D",
    "depthwise": "#0072B2",
    "pointwise": "#E69F00",
    "separable": "#009E73",
}

BOOK_STYLE: dict[str, object] = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.figsize": (7.0, 4.0),
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "image.cmap": "gray",
    "figure.constrained_layout.use": True,
}


def use_book_style() -> None:
    """Apply the book's matplotlib style (call once at the top of a notebook)."""
    mpl.rcParams.update(BOOK_STYLE)


@contextlib.contextmanager
def book_style() -> Iterator[None]:
    """Apply the book style while a figure is drawn, then restore those settings.

    Only the style's own keys are saved and restored: ``plt.rc_context`` would
    restore *every* setting, including the ``interactive`` flag that Jupyter's
    inline backend sets when it starts, and later figures would not show.
    """
    saved = {key: mpl.rcParams[key] for key in BOOK_STYLE}
    mpl.rcParams.update(BOOK_STYLE)
    try:
        yield
    finally:
        mpl.rcParams.update(saved)


def bare_axes(ax: Axes, xlim: tuple[float, float] | None = None,
              ylim: tuple[float, float] | None = None) -> Axes:
    """Turn ``ax`` into a plain drawing area: no ticks, grid or frame; equal aspect
    and the given limits (``ylim`` from bottom to top; reversed for a top-down grid)."""
    if xlim is not None:
        ax.set_xlim(*xlim)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax


def channel_color(index: int) -> str:
    """The colour of channel ``index`` (cycles after eight channels)."""
    index = require_int(index, "index", minimum=0)
    return CHANNEL_COLORS[index % len(CHANNEL_COLORS)]


def channel_cmap(index: int, *, to_white: bool = False) -> LinearSegmentedColormap:
    """A colour map from black to the colour of channel ``index``: how much of the
    channel is there. ``to_white=True`` continues to white, for more contrast."""
    stops = ["black", channel_color(index)] + (["white"] if require_bool(to_white, "to_white")
                                               else [])
    return LinearSegmentedColormap.from_list(f"channel{index}", stops)


def annotate_bars(ax: Axes, bars: Iterable[Rectangle], fmt: str) -> None:
    """Write each bar's height above it, formatted with ``fmt`` (e.g. ``"{:.1f}x"``)."""
    for bar in bars:
        height = bar.get_height()
        ax.annotate(fmt.format(height), (bar.get_x() + bar.get_width() / 2, height),
                    xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                    fontsize=9)
