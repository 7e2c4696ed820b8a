"""Tests of helpers.core.folding, helpers.core.quantize and helpers.lab.memory:
folding batch norm, saved-tensor memory,
fake quantization and the timing helpers. Property tests compare with PyTorch
(the unfolded network, ``torch.fake_quantize_*``) on many random configurations."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers.core.folding import count_batch_norms, fold_batch_norm
from helpers.core.layers import DepthwiseSeparableConv2d
from helpers.core.models import ConvBNReLU, mobilenet_v1
from helpers.core.quantize import (
    channel_quantization_error,
    channel_ranges,
    fake_quantize_weight,
    symmetric_scales,
)
from helpers.lab.cnn import make_cnn
from helpers.lab.memory import SavedTensors, forward_backward, saved_tensor_bytes
from helpers.lab.timing import time_calls, time_rounds

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def randomize_batch_norms(model: nn.Module, seed: int) -> nn.Module:
    """Give every batch norm statistics and affine parameters far from the defaults."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                dtype = m.running_mean.dtype
                m.running_mean.copy_(torch.randn(n, generator=g, dtype=dtype))
                m.running_var.copy_(torch.rand(n, generator=g, dtype=dtype) * 3 + 0.01)
                m.weight.copy_(torch.randn(n, generator=g, dtype=dtype))
                m.bias.copy_(torch.randn(n, generator=g, dtype=dtype))
    return model


# ---------------------------------------------------------------- folding


@settings(max_examples=60)
@given(
    in_ch=st.integers(1, 6),
    out_mult=st.integers(1, 3),
    depthwise=st.booleans(),
    k=st.sampled_from([1, 3, 5]),
    stride=st.integers(1, 2),
    bias=st.booleans(),
    eps=st.sampled_from([1e-5, 1e-3, 0.5]),
    seed=st.integers(0, 10_000),
)
def test_folded_sequential_equals_original_in_eval_mode(in_ch, out_mult, depthwise, k, stride,
                                                        bias, eps, seed):
    torch.manual_seed(seed)
    out_ch = in_ch * out_mult
    conv = nn.Conv2d(in_ch, out_ch, k, stride=stride, padding=k // 2,
                     groups=in_ch if depthwise else 1, bias=bias)
    model = nn.Sequential(conv, nn.BatchNorm2d(out_ch, eps=eps), nn.ReLU()).double()
    randomize_batch_norms(model, seed).eval()
    x = torch.randn(2, in_ch, 7, 6, dtype=torch.float64)
    folded = fold_batch_norm(model)
    assert count_batch_norms(folded) == 0 and count_batch_norms(model) == 1
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-10, atol=1e-10)
    # the folded weight is the formula's
    bn = model[1]
    scale = bn.weight / torch.sqrt(bn.running_var + eps)
    torch.testing.assert_close(folded[0].weight, conv.weight * scale.view(-1, 1, 1, 1))
    shift = (0 if conv.bias is None else conv.bias) - bn.running_mean
    torch.testing.assert_close(folded[0].bias, shift * scale + bn.bias)


@pytest.mark.parametrize("factory", [
    lambda: make_cnn("separable", 4, seed=0),
    lambda: make_cnn("normal", 4, seed=0),
    lambda: mobilenet_v1(width_multiplier=0.25, num_classes=7),
    lambda: mobilenet_v1(width_multiplier=0.25, num_classes=7, separable=False),
    lambda: DepthwiseSeparableConv2d(3, 5, 3, stride=2, padding=1, depth_multiplier=2,
                                     norm_layer=nn.BatchNorm2d, activation=nn.ReLU),
])
def test_book_models_fold_completely_and_stay_equal(factory):
    model = randomize_batch_norms(factory().double(), seed=1).eval()
    channels = 3 if not isinstance(model, nn.Sequential) else 1
    x = torch.randn(2, channels, 32 if channels == 3 else 8, 32 if channels == 3 else 8,
                    dtype=torch.float64)
    before = copy.deepcopy(model.state_dict())
    folded = fold_batch_norm(model)
    assert count_batch_norms(model) > 0
    assert count_batch_norms(folded) == 0
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-9, atol=1e-9)
    # the original is untouched
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])


