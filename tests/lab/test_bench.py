"""Tests of helpers.lab.bench: structures, validation, the cost model. No assertion on speed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.core.cost import KINDS, conv_cost, count_macs, count_parameters
from helpers.lab import bench
from helpers.lab.bench import LayerTiming, make_conv, time_callable, time_layers, time_module
from helpers.lab.memory import forward_backward

FAST = 0.01  # seconds of timing per measurement in these tests


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


def test_time_callable_leaves_autograd_to_the_caller_and_times_a_training_step():
    w = torch.ones(3, requires_grad=True)
    seen = []
    time_callable(lambda: seen.append((w * 2).requires_grad), min_run_time=FAST)
    assert all(seen)
    conv = torch.nn.Conv2d(2, 2, 3)
    t = time_callable(forward_backward(conv, torch.randn(1, 2, 6, 6)), min_run_time=FAST)
    assert t.median > 0 and conv.weight.grad is None


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
        normal = conv_cost("normal", r.channels, r.size).macs
        assert r.theoretical_speedup == pytest.approx(
            normal / conv_cost("separable", r.channels, r.size).macs)
        assert r.achieved_flops("normal") == pytest.approx(
            2 * normal / r.seconds["normal"])
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
    assert count_parameters(module) == conv_cost(kind, c, s, k).params
    assert count_macs(module, tuple(x.shape)) == conv_cost(kind, c, s, k).macs


def test_make_conv_validates():
    with pytest.raises(ValueError, match="kind"):
        make_conv("dense", 4)
    with pytest.raises(ValueError, match="kernel_size"):
        make_conv("normal", 4, kernel_size=2)
    with pytest.raises((TypeError, ValueError), match="channels"):
        make_conv("normal", 0)


# ---------------------------------------------------------------- NumPy vs PyTorch


def test_numpy_vs_torch_rows_and_table():
    rows = bench.numpy_vs_torch([(4, 8)], min_run_time=FAST)
    assert [r["kind"] for r in rows] == ["normal", "depthwise"]
    for r in rows:
        assert r["layer"] == (4, 8) and r["numpy"] > 0 and r["torch"] > 0
        assert r["ratio"] == pytest.approx(r["numpy"] / r["torch"])
    table = bench.format_numpy_vs_torch(rows)
    assert "NumPy/PyTorch" in table and "(4, 8)" in table
    assert len(table.splitlines()) == 4  # header, rule, two rows


def test_layer_timing_is_plain_data():
    t = LayerTiming(8, 4, 3, {"normal": 2.0, "separable": 1.0})
    assert t.measured_speedup == 2.0
    assert t.macs("normal") == conv_cost("normal", 8, 4).macs


# ---------------------------------------------------------------- helpers for the prose


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
    # NumPy scalars are numbers too
    assert bench.describe_speedup(np.float32(1.84)) == "1.8 times faster"
    assert bench.geometric_mean([np.float64(2.0), np.int64(8)]) == pytest.approx(4.0)


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



def test_time_callable_repeats_keeps_the_least_disturbed_measurement():
    from helpers.lab.bench import time_callable

    calls = []
    t = time_callable(lambda: calls.append(1), repeats=3, min_run_time=0.01)
    assert t.median > 0 and t.runs > 0
    one = time_callable(lambda: None, min_run_time=0.01)
    assert one.median > 0
    with pytest.raises(ValueError, match="repeats"):
        time_callable(lambda: None, repeats=0)
    with pytest.raises(TypeError, match="repeats"):
        time_callable(lambda: None, repeats=1.5)
