"""Tests of the chapter 9 figures: each returns a labelled Figure and refuses
bad input with a clear message."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers.book.figures.lowrank import (
    plot_accuracy_vs_rank,
    plot_error_vs_rank,
    plot_kernel_spectra,
    plot_outer_product,
    plot_singular_values,
)
from helpers.core.lowrank import approximation_errors, channel_singular_values

RANKS = list(range(1, 10))
W = np.random.default_rng(0).standard_normal((16, 4, 3, 3))


pytestmark = pytest.mark.usefixtures("close_figures")


def test_error_vs_rank():
    fig = plot_error_vs_rank(RANKS, {"trained": approximation_errors(W),
                                     "random": approximation_errors(W) / 2}, full_rank=9)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["trained", "random"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 100 * approximation_errors(W))


def test_error_vs_rank_validates():
    with pytest.raises(ValueError, match="errors must map"):
        plot_error_vs_rank(RANKS, {})
    with pytest.raises(ValueError, match=r"errors\['a'\] must have one value per rank"):
        plot_error_vs_rank(RANKS, {"a": [0.5]})
    with pytest.raises(ValueError, match="ranks"):
        plot_error_vs_rank([0, 1], {"a": [0.5, 0.1]})


def test_accuracy_vs_rank():
    fig = plot_accuracy_vs_rank(RANKS, {"a": np.linspace(0.1, 0.9, 9), "b": [0.9] * 9},
                                {"a": [400 * r for r in RANKS], "b": [200 * r for r in RANKS]},
                                baseline_accuracy=0.95, baseline_params={"a": 2304, "b": 1152})
    assert isinstance(fig, Figure)
    top, bottom = fig.axes
    assert top.get_ylabel() and bottom.get_ylabel() and bottom.get_xlabel() and top.get_title()
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["a", "b", "original network"]
    np.testing.assert_allclose(bottom.lines[0].get_ydata(), [400 * r / 2304 for r in RANKS])
    np.testing.assert_allclose(top.lines[0].get_ydata(), 100 * np.linspace(0.1, 0.9, 9))
    # equal cost curves share one line
    fig = plot_accuracy_vs_rank(RANKS, {"a": [0.5] * 9, "b": [0.6] * 9},
                                {"a": RANKS, "b": [2 * r for r in RANKS]},
                                baseline_accuracy=0.9, baseline_params={"a": 5, "b": 10})
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert labels == ["a and b", "normal layer"]
    fig = plot_accuracy_vs_rank(RANKS, {"a": [0.5] * 9}, {"a": RANKS},
                                baseline_accuracy=0.9, baseline_params={"a": 5},
                                data_name="validation", xlabel="rank")
    assert fig.axes[0].get_ylabel() == "validation accuracy (%)"
    assert fig.axes[1].get_xlabel() == "rank"
    with pytest.raises(TypeError, match="data_name"):
        plot_accuracy_vs_rank(RANKS, {"a": [0.5] * 9}, {"a": RANKS}, baseline_accuracy=0.9,
                              baseline_params={"a": 5}, data_name=1)


@pytest.mark.parametrize("kwargs, match", [
    ({"accuracies": {"a": [0.5] * 8}}, r"accuracies\['a'\] must have one value per rank"),
    ({"accuracies": {"a": [1.5] * 9}}, "fractions"),
    ({"accuracies": {}}, "at least one"),
    ({"baseline_params": {"a": 0}}, "baseline_params"),
    ({"baseline_params": {"b": 3}}, "same labels"),
    ({"baseline_accuracy": 2.0}, "baseline_accuracy"),
])
def test_accuracy_vs_rank_validates(kwargs, match):
    args = {"accuracies": {"a": [0.5] * 9}, "params": {"a": [1] * 9}, "baseline_accuracy": 0.9,
            "baseline_params": {"a": 10}} | kwargs
    if not args["accuracies"]:
        args["params"] = {}
    with pytest.raises(ValueError, match=match):
        plot_accuracy_vs_rank(RANKS, args.pop("accuracies"), args.pop("params"), **args)


def test_singular_values():
    fig = plot_singular_values({"trained": channel_singular_values(W),
                                "random": channel_singular_values(W)}, title="spectra")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_title()
        # one thin line per channel plus the median
        assert len(ax.lines) == W.shape[1] + 1
    assert fig.axes[0].get_ylabel()
    with pytest.raises(ValueError, match="spectra must map"):
        plot_singular_values({})
    with pytest.raises(ValueError, match=r"spectra\['x'\]"):
        plot_singular_values({"x": np.ones(3)})


def test_singular_values_first_color_matches_other_figures():
    spectra = {"a": channel_singular_values(W)}
    first = plot_singular_values(spectra).axes[0].lines[-1].get_color()
    second = plot_singular_values(spectra, first_color=1).axes[0].lines[-1].get_color()
    errors = plot_error_vs_rank(RANKS, {"x": np.linspace(0.9, 0, len(RANKS)),
                                        "y": np.linspace(0.5, 0, len(RANKS))})
    assert first != second
    assert second == errors.axes[0].lines[1].get_color()
    with pytest.raises(ValueError, match="first_color"):
        plot_singular_values(spectra, first_color=-1)
    for bad in (1.5, True):  # the wrong kind of value
        with pytest.raises(TypeError, match="first_color"):
            plot_singular_values(spectra, first_color=bad)
    assert plot_singular_values(spectra, first_color=np.int64(1)).axes[0].lines[-1].get_color() \
        == second


def test_outer_product_shows_the_product():
    fig = plot_outer_product([1, 2, 1], [-1, 0, 1], title="Sobel", fmt="{:.0f}")
    assert isinstance(fig, Figure)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "\u00d7" in texts and "=" in texts and "-2" in texts and "2" in texts
    assert "-0" not in texts
    titles = [ax.get_title() for ax in fig.axes]
    assert "3x1" in titles and "1x3" in titles and "3x3 kernel" in titles
    with pytest.raises(ValueError, match="must not be empty"):
        plot_outer_product([], [1])


def test_kernel_spectra():
    g = np.exp(-np.arange(-2, 3) ** 2 / 2)
    fig = plot_kernel_spectra({"Gaussian": np.outer(g, g),
                               "random": np.random.default_rng(1).standard_normal((3, 3))})
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    bottoms = fig.axes[2:]  # subplots(2, n): the top row first
    assert any("rank-1 error 0%" in ax.get_title() for ax in fig.axes)
    assert all(ax.get_xlabel() for ax in bottoms)
    with pytest.raises(ValueError, match="kernels must map"):
        plot_kernel_spectra({})
    with pytest.raises(ValueError, match="2-D kernel"):
        plot_kernel_spectra({"bad": np.ones(3)})
