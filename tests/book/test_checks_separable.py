"""Tests of the chapter 4-5 exercise checkers: right answers written in several
ways pass, typical mistakes fail with their hint, other wrong answers fail
without a false hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from checks_support import assert_fails, assert_passes
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from helpers.book.checks.frameworks import (
    check_keras_layout,
    reference_to_keras,
    reference_to_torch,
)
from helpers.book.checks.separable import (
    MACS_CASES,
    _reference_pointwise,
    _reference_separable,
    check_pointwise_matmul,
    check_separable_macs,
    check_separable_module,
)
from helpers.core.layers import DepthwiseSeparableConv2d

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# ----------------------------------------------------------------------------- pointwise

POINTWISE_GENERIC = "sum over c of weight[o, c] * x[c, pixel]"


def good_pointwise(x, weight):
    c, h, w = x.shape
    return (weight @ x.reshape(c, h * w)).reshape(weight.shape[0], h, w)


@settings(max_examples=30, deadline=None)
@given(c_in=st.integers(1, 6), c_out=st.integers(1, 6), h=st.integers(1, 6),
       w=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_reference_pointwise_is_the_matrix_product_and_einsum(c_in, c_out, h, w, seed):
    rng = np.random.default_rng(seed)
    x, weight = rng.standard_normal((c_in, h, w)), rng.standard_normal((c_out, c_in))
    want = np.einsum("oc,chw->ohw", weight, x)
    np.testing.assert_allclose(_reference_pointwise(x, weight), want, atol=1e-10)
    np.testing.assert_allclose(good_pointwise(x, weight), want, atol=1e-10)


@pytest.mark.parametrize("answer", [
    good_pointwise,
    lambda x, w: np.einsum("oc,chw->ohw", w, x),
    lambda x, w: np.tensordot(w, x, axes=1),
    lambda x, w: (x.transpose(1, 2, 0) @ w.T).transpose(2, 0, 1),
    lambda x, w: good_pointwise(x, w).astype(np.float32),
    lambda x, w: good_pointwise(x.astype(np.float32), w.astype(np.float32)),
    lambda x, w: torch.from_numpy(good_pointwise(x, w)),
    lambda x, w: F.conv2d(torch.tensor(x[None], dtype=torch.float32),
                          torch.tensor(w[:, :, None, None], dtype=torch.float32))[0],
    lambda x, w: good_pointwise(x, w).tolist(),
], ids=["matmul", "einsum", "tensordot", "channels-last matmul", "float32 result",
        "float32 throughout", "tensor", "torch float32", "nested list"])
def test_pointwise_right_answers_pass(answer):
    assert_passes(check_pointwise_matmul(answer))


@pytest.mark.parametrize(("answer", "phrase"), [
    (lambda x, w: (x.reshape(-1, x.shape[0]) @ w.T).reshape(w.shape[0], *x.shape[1:]),
     "does not move the channels last"),
    (lambda x, w: (w @ x.reshape(x.shape[0], -1)), "back to (N, H, W)"),
    (lambda x, w: np.einsum("oc,chw->hwo", w, x), "channels-last"),
    (lambda x, w: good_pointwise(x, w)[None], "without a batch dimension"),
    (lambda x, w: w @ x, "raised"),
    (lambda x, w: None, "return a NumPy array"),
])
def test_pointwise_mistakes_fail_with_a_hint(answer, phrase):
    assert_fails(check_pointwise_matmul(answer), phrase)


def test_pointwise_transposed_weight_is_named():
    def transposed(x, w):
        return good_pointwise(x, w.T.copy()) if w.shape[0] == w.shape[1] else good_pointwise(x, w)

    assert_fails(check_pointwise_matmul(transposed), "(5, 4, 3)", "transposed")


@pytest.mark.parametrize("answer", [
    lambda x, w: good_pointwise(x, w) + 0.1,
    lambda x, w: good_pointwise(x, np.abs(w)),
    lambda x, w: good_pointwise(x, w) * (1 + (x.shape[0] == 1)),
    lambda x, w: good_pointwise(x, w[:, ::-1].copy()),  # channels reversed
    lambda x, w: good_pointwise(np.maximum(x, 0), w),
], ids=["offset", "abs weight", "wrong on one channel", "reversed channels", "relu"])
def test_pointwise_gives_no_false_hint(answer):
    assert_fails(check_pointwise_matmul(answer), "wrong values", POINTWISE_GENERIC)


def test_pointwise_detects_a_change_to_the_input():
    def in_place(x, w):
        out = good_pointwise(x, w)
        x -= x.mean()
        return out

    assert_fails(check_pointwise_matmul(in_place), "changed its argument x or weight")


# ----------------------------------------------------------------------------- module

MODULE_GENERIC = "and then self.pointwise, and nothing else?"


class GoodSeparable(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, bias=True):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size,
                                   padding=kernel_size // 2, groups=in_channels, bias=bias)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class SameSeparable(nn.Module):  # padding="same", bias-free, functional forward
    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, padding="same",
                                   groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels, out_channels, (1, 1), bias=False)

    def forward(self, x):
        hidden = F.conv2d(x, self.depthwise.weight, padding="same", groups=x.shape[1])
        return F.conv2d(hidden, self.pointwise.weight)


class DoubleSeparable(GoodSeparable):  # computes in float64
    def forward(self, x):
        return self.pointwise.double()(self.depthwise.double()(x.double()))


class SequentialInside(nn.Module):
    def __init__(self, m, n, k):
        super().__init__()
        self.depthwise = nn.Conv2d(m, m, k, padding=k // 2, groups=m)
        self.pointwise = nn.Conv2d(m, n, 1)
        self.steps = nn.Sequential(self.depthwise, self.pointwise)  # shared, not extra

    def forward(self, x):
        return self.steps(x)


class SeedSeparable(nn.Module):  # the tutorial's class: no padding
    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, groups=in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class NoGroups(GoodSeparable):
    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__(in_channels, out_channels, kernel_size)
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size,
                                   padding=kernel_size // 2)


class WrongOrder(GoodSeparable):
    def forward(self, x):
        return self.depthwise(x) + self.pointwise(x)


class WithReLU(GoodSeparable):
    def forward(self, x):
        return self.pointwise(torch.relu(self.depthwise(x)))


class ReLUAfter(GoodSeparable):
    def forward(self, x):
        return torch.relu(self.pointwise(self.depthwise(x)))


class NoAttributes(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.steps = nn.Sequential(nn.Conv2d(in_channels, in_channels, kernel_size,
                                             padding=kernel_size // 2, groups=in_channels),
                                   nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x):
        return self.steps(x)


class HalfBias(GoodSeparable):  # a bias on the depthwise step only: unusual, still right
    def __init__(self, m, n, k):
        super().__init__(m, n, k)
        self.pointwise = nn.Conv2d(m, n, 1, bias=False)


class KerasBias(GoodSeparable):  # one bias, on the pointwise step (Keras' SeparableConv2D)
    def __init__(self, m, n, k):
        super().__init__(m, n, k)
        self.depthwise = nn.Conv2d(m, m, k, padding=k // 2, groups=m, bias=False)


class ExtraNorm(GoodSeparable):  # a batch norm the exercise did not ask for
    def __init__(self, m, n, k):
        super().__init__(m, n, k)
        self.norm = nn.BatchNorm2d(n)


class ScalesInput(GoodSeparable):  # modifies its input, then computes on it
    def forward(self, x):
        x.mul_(2)
        return super().forward(x)


class ZeroesInputAfter(GoodSeparable):  # right output, but clobbers the caller's input
    def forward(self, x):
        out = super().forward(x)
        x.zero_()
        return out


class ReLUInPlace(GoodSeparable):
    def forward(self, x):
        return super().forward(x.relu_())


class ChangesWeights(GoodSeparable):  # changes its own weights during forward
    def forward(self, x):
        with torch.no_grad():
            self.depthwise.weight.mul_(2)
        return super().forward(x)


class Shifted(GoodSeparable):  # the depthwise step off by one pixel
    def forward(self, x):
        return self.pointwise(torch.roll(self.depthwise(x), 1, dims=-1))


class FlippedKernel(GoodSeparable):
    def forward(self, x):
        hidden = F.conv2d(x, self.depthwise.weight.flip(-1, -2), self.depthwise.bias,
                          padding=self.depthwise.padding, groups=x.shape[1])
        return self.pointwise(hidden)


class ReflectPadding(GoodSeparable):  # the borders padded by reflection, not zeros
    def __init__(self, m, n, k):
        super().__init__(m, n, k)
        self.depthwise.padding_mode = "reflect"


@pytest.mark.parametrize("answer", [
    GoodSeparable,
    ReflectPadding,  # keeps the size, as the exercise asks, with another border
    DepthwiseSeparableConv2d,  # the book's own layer
    lambda m, n, k: GoodSeparable(m, n, k, bias=False),
    SameSeparable,
    DoubleSeparable,
    lambda m, n, k: GoodSeparable(m, n, k).double(),
    SequentialInside,
    lambda m, n, k: GoodSeparable(m, n, np.int64(k)),
    KerasBias,
    HalfBias,
], ids=["bias", "reflect border", "book", "no bias", "same, functional", "float64 forward",
        "float64", "shared Sequential",
        "NumPy int kernel", "pointwise bias only", "depthwise bias only"])
def test_separable_right_answers_pass(answer):
    assert_passes(check_separable_module(answer))


def test_separable_module_leaves_torchs_random_state_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    check_separable_module(GoodSeparable)
    assert torch.equal(torch.random.get_rng_state(), before)


@pytest.mark.parametrize(("answer", "phrase"), [
    (SeedSeparable, "padding="),
    (NoGroups, "groups="),
    (WrongOrder, MODULE_GENERIC),
    (WithReLU, "ReLU between the two steps"),
    (ReLUAfter, "ReLU after the two steps"),
    (NoAttributes, "self.depthwise"),
    (ExtraNorm, "nothing else"),
    (ScalesInput, "changed its input x in place (and its output is wrong)"),
    (ZeroesInputAfter, "changed its input x in place:"),
    (ReLUInPlace, "changed its input x in place"),
    (lambda m, n, k: "not a module", "not an nn.Module"),
])
def test_separable_mistakes_fail_with_a_hint(answer, phrase):
    assert_fails(check_separable_module(answer), phrase)


@pytest.mark.parametrize("answer", [ChangesWeights, Shifted, FlippedKernel])
def test_separable_gives_no_false_hint(answer):
    result = check_separable_module(answer)
    assert_fails(result, MODULE_GENERIC)
    assert "ReLU" not in result.message


def test_separable_wrong_pointwise_kernel_is_named():
    class BigPointwise(GoodSeparable):
        def __init__(self, m, n, k):
            super().__init__(m, n, k)
            self.pointwise = nn.Conv2d(m, n, 3, padding=1)

    assert_fails(check_separable_module(BigPointwise), "1x1")


@settings(max_examples=15, deadline=None)
@given(m=st.integers(1, 5), n=st.integers(1, 5), k=st.sampled_from([1, 3, 5]),
       h=st.integers(5, 9), w=st.integers(5, 9), bias=st.booleans())
def test_reference_separable_is_the_two_step_composition(m, n, k, h, w, bias):
    torch.manual_seed(m * 100 + n * 10 + k)
    depthwise = nn.Conv2d(m, m, k, groups=m, bias=bias)
    pointwise = nn.Conv2d(m, n, 1, bias=bias)
    x = torch.randn(2, m, h, w)
    with torch.no_grad():
        want = F.conv2d(F.conv2d(x, depthwise.weight, depthwise.bias, padding=k // 2,
                                 groups=m), pointwise.weight, pointwise.bias)
        got = _reference_separable(x, depthwise, pointwise)
    assert got.dtype == torch.float64
    assert torch.allclose(got, want.double(), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- MACs

MACS_GENERIC = "Count each step: (weights of the step) x (output positions), then add."


def macs(m, n, k, h, w):
    return (k * k * m + m * n) * h * w


@pytest.mark.parametrize("answer", [
    macs,
    lambda m, n, k, h, w: k * k * m * h * w + m * n * h * w,
    lambda m, n, k, h, w: np.int64(macs(m, n, k, h, w)),
    lambda m, n, k, h, w: np.prod([h, w]) * (k ** 2 * m + m * n),
    lambda m, n, k, h, w: torch.tensor(macs(m, n, k, h, w)),
], ids=["formula", "two steps", "int64", "np.prod", "tensor"])
def test_macs_right_answers_pass(answer):
    assert_passes(check_separable_macs(answer))


@pytest.mark.parametrize(("answer", "phrase"), [
    (lambda m, n, k, h, w: k * k * m * n * h * w, "normal convolution"),
    (lambda m, n, k, h, w: k * k * m * h * w, "only the depthwise"),
    (lambda m, n, k, h, w: m * n * h * w, "only the pointwise"),
    (lambda m, n, k, h, w: k * k * m + m * n, "parameter count"),
    (lambda m, n, k, h, w: macs(m, n, k, h - k + 1, w - k + 1), "'same' padding"),
    (lambda m, n, k, h, w: float(macs(m, n, k, h, w)), "whole number"),
    (lambda m, n, k, h, w: 1 // 0, "ZeroDivisionError"),
])
def test_macs_mistakes_fail_with_a_hint(answer, phrase):
    assert_fails(check_separable_macs(answer), phrase)


@pytest.mark.parametrize("answer", [
    lambda m, n, k, h, w: macs(m, n, k, h, w) + 1,
    lambda m, n, k, h, w: (k * k * n + m * n) * h * w,  # depthwise on N
    lambda m, n, k, h, w: (k * m + m * n) * h * w,  # k instead of k*k
    lambda m, n, k, h, w: macs(m, n, k, h, h),  # square image assumed
    lambda m, n, k, h, w: macs(m, n, k, h, w) if m > 1 else k * k * m * n * h * w,
], ids=["off by one", "depthwise on N", "k not squared", "square", "mixture"])
def test_macs_gives_no_false_hint(answer):
    assert_fails(check_separable_macs(answer), "expected", MACS_GENERIC)


def test_macs_cases_tell_the_mistakes_apart_on_the_first_case():
    m, n, k, h, w = MACS_CASES[0]
    values = {macs(m, n, k, h, w), k * k * m * n * h * w, k * k * m * h * w, m * n * h * w}
    assert len(values) == 4


def test_checkers_refuse_non_callables():
    for checker in (check_pointwise_matmul, check_separable_module, check_separable_macs):
        with pytest.raises(TypeError, match="must be"):
            checker(42)


# ---------------------------------------------------------------------------
# PyTorch <-> Keras weight layout (the reference itself is proved with Keras in
# test_keras.py)


def keras_good(depthwise, pointwise, depth_multiplier):
    m = depthwise.shape[0] // depth_multiplier
    return (np.transpose(depthwise.reshape(m, depth_multiplier, *depthwise.shape[2:]),
                         (2, 3, 0, 1)),
            np.transpose(pointwise, (2, 3, 1, 0)))


def torch_good(depthwise_kernel, pointwise_kernel):
    kh, kw, m, mult = depthwise_kernel.shape
    return (np.moveaxis(depthwise_kernel, (0, 1), (2, 3)).reshape(m * mult, 1, kh, kw),
            np.transpose(pointwise_kernel, (3, 2, 0, 1)))


def keras_in_torch(depthwise, pointwise, depth_multiplier):  # tensors, float32, a list
    dw = torch.from_numpy(depthwise).float()
    m = dw.shape[0] // depth_multiplier
    return [dw.reshape(m, depth_multiplier, *dw.shape[2:]).permute(2, 3, 0, 1),
            torch.from_numpy(pointwise).float().permute(2, 3, 1, 0)]


def keras_wrong_order(depthwise, pointwise, depth_multiplier):
    m = depthwise.shape[0] // depth_multiplier
    return (depthwise.reshape(depth_multiplier, m, *depthwise.shape[2:]).transpose(2, 3, 1, 0),
            pointwise.transpose(2, 3, 1, 0))


def keras_swapped_kernel(depthwise, pointwise, depth_multiplier):
    m = depthwise.shape[0] // depth_multiplier
    return (depthwise.reshape(m, depth_multiplier, *depthwise.shape[2:]).transpose(3, 2, 0, 1),
            pointwise.transpose(2, 3, 1, 0))


def keras_pointwise_unturned(depthwise, pointwise, depth_multiplier):
    return keras_good(depthwise, pointwise, depth_multiplier)[0], pointwise.transpose(2, 3, 0, 1)


def torch_wrong_order(depthwise_kernel, pointwise_kernel):
    kh, kw, m, mult = depthwise_kernel.shape
    return (depthwise_kernel.transpose(3, 2, 0, 1).reshape(m * mult, 1, kh, kw),
            pointwise_kernel.transpose(3, 2, 0, 1))


def torch_in_place(depthwise_kernel, pointwise_kernel):
    depthwise_kernel *= 1.0
    pointwise_kernel[...] = pointwise_kernel * 2
    return torch_good(depthwise_kernel, pointwise_kernel)


def test_reference_round_trip():
    rng = np.random.default_rng(0)
    dw, pw = rng.standard_normal((6, 1, 3, 5)), rng.standard_normal((4, 6, 1, 1))
    back = reference_to_torch(*reference_to_keras(dw, pw, 2))
    np.testing.assert_array_equal(back[0], dw)
    np.testing.assert_array_equal(back[1], pw)


@pytest.mark.parametrize(("to_keras", "to_torch"), [
    (keras_good, torch_good), (keras_in_torch, torch_good),
    (reference_to_keras, reference_to_torch),
])
def test_keras_layout_right_answers_pass(to_keras, to_torch):
    assert_passes(check_keras_layout(to_keras, to_torch))


@pytest.mark.parametrize(("to_keras", "to_torch", "phrase"), [
    (keras_wrong_order, torch_good, "split M*m into (M, m)"),
    (keras_swapped_kernel, torch_good, "keep kh before kw"),
    (keras_pointwise_unturned, torch_good, "pointwise_kernel of shape"),
    (keras_good, torch_wrong_order, "to_torch does not undo to_keras"),
    (keras_good, torch_in_place, "in place"),
    (lambda d, p, m: d, torch_good, "return a pair"),
    (keras_good, lambda d, p: None, "return a pair"),
])
def test_keras_layout_mistakes_fail(to_keras, to_torch, phrase):
    assert_fails(check_keras_layout(to_keras, to_torch), phrase)
