"""Tests of helpers.book.figures.architectures: each figure function returns a labelled Figure."""

from __future__ import annotations

import matplotlib
import pytest
from matplotlib.figure import Figure

from helpers.book.figures.architectures import (
    LAYER_TYPE_COLORS,
    _atrous_sample_offsets,
    plot_atrous_samples,
    plot_layer_costs,
    plot_relative_differences,
)

pytestmark = pytest.mark.usefixtures("close_figures")


def test_plot_layer_costs():
    fig = plot_layer_costs(["conv", "dw", "pw", "fc"],
                           ["Conv 3 × 3", "Conv DW 3 × 3", "Conv 1 × 1", "Fully Connected"],
                           [10, 2, 50, 1], [1, 1, 30, 20], title="t")
    assert isinstance(fig, Figure)
    top, bottom = fig.axes
    assert top.get_ylabel() == "million multiply-adds" and top.get_title() == "t"
    assert bottom.get_ylabel() == "million parameters" and bottom.get_xlabel()
    assert len(top.patches) == 4 and len(bottom.patches) == 4
    colors = {tuple(round(v, 3) for v in p.get_facecolor()) for p in top.patches}
    assert len(colors) == 4
    assert len(bottom.get_legend().get_texts()) == 4


def test_plot_layer_costs_validates():
    with pytest.raises(ValueError, match="labels"):
        plot_layer_costs([], [], [], [])
    with pytest.raises(ValueError, match="macs"):
        plot_layer_costs(["a"], ["Conv 1 × 1"], [1, 2], [1])
    with pytest.raises(ValueError, match="layer_types"):
        plot_layer_costs(["a"], ["Conv 5 × 5"], [1], [1])
    assert set(LAYER_TYPE_COLORS) == {"Conv 3 × 3", "Conv DW 3 × 3", "Conv 1 × 1",
                                      "Fully Connected"}


def test_plot_relative_differences_marks_disagreements():
    fig = plot_relative_differences(["a", "b", "c"], [569.0, 290.0, 4.2],
                                    [568.74, 290.68, 4.232], [1, 1, 0.1])
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("(ours - paper)")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["ours 568.7, paper 569", "ours 290.7, paper 290", "ours 4.23, paper 4.2"]
    bars = ax.containers[0].patches
    assert [round(p.get_width(), 2) for p in bars] == [-0.52, 1.36, 0.64]
    colors = [matplotlib.colors.to_hex(p.get_facecolor()) for p in bars]
    assert colors[1] == "#d55e00" and colors[0] != "#d55e00" and colors[2] != "#d55e00"
    assert ax.get_legend() is not None


def test_plot_relative_differences_validates():
    with pytest.raises(ValueError, match="labels"):
        plot_relative_differences([], [], [], [])
    with pytest.raises(ValueError, match="printed_unit"):
        plot_relative_differences(["a"], [1.0], [1.0], [])
    with pytest.raises(ValueError, match="positive"):
        plot_relative_differences(["a"], [0.0], [1.0], [1.0])
    with pytest.raises(ValueError, match="printed_unit"):
        plot_relative_differences(["a"], [1.0], [1.0], [0.0])


def test_atrous_sample_offsets():
    assert _atrous_sample_offsets(3, 1)[0] == (-1, -1)
    offsets = _atrous_sample_offsets(3, 4)
    assert len(offsets) == 9 and (0, 0) in offsets and (4, -4) in offsets
    assert max(r for r, _ in offsets) - min(r for r, _ in offsets) + 1 == 9
    with pytest.raises(ValueError, match="odd"):
        _atrous_sample_offsets(2, 1)
    with pytest.raises(ValueError, match="dilation"):
        _atrous_sample_offsets(3, 0)


def test_plot_atrous_samples():
    fig = plot_atrous_samples((1, 2, 4))
    axes = fig.axes
    assert len(axes) == 3
    assert "receptive field 9×9" in axes[2].get_title()
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in axes)
    # One receptive-field square plus nine sampled positions per panel.
    assert all(len(ax.patches) == 10 for ax in axes)
    assert fig.legends


def test_plot_atrous_samples_validates():
    with pytest.raises(ValueError, match="dilations"):
        plot_atrous_samples(())
    with pytest.raises(ValueError, match="grid_size"):
        plot_atrous_samples((4,), grid_size=5)
    with pytest.raises(ValueError, match="kernel_size"):
        plot_atrous_samples((1,), kernel_size=4)
    with pytest.raises(TypeError, match=r"dilations\[1\]"):
        plot_atrous_samples((1, 2.0))
