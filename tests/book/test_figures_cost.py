"""Tests of helpers.book.figures.cost: each figure function returns a labelled Figure."""

from __future__ import annotations

import math

import pytest
from matplotlib.figure import Figure

from helpers.book.figures.cost import (
    plot_layout_comparison,
    plot_roofline,
    plot_speedup,
    plot_thread_scaling,
)
from helpers.core.cost import KINDS
from helpers.lab.convs import MOBILENET_LAYERS, LayerTiming
from helpers.lab.roofline import Roofline
from helpers.lab.roofline import arithmetic_intensity as intensity


def timings(scale: float = 1.0) -> list[LayerTiming]:
    base = {"normal": 10e-3, "depthwise": 0.5e-3, "pointwise": 1.2e-3, "separable": 1.8e-3}
    return [LayerTiming(c, s, 3, {k: v * scale for k, v in base.items()})
            for c, s in MOBILENET_LAYERS]


def points(ts: list[LayerTiming]) -> list[dict]:
    return [{"kind": k, "layer": (t.channels, t.size),
             "intensity": intensity(k, t.channels, t.size), "flops": t.achieved_flops(k)}
            for t in ts for k in KINDS]


pytestmark = pytest.mark.usefixtures("close_figures")



def test_plot_speedup():
    fig = plot_speedup(timings())
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    assert len(ax.get_xticklabels()) == len(MOBILENET_LAYERS)
    assert len(ax.patches) == 2 * len(MOBILENET_LAYERS)
    heights = [p.get_height() for p in ax.patches]
    assert heights[0] == pytest.approx(timings()[0].theoretical_speedup)
    assert heights[len(MOBILENET_LAYERS)] == pytest.approx(timings()[0].measured_speedup)
    assert {t.get_text() for t in fig.legends[0].get_texts()} == {
        "theory (multiply-adds)", "measured (time)"}


def test_plot_speedup_validates():
    with pytest.raises(TypeError, match="timings"):
        plot_speedup([])
    with pytest.raises(TypeError, match=r"timings\[0\]"):
        plot_speedup([{"normal": 1.0}])
    with pytest.raises(ValueError, match="separable"):
        plot_speedup([LayerTiming(4, 4, 3, {"normal": 1.0})])

def test_plot_roofline():
    roof = Roofline(80e9, 16e9, 1, cache_bandwidth=60e9)
    fig = plot_roofline(roof, points(timings()))
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "intensity" in ax.get_xlabel() and "GFLOP/s" in ax.get_ylabel()
    assert "1 thread" in ax.get_title()
    assert len(ax.collections) == len(KINDS) * len(MOBILENET_LAYERS)
    legends = fig.legends
    assert len(legends) == 1
    legend_text = " ".join(t.get_text() for lg in legends for t in lg.get_texts())
    for word in (*KINDS, "80 GFLOP/s", "16 GB/s", "60 GB/s", "(512, 14)"):
        assert word in legend_text
    # without a cache ceiling: one line fewer
    fig2 = plot_roofline(Roofline(80e9, 16e9, 2), points(timings()))
    assert len(fig2.axes[0].lines) == len(ax.lines) - 1
    assert "2 threads" in fig2.axes[0].get_title()

def test_plot_roofline_validates():
    roof = Roofline(80e9, 16e9, 1)
    with pytest.raises(TypeError, match="roofline"):
        plot_roofline((80e9, 16e9), points(timings()))
    with pytest.raises(TypeError, match="points"):
        plot_roofline(roof, [])
    with pytest.raises(ValueError, match="lacks"):
        plot_roofline(roof, [{"kind": "normal"}])
    with pytest.raises(ValueError, match="kind"):
        plot_roofline(roof, [{"kind": "dense", "layer": 1, "intensity": 1.0, "flops": 1.0}])
    with pytest.raises(ValueError, match="positive"):
        plot_roofline(roof, [{"kind": "normal", "layer": 1, "intensity": 0.0, "flops": 1.0}])

def test_plot_layout_and_threads():
    fig = plot_layout_comparison(timings(), timings(0.5))
    ax = fig.axes[0]
    assert "channels_last" in ax.get_ylabel() and ax.get_xlabel()
    bars = [p.get_height() for p in ax.patches]
    assert len(bars) == len(KINDS) * len(MOBILENET_LAYERS)
    assert bars == pytest.approx([2.0] * len(bars))
    fig = plot_thread_scaling(timings(), timings(0.5), threads=2)
    ax = fig.axes[0]
    assert "2 threads" in ax.get_ylabel()
    assert any("ideal" in t.get_text() for t in fig.legends[0].get_texts())

def test_ratio_plots_validate():
    with pytest.raises(ValueError, match="same layers"):
        plot_layout_comparison(timings(), timings()[:2])
    only_normal = [LayerTiming(c, s, 3, {"normal": 1.0}) for c, s in MOBILENET_LAYERS]
    only_dw = [LayerTiming(c, s, 3, {"depthwise": 1.0}) for c, s in MOBILENET_LAYERS]
    with pytest.raises(ValueError, match="share no"):
        plot_layout_comparison(only_normal, only_dw)
    with pytest.raises(ValueError, match="threads"):
        plot_thread_scaling(timings(), timings(), threads=0)


def test_plot_roofline_with_levels_and_matmul_ceiling():
    levels = (("L2", 2**20, 200e9), ("L3", 32 * 2**20, 100e9), ("DRAM", math.inf, 20e9))
    roof = Roofline(160e9, 20e9, 1, matmul_flops=90e9, peak_source="spec", levels=levels)
    fig = plot_roofline(roof, points(timings()))
    legend_text = " ".join(t.get_text() for lg in fig.legends for t in lg.get_texts())
    for word in ("FMA peak, 160 GFLOP/s", "matrix product, 90 GFLOP/s", "L2 roof: 200 GB/s",
                 "L3 roof: 100 GB/s", "DRAM roof: 20 GB/s"):
        assert word in legend_text


def test_plot_achieved_bandwidth():
    from helpers.book.figures.cost import plot_achieved_bandwidth
    from helpers.lab.roofline import roofline_points

    levels = (("L3", 32 * 2**20, 100e9), ("DRAM", math.inf, 20e9))
    roof = Roofline(160e9, 20e9, 1, levels=levels)
    pts = roofline_points(timings())
    fig = plot_achieved_bandwidth(roof, pts)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and "GB/s" in ax.get_ylabel() and ax.get_xlabel()
    assert len(ax.patches) == len(pts)
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == pytest.approx(sorted(p["bytes_per_s"] / 1e9 for p in pts))
    notes = [t.get_text() for t in ax.texts]
    assert "L3 100 GB/s" in notes and "DRAM 20 GB/s" in notes
    with pytest.raises(ValueError, match="bytes_per_s"):
        plot_achieved_bandwidth(roof, points(timings()))
    with pytest.raises(TypeError, match="roofline"):
        plot_achieved_bandwidth(None, pts)


def test_size_sweep_figure_and_validation():
    from helpers.book.figures.cost import plot_size_sweep

    fig = plot_size_sweep([1, 2, 4], {"normal": [1e-5, 2e-5, 8e-5],
                                      "depthwise": [1e-5, 1e-5, 2e-5]}, channels=32)
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("side H") and len(ax.lines) == 3
    with pytest.raises(ValueError, match="seconds"):
        plot_size_sweep([1, 2], {"normal": [1.0]}, channels=8)
    with pytest.raises(TypeError, match="sides"):
        plot_size_sweep([], {"normal": []}, channels=8)
