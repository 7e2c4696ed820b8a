"""The book's figure style and colours.

Figures have a white background and dark text, so they read the same in the
book's light and dark themes, and every channel of a tensor keeps one colour
across the whole book (:data:`CHANNEL_COLORS`), as every convolution kind does
(:data:`KIND_COLORS`).

Sharp and legible at every width: in a notebook, :func:`use_book_style` makes
every figure a PNG at :data:`DENSITY` times its displayed size (sharp on
high-density screens; the output's width and height say the displayed size),
and raises any text that would be smaller than :data:`MIN_TEXT_PX` CSS pixels
when the figure is shrunk to a phone's column (:data:`PHONE_COLUMN_PX`). The
PNG records the smallest text size at full size (``Book-Min-Text-Px``), which
the browser tests check at phone width.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text

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


#: PNG pixels per displayed (CSS) pixel: sharp on "retina" screens.
DENSITY = 2
#: The width a figure is shown at on a phone: a 390 px screen less the page's
#: margins (the browser tests measure it).
PHONE_COLUMN_PX = 358
#: The smallest text a figure may show there, in CSS pixels.
MIN_TEXT_PX = 7.0


def _visible_texts(fig: Figure) -> list[Text]:
    return [t for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and t.figure is fig]


def legible_text(fig: Figure, column_px: float = PHONE_COLUMN_PX,
                 min_px: float = MIN_TEXT_PX) -> float:
    """Raise every text of ``fig`` that would be smaller than ``min_px`` CSS
    pixels once the figure is shrunk to ``column_px`` wide; return the smallest
    text size at full size, in CSS pixels (points at the figure's dpi)."""
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, not {type(fig).__name__}")
    width_px = fig.get_figwidth() * fig.dpi * 1.05  # tight bounding box: a little wider
    scale = min(1.0, column_px / width_px)
    floor_pt = min_px / scale * 72 / fig.dpi
    fig.canvas.draw()  # the tick labels exist once drawn
    for ax in fig.axes:
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            sizes = [t.get_fontsize() for t in axis.get_ticklabels(which="both")
                     if t.get_visible() and t.get_text().strip()]
            if sizes and min(sizes) < floor_pt:
                ax.tick_params(axis=name, which="both", labelsize=floor_pt)
    for text in _visible_texts(fig):
        if text.get_fontsize() < floor_pt:
            text.set_fontsize(floor_pt)
    sizes = [t.get_fontsize() for t in _visible_texts(fig)]
    return min(sizes) * fig.dpi / 72 if sizes else float("inf")


def figure_png(fig: Figure) -> tuple[bytes, dict[str, int]]:
    """``fig`` as the notebook shows it: a PNG at :data:`DENSITY` times its
    displayed size, with legible text (:func:`legible_text`), and the displayed
    width and height (the output's metadata)."""
    from PIL import Image, PngImagePlugin

    smallest = legible_text(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi * DENSITY, bbox_inches="tight")
    image = Image.open(io.BytesIO(buffer.getvalue()))
    info = PngImagePlugin.PngInfo()
    if smallest != float("inf"):
        info.add_text("Book-Min-Text-Px", f"{smallest:.2f}")
    out = io.BytesIO()
    image.save(out, format="png", pnginfo=info, optimize=True)
    width, height = image.size
    return out.getvalue(), {"width": round(width / DENSITY), "height": round(height / DENSITY)}


def use_book_style() -> None:
    """Apply the book's matplotlib style (call once at the top of a notebook);
    in IPython, also show every figure with :func:`figure_png`."""
    mpl.rcParams.update(BOOK_STYLE)
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: only the style
        return
    shell = get_ipython()
    if shell is None:
        return
    if "inline" in str(mpl.get_backend()):
        # Importing the inline backend registers its own PNG formatter: first.
        import matplotlib_inline.backend_inline  # noqa: F401

    formatters = shell.display_formatter.formatters
    formatters["image/png"].for_type(Figure, figure_png)
    for mime in ("image/svg+xml", "image/jpeg", "application/pdf"):
        formatters[mime].pop(Figure, None)


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
