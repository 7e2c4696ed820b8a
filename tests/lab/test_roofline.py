"""The roofline model: bytes moved, arithmetic intensity, the machine's ceilings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.core.cost import conv_cost
from helpers.lab import roofline
from helpers.lab.convs import LayerTiming
from helpers.lab.roofline import Roofline, arithmetic_intensity, traffic_bytes

FAST = 0.01  # seconds of timing per measurement in these tests


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
        traffic_bytes("normal", 4, 0)
    with pytest.raises(TypeError, match="fused"):
        traffic_bytes("separable", 4, 4, fused="yes")
    with pytest.raises((TypeError, ValueError), match="kernel_size"):
        arithmetic_intensity("normal", 4, 4, kernel_size=-3)




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
    numpy_numbers = Roofline(peak_flops=np.float32(100e9), bandwidth=np.int64(20 * 10**9),
                             threads=np.int64(1))
    assert numpy_numbers.attainable(np.float64(1.0)) == pytest.approx(20e9)


def test_measure_roofline_numbers_are_positive():
    before = torch.get_num_threads()
    r = roofline.measure_roofline(matmul_size=128, copy_bytes=2**20, cache_copy_bytes=2**14,
                               min_run_time=FAST)
    assert r.peak_flops > 0 and r.bandwidth > 0 and r.cache_bandwidth > 0
    assert r.threads == 1 and r.ridge_intensity > 0
    assert torch.get_num_threads() == before
    r2 = roofline.measure_roofline(matmul_size=64, copy_bytes=2**16, cache_copy_bytes=None,
                                min_run_time=FAST)
    assert r2.cache_bandwidth is None


def test_measure_validates():
    with pytest.raises((TypeError, ValueError), match="size"):
        roofline.measure_peak_flops(size=0)
    with pytest.raises(ValueError, match="nbytes"):
        roofline.measure_bandwidth(nbytes=2)


def test_roofline_points():
    t = LayerTiming(8, 4, 3, {"depthwise": 1e-3, "pointwise": 2e-3})
    points = roofline.roofline_points([t])
    assert [p["kind"] for p in points] == ["depthwise", "pointwise"]
    assert points[0]["layer"] == (8, 4)
    assert points[0]["intensity"] == pytest.approx(arithmetic_intensity("depthwise", 8, 4))
    assert points[1]["flops"] == pytest.approx(2 * conv_cost("pointwise", 8, 4).macs / 2e-3)
    with pytest.raises(TypeError, match="timings"):
        roofline.roofline_points(t)
    with pytest.raises(TypeError, match=r"timings\[0\]"):
        roofline.roofline_points([1.0])


def test_roofline_levels_and_verdicts():
    levels = (("L2", 2**20, 200e9), ("L3", 32 * 2**20, 100e9), ("DRAM", math.inf, 20e9))
    r = Roofline(peak_flops=100e9, bandwidth=20e9, threads=1, matmul_flops=60e9,
                 peak_source="spec", levels=levels)
    assert r.roof_for(1e3) == ("L2", 200e9)
    assert r.roof_for(3e6) == ("L3", 100e9)
    assert r.roof_for(1e9) == ("DRAM", 20e9)
    assert Roofline(100e9, 20e9, 1).roof_for(10.0) == ("DRAM", 20e9)
    # intensity 2 in L3: memory roof 200 GFLOP/s > peak 100: compute-bound if near it
    assert r.verdict(2.0, 90e9, 3e6)[:2] == ("compute-bound", pytest.approx(100 / 90))
    # intensity 0.5 in L3: roof 50 GFLOP/s
    assert r.verdict(0.5, 40e9, 3e6) == ("bandwidth-bound", pytest.approx(1.25), "L3")
    assert r.verdict(0.5, 5e9, 3e6) == ("below both roofs", pytest.approx(10.0), "L3")
    assert r.verdict(0.5, 25e9, 3e6)[0] == "borderline"  # factor 2: between 1.6 and 2.56
    assert r.verdict(0.5, 25e9, 3e6, margin=2.5)[0] == "bandwidth-bound"
    with pytest.raises(ValueError, match="working_set"):
        r.roof_for(0)
    with pytest.raises(ValueError, match="margin"):
        r.verdict(1.0, 1e9, 1e3, margin=1.0)


def test_cpu_spec_and_cache_sizes_are_plausible():
    spec = roofline.cpu_spec()
    if spec is not None:
        assert spec["lanes"] in (4, 8, 16) and spec["fma_units"] in (1, 2)
        assert spec["peak_flops"] == pytest.approx(
            spec["ghz"] * 1e9 * spec["lanes"] * spec["fma_units"] * 2, rel=0.5)
    sizes = roofline.cache_sizes()
    assert all(k.startswith("L") and v > 0 for k, v in sizes.items())


def test_measure_roofline_levels_and_write_allocate():
    r = roofline.measure_roofline(matmul_size=64, copy_bytes=2**20, cache_copy_bytes=None,
                                  min_run_time=FAST, levels=True)
    assert r.levels[-1][0] == "DRAM" and r.levels[-1][2] == r.bandwidth
    assert all(capacity >= 2**19 for _, capacity, _ in r.levels)
    assert r.matmul_flops > 0 and r.peak_flops >= r.matmul_flops
    with pytest.raises(TypeError, match="write_allocate"):
        roofline.measure_bandwidth(nbytes=2**12, write_allocate="yes")
    with pytest.raises(TypeError, match="levels"):
        roofline.measure_roofline(levels="yes")


def test_verdict_names_the_compute_roof_when_compute_binds():
    machine = Roofline(peak_flops=100e9, bandwidth=10e9, threads=1,
                       levels=(("L2", 2**20, 50e9), ("DRAM", float("inf"), 10e9)))
    # Intensity 10 FLOP/byte in L2: the memory roof is 500 GFLOP/s, compute (100) binds.
    for achieved in (90e9, 50e9, 10e9):
        verdict, _, roof = machine.verdict(10.0, achieved, 2**19)
        assert roof == "compute", verdict
    assert machine.verdict(0.5, 24e9, 2**19)[2] == "L2"  # 25 GFLOP/s memory roof binds


def test_roofline_refuses_nan_negative_or_malformed_ceilings():
    good = {"peak_flops": 1e9, "bandwidth": 1e9, "threads": 1}
    levels = (("L2", 2.0**20, 1e10), ("DRAM", math.inf, 1e9))
    assert Roofline(**good, levels=levels, matmul_flops=5e8).roof_for(10.0) == ("L2", 1e10)
    cases = [({"peak_flops": float("nan")}, ValueError, "peak_flops"),
             ({"bandwidth": -1.0}, ValueError, "bandwidth"),
             ({"matmul_flops": float("nan")}, ValueError, "matmul_flops"),
             ({"matmul_flops": -5.0}, ValueError, "matmul_flops"),
             ({"levels": (("L2", 2**20, float("nan")),)}, ValueError, r"levels\[0\] bandwidth"),
             ({"levels": (("L2", 2**20, -1e9),)}, ValueError, r"levels\[0\] bandwidth"),
             ({"levels": (("L2", -1.0, 1e9),)}, ValueError, r"levels\[0\] capacity"),
             ({"levels": (("L2", float("nan"), 1e9),)}, ValueError, r"levels\[0\] capacity"),
             ({"levels": (("L2", 1e9),)}, TypeError, r"levels\[0\]"),
             ({"levels": "DRAM"}, TypeError, "levels"),
             ({"threads": 10**6}, ValueError, "threads"),
             ({"peak_source": None}, TypeError, "peak_source")]
    for change, exc, word in cases:
        with pytest.raises(exc, match=word):
            Roofline(**(good | change))


@pytest.mark.parametrize(("call", "word"), [
    (lambda: roofline.measure_peak_flops(size=10**5), "size must be at most"),
    (lambda: roofline.measure_peak_flops(size=8, threads=10**6), "threads"),
    (lambda: roofline.measure_peak_flops(size=8, repeats=10**9), "repeats"),
    (lambda: roofline.measure_bandwidth(nbytes=10**12), "nbytes must be at most"),
    (lambda: roofline.measure_bandwidth(nbytes=2**10, repeats=10**9), "repeats"),
    (lambda: roofline.measure_bandwidth(nbytes=2**10, min_run_time=-1), "min_run_time"),
    (lambda: roofline.measure_roofline(copy_bytes=10**12), "copy_bytes"),
    (lambda: roofline.measure_roofline(cache_copy_bytes=10**12), "cache_copy_bytes"),
    (lambda: roofline.measure_roofline(matmul_size=10**5), "matmul_size"),
    (lambda: roofline.measure_roofline(repeats=10**9), "repeats"),
    (lambda: roofline.measure_roofline(levels="yes"), "levels"),
])
def test_measurements_refuse_huge_arguments_before_allocating_or_measuring(call, word):
    with pytest.raises((TypeError, ValueError), match=word):
        call()
