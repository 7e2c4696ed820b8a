"""Tests of helpers.lab.timing, helpers.lab.convs and helpers.lab.bench: structures,
validation, the cost model. No assertion on speed."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.core.cost import KINDS, conv_cost, count_macs, count_parameters
from helpers.lab import bench, convs
from helpers.lab.convs import LayerTiming, make_conv, time_layers
from helpers.lab.memory import forward_backward
from helpers.lab.timing import time_callable, time_module

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


def test_time_module_leaves_modes_and_statistics_unchanged():
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 2, 3), torch.nn.BatchNorm2d(2)).train()
    model[1].eval()
    before = [b.clone() for b in model.buffers()]
    time_module(model, torch.randn(2, 2, 6, 6), min_run_time=FAST)
    assert model.training and not model[1].training and model[0].training
    assert all(torch.equal(a, b) for a, b in zip(before, model.buffers(), strict=True))


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
        assert set(r.noise) == set(KINDS)
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
    assert convs.geometric_mean([2.0, 8.0]) == pytest.approx(4.0)
    assert convs.describe_speedup(1.05) == "about as fast"
    assert convs.describe_speedup(1.84) == "1.8 times faster"
    assert convs.describe_speedup(0.5) == "2.0 times slower"
    assert convs.describe_speedup(1.05, tolerance=0.0) == "1.1 times faster"
    with pytest.raises(ValueError, match="values"):
        convs.geometric_mean([1.0, 0.0])
    with pytest.raises(TypeError, match="values"):
        convs.geometric_mean([])
    with pytest.raises(ValueError, match="ratio"):
        convs.describe_speedup(-1.0)
    with pytest.raises(ValueError, match="tolerance"):
        convs.describe_speedup(1.0, tolerance=1.5)
    # NumPy scalars are numbers too
    assert convs.describe_speedup(np.float32(1.84)) == "1.8 times faster"
    assert convs.geometric_mean([np.float64(2.0), np.int64(8)]) == pytest.approx(4.0)


def test_compare_timings():
    a = [LayerTiming(8, 4, 3, {"normal": 2.0, "depthwise": 1.0}),
         LayerTiming(16, 4, 3, {"normal": 4.0, "depthwise": 1.0})]
    b = [LayerTiming(8, 4, 3, {"normal": 1.0, "pointwise": 1.0}),
         LayerTiming(16, 4, 3, {"normal": 1.0, "pointwise": 1.0})]
    assert convs.compare_timings(a, b) == {"normal": [2.0, 4.0]}
    with pytest.raises(ValueError, match="same layers"):
        convs.compare_timings(a, b[:1])
    with pytest.raises(ValueError, match="share no"):
        convs.compare_timings([a[0]], [LayerTiming(8, 4, 3, {"pointwise": 1.0})])
    with pytest.raises(TypeError, match="base"):
        convs.compare_timings([], b)
    with pytest.raises(TypeError, match=r"other\[1\]"):
        convs.compare_timings(a, [b[0], 3])



def test_time_callable_repeats_keeps_the_least_disturbed_measurement():

    calls = []
    t = time_callable(lambda: calls.append(1), repeats=3, min_run_time=0.01)
    assert t.median > 0 and t.runs > 0
    one = time_callable(lambda: None, min_run_time=0.01)
    assert one.median > 0
    with pytest.raises(ValueError, match="repeats"):
        time_callable(lambda: None, repeats=0)
    with pytest.raises(TypeError, match="repeats"):
        time_callable(lambda: None, repeats=1.5)


# ---------------------------------------------------------------- bad input, refused early


@pytest.mark.parametrize(("call", "exc", "word"), [
    (lambda: make_conv("normal", 10**6), ValueError, "channels"),
    (lambda: make_conv("separable", 2048, kernel_size=221), ValueError, "kernel_size"),
    (lambda: make_conv("normal", 2048, kernel_size=9), ValueError, "kernel_size"),
    (lambda: time_layers([(1, 10**5)]), ValueError, r"layers\[0\]"),
    (lambda: time_layers([(4, 8), (10**6, 1)]), ValueError, r"layers\[1\]\[0\] \(channels\)"),
    (lambda: time_layers([(2048, 1)], kernel_size=9), ValueError, "kernel_size"),
    (lambda: time_layers([(4, 8)], repeats=10**9), ValueError, "repeats"),
    (lambda: time_layers([(4, 8)], threads=10**6), ValueError, "threads"),
    (lambda: time_layers([(4, 8)], min_run_time=10**6), ValueError, "min_run_time"),
    (lambda: time_layers([(4, 8)], seed=2**64), ValueError, "seed"),
    (lambda: time_layers([(4, 8)], seed=1.5), TypeError, "seed"),
    (lambda: time_layers([(4, 8)], seed=True), TypeError, "seed"),
    (lambda: bench.numpy_vs_torch([(64, 10**4)]), ValueError, r"layers\[0\]"),
    (lambda: bench.numpy_vs_torch([(10**5, 2)]), ValueError, "channels"),
])
def test_huge_or_bad_arguments_are_refused_before_anything_is_allocated(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


def test_time_layers_takes_a_numpy_seed():
    results = time_layers([(4, 6)], kinds=("pointwise",), min_run_time=FAST, seed=np.int64(3))
    assert results[0].seconds["pointwise"] > 0


def test_layer_timing_checks_its_numbers_and_kinds():
    for seconds, exc in (({"normal": 0.0}, ValueError), ({"normal": -1.0}, ValueError),
                         ({"normal": float("nan")}, ValueError), ({"dense": 1.0}, ValueError),
                         ({}, TypeError), ({"normal": "1"}, TypeError), ([1.0], TypeError)):
        with pytest.raises(exc, match="seconds"):
            LayerTiming(8, 4, 3, seconds)
    with pytest.raises(ValueError, match="channels"):
        LayerTiming(0, 4, 3, {"normal": 1.0})
    with pytest.raises(ValueError, match="noise"):
        LayerTiming(8, 4, 3, {"normal": 1.0}, {"normal": -0.1})
    t = LayerTiming(8, 4, 3, {"normal": 1.0})
    with pytest.raises(ValueError, match="'separable' was not timed"):
        _ = t.measured_speedup
    with pytest.raises(ValueError, match="'depthwise' was not timed"):
        t.achieved_flops("depthwise")


def test_format_numpy_vs_torch_checks_its_rows():
    with pytest.raises(TypeError, match="rows must be a list"):
        bench.format_numpy_vs_torch({"layer": (4, 8)})
    with pytest.raises(ValueError, match=r"rows\[0\] must be a numpy_vs_torch row"):
        bench.format_numpy_vs_torch([{"layer": (4, 8), "kind": "normal"}])


def test_time_module_names_an_input_that_does_not_fit_and_restores_modes():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).train()
    with pytest.raises(ValueError, match="x of shape"):
        time_module(model, torch.randn(1, 5, 8, 8), min_run_time=FAST)
    assert model.training and model[1].training
    with pytest.raises(ValueError, match="repeats"):
        time_module(model, torch.randn(1, 3, 8, 8), repeats=10**9)
