"""Tests of helpers.book.figures.convolution (and the separable diagram, drawn the same
way): every figure function returns a labelled Figure and checks its arguments."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from helpers.book.figures import convolution, separable
from helpers.book.figures.style import CHANNEL_COLORS

pytestmark = pytest.mark.usefixtures("close_figures")


def texts(fig: Figure) -> str:
    """All the text drawn on a figure: titles, labels, annotations."""
    found = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    return "\n".join(found)


def facecolors(fig: Figure) -> set[str]:
    return {matplotlib.colors.to_hex(p.get_facecolor(), keep_alpha=False)
            for p in fig.findobj(Rectangle)}


@pytest.mark.parametrize("make", [convolution.normal_conv_diagram,
                                  convolution.depthwise_conv_diagram,
                                  separable.separable_conv_diagram])
def test_classic_diagrams_without_arguments(make):
    fig = make()
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_title()
    text = texts(fig)
    assert "input" in text and "output" in text
    # the three input channels keep the book's channel colours
    assert {c.lower() for c in CHANNEL_COLORS[:3]} <= facecolors(fig)


def test_normal_diagram_labels_its_shapes():
    text = texts(convolution.normal_conv_diagram(in_channels=3, out_channels=5, kernel_size=3))
    assert "N = 5" in text and "(3, 3, 3)" in text and "(5, H', W')" in text
    assert "(M, H, W) = (3, H, W)" in text  # the book's (M, H, W) notation, not H x W x M


def test_depthwise_diagram_has_one_filter_per_channel():
    fig = convolution.depthwise_conv_diagram(in_channels=4, kernel_size=5)
    text = texts(fig)
    assert "(4, H, W)" in text and "5 \\times 5" in text
    assert CHANNEL_COLORS[3].lower() in facecolors(fig)


def test_channel_sum_diagram_adds_the_partial_maps():
    fig = convolution.channel_sum_diagram(in_channels=4, kernel_size=5)
    text = texts(fig)
    assert text.count("$+$") == 3  # M - 1 plus signs between M partial maps
    assert "partial" in text and "5 \\times 5" in text and "4 partial maps" in text
    assert CHANNEL_COLORS[3].lower() in facecolors(fig)
    with pytest.raises(ValueError, match="in_channels"):
        convolution.channel_sum_diagram(in_channels=9)


def test_separable_diagram_shows_both_steps():
    text = texts(separable.separable_conv_diagram(in_channels=2, out_channels=6, kernel_size=3))
    assert "depthwise step" in text and "pointwise step" in text
    assert "(2, 1, 1)" in text and "(6, H', W')" in text


@pytest.mark.parametrize(("kwargs", "error", "name"), [
    ({"in_channels": 0}, ValueError, "in_channels"),
    ({"in_channels": 9}, ValueError, "in_channels"),
    ({"in_channels": 2.0}, TypeError, "in_channels"),
    ({"out_channels": 0}, ValueError, "out_channels"),
    ({"kernel_size": 8}, ValueError, "kernel_size"),
    ({"kernel_size": "3"}, TypeError, "kernel_size"),
])
def test_diagrams_validate_arguments(kwargs, error, name):
    for make in (convolution.normal_conv_diagram, separable.separable_conv_diagram):
        with pytest.raises(error, match=name):
            make(**kwargs)
    if "out_channels" not in kwargs:
        with pytest.raises(error, match=name):
            convolution.depthwise_conv_diagram(**kwargs)


def test_conv_settings_figure_titles_give_output_sizes():
    fig = convolution.conv_settings_figure(input_size=7, kernel_size=3)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["padding 0, stride 1, dilation 1\noutput 5x5",
                      "padding 1, stride 1, dilation 1\noutput 7x7",
                      "padding 0, stride 2, dilation 1\noutput 3x3",
                      "padding 0, stride 1, dilation 2\noutput 3x3"]
    assert "padding (zeros)" in texts(fig)


def test_conv_settings_figure_validates_settings():
    with pytest.raises(ValueError, match="settings"):
        convolution.conv_settings_figure(settings=[])
    with pytest.raises(ValueError, match="unknown"):
        convolution.conv_settings_figure(settings=[{"pad": 1}])
    with pytest.raises(ValueError, match="kernel spans 7 pixels"):
        convolution.conv_settings_figure(input_size=3, settings=[{"dilation": 3}])
    with pytest.raises(ValueError, match="stride"):
        convolution.conv_settings_figure(settings=[{"stride": 0}])


@pytest.mark.parametrize(("size", "k", "setting"), [
    (7, 3, {"padding": 0}), (7, 3, {"padding": 1, "stride": 2}), (9, 3, {"dilation": 3}),
    (6, 2, {"padding": 1, "stride": 3}),
])
def test_marked_windows_lie_inside_the_padded_input(size, k, setting):
    fig = convolution.conv_settings_figure(input_size=size, kernel_size=k, settings=[setting])
    ax = fig.axes[0]
    total = size + 2 * setting.get("padding", 0)
    marked = [r for r in ax.patches if r.get_alpha() == 0.35]
    assert len(marked) == 2 * k * k  # the first and the last output's windows
    for r in marked:
        assert -0.5 <= r.get_x() and r.get_x() + 1 <= total - 0.5
        assert -0.5 <= r.get_y() and r.get_y() + 1 <= total - 0.5


def photo(shape=(3, 12, 16), seed=0):
    return np.random.default_rng(seed).random(shape)


def test_filtered_photo_figure():
    fig = convolution.filtered_photo_figure(photo(), {"blur": photo(), "edges": photo()[0] - 0.5},
                                         symmetric=("edges",))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "photo, 12 x 16 pixels" and titles[1:3] == ["blur", "edges"]
    assert len(fig.axes) == 4  # no empty panel; the fourth axes is the colour bar
    assert fig.axes[3].get_ylabel().startswith("response")
    edges = fig.axes[2].get_images()[0]
    low, high = edges.get_clim()
    assert -low == high > 0  # centred on zero
    with pytest.raises(ValueError, match="outputs"):
        convolution.filtered_photo_figure(photo(), {})
    with pytest.raises(ValueError, match="image"):
        convolution.filtered_photo_figure(photo((2, 5, 5)), {"a": photo()})
    with pytest.raises(ValueError, match="outputs"):
        convolution.filtered_photo_figure(photo(), {"a": photo((4, 5, 5))})


def test_channels_filtered_figure():
    fig = convolution.channels_filtered_figure(photo(), photo((3, 10, 14)),
                                            filter_names=["a", "b", "c"])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["red channel", "green channel", "blue channel"]
    assert titles[3:] == ["red ⋆ a", "green ⋆ b", "blue ⋆ c"]
    assert fig.axes[0].get_ylabel() == "input"
    # a signed response centred on zero (an edge filter) gets red-blue and a colour bar
    signed = photo((3, 10, 14))
    signed[1] = np.linspace(-1, 1, 140).reshape(10, 14)
    fig = convolution.channels_filtered_figure(photo(), signed, filter_names=["a", "b", "c"])
    assert fig.axes[4].get_images()[0].get_cmap().name == "RdBu_r"
    assert fig.axes[3].get_images()[0].get_cmap().name != "RdBu_r"
    assert len(fig.axes) == 7 and fig.axes[6].get_ylabel() == "response"
    with pytest.raises(ValueError, match="filtered"):
        convolution.channels_filtered_figure(photo(), photo((2, 10, 14)))
    with pytest.raises(ValueError, match="filter_names"):
        convolution.channels_filtered_figure(photo(), photo(), filter_names=["a"])
    with pytest.raises(TypeError, match="image"):
        convolution.channels_filtered_figure([[1.0]], photo())


def test_block_diagonal_weight_figure_counts_zeros():
    rng = np.random.default_rng(0)
    weight = np.zeros((3, 3, 3, 3))
    for c in range(3):
        weight[c, c] = rng.standard_normal((3, 3))
    fig = convolution.block_diagonal_weight_figure(weight)
    ax = fig.axes[0]
    assert ax.get_title() == "54 of 81 weights are zero"
    assert ax.get_xlabel() and ax.get_ylabel()
    signed = ax.get_images()[1]
    values = signed.get_array()
    assert values.shape == (9, 9)
    assert values.mask[0:3, 3:9].all()  # zeros show the grey background, not a value
    np.testing.assert_array_equal(values[0:3, 0:3], weight[0, 0])  # the sign is kept
    low, high = signed.get_clim()
    assert low == -high == -np.abs(weight).max()
    assert fig.axes[1].get_ylabel() == "weight value"  # the colour bar
    assert "zero" in fig.legends[0].get_texts()[0].get_text()
    with pytest.raises(ValueError, match="weight"):
        convolution.block_diagonal_weight_figure(np.zeros((3, 3, 3)))


@pytest.mark.parametrize("make", [convolution.normal_conv_diagram,
                                  separable.separable_conv_diagram])
def test_each_filter_has_its_own_output_map(make):
    """Every filter draws one map in its own grey, and the output stack repeats it."""
    fig = make(in_channels=3, out_channels=5, kernel_size=3)
    counts: dict[str, int] = {}
    for p in fig.findobj(Rectangle):
        key = matplotlib.colors.to_hex(p.get_facecolor(), keep_alpha=False).upper()
        counts[key] = counts.get(key, 0) + 1
    greys = {c: n for c, n in counts.items() if c[1:3] == c[3:5] == c[5:7] != "FF"}
    assert sorted(greys.values()) == [2] * 5  # five greys: one map and one output slab each