def test_folded_model_differs_in_training_mode():
    model = randomize_batch_norms(nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)), 0)
    folded = fold_batch_norm(model.eval())
    x = torch.randn(4, 2, 6, 6)
    with torch.no_grad():
        assert not torch.allclose(folded(x), model.train()(x), atol=1e-3)


def test_batch_norm_without_a_convolution_before_it_stays():
    model = nn.Sequential(nn.ReLU(), nn.BatchNorm2d(3), nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3))
    folded = fold_batch_norm(model)
    assert isinstance(folded[1], nn.BatchNorm2d)
    assert isinstance(folded[3], nn.Identity)
    assert count_batch_norms(folded) == 1


def test_mismatched_pair_and_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="cannot fold"):
        fold_batch_norm(nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(5)))
    with pytest.raises(TypeError, match="model"):
        fold_batch_norm("mobilenet")
    with pytest.raises(TypeError, match="model"):
        count_batch_norms(None)


# ---------------------------------------------------------------- saved tensors


@settings(max_examples=30)
@given(m=st.integers(1, 8), n=st.integers(1, 8), size=st.integers(3, 9),
       batch=st.integers(1, 3), stride=st.integers(1, 2))
def test_conv_bn_relu_saves_input_conv_output_and_relu_output(m, n, size, batch, stride):
    block = ConvBNReLU(m, n, 3, stride=stride)
    x = torch.randn(batch, m, size, size)
    out = -(-size // stride)
    saved = saved_tensor_bytes(block, x)
    maps = batch * m * size * size + 2 * batch * n * out * out
    stats = 2 * n  # batch norm's saved mean and inverse standard deviation
    assert saved.activation_bytes == 4 * (maps + stats)
    # conv weight, bn weight and running statistics, saved by reference
    weight_bytes = 4 * (m * n * 9 + 3 * n)
    assert saved.parameter_bytes == weight_bytes
    assert saved.total_bytes == saved.activation_bytes + saved.parameter_bytes


def test_single_convolution_saves_its_input_and_weight():
    conv = nn.Conv2d(3, 5, 3, bias=False)
    saved = saved_tensor_bytes(conv, torch.zeros(2, 3, 10, 10))
    assert saved == SavedTensors(4 * 2 * 3 * 10 * 10, 4 * 5 * 3 * 9, 1)


def test_separable_block_saves_five_maps():
    c, h = 8, 6
    block = DepthwiseSeparableConv2d(c, c, 3, padding=1, norm_layer=nn.BatchNorm2d,
                                     activation=nn.ReLU)
    saved = saved_tensor_bytes(block, torch.zeros(1, c, h, h))
    assert saved.activation_bytes == 4 * (5 * c * h * h + 2 * 2 * c)


def test_meta_device_agrees_with_cpu_and_scales_with_batch():
    with torch.device("meta"):
        meta_model = mobilenet_v1(width_multiplier=0.25)
        meta = [saved_tensor_bytes(meta_model, torch.zeros(b, 3, 64, 64)) for b in (1, 3)]
    model = mobilenet_v1(width_multiplier=0.25)
    cpu = saved_tensor_bytes(model, torch.zeros(1, 3, 64, 64))
    assert meta[0] == cpu
    per_image = (meta[1].activation_bytes - meta[0].activation_bytes) // 2
    # all but the batch norms' per-channel statistics grow with the batch
    features = sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert meta[0].activation_bytes - per_image == 4 * 2 * features


def test_measurement_restores_modes_and_running_statistics():
    model = randomize_batch_norms(ConvBNReLU(3, 4), seed=2).eval()
    before = copy.deepcopy(model.state_dict())
    saved_tensor_bytes(model, torch.randn(2, 3, 5, 5))
    assert not any(m.training for m in model.modules())
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_saved_tensor_bytes_validates():
    with pytest.raises(TypeError, match="model"):
        saved_tensor_bytes(lambda x: x, torch.zeros(1))
    with pytest.raises(TypeError, match="x"):
        saved_tensor_bytes(nn.ReLU(), [1.0])


# ---------------------------------------------------------------- quantization


def hand_quantize(w: torch.Tensor, bits: int, per_channel: bool) -> torch.Tensor:
    """Independent reference in float64: round(w / s), clamp, times s."""
    levels = 2 ** (bits - 1) - 1
    dims = tuple(range(1, w.ndim))
    largest = w.abs().amax(dim=dims, keepdim=True) if per_channel else w.abs().max()
    s = (largest.double() / levels).float().double()
    s = torch.where(s > 0, s, torch.ones_like(s))
    return torch.clamp(torch.round(w.double() / s), -levels, levels) * s


weights = st.builds(
    lambda shape, seed, spread: torch.from_numpy(
        np.random.default_rng(seed).standard_normal(shape)
        * np.geomspace(1, spread, shape[0]).reshape((-1,) + (1,) * (len(shape) - 1))),
    shape=st.sampled_from([(4, 1, 3, 3), (6, 3, 3, 3), (5, 7, 1, 1), (3, 8), (2, 2, 1, 5)]),
    seed=st.integers(0, 10_000),
    spread=st.sampled_from([1.0, 10.0, 1000.0]),
)


@settings(max_examples=80)
@given(w=weights, bits=st.integers(2, 8), per_channel=st.booleans())
def test_fake_quantize_matches_the_formula_exactly_in_float64(w, bits, per_channel):
    q = fake_quantize_weight(w, bits, per_channel)
    assert q.dtype == torch.float64 and q.shape == w.shape
    torch.testing.assert_close(q, hand_quantize(w, bits, per_channel), rtol=0, atol=0)
    # on the grid, within half a step of the weight, and the extreme weight kept
    scales = symmetric_scales(w, bits, per_channel).double()
    s = scales.view((-1,) + (1,) * (w.ndim - 1)) if per_channel else scales
    integers = q / s
    torch.testing.assert_close(integers, integers.round(), rtol=0, atol=1e-9)
    assert integers.abs().max() <= 2 ** (bits - 1) - 1 + 1e-9
    assert torch.all((q - w).abs() <= s / 2 * (1 + 1e-9))
    torch.testing.assert_close(fake_quantize_weight(q, bits, per_channel), q)  # idempotent


@settings(max_examples=60)
@given(w=weights, bits=st.integers(2, 8))
def test_agrees_with_pytorchs_per_tensor_and_per_channel_ops_in_float32(w, bits):
    w = w.float()
    levels = 2 ** (bits - 1) - 1
    s = float(w.abs().max() / levels)
    ours = fake_quantize_weight(w, bits, per_channel=False)
    theirs = torch.fake_quantize_per_tensor_affine(w, s, 0, -levels, levels)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7)
    scales = (w.abs().flatten(1).amax(1) / levels).float()
    theirs = torch.fake_quantize_per_channel_affine(
        w, scales, torch.zeros(len(scales), dtype=torch.int32), 0, -levels, levels)
    torch.testing.assert_close(fake_quantize_weight(w, bits, per_channel=True), theirs)


