"""The book's figure style and the few plots chapter 1 needs.

Figures have a white background and dark text, so they read the same in the
book's light and dark themes, and every channel of a tensor keeps one colour
across the whole book (:data:`CHANNEL_COLORS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

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


def channel_color(index: int) -> str:
    """The colour of channel ``index`` (cycles after eight channels)."""
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError(f"index must be a non-negative int, got {index!r}")
    return CHANNEL_COLORS[index % len(CHANNEL_COLORS)]


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
        ax.plot(
            channels,
            values,
            marker="o",
            label=kind,
            color=KIND_COLORS.get(kind),
        )
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
