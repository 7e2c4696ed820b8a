"""Tests of the chapter 4-5 figures: each returns a labelled Figure, uses the
book's colours, and refuses bad input with a message naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from helpers.book.figures.separable import (
    plot_cost_breakdown,
    plot_grey_conversion,
    plot_image_row,
    plot_pointwise_matmul,
    plot_separable_ratio,
)
from helpers.book.figures.style import KIND_COLORS, channel_color, use_book_style
from helpers.core.cost import Cost

pytestmark = pytest.mark.usefixtures("close_figures")


@pytest.fixture(autouse=True)
def book_style():
    use_book_style()


def rgb_image(h=6, w=9, seed=0):
    return np.random.default_rng(seed).random((3, h, w))


# ----------------------------------------------------------------------------- grey


def test_grey_conversion_draws_five_panels_with_channel_colours():
    rgb = rgb_image()
    weights = (0.299, 0.587, 0.114)
    grey = np.tensordot(weights, rgb, axes=1)
    fig = plot_grey_conversion(rgb, grey, weights, title="colour to grey")
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert len(axes) == 5
    titles = [ax.get_title() for ax in axes]
    assert "0.299" in titles[1] and "0.587" in titles[2] and "0.114" in titles[3]
    for c in range(3):
        assert to_hex(axes[c + 1].title.get_color()) == channel_color(c).lower()
    # the last panel shows exactly the grey image it was given
    np.testing.assert_allclose(axes[4].images[0].get_array(), grey)
    assert fig.get_suptitle() == "colour to grey"
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    ("rgb", "grey", "weights", "match"),
    [
        (np.zeros((6, 9, 3)), np.zeros((6, 9)), (1, 1, 1), "rgb must have shape"),
        (rgb_image(), np.zeros((9, 6)), (1, 1, 1), "grey must have shape"),
        (rgb_image(), np.zeros((6, 9)), (1, 1), "weights must hold 3"),
        (np.zeros((6, 9)), np.zeros((6, 9)), (1, 1, 1), "rgb must have shape"),
    ],
)
def test_grey_conversion_rejects_bad_shapes(rgb, grey, weights, match):
    with pytest.raises(ValueError, match=match):
        plot_grey_conversion(rgb, grey, weights)


def test_grey_conversion_rejects_non_arrays():
    with pytest.raises(TypeError, match="rgb must be a NumPy array"):
        plot_grey_conversion([[1.0]], np.zeros((1, 1)), (1, 1, 1))


# ----------------------------------------------------------------------------- matmul


def test_pointwise_matmul_shows_three_matrices_with_shapes():
    rng = np.random.default_rng(0)
    weight, x = rng.standard_normal((2, 3)), rng.standard_normal((3, 12))
    fig = plot_pointwise_matmul(weight, x, weight @ x)
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 3  # W, X, Y (the colour bar has no image)
    titles = " ".join(ax.get_title() for ax in images)
    assert "(2 x 3)" in titles and "(3 x 12)" in titles and "(2 x 12)" in titles
    for ax in images:
        assert ax.get_xlabel() and ax.get_ylabel()
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "@" in texts and "=" in texts


def test_pointwise_matmul_rejects_mismatched_shapes():
    w, x = np.ones((2, 3)), np.ones((3, 4))
    with pytest.raises(ValueError, match="x must have 3 rows"):
        plot_pointwise_matmul(w, np.ones((2, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"y must have shape \(2, 4\)"):
        plot_pointwise_matmul(w, x, np.ones((4, 2)))
    with pytest.raises(ValueError, match="weight must be a 2-D array"):
        plot_pointwise_matmul(np.ones(3), x, np.ones((2, 4)))


# ----------------------------------------------------------------------------- costs


def test_cost_breakdown_stacks_steps_in_kind_colours_and_writes_totals():
    layers = {
        "normal 3x3": {"normal": (576, 36_864)},
        "separable": {"depthwise": Cost(27, 1_728), "pointwise": (64, 4_096)},
    }
    fig = plot_cost_breakdown(layers, title="costs")
    params_ax, macs_ax = fig.axes
    assert params_ax.get_xlabel() == "parameters"
    assert macs_ax.get_xlabel() == "multiply-adds"
    widths = sorted(p.get_width() for p in params_ax.patches)
    assert widths == [27, 64, 576]
    colours = {to_hex(p.get_facecolor()) for p in macs_ax.patches}
    assert colours == {KIND_COLORS[k].lower() for k in ("normal", "depthwise", "pointwise")}
    totals = {t.get_text().strip() for t in params_ax.texts}
    assert totals == {"576", "91 = 27 + 64"}
    legend_labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_labels == ["normal", "depthwise", "pointwise"]  # each step once


@pytest.mark.parametrize(
    ("layers", "match"),
    [
        ({}, "at least one layer"),
        ({"a": {}}, r"layers\['a'\] has no steps"),
        ({"a": {"normal": (1, -2)}}, "non-negative"),
        ({"a": {"normal": (1, 2, 3)}}, "must be a Cost or a pair"),
    ],
)
def test_cost_breakdown_rejects_bad_input(layers, match):
    with pytest.raises(ValueError, match=match):
        plot_cost_breakdown(layers)


# ----------------------------------------------------------------------------- ratio


def test_separable_ratio_plots_a_line_and_a_floor_per_kernel():
    channels = [1, 4, 16, 64]
    ratios = {k: [1 / n + 1 / k**2 for n in channels] for k in (3, 5)}
    fig = plot_separable_ratio(channels, ratios, measured={3: ratios[3]})
    (ax,) = fig.axes
    assert ax.get_xlabel() == "output channels N"
    assert "separable / normal" in ax.get_ylabel()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    floors = sorted(line.get_ydata()[0] for line in ax.lines if line.get_linestyle() == "--"
                    and len(line.get_xdata()) == 2)
    assert floors == pytest.approx([1 / 25, 1 / 9])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["k = 3:  1/N + 1/9", "k = 5:  1/N + 1/25"]
    assert "counted on PyTorch layers" in labels


@pytest.mark.parametrize(
    ("channels", "ratios", "measured", "match"),
    [
        ([], {3: []}, None, "channels must not be empty"),
        ([0, 1], {3: [1, 1]}, None, "channels must be positive"),
        ([1, 2], {}, None, "at least one kernel size"),
        ([1, 2], {3: [1]}, None, r"ratios\[3\] has 1 values"),
        ([1, 2], {3: [1, 1]}, {3: [1]}, r"measured\[3\] has 1 values"),
    ],
)
def test_separable_ratio_rejects_bad_input(channels, ratios, measured, match):
    with pytest.raises(ValueError, match=match):
        plot_separable_ratio(channels, ratios, measured=measured)


# ----------------------------------------------------------------------------- images


def test_image_row_shows_colour_and_signed_grey_images():
    rgb = rgb_image()
    signed = np.linspace(-2, 1, 54).reshape(6, 9)
    fig = plot_image_row([rgb, signed], ["photo", "response"], title="row", symmetric=True)
    assert [ax.get_title() for ax in fig.axes] == ["photo", "response", ""]  # + colour bar
    assert fig.axes[2].get_ylabel() == "response"
    assert fig.axes[0].images[0].get_array().shape == (6, 9, 3)  # shown channels-last
    low, high = fig.axes[1].images[0].get_clim()
    assert low == -high  # symmetric around zero
    assert high == pytest.approx(np.percentile(np.abs(signed), 99))
    assert fig.get_figwidth() <= 9.0  # fits the text column


def test_image_row_puts_every_signed_panel_on_one_scale():
    small, large = np.linspace(-1, 1, 12).reshape(3, 4), np.linspace(-4, 4, 12).reshape(3, 4)
    fig = plot_image_row([small, large], ["small", "large"], symmetric=True)
    assert fig.axes[0].images[0].get_clim() == fig.axes[1].images[0].get_clim()


def test_image_row_scales_grey_images_to_their_own_range():
    fig = plot_image_row([np.linspace(0, 5, 12).reshape(3, 4)], ["ramp"])
    assert fig.axes[0].images[0].get_cmap().name == "gray"
    assert fig.axes[0].images[0].get_clim() == (0.0, 5.0)


def test_image_row_rejects_bad_input():
    with pytest.raises(ValueError, match="images must not be empty"):
        plot_image_row([], [])
    with pytest.raises(ValueError, match="titles has 1 entries"):
        plot_image_row([np.zeros((2, 2)), np.zeros((2, 2))], ["a"])
    with pytest.raises(ValueError, match=r"images\[0\] must have shape"):
        plot_image_row([np.zeros((2, 2, 3))], ["a"])


def test_kernel_slices_figure_draws_each_kernel_on_one_scale():
    import numpy as np

    from helpers.book.figures.separable import kernel_slices_figure

    rng = np.random.default_rng(0)
    w = rng.standard_normal((2, 3, 3, 3))
    fig = kernel_slices_figure({"a": w, "b": 2 * w}, multipliers=np.ones((2, 3)))
    panels = [ax for ax in fig.axes if ax.get_images() and ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["a", "b"]
    limits = {ax.get_images()[0].get_clim() for ax in panels}
    assert limits == {(-2 * np.abs(w).max(), 2 * np.abs(w).max())}
    grid = panels[0].get_images()[0].get_array()
    assert np.allclose(grid[0:3, 4:7], w[0, 1])  # tile (out 0, in 1)
    assert len(fig.axes) == 3  # and a colour bar
    assert sum(t.get_text() == "x +1" for t in panels[0].texts) == 6
    with pytest.raises(ValueError, match="same shape"):
        kernel_slices_figure({"a": w, "b": w[:1]})
    with pytest.raises(ValueError, match="multipliers"):
        kernel_slices_figure({"a": w}, multipliers=np.ones(3))
    with pytest.raises(ValueError, match="at least one"):
        kernel_slices_figure({})
