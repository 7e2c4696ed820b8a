"""Tests of helpers.book.figures.counting: the chapter 1 figure."""

import pytest

from helpers.book.figures.counting import plot_counts_vs_channels
from helpers.book.figures.style import use_book_style

pytestmark = pytest.mark.usefixtures("close_figures")


def test_plot_counts_vs_channels_draws_one_labelled_line_per_kind():
    use_book_style()
    fig = plot_counts_vs_channels([8, 16, 32], {"normal": [1, 2, 3], "separable": [1, 1, 2]},
                                  title="t")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["normal", "separable"]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "t"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["8", "16", "32"]


@pytest.mark.parametrize(
    ("channels", "counts", "match"),
    [([], {"normal": []}, "channels"), ([1], {}, "counts"), ([1, 2], {"normal": [1]}, "normal")],
)
def test_plot_counts_vs_channels_rejects_bad_input(channels, counts, match):
    with pytest.raises(ValueError, match=match):
        plot_counts_vs_channels(channels, counts)


def test_running_example_weights_counts_each_layer():
    import matplotlib

    from helpers.book.figures.counting import running_example_weights

    fig = running_example_weights(3, 3, 3)
    text = "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))
    assert "= 81 weights" in text and "= 27 weights" in text and "= 9 weights" in text
    assert "27 + 9 = 36 weights, against 81" in text
    text = "\n".join(t.get_text() for t in running_example_weights(2, 4, 5).findobj(
        matplotlib.text.Text))
    assert "= 200 weights" in text and "50 + 8 = 58" in text
    with pytest.raises(ValueError, match="kernel_size"):
        running_example_weights(kernel_size=9)


def test_receptive_field_figure_lights_the_inputs_each_layer_reads():
    import numpy as np

    from helpers.book.figures.counting import receptive_field_figure
    from helpers.book.figures.style import CHANNEL_COLORS

    fig = receptive_field_figure(row=0, col=6, out_channel=1)
    images = [ax.get_images()[0].get_array() for ax in fig.axes]
    assert len(images) == 12  # 4 layers x 3 input channels

    def lit(image, c):
        return int(np.all(np.isclose(image, matplotlib_rgb(CHANNEL_COLORS[c])), axis=-1).sum())

    counts = [[lit(images[3 * layer + c], c) for c in range(3)] for layer in range(4)]
    # normal, depthwise (channel 1 only), pointwise (one pixel), separable
    assert counts == [[9, 9, 9], [0, 9, 0], [1, 1, 1], [9, 9, 9]]
    labels = " ".join(ax.get_ylabel() for ax in fig.axes)
    assert "81 = 27·3" in labels and "36 = 27 + 9" in labels
    with pytest.raises(ValueError, match="row"):
        receptive_field_figure(row=8)
    with pytest.raises(ValueError, match="out_channel"):
        receptive_field_figure(out_channel=True)


def matplotlib_rgb(color):
    from matplotlib.colors import to_rgb

    return to_rgb(color)
