"""Tests of helpers.book.checks.deployment: correct answers in several forms pass,
each common slip gets its hint, and unforeseen wrong answers get a general
message without crashing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checks_support import assert_fails

from helpers.book.checks.deployment import check_channel_scales, check_fold_batch_norm

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---------------------------------------------------------------- folding


def fold(weight, bias, mean, var, gamma, beta, eps):
    scale = gamma / torch.sqrt(var + eps)
    bias = torch.zeros_like(mean) if bias is None else bias
    return weight * scale.reshape(-1, 1, 1, 1), (bias - mean) * scale + beta


def fold_numpy(weight, bias, mean, var, gamma, beta, eps):
    w, m, v, g, b = (t.numpy() for t in (weight, mean, var, gamma, beta))
    scale = g / np.sqrt(v + eps)
    conv_bias = 0.0 if bias is None else bias.numpy()
    return w * scale[:, None, None, None], list((conv_bias - m) * scale + b)


def fold_in_place_float32(weight, bias, mean, var, gamma, beta, eps):
    scale = (gamma / (var + eps).sqrt()).float()
    w = weight.float()
    w.mul_(scale.view(-1, 1, 1, 1))
    b = -mean.float() * scale + beta.float()
    if bias is not None:
        b += bias.float() * scale
    return w, b


def fold_with_torch(weight, bias, mean, var, gamma, beta, eps):
    from torch.nn.utils.fusion import fuse_conv_bn_weights

    return tuple(fuse_conv_bn_weights(weight, bias, mean, var, eps, gamma, beta))


@pytest.mark.parametrize("fn", [fold, fold_numpy, fold_in_place_float32, fold_with_torch])
def test_correct_folds_pass(fn):
    result = check_fold_batch_norm(fn)
    assert result.passed and bool(result), result.message
    assert "Correct" in str(result)


def variant(**changes):
    """A fold with one slip; ``changes`` replaces parts of the formula."""
    def fn(weight, bias, mean, var, gamma, beta, eps):
        std = changes.get("std", lambda v, e: torch.sqrt(v + e))(var, eps)
        scale = changes.get("scale", lambda g, s: g / s)(gamma, std)
        b0 = torch.zeros_like(mean) if bias is None or changes.get("drop_bias") else bias
        axis = changes.get("axis", 0)
        shape = [1] * weight.ndim
        shape[axis] = -1
        new_bias = changes.get("bias", lambda b, m, s, be: (b - m) * s + be)(b0, mean, scale,
                                                                              beta)
        return weight * scale.reshape(shape), new_bias
    return fn


@pytest.mark.parametrize(("fn", "hint"), [
    (variant(std=lambda v, e: torch.sqrt(v)), "eps is missing"),
    (variant(std=lambda v, e: v + e), "not by the variance"),
    (variant(bias=lambda b, m, s, be: b * s + be), "lacks the mean"),
    (variant(drop_bias=True), "own bias is missing"),
    (variant(bias=lambda b, m, s, be: be - m), "mean must be scaled"),
    (variant(bias=lambda b, m, s, be: (b + m) * s + be), "sign of the mean"),
    (variant(scale=lambda g, s: 1 / s, bias=lambda b, m, s, be: (b - m) * s + be),
     "gamma is missing"),
])
def test_fold_slips_get_a_hint(fn, hint):
    result = check_fold_batch_norm(fn)
    assert not result.passed
    assert_fails(result, hint)


def test_wrong_axis_is_named_when_it_broadcasts():
    result = check_fold_batch_norm(variant(axis=1))
    assert not result.passed
    assert_fails(result, "wrong axis")


def test_right_weights_wrong_bias_and_vice_versa_get_a_partial_hint():
    def bias_off(*args):
        w, b = fold(*args)
        return w, b + 0.5

    def weight_off(*args):
        w, b = fold(*args)
        return w * 1.1, b

    assert_fails(check_fold_batch_norm(bias_off), "weights are right")
    assert_fails(check_fold_batch_norm(weight_off), "bias is right")


@pytest.mark.parametrize(("fn", "words"), [
    (lambda *a: None, "return a pair"),
    (lambda *a: fold(*a)[0], "return a pair"),
    (lambda *a: ("w", "b"), "return a NumPy array"),
    (lambda *a: (fold(*a)[0][:, :1], fold(*a)[1]), "shape"),
    (lambda *a: (fold(*a)[0], fold(*a)[1][:1]), "one number per output channel"),
    (lambda *a: 1 / 0, "ZeroDivisionError"),
    (lambda *a: (torch.zeros_like(a[0]), torch.zeros_like(a[2])), "With scale = gamma"),
])
def test_fold_odd_answers_are_reported_without_crashing(fn, words):
    result = check_fold_batch_norm(fn)
    assert_fails(result, words)


def test_fold_checker_validates_its_argument():
    with pytest.raises(TypeError, match="fn"):
        check_fold_batch_norm("fold")


# ---------------------------------------------------------------- scales


def scales(weight, bits):
    return weight.abs().flatten(1).amax(1) / (2 ** (bits - 1) - 1)


@pytest.mark.parametrize("fn", [
    scales,
    lambda w, b: scales(w, b).numpy(),
    lambda w, b: scales(w, b).float(),
    lambda w, b: scales(w, b).reshape(-1, *(1,) * (w.ndim - 1)),
    lambda w, b: [float(v) for v in scales(w, b)],
    lambda w, b: np.abs(w.numpy()).reshape(len(w), -1).max(axis=1) / np.int64(2 ** (b - 1) - 1),
])
def test_correct_scales_pass(fn):
    result = check_channel_scales(fn)
    assert result.passed, result.message


@pytest.mark.parametrize(("fn", "hint"), [
    (lambda w, b: torch.full((len(w),), float(w.abs().max())) / (2 ** (b - 1) - 1),
     "per-tensor"),
    (lambda w, b: w.flatten(1).amax(1) / (2 ** (b - 1) - 1), "absolute"),
    (lambda w, b: w.abs().flatten(1).amax(1) / (2**b - 1), "not by 2**bits - 1"),
    (lambda w, b: w.abs().flatten(1).amax(1) / 2 ** (b - 1), "symmetric range stops"),
    (lambda w, b: w.abs().flatten(1).amax(1) / 2**b, "not by 2**bits"),
    (lambda w, b: (2 ** (b - 1) - 1) / w.abs().flatten(1).amax(1), "reciprocal"),
    (lambda w, b: w.abs().flatten(1).amax(1) / 127, "bit width is ignored"),
])
def test_scale_slips_get_a_hint(fn, hint):
    result = check_channel_scales(fn)
    assert not result.passed
    assert_fails(result, hint)


@pytest.mark.parametrize(("fn", "words"), [
    (lambda w, b: None, "return a NumPy array"),
    (lambda w, b: "0.1", "return a NumPy array"),
    (lambda w, b: scales(w, b)[:2], "one per output channel"),
    (lambda w, b: w.abs().amax(dim=0).flatten() / 127, "one per output channel"),
    (lambda w, b: scales(w, b) * 1.01, "scale[c] = max"),
    (lambda w, b: w[99], "raised IndexError"),
])
def test_scale_odd_answers_are_reported_without_crashing(fn, words):
    result = check_channel_scales(fn)
    assert_fails(result, words)


def test_scale_checker_validates_its_argument():
    with pytest.raises(TypeError, match="fn"):
        check_channel_scales(None)
