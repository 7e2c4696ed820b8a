"""The roofline model: bytes moved, arithmetic intensity, the machine's ceilings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import roofline
from helpers.bench import LayerTiming
from helpers.cost import conv_cost
from helpers.roofline import Roofline, arithmetic_intensity, traffic_bytes

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
