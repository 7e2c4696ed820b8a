"""Tests of helpers.book.figures.overfitting: each figure function returns a labelled Figure
and rejects malformed input with a message naming the argument."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from helpers.book.figures.overfitting import (
    MODEL_COLORS,
    _model_color,
    plot_differences,
    plot_measure_vs_params,
    plot_run_curves,
)
from helpers.book.figures.style import KIND_COLORS
from helpers.lab.train import History

pytestmark = pytest.mark.usefixtures("close_figures")


def history(offset: float) -> History:
    return History([1, 2, 3], [1.5, 0.6, 0.2], [0.5, 0.8, 0.95], [1.6, 0.8 + offset, 0.9],
                   [0.45, 0.7, 0.85], [1.7, 0.9 + offset, 1.0], [0.4, 0.7, 0.8])


def labelled(ax) -> bool:
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel())


def test_run_curves_draw_three_sets_and_the_kept_epoch():
    fig = plot_run_curves({"normal-43": history(0.0), "separable-124": history(0.1)}, title="t")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert labelled(ax) and ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 2 * 4  # train, val, test, marker per run
    assert ax.get_lines()[0].get_color() == KIND_COLORS["normal"]
    with pytest.raises(ValueError, match="runs"):
        plot_run_curves({})
    with pytest.raises(TypeError, match="runs"):
        plot_run_curves({"normal": [history(0.0)]})
    with pytest.raises(ValueError, match="test loss"):
        plot_run_curves({"normal": History([1], [1.0], [0.5], [1.0], [0.5])})


def test_measure_vs_params_has_one_line_per_label():
    params = {"normal": [100, 1000], "separable": [90, 400]}
    values = {"normal": [[0.1, 0.2, 0.15], [0.3, 0.35, 0.32]],
              "separable": [[0.1, 0.12], [0.2, 0.22]]}
    fig = plot_measure_vs_params(params, values, ylabel="gap", zero_line=True, title="t")
    (ax,) = fig.axes
    assert labelled(ax) and ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["normal", "separable"]
    with pytest.raises(ValueError, match="same labels"):
        plot_measure_vs_params({"normal": [1]}, {"separable": [[0.1, 0.2]]}, ylabel="y")
    with pytest.raises(ValueError, match="two runs"):
        plot_measure_vs_params({"normal": [1]}, {"normal": [[0.1]]}, ylabel="y")


def test_differences_draw_the_margin_and_one_marker_per_budget():
    rows = [(0.01, -0.02, 0.04), (-0.1, -0.15, -0.05)]
    fig = plot_differences(["a", "b"], {"1x": rows, "2x": rows}, 0.05, xlabel="difference")
    (ax,) = fig.axes
    assert labelled(ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    with pytest.raises(ValueError, match="rows"):
        plot_differences(["a"], {"1x": rows}, 0.05, xlabel="x")
    with pytest.raises(ValueError, match="margin"):
        plot_differences(["a", "b"], {"1x": rows}, 0.0, xlabel="x")


def test_model_colors():
    assert _model_color("normal-43") == KIND_COLORS["normal"]
    assert _model_color("normal, weight decay") == MODEL_COLORS["normal, weight decay"]
    assert _model_color("separable-124") == KIND_COLORS["separable"]
    assert _model_color("other", 0) != _model_color("other", 1)
    with pytest.raises(TypeError, match="label"):
        _model_color(3)
