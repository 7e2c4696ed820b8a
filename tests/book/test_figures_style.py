"""The book's colours and style."""

import matplotlib as mpl
import numpy as np
import pytest
from matplotlib.colors import to_rgb

from helpers.book.figures.style import (
    BOOK_STYLE,
    CHANNEL_COLORS,
    book_style,
    channel_cmap,
    channel_color,
    use_book_style,
)

pytestmark = pytest.mark.usefixtures("close_figures")


def test_channel_colors_cycle_and_validate():
    assert channel_color(0) == CHANNEL_COLORS[0]
    assert channel_color(np.int64(len(CHANNEL_COLORS))) == CHANNEL_COLORS[0]
    with pytest.raises(ValueError, match="index"):
        channel_color(-1)
    with pytest.raises(TypeError, match="index"):
        channel_color(1.0)


def test_channel_cmap_runs_from_black_to_the_channel_colour():
    plain, bright = channel_cmap(2), channel_cmap(2, to_white=True)
    assert plain(0.0)[:3] == (0.0, 0.0, 0.0)
    np.testing.assert_allclose(plain(1.0)[:3], to_rgb(channel_color(2)), atol=1e-2)
    np.testing.assert_allclose(bright(1.0)[:3], (1.0, 1.0, 1.0))
    np.testing.assert_allclose(bright(0.5)[:3], to_rgb(channel_color(2)), atol=1e-2)
    with pytest.raises(TypeError, match="to_white"):
        channel_cmap(0, to_white="yes")


def test_book_style_restores_only_its_own_settings():
    mpl.rcParams["font.size"] = 7.0
    interactive = mpl.rcParams["interactive"]
    with book_style():
        assert mpl.rcParams["font.size"] == BOOK_STYLE["font.size"]
    assert mpl.rcParams["font.size"] == 7.0
    assert mpl.rcParams["interactive"] == interactive
    use_book_style()
    assert mpl.rcParams["font.size"] == BOOK_STYLE["font.size"]


def test_annotate_bars_writes_each_height_above_its_bar():
    import matplotlib.pyplot as plt

    from helpers.book.figures.style import annotate_bars

    fig, ax = plt.subplots()
    bars = ax.bar([0, 1], [2.5, 7.25])
    annotate_bars(ax, bars, "{:.1f}x")
    texts = sorted((t.xy, t.get_text()) for t in ax.texts)
    assert texts == [((0.0, 2.5), "2.5x"), ((1.0, 7.25), "7.2x")]
    plt.close(fig)


def test_figure_png_is_twice_the_shown_size_with_legible_text():
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    from helpers.book.figures.style import (
        DENSITY,
        MIN_TEXT_PX,
        PHONE_COLUMN_PX,
        figure_png,
    )

    use_book_style()
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot([0, 1], [0, 1])
    note = ax.text(0.5, 0.5, "tiny", fontsize=5)
    ax.tick_params(labelsize=4)
    data, metadata = figure_png(fig)
    image = Image.open(io.BytesIO(data))
    assert image.size[0] >= DENSITY * metadata["width"] - 1
    assert image.size[1] >= DENSITY * metadata["height"] - 1
    smallest = float(image.info["Book-Min-Text-Px"])
    # Shown at a phone's column width, the smallest text is still legible.
    assert smallest * PHONE_COLUMN_PX / metadata["width"] >= MIN_TEXT_PX - 0.25
    assert note.get_fontsize() > 5
    assert min(t.get_fontsize() for t in ax.get_xticklabels() if t.get_text()) > 4
    plt.close(fig)


def test_legible_text_keeps_large_text_and_rejects_non_figures():
    import matplotlib.pyplot as plt

    from helpers.book.figures.style import legible_text

    fig, ax = plt.subplots(figsize=(3, 2))
    title = ax.set_title("large", fontsize=20)
    smallest = legible_text(fig)
    assert title.get_fontsize() == 20
    assert smallest > 0
    with pytest.raises(TypeError, match="fig"):
        legible_text(ax)
    plt.close(fig)
