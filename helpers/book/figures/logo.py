"""The book's logo and favicon, drawn by code.

Three channels of an input tensor, in the book's channel colours, stacked like
the slabs of the chapters' figures; on the front one a 3x3 filter, the one a
depthwise convolution gives each channel; beside them a 1x1 filter in the
pointwise colour, which mixes them. The same shapes make the SVG logo, the SVG
favicon (thicker lines for 16 pixels) and a PNG of the logo for social cards.

The book's ``_static`` folder holds the files; regenerate them with
``python -m helpers.book.figures.logo`` (tests check that they are what this module
draws).
"""

from __future__ import annotations

import sys
from pathlib import Path

from helpers.book.figures.style import CHANNEL_COLORS, KIND_COLORS
from helpers.core._validate import require_bool, require_int

#: The drawing's coordinate system: a square of this side, y pointing down.
SIZE = 64
#: The files :func:`write_all` writes, by name.
FILES = ("logo.svg", "favicon.svg", "logo.png")

_SLAB = 32  # side of a channel's slab
_STEP = 8  # offset between slabs
_EDGE = "#FFFFFF"  # white edges separate the slabs on light and dark pages


def _shapes(favicon: bool) -> list[tuple[str, float, float, float, float, str, float]]:
    """(kind, x, y, width, height, colour, line width) of every shape, back to front."""
    line = 2.5 if favicon else 1.5
    shapes = []
    for i, color in enumerate(reversed(CHANNEL_COLORS[:3])):  # blue at the back
        x = 4 + (2 - i) * _STEP
        y = 4 + i * _STEP
        shapes.append(("rect", x, y, _SLAB, _SLAB, color, line))
    front_x, front_y = 4.0, 4.0 + 2 * _STEP
    cell = 6.0 if favicon else 5.0
    for row in range(3):  # the 3x3 depthwise filter on the front channel
        for col in range(3):
            shapes.append(("cell", front_x + 4 + col * cell, front_y + 4 + row * cell,
                           cell, cell, "#FFFFFF", line * 0.6))
    # the 1x1 pointwise filter: one column through the three channels
    shapes.append(("rect", SIZE - 10, 26, 6, 34, KIND_COLORS["pointwise"], line))
    return shapes


def logo_svg(favicon: bool = False) -> str:
    """The logo (or, with ``favicon=True``, the favicon) as SVG text."""
    require_bool(favicon, "favicon")
    title = "Depthwise separable convolution book" + (" favicon" if favicon else " logo")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SIZE} {SIZE}" '
        f'width="{SIZE}" height="{SIZE}" role="img" aria-label="{title}">',
        f"<title>{title}</title>",
    ]
    for kind, x, y, w, h, color, line in _shapes(favicon):
        if kind == "cell":
            parts.append(f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" '
                         f'fill="none" stroke="{color}" stroke-width="{line:g}"/>')
        else:
            parts.append(f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="2" '
                         f'fill="{color}" stroke="{_EDGE}" stroke-width="{line:g}"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def logo_png(pixels: int = 512) -> bytes:
    """The logo as a PNG of ``pixels`` x ``pixels`` on a white square (social cards)."""
    pixels = require_int(pixels, "pixels", minimum=16)
    import io

    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch, Rectangle

    fig = Figure(figsize=(pixels / 100, pixels / 100), dpi=100, facecolor="white", layout="none")
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, SIZE)
    ax.set_ylim(SIZE, 0)
    ax.set_axis_off()
    scale = pixels / SIZE * 72 / 100  # SVG units to points
    for kind, x, y, w, h, color, line in _shapes(favicon=False):
        if kind == "cell":
            patch = Rectangle((x, y), w, h, fill=False, edgecolor=color, linewidth=line * scale)
        else:
            patch = FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=2",
                                   facecolor=color, edgecolor=_EDGE, linewidth=line * scale)
        ax.add_patch(patch)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, facecolor="white",
                metadata={"Software": None})
    return buffer.getvalue()


def write_all(folder: str | Path) -> list[Path]:
    """Write :data:`FILES` into ``folder`` (created if missing); return their paths."""
    if not isinstance(folder, (str, Path)):
        raise TypeError(f"folder must be a str or Path, got {type(folder).__name__}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    contents = {"logo.svg": logo_svg(), "favicon.svg": logo_svg(favicon=True),
                "logo.png": logo_png()}
    paths = []
    for name in FILES:
        path = folder / name
        data = contents[name]
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            path.write_bytes(data)
        paths.append(path)
    return paths


if __name__ == "__main__":  # python -m helpers.book.figures.logo [folder]
    target = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "_static"
    for written in write_all(target):
        print(written)
