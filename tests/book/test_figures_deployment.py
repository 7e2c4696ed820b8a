"""Tests of the figures of the chapter "After the forward pass": each returns a
labelled Figure that shows the data it was given, and refuses bad input with a
clear message."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from helpers.book.figures.deployment import (
    plot_channel_ranges,
    plot_int8_accuracy,
    plot_latency,
    plot_memory,
    plot_training_speedup,
)

LABELS = ["C=32\n112x112", "C=512\n14x14"]
MEMORY = {
    "MobileNetV1": {"weights": 16.9, "activations, B=1": 41.0, "activations, B=32": 1310.4},
    "twin": {"weights": 117.2, "activations, B=1": 25.5, "activations, B=32": 815.8},
}


pytestmark = pytest.mark.usefixtures("close_figures")


def legend_texts(fig):
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_training_speedup_draws_three_bars_per_layer():
    fig = plot_training_speedup(LABELS, [7.0, 8.8], np.array([2.5, 4.0]), [np.float64(2.0), 5])
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    heights = [p.get_height() for p in ax.patches]
    assert heights == [7.0, 8.8, 2.5, 4.0, 2.0, 5.0]
    assert len(legend_texts(fig)) == 3


def test_training_speedup_validates():
    with pytest.raises(ValueError, match="forward must have 2 values"):
        plot_training_speedup(LABELS, [7, 8], [1], [1, 2])
    with pytest.raises(ValueError, match="predicted"):
        plot_training_speedup(LABELS, [7, -1], [1, 2], [1, 2])
    with pytest.raises(TypeError, match="labels"):
        plot_training_speedup("ab", [7, 8], [1, 2], [1, 2])
    with pytest.raises(TypeError, match="forward"):
        plot_training_speedup(LABELS, [7, 8], ["1", 2], [1, 2])


def test_memory_has_one_bar_per_item_and_model_on_a_log_axis():
    fig = plot_memory(MEMORY)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylabel() and ax.get_title()
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == sorted(v for m in MEMORY.values() for v in m.values())
    assert legend_texts(fig) == list(MEMORY["MobileNetV1"])
    assert [t.get_text() for t in ax.get_xticklabels()] == list(MEMORY)


def test_memory_validates():
    with pytest.raises(TypeError, match="models"):
        plot_memory({})
    with pytest.raises(ValueError, match="must list the items"):
        plot_memory({"a": {"x": 1.0}, "b": {"y": 1.0}})
    with pytest.raises(ValueError, match="positive"):
        plot_memory({"a": {"x": 0.0}})


def test_channel_ranges_sorts_channels_by_range():
    ranges = torch.tensor([3.0, 1.0, 2.0])
    fig = plot_channel_ranges(ranges, [0.01, 0.03, 0.02], [0.004, 0.005, 0.006],
                              layer="dw", bits=4)
    top, bottom = fig.axes
    assert [p.get_height() for p in top.patches] == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(bottom.lines[0].get_ydata(), [3.0, 2.0, 1.0])  # percent
    np.testing.assert_allclose(bottom.lines[1].get_ydata(), [0.5, 0.6, 0.4])
    assert "dw" in top.get_title() and "4-bit" in bottom.get_ylabel()
    assert bottom.get_xlabel() and top.get_ylabel() and bottom.get_yscale() == "log"


def test_channel_ranges_validates():
    with pytest.raises(ValueError, match="per_tensor_error must have 2"):
        plot_channel_ranges([1, 2], [0.1], [0.1, 0.2])
    with pytest.raises(ValueError, match="ranges"):
        plot_channel_ranges([0, 2], [0.1, 0.1], [0.1, 0.2])
    with pytest.raises(TypeError, match="layer"):
        plot_channel_ranges([1, 2], [0.1, 0.1], [0.1, 0.2], layer=3)
    with pytest.raises(ValueError, match="bits"):
        plot_channel_ranges([1, 2], [0.1, 0.1], [0.1, 0.2], bits=1)


def test_int8_accuracy_draws_one_column_a_configuration_and_joins_each_run():
    fig = plot_int8_accuracy({"x86 per tensor": [0.5, 0.9], "x86 per channel": [0.97, 0.96]},
                             [0.98, 0.97])
    ax = fig.axes[0]
    assert ax.get_ylabel() and ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "float32", "x86\nper tensor", "x86\nper channel"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [98, 50, 97])  # run 0, joined
    assert len(ax.collections) == 3


def test_int8_accuracy_validates():
    with pytest.raises(ValueError, match="fractions"):
        plot_int8_accuracy({"a": [97.0]}, [0.9])
    with pytest.raises(ValueError, match="must have 2"):
        plot_int8_accuracy({"a": [0.9]}, [0.9, 0.8])
    with pytest.raises(TypeError, match="accuracy"):
        plot_int8_accuracy({}, [0.9])


def test_latency_annotates_measured_ratios():
    fig = plot_latency(["B=1", "B=8"], [10.0, 5.0], [30.0, 20.0], 8.5)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["3.0x", "4.0x"]
    assert "8.5x" in ax.get_title()
    assert ax.get_yscale() == "log" and ax.get_ylabel() and ax.get_xlabel()
    assert len(legend_texts(fig)) == 2


def test_latency_validates():
    with pytest.raises(ValueError, match="normal_ms must have 2"):
        plot_latency(["a", "b"], [1, 2], [1], 8.5)
    with pytest.raises(ValueError, match="predicted_ratio"):
        plot_latency(["a"], [1], [2], 0)
    with pytest.raises(TypeError, match="labels"):
        plot_latency([1], [1], [2], 2)
