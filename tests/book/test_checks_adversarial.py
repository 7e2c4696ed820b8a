"""Adversarial cases for every checker, by class (the case ids start with it):

- ``mutation``: a right answer that changes an argument in place is refused;
- ``form``: a right answer in another natural form (Fraction, Decimal, NumPy
  scalars, 0-d tensors, float32 results as lists, another border) is accepted;
- ``wrong``: a plausible wrong answer is refused, with the right hint or none;
- ``argument``: a bad argument from the notebook is the caller's error, raised.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from checks_support import assert_fails, assert_passes, words
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

from helpers.book.checks.architectures import check_inverted_residual, check_mobilenet_macs
from helpers.book.checks.convolution import check_depthwise, check_output_size
from helpers.book.checks.cost import check_intensity, expected_intensity
from helpers.book.checks.counting import check_separable_params
from helpers.book.checks.deployment import check_channel_scales, check_fold_batch_norm
from helpers.book.checks.frameworks import check_keras_layout, reference_to_keras
from helpers.book.checks.lowrank import check_rank1_factors, check_separable_to_normal
from helpers.book.checks.overfitting import (
    check_generalisation_gap,
    check_width_for_budget,
    expected_width,
)
from helpers.book.checks.separable import (
    check_pointwise_matmul,
    check_separable_macs,
    check_separable_module,
)
from helpers.core.lowrank import separable_to_normal
from helpers.core.numpy_conv import depthwise_conv2d

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------ right answers


def params(m, n, k, bias):
    return k * k * m + m * n + ((m + n) if bias else 0)


def macs(m, n, k, h, w):
    return (k * k * m + m * n) * h * w


def mobilenet(m, n, f, alpha, rho):
    m, n, f = round(m * alpha), round(n * alpha), round(f * rho)
    return 9 * m * f * f + m * n * f * f


def output_size(h, k, p, s, d):
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def depthwise(x, weight):
    windows = np.lib.stride_tricks.sliding_window_view(x, weight.shape[1:], axis=(1, 2))
    return np.einsum("chwij,cij->chw", windows, weight)


def pointwise(x, weight):
    c, h, w = x.shape
    return (weight @ x.reshape(c, h * w)).reshape(-1, h, w)


def fold(weight, bias, mean, var, gamma, beta, eps):
    scale = gamma / torch.sqrt(var + eps)
    bias = torch.zeros_like(mean) if bias is None else bias
    return weight * scale.reshape(-1, 1, 1, 1), (bias - mean) * scale + beta


def scales(weight, bits):
    return weight.abs().flatten(1).amax(1) / (2 ** (bits - 1) - 1)


def rank1(kernel):
    u, s, vt = np.linalg.svd(kernel)
    return u[:, 0] * s[0], vt[0]


def to_torch(depthwise_kernel, pointwise_kernel):
    kh, kw, channels, multiplier = depthwise_kernel.shape
    return (depthwise_kernel.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, kh, kw),
            pointwise_kernel.transpose(3, 2, 0, 1))


def gap(history):
    return history.train_acc[-1] - history.val_acc[-1]


def exact_intensity(kind, c, s, k):
    weights = {"normal": k * k * c * c, "depthwise": k * k * c, "pointwise": c * c}[kind]
    return Fraction(2 * weights * s * s, 4 * (2 * c * s * s + weights))


class Separable(nn.Module):
    def __init__(self, m, n, k, padding_mode="zeros"):
        super().__init__()
        self.depthwise = nn.Conv2d(m, m, k, padding=k // 2, groups=m,
                                   padding_mode=padding_mode)
        self.pointwise = nn.Conv2d(m, n, 1)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class PadsInForward(Separable):
    def __init__(self, m, n, k):
        super().__init__(m, n, k)
        self.depthwise.padding = (0, 0)
        self.k = k

    def forward(self, x):
        padded = F.pad(x, (self.k // 2,) * 4, mode="replicate")
        return self.pointwise(self.depthwise(padded))


def block(cin, cout, stride, t, *, stride_at="depthwise", zero_input=False):
    hidden = cin * t
    strides = {name: (stride if name == stride_at else 1)
               for name in ("expand", "depthwise", "project")}

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            layers = []
            if t != 1:
                layers += [nn.Conv2d(cin, hidden, 1, strides["expand"], bias=False),
                           nn.BatchNorm2d(hidden), nn.ReLU6()]
            layers += [nn.Conv2d(hidden, hidden, 3, strides["depthwise"], 1, groups=hidden,
                                 bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(),
                       nn.Conv2d(hidden, cout, 1, strides["project"], bias=False),
                       nn.BatchNorm2d(cout)]
            self.body = nn.Sequential(*layers)

        def forward(self, x):
            out = self.body(x)
            out = x + out if stride == 1 and cin == cout else out
            if zero_input:
                x.zero_()
            return out

    return Block()


# ------------------------------------------------------------------ mutation


def _then(change, right):
    """A right answer that changes its arguments afterwards (with ``change(args)``)."""
    def answer(*args):
        result = right(*args)
        change(args)
        return result
    return answer


def _fold_changing(index, how):
    def answer(*args):
        result = tuple(t.clone() for t in fold(*args))
        if args[index] is not None:
            how(args[index])
        return result
    return answer


MUTATIONS = {
    "fold var": (check_fold_batch_norm, _fold_changing(3, lambda t: t.add_(1.0))),
    "fold mean": (check_fold_batch_norm, _fold_changing(2, lambda t: t.zero_())),
    "fold gamma": (check_fold_batch_norm, _fold_changing(4, lambda t: t.mul_(2.0))),
    "fold beta": (check_fold_batch_norm, _fold_changing(5, lambda t: t.sub_(1.0))),
    "fold bias": (check_fold_batch_norm, _fold_changing(1, lambda t: t.sub_(1.0))),
    "fold weight mul_": (check_fold_batch_norm, lambda w, b, m, v, g, beta, eps: (
        w.mul_((g / torch.sqrt(v + eps)).reshape(-1, 1, 1, 1)),
        ((torch.zeros_like(m) if b is None else b) - m) * g / torch.sqrt(v + eps) + beta)),
    "fold var in place first": (check_fold_batch_norm, lambda w, b, m, v, g, beta, eps: (
        v.add_(eps), fold(w, b, m, v, g, beta, 0.0))[1]),
    "scales abs_": (check_channel_scales, lambda w, b: scales(w.abs_(), b)),
    "depthwise x": (check_depthwise, _then(lambda a: a[0].fill(0.0), depthwise)),
    "pointwise weight": (check_pointwise_matmul, _then(lambda a: a[1].fill(0.0), pointwise)),
    "separable_to_normal": (check_separable_to_normal, _then(
        lambda a: a[0].fill(0.0), separable_to_normal)),
    "rank1 kernel": (check_rank1_factors, _then(lambda a: a[0].fill(0.0), rank1)),
    "gap history": (check_generalisation_gap, _then(lambda a: a[0].val_acc.pop(), gap)),
    "inverted residual zeroes x": (check_inverted_residual, lambda *a: block(*a,
                                                                             zero_input=True)),
}


@pytest.mark.parametrize(("check", "answer"), MUTATIONS.values(),
                         ids=[f"mutation-{name}" for name in MUTATIONS])
def test_mutation_is_refused(check, answer):
    result = check(answer)
    assert_fails(result)
    assert "place" in words(result) or "changed" in words(result), result.message


def test_mutation_keras_layout_is_refused():
    def to_keras(depthwise, pointwise, multiplier):
        result = tuple(np.array(a) for a in reference_to_keras(depthwise, pointwise,
                                                               multiplier))
        depthwise *= 0
        return result

    assert_fails(check_keras_layout(to_keras, to_torch), "place")


# ------------------------------------------------------------------ other forms


def _f32_list(fn):
    return lambda *a: np.asarray(fn(*a), dtype=np.float32).tolist()


FORMS = {
    "params Fraction": (check_separable_params, lambda *a: Fraction(params(*a))),
    "params Decimal": (check_separable_params, lambda *a: Decimal(params(*a))),
    "params 0-d tensor": (check_separable_params, lambda *a: torch.tensor(params(*a))),
    "params np.uint32": (check_separable_params, lambda *a: np.uint32(params(*a))),
    "macs Fraction": (check_separable_macs, lambda *a: Fraction(macs(*a))),
    "macs 0-d int array": (check_separable_macs, lambda *a: np.array(macs(*a))),
    "mobilenet Decimal": (check_mobilenet_macs, lambda *a: Decimal(mobilenet(*a))),
    "mobilenet np.int64": (check_mobilenet_macs, lambda *a: np.int64(mobilenet(*a))),
    "output size np.uint16": (check_output_size, lambda *a: np.uint16(output_size(*a))),
    "output size 0-d tensor": (check_output_size, lambda *a: torch.tensor(output_size(*a))),
    "intensity Fraction": (check_intensity, exact_intensity),
    "intensity Decimal": (check_intensity, lambda *a: Decimal(exact_intensity(*a).numerator)
                          / Decimal(exact_intensity(*a).denominator)),
    "intensity 0-d float32 tensor": (check_intensity, lambda *a: torch.tensor(
        float(expected_intensity(*a)), dtype=torch.float32)),
    "intensity float32 item": (check_intensity, lambda *a: np.float32(
        expected_intensity(*a)).item()),
    "gap Fraction": (check_generalisation_gap, lambda h: Fraction(h.train_acc[-1])
                     - Fraction(h.val_acc[-1])),
    "gap float32 item": (check_generalisation_gap, lambda h: float(
        np.float32(h.train_acc[-1]) - np.float32(h.val_acc[-1]))),
    "gap 0-d tensor": (check_generalisation_gap, lambda h: torch.tensor(gap(h))),
    "width np.int64": (check_width_for_budget, lambda t: np.int64(expected_width(t))),
    "width Fraction": (check_width_for_budget, lambda t: Fraction(expected_width(t))),
    "fold float32 lists": (check_fold_batch_norm, lambda *a: tuple(
        t.float().tolist() for t in fold(*a))),
    "fold float32 arrays": (check_fold_batch_norm, lambda *a: tuple(
        t.float().numpy() for t in fold(*a))),
    "fold tuple of float32 scalars": (check_fold_batch_norm, lambda *a: (
        fold(*a)[0].float(), tuple(np.float32(v) for v in fold(*a)[1].tolist()))),
    "scales float32 list": (check_channel_scales, _f32_list(scales)),
    "scales tuple of np.float32": (check_channel_scales, lambda w, b: tuple(
        np.float32(v) for v in scales(w, b).tolist())),
    "scales (N, 1, 1, 1)": (check_channel_scales, lambda w, b: scales(w, b).reshape(
        -1, *(1,) * (w.ndim - 1))),
    "pointwise float32 list": (check_pointwise_matmul, _f32_list(pointwise)),
    "depthwise float32 list": (check_depthwise, _f32_list(depthwise)),
    "depthwise tuple": (check_depthwise, lambda x, w: tuple(depthwise(x, w))),
    "separable_to_normal float32 list": (check_separable_to_normal,
                                         _f32_list(separable_to_normal)),
    "rank1 float32 lists": (check_rank1_factors, lambda k: tuple(
        np.float32(v).tolist() for v in rank1(k))),
    "module reflect padding": (check_separable_module,
                               lambda m, n, k: Separable(m, n, k, "reflect")),
    "module replicate in forward": (check_separable_module, PadsInForward),
    "module float64": (check_separable_module, lambda m, n, k: Separable(m, n, k).double()),
    "inverted residual float64": (check_inverted_residual, lambda *a: block(*a).double()),
}


@pytest.mark.parametrize(("check", "answer"), FORMS.values(),
                         ids=[f"form-{name}" for name in FORMS])
def test_right_answers_in_other_forms_are_accepted(check, answer):
    assert_passes(check(answer))


def test_form_keras_layout_as_float32_lists():
    def to_keras(depthwise, pointwise, multiplier):
        return tuple(np.float32(a).tolist() for a in reference_to_keras(depthwise, pointwise,
                                                                        multiplier))

    assert_passes(check_keras_layout(to_keras, to_torch))


# ------------------------------------------------------------------ plausible wrong answers


def _grouped_torch(x, w):
    return F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(w)[:, None],
                    groups=len(x))[0]


def _grouped_module(x, w):
    conv = nn.Conv2d(len(x), len(x), w.shape[-1], groups=len(x), bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w)[:, None])
        return conv(torch.from_numpy(x)[None])[0]


WRONG = {
    "separable macs in FLOPs": (check_separable_macs, lambda *a: 2 * macs(*a), "FLOPs"),
    "mobilenet macs in FLOPs": (check_mobilenet_macs, lambda *a: 2 * mobilenet(*a), "FLOPs"),
    "mobilenet int(F*rho)": (check_mobilenet_macs, lambda m, n, f, a, r: mobilenet(
        m, n, int(f * r), a, 1.0), "feature size"),
    "mobilenet ceil(F*rho)": (check_mobilenet_macs, lambda m, n, f, a, r: mobilenet(
        m, n, math.ceil(f * r), a, 1.0), "feature size"),
    "stride on the projection": (check_inverted_residual, lambda *a: block(
        *a, stride_at="project"), "depthwise step"),
    "depthwise with F.conv2d groups": (check_depthwise, _grouped_torch, "groups"),
    "depthwise with nn.Conv2d groups": (check_depthwise, _grouped_module, "groups"),
    "depthwise with depthwise_conv2d": (check_depthwise, lambda x, w: depthwise_conv2d(
        x, w[:, None]), "groups"),
    "pointwise channels-last": (check_pointwise_matmul, lambda x, w: pointwise(
        x, w).transpose(1, 2, 0), "(N, H, W)"),
    "fold beta sign": (check_fold_batch_norm, lambda *a: (
        fold(*a)[0], fold(*a)[1] - 2 * a[5]), "weights are right"),
    "scales off by 1 %": (check_channel_scales, lambda w, b: scales(w, b) * 1.01,
                          "scale[c] = max"),
}


@pytest.mark.parametrize(("check", "answer", "phrase"), WRONG.values(),
                         ids=[f"wrong-{name}" for name in WRONG])
def test_plausible_wrong_answers_are_refused_with_the_right_words(check, answer, phrase):
    assert_fails(check(answer), phrase)


def test_wrong_pointwise_channels_last_hint_names_the_output():
    result = check_pointwise_matmul(lambda x, w: pointwise(x, w).transpose(1, 2, 0))
    assert "(M, H, W)" not in words(result)


def test_wrong_fold_without_eps_and_with_float32_list_keeps_its_hint():
    answer = lambda w, b, m, v, g, beta, eps: tuple(  # noqa: E731
        t.float().tolist() for t in fold(w, b, m, v, g, beta, 0.0))
    assert_fails(check_fold_batch_norm(answer), "eps is missing")


# ------------------------------------------------------------------ checker arguments


@pytest.mark.parametrize(("seed", "error"), [(-1, ValueError), ("0", TypeError),
                                             (1.5, TypeError), (True, TypeError)],
                         ids=["argument-seed -1", "argument-seed str", "argument-seed float",
                              "argument-seed bool"])
def test_a_bad_seed_is_the_callers_error(seed, error):
    with pytest.raises(error, match="seed"):
        check_depthwise(depthwise, seed=seed)


@pytest.mark.parametrize("seed", [np.int64(3), torch.tensor(4)],
                         ids=["argument-seed np.int64", "argument-seed 0-d tensor"])
def test_a_seed_of_another_integer_type_is_accepted(seed):
    assert_passes(check_depthwise(depthwise, seed=seed))


@pytest.mark.parametrize("kinds", ["normal", [], ["grouped"], 3],
                         ids=["argument-kinds str", "argument-kinds empty",
                              "argument-kinds unknown", "argument-kinds int"])
def test_bad_kinds_are_the_callers_error(kinds):
    with pytest.raises((TypeError, ValueError), match="kind"):
        check_intensity(exact_intensity, kinds)


def test_reference_fold_is_pytorchs():
    w, b, m, v, g, beta = (torch.randn(3, 2, 1, 1), torch.randn(3), torch.randn(3),
                           torch.rand(3) + 0.5, torch.randn(3), torch.randn(3))
    want = fuse_conv_bn_weights(w, b, m, v, 1e-5, g, beta)
    for got, ref in zip(fold(w, b, m, v, g, beta, 1e-5), want, strict=True):
        torch.testing.assert_close(got, ref.detach())


# ------------------------------------------------------------------ the bias exercise


def fold_bias(pointwise_weight, depthwise_bias, pointwise_bias):
    return pointwise_weight[:, :, 0, 0] @ depthwise_bias + pointwise_bias


def test_fold_bias_exercises_batch_norm_too():
    from helpers.book.checks.frameworks import check_fold_bias

    result = check_fold_bias(fold_bias)
    assert_passes(result)
    for phrase in ("nothing between the steps, the same layer",
                   "a ReLU between the steps, the layer changes",
                   "a batch norm between the steps, the layer changes"):
        assert phrase in words(result)


@pytest.mark.parametrize(("answer", "phrase"), [
    (lambda p, b, c: (fold_bias(p, b, c), b.zero_())[0], "place"),
    (lambda p, b, c: p[:, :, 0, 0] @ b, "own bias is missing"),
    (lambda p, b, c: b.sum() + c, "weight the depthwise biases"),
    (lambda p, b, c: fold_bias(p, b, c)[:1], "one bias per output channel"),
], ids=["mutation-fold_bias", "wrong-fold_bias no pointwise bias", "wrong-fold_bias summed",
        "wrong-fold_bias shape"])
def test_fold_bias_refuses_wrong_answers(answer, phrase):
    from helpers.book.checks.frameworks import check_fold_bias

    assert_fails(check_fold_bias(answer), phrase)


@pytest.mark.parametrize("answer", [
    lambda p, b, c: fold_bias(p, b, c).float().tolist(),
    lambda p, b, c: (p[:, :, 0, 0].numpy() @ b.numpy() + c.numpy()).reshape(-1, 1),
], ids=["form-fold_bias float32 list", "form-fold_bias column"])
def test_fold_bias_accepts_other_forms(answer):
    from helpers.book.checks.frameworks import check_fold_bias

    assert_passes(check_fold_bias(answer))
