"""Tests of helpers.bench: structures, validation, the cost model. No assertion on speed."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import bench
from helpers.bench import (
    KINDS,
    LayerTiming,
    Roofline,
    arithmetic_intensity,
    conv_macs,
    conv_weights,
    fixed_threads,
    make_conv,
    time_callable,
    time_layers,
    time_module,
    traffic_bytes,
)
from helpers.cost import count_macs, count_parameters

FAST = 0.01  # seconds of timing per measurement in these tests


# ---------------------------------------------------------------- threads


def test_fixed_threads_sets_and_restores():
    before = torch.get_num_threads()
    with fixed_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_fixed_threads_restores_after_an_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), fixed_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_fixed_threads_validates(bad):
    with pytest.raises((TypeError, ValueError), match="threads"), fixed_threads(bad):
        pass


# ---------------------------------------------------------------- timing


def test_time_callable_returns_a_sane_timing_and_restores_threads():
    before = torch.get_num_threads()
    calls = []
    t = time_callable(lambda: calls.append(1), label="append", min_run_time=FAST)
    assert t.label == "append" and t.threads == 1
    assert t.median > 0 and t.iqr >= 0 and t.runs >= 1
    assert math.isfinite(t.relative_iqr)
    assert len(calls) >= t.runs  # warm-up plus every timed run
    assert torch.get_num_threads() == before


def test_time_callable_runs_without_autograd():
    w = torch.ones(3, requires_grad=True)
    seen = []
    time_callable(lambda: seen.append((w * 2).requires_grad), min_run_time=FAST)
    assert not any(seen)


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({"fn": 3}, TypeError, "fn"),
        ({"fn": print, "min_run_time": 0}, ValueError, "min_run_time"),
        ({"fn": print, "min_run_time": "fast"}, TypeError, "min_run_time"),
        ({"fn": print, "min_run_time": float("nan")}, ValueError, "min_run_time"),
        ({"fn": print, "threads": 0}, ValueError, "threads"),
        ({"fn": print, "label": 1}, TypeError, "label"),
    ],
)
def test_time_callable_validates(kwargs, exc, word):
    fn = kwargs.pop("fn")
    with pytest.raises(exc, match=word):
        time_callable(fn, **kwargs)


def test_time_module_validates():
    with pytest.raises(TypeError, match="module"):
        time_module(lambda x: x, torch.ones(1))
    with pytest.raises(TypeError, match="x"):
        time_module(torch.nn.Identity(), [1.0])


def test_time_module_times_a_layer():
    t = time_module(make_conv("depthwise", 4), torch.randn(1, 4, 8, 8), min_run_time=FAST)
    assert t.median > 0 and t.label == "Conv2d"


def test_time_layers_structure():
    before = torch.get_num_threads()
    results = time_layers([(4, 8), (8, 6)], kinds=KINDS, min_run_time=FAST)
    assert [(r.channels, r.size) for r in results] == [(4, 8), (8, 6)]
    for r in results:
        assert set(r.seconds) == set(KINDS)
        assert all(v > 0 for v in r.seconds.values())
        assert set(r.relative_iqr) == set(KINDS)
        assert r.measured_speedup > 0
        assert r.theoretical_speedup == pytest.approx(
            conv_macs("normal", r.channels, r.size) / conv_macs("separable", r.channels, r.size))
        assert r.achieved_flops("normal") == pytest.approx(
            2 * conv_macs("normal", r.channels, r.size) / r.seconds["normal"])
    assert torch.get_num_threads() == before


def test_time_layers_channels_last():
    results = time_layers([(4, 6)], kinds=("pointwise",), min_run_time=FAST,
                          memory_format=torch.channels_last)
    assert list(results[0].seconds) == ["pointwise"]


@pytest.mark.parametrize(
    ("kwargs", "exc", "word"),
    [
        ({"layers": []}, TypeError, "layers"),
        ({"layers": "32,112"}, TypeError, "layers"),
        ({"layers": [(32,)]}, TypeError, r"layers\[0\]"),
        ({"layers": [(32, 0)]}, ValueError, "size"),
        ({"layers": [(0, 8)]}, ValueError, "channels"),
        ({"layers": [(4, 8)], "kinds": "normal"}, TypeError, "kinds"),
        ({"layers": [(4, 8)], "kinds": ("grouped",)}, ValueError, "kinds"),
        ({"layers": [(4, 8)], "memory_format": torch.preserve_format}, ValueError,
         "memory_format"),
        ({"layers": [(4, 8)], "threads": 0}, ValueError, "threads"),
    ],
)
def test_time_layers_validates(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        time_layers(**kwargs)


# ---------------------------------------------------------------- layers and the cost model


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(KINDS), c=st.integers(1, 24), s=st.integers(1, 12),
       k=st.sampled_from([1, 3, 5]))
def test_make_conv_matches_the_cost_formulas_and_pytorchs_counter(kind, c, s, k):
    module = make_conv(kind, c, kernel_size=k)
    x = torch.randn(1, c, s, s)
    assert module(x).shape == x.shape
    assert count_parameters(module) == conv_weights(kind, c, k)
    assert count_macs(module, tuple(x.shape)) == conv_macs(kind, c, s, k)


def test_make_conv_validates():
    with pytest.raises(ValueError, match="kind"):
        make_conv("dense", 4)
    with pytest.raises(ValueError, match="kernel_size"):
        make_conv("normal", 4, kernel_size=2)
    with pytest.raises((TypeError, ValueError), match="channels"):
        make_conv("normal", 0)


def test_intensity_by_hand_for_mobilenets_first_layer():
    c, s, k = 32, 112, 3
    act = c * s * s
    by_hand = {
        "normal": (2 * k * k * c * c * s * s, 4 * (act + k * k * c * c + act)),
        "depthwise": (2 * k * k * c * s * s, 4 * (act + k * k * c + act)),
        "pointwise": (2 * c * c * s * s, 4 * (act + c * c + act)),
    }
    for kind, (flops, nbytes) in by_hand.items():
        assert traffic_bytes(kind, c, s, k) == nbytes
        assert arithmetic_intensity(kind, c, s, k) == pytest.approx(flops / nbytes)
    # run as two layers, the separable convolution moves the intermediate tensor twice
    sep_bytes = by_hand["depthwise"][1] + by_hand["pointwise"][1]
    sep_flops = by_hand["depthwise"][0] + by_hand["pointwise"][0]
    assert traffic_bytes("separable", c, s, k) == sep_bytes
    assert arithmetic_intensity("separable", c, s, k) == pytest.approx(sep_flops / sep_bytes)
    fused_bytes = 4 * (act + k * k * c + c * c + act)
    assert traffic_bytes("separable", c, s, k, fused=True) == fused_bytes


@settings(max_examples=60, deadline=None)
@given(c=st.integers(1, 2048), s=st.integers(1, 256), k=st.sampled_from([1, 3, 5, 7]))
def test_intensity_limits(c, s, k):
    # depthwise: 2k^2 s^2 / 4(2 s^2 + k^2) < k^2/4, whatever the channels
    dw = arithmetic_intensity("depthwise", c, s, k)
    assert dw < k * k / 4
    assert dw == pytest.approx(arithmetic_intensity("depthwise", 1, s, k))
    # normal = k^2 times more work on k^2 times more weights: never below depthwise
    assert arithmetic_intensity("normal", c, s, k) >= dw * (1 - 1e-12)
    # pointwise below c/4, and fusing the separable convolution never lowers its intensity
    assert arithmetic_intensity("pointwise", c, s, k) < c / 4
    assert arithmetic_intensity("separable", c, s, k, fused=True) > arithmetic_intensity(
        "separable", c, s, k)


def test_cost_model_validates():
    with pytest.raises(ValueError, match="kind"):
        arithmetic_intensity("dense", 4, 4)
    with pytest.raises((TypeError, ValueError), match="size"):
        conv_macs("normal", 4, 0)
    with pytest.raises(TypeError, match="fused"):
        traffic_bytes("separable", 4, 4, fused="yes")
    with pytest.raises((TypeError, ValueError), match="kernel_size"):
        conv_weights("normal", 4, kernel_size=-3)


# ---------------------------------------------------------------- roofline


def test_roofline_arithmetic():
    r = Roofline(peak_flops=100e9, bandwidth=20e9, threads=1)
    assert r.ridge_intensity == pytest.approx(5.0)
    assert r.attainable(1.0) == pytest.approx(20e9)
    assert r.attainable(50.0) == pytest.approx(100e9)
    assert r.bound(1.0) == "memory" and r.bound(50.0) == "compute"
    with pytest.raises(ValueError, match="intensity"):
        r.attainable(0.0)
    with pytest.raises(TypeError, match="intensity"):
        r.attainable("high")
    with pytest.raises(ValueError, match="peak_flops"):
        Roofline(peak_flops=0.0, bandwidth=1.0, threads=1)
    with pytest.raises(ValueError, match="cache_bandwidth"):
        Roofline(peak_flops=1.0, bandwidth=1.0, threads=1, cache_bandwidth=-1.0)


def test_measure_roofline_numbers_are_positive():
    before = torch.get_num_threads()
    r = bench.measure_roofline(matmul_size=128, copy_bytes=2**20, cache_copy_bytes=2**14,
                               min_run_time=FAST)
    assert r.peak_flops > 0 and r.bandwidth > 0 and r.cache_bandwidth > 0
    assert r.threads == 1 and r.ridge_intensity > 0
    assert torch.get_num_threads() == before
    r2 = bench.measure_roofline(matmul_size=64, copy_bytes=2**16, cache_copy_bytes=None,
                                min_run_time=FAST)
    assert r2.cache_bandwidth is None


def test_measure_validates():
    with pytest.raises((TypeError, ValueError), match="size"):
        bench.measure_peak_flops(size=0)
    with pytest.raises(ValueError, match="nbytes"):
        bench.measure_bandwidth(nbytes=2)


# ---------------------------------------------------------------- NumPy vs PyTorch


def test_numpy_vs_torch_rows_and_table():
    rows = bench.numpy_vs_torch([(4, 8)], min_run_time=FAST)
    assert [r["kind"] for r in rows] == ["normal", "depthwise"]
    for r in rows:
        assert r["layer"] == (4, 8) and r["numpy"] > 0 and r["torch"] > 0
        assert r["ratio"] == pytest.approx(r["numpy"] / r["torch"])
    table = bench.format_numpy_vs_torch(rows)
    assert "NumPy/PyTorch" in table and "(4, 8)" in table
    assert len(table.splitlines()) == 3


def test_layer_timing_is_plain_data():
    t = LayerTiming(8, 4, 3, {"normal": 2.0, "separable": 1.0})
    assert t.measured_speedup == 2.0
    assert t.macs("normal") == conv_macs("normal", 8, 4)


# ---------------------------------------------------------------- helpers for the prose


def test_roofline_points():
    t = LayerTiming(8, 4, 3, {"depthwise": 1e-3, "pointwise": 2e-3})
    points = bench.roofline_points([t])
    assert [p["kind"] for p in points] == ["depthwise", "pointwise"]
    assert points[0]["layer"] == (8, 4)
    assert points[0]["intensity"] == pytest.approx(arithmetic_intensity("depthwise", 8, 4))
    assert points[1]["flops"] == pytest.approx(2 * conv_macs("pointwise", 8, 4) / 2e-3)
    with pytest.raises(TypeError, match="timings"):
        bench.roofline_points(t)
    with pytest.raises(TypeError, match=r"timings\[0\]"):
        bench.roofline_points([1.0])


def test_geometric_mean_and_words():
    assert bench.geometric_mean([2.0, 8.0]) == pytest.approx(4.0)
    assert bench.describe_speedup(1.05) == "about as fast"
    assert bench.describe_speedup(1.84) == "1.8 times faster"
    assert bench.describe_speedup(0.5) == "2.0 times slower"
    assert bench.describe_speedup(1.05, tolerance=0.0) == "1.1 times faster"
    with pytest.raises(ValueError, match="values"):
        bench.geometric_mean([1.0, 0.0])
    with pytest.raises(TypeError, match="values"):
        bench.geometric_mean([])
    with pytest.raises(ValueError, match="ratio"):
        bench.describe_speedup(-1.0)
    with pytest.raises(ValueError, match="tolerance"):
        bench.describe_speedup(1.0, tolerance=1.5)


def test_compare_timings():
    a = [LayerTiming(8, 4, 3, {"normal": 2.0, "depthwise": 1.0}),
         LayerTiming(16, 4, 3, {"normal": 4.0, "depthwise": 1.0})]
    b = [LayerTiming(8, 4, 3, {"normal": 1.0, "pointwise": 1.0}),
         LayerTiming(16, 4, 3, {"normal": 1.0, "pointwise": 1.0})]
    assert bench.compare_timings(a, b) == {"normal": [2.0, 4.0]}
    with pytest.raises(ValueError, match="same layers"):
        bench.compare_timings(a, b[:1])
    with pytest.raises(ValueError, match="share no"):
        bench.compare_timings([a[0]], [LayerTiming(8, 4, 3, {"pointwise": 1.0})])
    with pytest.raises(TypeError, match="base"):
        bench.compare_timings([], b)
    with pytest.raises(TypeError, match=r"other\[1\]"):
        bench.compare_timings(a, [b[0], 3])
