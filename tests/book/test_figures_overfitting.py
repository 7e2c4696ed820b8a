"""Tests of helpers.book.figures.overfitting: each figure function returns a labelled Figure
and rejects malformed input with a message naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers.book.figures.overfitting import (
    MODEL_COLORS,
    model_color,
    plot_accuracy_vs_params,
    plot_generalisation_gap,
    plot_learning_curves,
    plot_vs_train_size,
)
from helpers.book.figures.style import KIND_COLORS
from helpers.lab.train import History


def history(offset: float) -> History:
    epochs = [1, 2, 3]
    train_acc = [0.5 + offset, 0.8 + offset, 0.95]
    val_acc = [0.45 + offset, 0.7 + offset, 0.85]
    return History(epochs, [1.5, 0.6, 0.2], train_acc, [1.6, 0.8, 0.5], val_acc)


pytestmark = pytest.mark.usefixtures("close_figures")


def labelled(ax) -> bool:
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel())


def test_learning_curves_draw_train_and_val_per_model():
    histories = {"normal": [history(0.0), history(0.02)], "separable": [history(0.01)]}
    fig = plot_learning_curves(histories, title="t")
    assert isinstance(fig, Figure)
    ax_loss, ax_acc = fig.axes
    assert labelled(ax_loss) and labelled(ax_acc)
    assert ax_loss.get_yscale() == "log"
    assert len(ax_acc.lines) == 4 and len(ax_loss.lines) == 4  # 2 models x (train, val)
    styles = {line.get_linestyle() for line in ax_acc.lines}
    assert styles == {"--", "-"}
    assert ax_acc.lines[0].get_color() == KIND_COLORS["normal"]
    assert np.allclose(ax_acc.lines[1].get_ydata(), 100 * np.array([0.46, 0.71, 0.85]))
    assert len(fig.legends) == 1 and fig.get_suptitle() == "t"


def test_learning_curves_validate():
    with pytest.raises(ValueError, match="histories"):
        plot_learning_curves({})
    with pytest.raises(TypeError, match="History"):
        plot_learning_curves({"normal": [1, 2]})
    short = History([1], [1.0], [0.5], [1.0], [0.4])
    with pytest.raises(ValueError, match="different epochs"):
        plot_learning_curves({"normal": [history(0), short]})
    with pytest.raises(ValueError, match="no validation"):
        plot_learning_curves({"normal": [History([1], [1.0], [0.5], [], [])]})


def test_generalisation_gap_bars_and_dots():
    gaps = {"normal": [0.02, 0.03, 0.01], "separable": [0.05, 0.04, 0.06]}
    fig = plot_generalisation_gap(gaps)
    (ax,) = fig.axes
    assert labelled(ax) and ax.get_title()
    heights = [patch.get_height() for patch in ax.patches]
    assert np.allclose(heights, [2.0, 5.0])  # mean, in percentage points
    assert [t.get_text() for t in ax.get_xticklabels()] == ["normal", "separable"]
    with pytest.raises(ValueError, match="gaps"):
        plot_generalisation_gap({"normal": []})


def test_accuracy_vs_params():
    fig = plot_accuracy_vs_params({"normal": 4000, "separable": 1000},
                                  {"normal": [0.9, 0.95], "separable": [0.8, 0.85]})
    (ax,) = fig.axes
    assert labelled(ax)
    assert ax.get_xlim()[1] > 4000
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["normal", "separable"]
    with pytest.raises(ValueError, match="same labels"):
        plot_accuracy_vs_params({"normal": 4000}, {"separable": [0.8]})


def test_vs_train_size_with_and_without_gaps():
    sizes = [100, 300, 1000]
    acc = {"normal": [[0.8, 0.82], [0.9, 0.91], [0.95, 0.96]]}
    fig = plot_vs_train_size(sizes, acc, {"normal": [[0.1, 0.12], [0.05, 0.06], [0.02, 0.01]]})
    assert len(fig.axes) == 2 and all(labelled(ax) for ax in fig.axes)
    assert np.allclose(fig.axes[0].lines[0].get_ydata(), [81.0, 90.5, 95.5])
    assert fig.axes[0].get_xscale() == "log"
    assert len(plot_vs_train_size(sizes, acc).axes) == 1
    with pytest.raises(ValueError, match="sizes"):
        plot_vs_train_size([100, 300], acc)
    with pytest.raises(ValueError, match="sizes"):
        plot_vs_train_size([], acc)


def test_model_colors():
    assert model_color("normal") == KIND_COLORS["normal"]
    assert model_color("wide separable") == MODEL_COLORS["wide separable"]
    assert model_color("something else", 2) not in MODEL_COLORS.values()


def test_loss_vs_params_draws_mean_and_interval():
    from helpers.book.figures.overfitting import plot_loss_vs_params

    params = {"normal": [300, 1000, 3800], "separable": [400, 970, 3850]}
    val = {k: [[0.5 + i, 0.7 + i, 0.6 + i] for i in range(3)] for k in params}
    train = {k: [[0.1, 0.1], [0.05, 0.05], [0.01, 0.02]] for k in params}
    fig = plot_loss_vs_params(params, val, train, title="t")
    ax = fig.axes[0]
    assert labelled(ax) and ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(labels) == ["normal, training", "normal, validation",
                              "separable, training", "separable, validation"]
    means = [line.get_ydata() for line in ax.lines if len(line.get_ydata()) == 3]
    assert any(np.allclose(m, [0.6, 1.6, 2.6]) for m in means)
    with pytest.raises(ValueError, match="same labels"):
        plot_loss_vs_params({"normal": [1]}, val)
    with pytest.raises(ValueError, match="two seeds"):
        plot_loss_vs_params({"normal": [1]}, {"normal": [[0.5]]})
