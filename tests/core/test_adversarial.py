"""Adversarial inputs for the public functions of the teaching core, by class
(the case ids start with it): ``kind`` (wrong kinds), ``range`` (out of range),
``nan`` (NaN and inf), ``huge`` (refused before anything is allocated), ``empty``,
``dtype`` (wrong dtype or device), ``scalar`` (NumPy scalars and 0-d tensors
accepted where numbers are), ``unchanged`` (nothing left changed by a failure)
and ``bug`` (the specific bugs once found)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from helpers.core import cost, geometry, layers, lowrank, models
from helpers.core.folding import count_batch_norms, fold_batch_norm
from helpers.core.numpy_conv import depthwise_conv2d

pytestmark = pytest.mark.usefixtures("one_torch_thread")

W4 = np.random.default_rng(0).standard_normal((4, 3, 3, 3))
NAN_W = W4.copy()
NAN_W[0, 0, 0, 0] = np.nan


def _seq():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())


#: (id, call, error type, words the message must contain)
REFUSED = [
    # -------------------------------------------------------------- kind
    ("kind-output_length fractional stride", lambda: geometry.output_length(8, 3, 1.5), TypeError,
     "stride"),
    ("kind-output_length str size", lambda: geometry.output_length("8", 3), TypeError, "size"),
    ("kind-resolve_padding int kernel list", lambda: geometry.resolve_padding(1, [3]), TypeError,
     "kernel_size"),
    ("kind-resolve_padding padding float", lambda: geometry.resolve_padding(1.5, 3), TypeError,
     "padding"),
    ("kind-conv_output_size None", lambda: geometry.conv_output_size(None, 3), TypeError, "size"),
    ("kind-DepthwiseConv2d str channels", lambda: layers.DepthwiseConv2d("3"), TypeError,
     "in_channels"),
    ("kind-PointwiseConv2d bias int", lambda: layers.PointwiseConv2d(3, 4, bias=2), TypeError,
     "bias"),
    ("kind-DepthwiseSeparableConv2d norm instance", lambda: layers.DepthwiseSeparableConv2d(
        3, 4, norm_layer=nn.BatchNorm2d(3)), TypeError, "norm_layer"),
    ("kind-layer numpy input", lambda: layers.DepthwiseConv2d(3)(np.zeros((1, 3, 4, 4))),
     TypeError, "torch.Tensor"),
    ("kind-odd_same_padding float", lambda: layers.odd_same_padding(3.0), TypeError,
     "kernel_size"),
    ("kind-mobilenet width str", lambda: models.mobilenet_v1("0.5"), TypeError,
     "width_multiplier"),
    ("kind-conv_cost kind int", lambda: cost.conv_cost(3, 8, 8), TypeError, "kind"),
    ("kind-count_parameters list", lambda: cost.count_parameters([nn.Conv2d(1, 1, 1)]),
     TypeError, "module"),
    ("kind-count_macs shape str", lambda: cost.count_macs(nn.Conv2d(1, 1, 1), "1x1x4x4"),
     TypeError, "input_shape"),
    ("kind-fold_batch_norm dict", lambda: fold_batch_norm({}), TypeError, "model"),
    ("kind-count_batch_norms None", lambda: count_batch_norms(None), TypeError, "model"),
    ("kind-normal_to_separable list", lambda: lowrank.normal_to_separable(W4.tolist()),
     TypeError, "weight"),
    ("kind-recalibrate images list", lambda: lowrank.recalibrate_batch_norm(_seq(), [1.0]),
     TypeError, "images"),
    ("kind-recalibrate int images", lambda: lowrank.recalibrate_batch_norm(
        _seq(), torch.ones(2, 3, 4, 4, dtype=torch.int64)), TypeError, "images"),
    ("kind-replace_with_separable model str", lambda: lowrank.replace_with_separable(
        "m", "0", 1), TypeError, "model"),
    # -------------------------------------------------------------- range
    ("range-output_length zero stride", lambda: geometry.output_length(8, 3, 0), ValueError,
     "stride"),
    ("range-output_length negative padding", lambda: geometry.output_length(8, 3, 1, -1),
     ValueError, "pad_total"),
    ("range-resolve_padding negative pair", lambda: geometry.resolve_padding((1, -1), 3),
     ValueError, "padding"),
    ("range-kernel_span zero", lambda: geometry.kernel_span(0), ValueError, "kernel_size"),
    ("range-DepthwiseConv2d multiplier 0", lambda: layers.DepthwiseConv2d(3, depth_multiplier=0),
     ValueError, "depth_multiplier"),
    ("range-odd_same_padding even", lambda: layers.odd_same_padding(4), ValueError, "odd"),
    ("range-InvertedResidual stride 3", lambda: models.InvertedResidual(4, 4, 3), ValueError,
     "stride"),
    ("range-mobilenet width 0", lambda: models.mobilenet_v1(0.0), ValueError,
     "width_multiplier"),
    ("range-conv2d_params groups", lambda: cost.conv2d_params(6, 4, 3, groups=4), ValueError,
     "groups"),
    ("range-approximation_errors rank 0", lambda: lowrank.approximation_errors(W4, [0]),
     ValueError, "ranks"),
    ("range-replace_with_separable name", lambda: lowrank.replace_with_separable(
        _seq(), "9", 1), ValueError, "name"),
    # -------------------------------------------------------------- nan
    ("nan-mobilenet width nan", lambda: models.mobilenet_v1(float("nan")), ValueError,
     "width_multiplier"),
    ("nan-mobilenet width inf", lambda: models.mobilenet_v1(float("inf")), ValueError,
     "width_multiplier"),
    ("nan-scaled_channels np.nan", lambda: models.scaled_channels(32, np.float64("nan")),
     ValueError, "width_multiplier"),
    ("nan-normal_to_separable", lambda: lowrank.normal_to_separable(NAN_W), ValueError,
     "finite"),
    ("nan-rank1_factors inf", lambda: lowrank.rank1_factors(np.array([[1.0, np.inf]])),
     ValueError, "finite"),
    ("nan-recalibrate images", lambda: lowrank.recalibrate_batch_norm(
        _seq(), torch.full((2, 3, 4, 4), float("nan"))), ValueError, "finite"),
    # -------------------------------------------------------------- huge
    ("huge-mobilenet width 75", lambda: models.mobilenet_v1(75), ValueError,
     "width_multiplier=75"),
    ("huge-mobilenet classes", lambda: models.mobilenet_v1(1.0, 10**9), ValueError,
     "parameters"),
    ("huge-separable layer", lambda: layers.DepthwiseSeparableConv2d(10**6, 10**6), ValueError,
     "parameters"),
    ("huge-depthwise multiplier", lambda: layers.DepthwiseConv2d(10**4, 9, depth_multiplier=10**4),
     ValueError, "parameters"),
    ("huge-ConvBNReLU", lambda: layers.ConvBNReLU(10**4, 10**4, 9), ValueError, "parameters"),
    ("huge-xception middle flow", lambda: models.xception_middle_flow(728, 10**4), ValueError,
     "parameters"),
    ("huge-normal_to_separable rank", lambda: lowrank.normal_to_separable(W4, 10**9),
     ValueError, "parameters"),
    ("huge-count_macs input", lambda: cost.count_macs(nn.Conv2d(3, 3, 1), (10**4, 3, 10**3,
                                                                          10**3)),
     ValueError, "input_shape"),
    # -------------------------------------------------------------- empty
    ("empty-count_macs shape", lambda: cost.count_macs(nn.Conv2d(3, 3, 1), ()), ValueError,
     "input_shape"),
    ("empty-normal_to_separable", lambda: lowrank.normal_to_separable(np.zeros((0, 3, 3, 3))),
     ValueError, "empty"),
    ("empty-rank1_factors", lambda: lowrank.rank1_factors(np.zeros((0, 3))), ValueError,
     "empty"),
    ("empty-approximation_errors ranks", lambda: lowrank.approximation_errors(W4, []),
     ValueError, "ranks"),
    ("empty-recalibrate images", lambda: lowrank.recalibrate_batch_norm(
        _seq(), torch.zeros(0, 3, 4, 4)), ValueError, "empty"),
    # -------------------------------------------------------------- dtype and device
    ("dtype-layer float64 input", lambda: layers.DepthwiseConv2d(3)(
        torch.zeros(1, 3, 4, 4, dtype=torch.float64)), TypeError, "float64"),
    ("dtype-layer int input", lambda: layers.PointwiseConv2d(3, 2)(
        torch.zeros(1, 3, 4, 4, dtype=torch.int64)), TypeError, "floating"),
    ("dtype-separable int input", lambda: layers.DepthwiseSeparableConv2d(3, 2)(
        torch.zeros(1, 3, 4, 4, dtype=torch.int32)), TypeError, "floating"),
    ("dtype-layer meta device", lambda: layers.DepthwiseConv2d(3)(
        torch.zeros(1, 3, 4, 4, device="meta")), ValueError, "meta"),
    ("dtype-mobilenet int input", lambda: models.mobilenet_v1(0.25, 10)(
        torch.zeros(1, 3, 32, 32, dtype=torch.uint8)), TypeError, "floating"),
    ("dtype-normal_to_separable complex", lambda: lowrank.normal_to_separable(
        W4.astype(complex)), TypeError, "real"),
]


@pytest.mark.parametrize(("call", "error", "phrase"), [case[1:] for case in REFUSED],
                         ids=[case[0] for case in REFUSED])
def test_bad_input_is_refused_with_a_message_naming_it(call, error, phrase):
    with pytest.raises(error) as info:
        call()
    assert phrase in str(info.value), str(info.value)
    origin = info.traceback[-1].path  # raised by the book's code, not deep inside a library
    assert "helpers" in str(origin), (origin, str(info.value))


#: (id, call, the value it must give)
ACCEPTED = [
    ("scalar-conv_output_size np.int64", lambda: geometry.conv_output_size(
        np.int64(8), np.int32(3), np.uint8(2), np.int16(1)), 4),
    ("scalar-conv_output_size 0-d tensors", lambda: geometry.conv_output_size(
        torch.tensor(8), torch.tensor(3)), 6),
    ("scalar-kernel_span 0-d array", lambda: geometry.kernel_span(np.array(3), np.array(2)), 5),
    ("scalar-output_length numpy", lambda: geometry.output_length(np.int64(8), 3, np.int8(2),
                                                                  np.int64(2)), 4),
    ("scalar-resolve_padding 0-d tensor", lambda: geometry.resolve_padding(
        torch.tensor(1), 3), ((1, 1), (1, 1))),
    ("scalar-DepthwiseConv2d 0-d tensor", lambda: layers.DepthwiseConv2d(
        torch.tensor(3), torch.tensor(3)).out_channels, 3),
    ("scalar-PointwiseConv2d numpy", lambda: layers.PointwiseConv2d(
        np.int64(3), np.uint16(5), np.bool_(False)).out_channels, 5),
    ("scalar-mobilenet np.float32", lambda: models.mobilenet_v1(
        np.float32(0.25), np.int64(10)).num_classes, 10),
    ("scalar-mobilenet 0-d tensor", lambda: models.mobilenet_v1(
        torch.tensor(0.25), torch.tensor(10)).width_multiplier, 0.25),
    ("scalar-scaled_channels 0-d tensor", lambda: models.scaled_channels(
        torch.tensor(32), torch.tensor(0.5)), 16),
    ("scalar-separable_cost_ratio numpy", lambda: float(cost.separable_cost_ratio(
        np.int16(8), np.int64(3))), 1 / 8 + 1 / 9),
    ("scalar-conv2d_params 0-d tensor", lambda: cost.conv2d_params(
        torch.tensor(3), 4, (np.int64(3), torch.tensor(3))), 108),
    ("scalar-normal_to_separable np.int64 rank", lambda: lowrank.normal_to_separable(
        W4, np.int64(2))[0].shape, (6, 1, 3, 3)),
    ("scalar-approximation_errors 0-d tensor rank", lambda: lowrank.approximation_errors(
        W4, [torch.tensor(4)]).tolist(), [0.0]),
]


@pytest.mark.parametrize(("call", "want"), [case[1:] for case in ACCEPTED],
                         ids=[case[0] for case in ACCEPTED])
def test_numpy_scalars_and_0d_tensors_are_accepted(call, want):
    got = call()
    assert got == pytest.approx(want) if isinstance(want, float) else got == want


# ------------------------------------------------------------------ unchanged by a failure


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}, [m.training for m in
                                                                   model.modules()]


def test_unchanged_recalibrate_with_wrong_channels_leaves_the_model_as_it_was():
    model = _seq()
    model.train()
    model(torch.randn(4, 3, 5, 5) * 3 + 1)  # statistics worth keeping
    model.eval()
    before, modes = _state(model)
    with pytest.raises(ValueError, match="model cannot run on images"):
        lowrank.recalibrate_batch_norm(model, torch.randn(2, 5, 4, 4))
    after, modes_after = _state(model)
    assert modes == modes_after
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_unchanged_count_macs_failure_restores_modes():
    model = _seq().train()
    with pytest.raises(ValueError, match="cannot run"):
        cost.count_macs(model, (1, 5, 4, 4))
    assert all(m.training for m in model.modules())


def test_unchanged_fold_batch_norm_leaves_the_original():
    model = _seq().eval()
    model[1].running_mean.normal_()
    before, modes = _state(model)
    fold_batch_norm(model)
    after, _ = _state(model)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_unchanged_a_refused_huge_model_allocates_nothing(monkeypatch):
    built = []
    monkeypatch.setattr(nn.Conv2d, "__init__", lambda self, *a, **k: built.append(a))
    with pytest.raises(ValueError):
        models.mobilenet_v1(75)
    assert built == []


# ------------------------------------------------------------------ specific bugs


class ConvReLU(nn.Module):  # a learner's block: a convolution, then a ReLU
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x))


def test_bug_fold_leaves_a_batch_norm_after_a_learners_conv_relu_block():
    model = nn.Sequential(ConvReLU(), nn.BatchNorm2d(4)).eval()
    with torch.no_grad():
        model[1].running_mean.normal_()
        model[1].running_var.uniform_(0.5, 2.0)
        model[1].bias.normal_()
    folded = fold_batch_norm(model)
    x = torch.randn(2, 3, 6, 6)
    torch.testing.assert_close(folded(x), model(x))
    assert count_batch_norms(folded) == 1


@pytest.mark.parametrize("make", [
    lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()),
    lambda: layers.DepthwiseSeparableConv2d(3, 4, norm_layer=nn.BatchNorm2d,
                                            activation=nn.ReLU),
    lambda: layers.ConvBNReLU(3, 4),
    lambda: models.InvertedResidual(3, 3),
], ids=["bug-fold Sequential", "bug-fold separable", "bug-fold ConvBNReLU",
        "bug-fold InvertedResidual"])
def test_bug_fold_still_folds_where_it_is_provably_exact(make):
    model = make().eval()
    for norm in model.modules():
        if isinstance(norm, nn.BatchNorm2d):
            with torch.no_grad():
                norm.running_mean.normal_()
                norm.running_var.uniform_(0.5, 2.0)
    folded = fold_batch_norm(model)
    x = torch.randn(2, 3, 6, 6)
    torch.testing.assert_close(folded(x), model(x), atol=1e-5, rtol=1e-5)
    assert count_batch_norms(folded) == 0


SCRIPTABLE = {
    "DepthwiseConv2d": lambda: layers.DepthwiseConv2d(3, 3, stride=2),
    "PointwiseConv2d": lambda: layers.PointwiseConv2d(3, 4),
    "DepthwiseSeparableConv2d": lambda: layers.DepthwiseSeparableConv2d(3, 4),
    "DepthwiseSeparableConv2d with norm": lambda: layers.DepthwiseSeparableConv2d(
        3, 4, norm_layer=nn.BatchNorm2d, activation=nn.ReLU6),
    "ConvBNReLU": lambda: layers.ConvBNReLU(3, 4),
    "XceptionSeparableConv2d": lambda: models.XceptionSeparableConv2d(3, 4),
    "XceptionEntryBlock": lambda: models.XceptionEntryBlock(3, 4),
    "XceptionMiddleBlock": lambda: models.XceptionMiddleBlock(3),
    "InvertedResidual": lambda: models.InvertedResidual(3, 3),
    "atrous": lambda: models.atrous_separable_conv2d(3, 4, dilation=2),
    "MobileNetV1": lambda: models.mobilenet_v1(0.25, 10),
}


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("make", SCRIPTABLE.values(), ids=[f"bug-script {n}" for n in SCRIPTABLE])
def test_bug_every_book_layer_can_be_scripted(make):
    model = make().eval()
    scripted = torch.jit.script(model)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x))


@pytest.mark.parametrize(("size", "k"), [(8, 3), (9, 3), (7, 5), (8, 4), (6, 2)],
                         ids=lambda v: str(v))
def test_bug_strided_same_is_one_policy_for_numpy_and_layers(size, k):
    layer = layers.DepthwiseConv2d(2, k, stride=2, padding="same").double()
    x = torch.randn(1, 2, size, size, dtype=torch.float64)
    with torch.no_grad():
        want = layer(x).numpy()
    got = depthwise_conv2d(x.numpy(), layer.weight.detach().numpy(),
                           layer.bias.detach().numpy(), stride=2, padding="same")
    np.testing.assert_allclose(got, want, atol=1e-12)
    (top, _), _ = geometry.resolve_padding("same", k, 2)
    assert want.shape[-1] == geometry.conv_output_size(size, k, 2, top)
    assert want.shape[-1] == geometry.conv_output_size(size, k, 2, "same")


def test_bug_channel_divisor_is_gone():
    with pytest.raises(TypeError):
        models.mobilenet_v1(1.0, 10, True, 8)


@pytest.mark.parametrize(("call", "phrase"), [
    (lambda: layers.DepthwiseConv2d(3, 5, padding="valid")(torch.zeros(1, 3, 2, 2)),
     "kernel spans 5 pixels in the input's height"),
    (lambda: layers.DepthwiseConv2d(3, 3)(torch.zeros(1, 3, 0, 4)), "at least 1 x 1"),
    (lambda: layers.DepthwiseSeparableConv2d(3, 2, 5, padding=0)(torch.zeros(3, 3, 3)),
     "kernel spans 5"),
], ids=["empty-layer input smaller than the kernel", "empty-layer input of height 0",
        "empty-separable unbatched input too small"])
def test_a_layer_input_too_small_is_refused_by_the_layer(call, phrase):
    with pytest.raises(ValueError, match=phrase) as info:
        call()
    assert "helpers" in str(info.traceback[-1].path)