def test_per_channel_error_is_even_and_per_tensor_error_hits_narrow_channels():
    w = torch.randn(8, 1, 3, 3, dtype=torch.float64) * torch.logspace(-2, 0, 8,
                                                                       dtype=torch.float64
                                                                       ).view(-1, 1, 1, 1)
    per_tensor = channel_quantization_error(w, 8, per_channel=False)
    per_channel = channel_quantization_error(w, 8, per_channel=True)
    assert per_channel.max() < 0.01
    assert per_tensor[0] > 10 * per_channel.max()
    torch.testing.assert_close(channel_ranges(w), w.abs().flatten(1).amax(1))


def test_zero_channel_gets_scale_one_and_error_zero():
    w = torch.randn(3, 2, 3, 3)
    w[1] = 0
    scales = symmetric_scales(w, 8)
    assert scales[1] == 1 and scales.dtype == torch.float32
    assert channel_quantization_error(w, 8)[1] == 0
    assert torch.equal(fake_quantize_weight(w, 8)[1], w[1])
    assert symmetric_scales(torch.zeros(2, 3), 8, per_channel=False) == 1


@pytest.mark.parametrize(("bits", "error"), [(1, ValueError), (17, ValueError), (8.0, TypeError),
                                              (True, TypeError), ("8", TypeError)])
def test_bits_are_validated(bits, error):
    with pytest.raises(error, match="bits"):
        fake_quantize_weight(torch.ones(2, 2), bits)


def test_quantization_arguments_are_validated():
    with pytest.raises(TypeError, match="weight"):
        fake_quantize_weight(np.ones((2, 2)))
    with pytest.raises(ValueError, match="weight"):
        symmetric_scales(torch.ones(3))
    with pytest.raises(TypeError, match="weight"):
        channel_ranges(torch.ones(2, 2, dtype=torch.int64))
    with pytest.raises(TypeError, match="per_channel"):
        symmetric_scales(torch.ones(2, 2), 8, per_channel=1)
    assert fake_quantize_weight(torch.ones(2, 2), np.int64(8)).dtype == torch.float32


# ---------------------------------------------------------------- timing a training step


def test_forward_backward_computes_gradients_and_clears_them():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    calls = []
    conv.weight.register_hook(lambda grad: calls.append(grad.abs().sum().item()))
    step = forward_backward(conv, torch.randn(1, 2, 5, 5))
    step()
    step()
    assert len(calls) == 2 and calls[0] == calls[1] > 0
    assert conv.weight.grad is None


def test_time_calls_measures_each_label_and_restores_threads():
    before = torch.get_num_threads()
    seen = []
    times = time_calls({"a": lambda: seen.append("a"), "b": lambda: sum(range(1000))},
                       min_run_time=0.001, rounds=2)
    assert set(times) == {"a", "b"} and all(t > 0 for t in times.values())
    assert seen and torch.get_num_threads() == before
    cpu = time_calls({"b": lambda: sum(range(1000))}, min_run_time=0.001, cpu_time=True)
    assert cpu["b"] > 0
    order = []
    rounds = time_rounds({"x": lambda: order.append("x"), "y": lambda: order.append("y")},
                         min_run_time=0.001, rounds=3)
    assert [len(v) for v in rounds.values()] == [3, 3]
    runs = [name for name, _ in itertools.groupby(order)]
    assert runs[-6:] == ["x", "y"] * 3  # calibrated in order, then interleaved rounds


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"calls": {}}, TypeError, "calls"),
    ({"calls": {"a": 1}}, TypeError, "calls"),
    ({"calls": {1: print}}, TypeError, "label"),
    ({"calls": {"a": print}, "threads": 0}, ValueError, "threads"),
    ({"calls": {"a": print}, "rounds": 0}, ValueError, "rounds"),
    ({"calls": {"a": print}, "min_run_time": 0}, ValueError, "min_run_time"),
    ({"calls": {"a": print}, "min_run_time": "1"}, TypeError, "min_run_time"),
    ({"calls": {"a": print}, "cpu_time": 1}, TypeError, "cpu_time"),
    ({"calls": {"a": print}, "cpu_time": True, "threads": 2}, ValueError, "cpu_time"),
])
def test_time_calls_validates(kwargs, error, match):
    with pytest.raises(error, match=match):
        time_calls(**kwargs)
    with pytest.raises(error, match=match):
        time_rounds(**kwargs)


def test_forward_backward_validates():
    with pytest.raises(TypeError, match="module"):
        forward_backward(None, torch.zeros(1))
    with pytest.raises(TypeError, match="x"):
        forward_backward(nn.ReLU(), 3)


