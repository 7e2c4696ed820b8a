"""Checkers for the chapter on architectures (MobileNet, MobileNetV2, Xception)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers.book.checks import _common as common

#: (in_channels, out_channels, stride, expansion) cases for the inverted residual.
BLOCK_CASES: tuple[tuple[int, int, int, int], ...] = (
    (8, 8, 1, 6),
    (8, 16, 1, 6),
    (8, 8, 2, 6),
    (16, 24, 2, 4),
    (16, 16, 1, 1),
    (12, 12, 1, 3),
)

#: Input size (height = width) the blocks are run on; odd, so stride 2 must round up.
BLOCK_SIZE = 9


def expected_inverted_residual_params(in_channels: int, out_channels: int,
                                      expansion: int) -> int:
    """Reference: weights of the three convolutions plus two per batch-norm channel."""
    hidden = in_channels * expansion
    weights = 9 * hidden + hidden * out_channels
    norms = 2 * (hidden + out_channels)
    if expansion != 1:
        weights += in_channels * hidden
        norms += 2 * hidden
    return weights + norms


def _randomise(block: nn.Module) -> None:
    """Give every weight, batch-norm parameter and running statistic a random
    value, so that batch norms are not identities and pre-activations reach
    well beyond 6 (where ReLU and ReLU6 differ) and below 0."""
    with torch.no_grad():
        for module in block.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                for name, low, high in (("weight", 0.5, 2.0), ("running_var", 0.5, 1.5)):
                    tensor = getattr(module, name, None)
                    if isinstance(tensor, torch.Tensor):
                        tensor.uniform_(low, high)
                for name, std in (("bias", 0.5), ("running_mean", 0.3)):
                    tensor = getattr(module, name, None)
                    if isinstance(tensor, torch.Tensor):
                        tensor.normal_(0.0, std)
            elif isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                module.weight.normal_(0.0, fan_in ** -0.5)


class _Steps:
    """The convolutions and batch norms a block calls, in the order it calls them."""

    def __init__(self, block: nn.Module) -> None:
        self.called: list[nn.Module] = []
        self._handles = [
            module.register_forward_hook(lambda module, args, out: self.called.append(module))
            for module in block.modules()
            if isinstance(module, nn.Conv2d | nn.modules.batchnorm._BatchNorm)
        ]

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def _snapshot(conv: nn.Conv2d, norm: nn.Module) -> tuple[torch.Tensor, dict]:
    """Float64 copies of a convolution's weight and its batch norm's state."""
    def copy(name: str) -> torch.Tensor | None:
        tensor = getattr(norm, name, None)
        return tensor.detach().double().clone() if isinstance(tensor, torch.Tensor) else None

    state = {name: copy(name) for name in ("running_mean", "running_var", "weight", "bias")}
    state["eps"] = float(norm.eps)
    return conv.weight.detach().double().clone(), state


def _norm(x: torch.Tensor, state: dict) -> torch.Tensor:
    batch_stats = state["running_mean"] is None  # no running statistics: batch statistics
    return F.batch_norm(x, state["running_mean"], state["running_var"], state["weight"],
                        state["bias"], training=batch_stats, eps=state["eps"])


def _reference_block(x: torch.Tensor, steps: list[tuple[torch.Tensor, dict]], stride: int,
                     residual: bool, *, act: Callable = F.relu6, expand_act: bool = True,
                     depthwise_act: bool = True, project_act: bool = False,
                     final_act: bool = False, stride_on_expand: bool = False) -> torch.Tensor:
    """An inverted residual with the given weights (and some deliberate variants)."""
    x = x.double()
    out = x
    if len(steps) == 3:
        weight, state = steps[0]
        out = _norm(F.conv2d(out, weight, stride=stride if stride_on_expand else 1), state)
        out = act(out) if expand_act else out
    weight, state = steps[-2]
    out = _norm(F.conv2d(out, weight, stride=1 if stride_on_expand else stride, padding=1,
                         groups=out.shape[1]), state)
    out = act(out) if depthwise_act else out
    weight, state = steps[-1]
    out = _norm(F.conv2d(out, weight), state)
    out = act(out) if project_act else out
    out = x + out if residual else out
    return act(out) if final_act else out


#: Variants of the block, each with what to tell a learner whose block computes it.
_BLOCK_MISTAKES: tuple[tuple[dict, str], ...] = (
    (dict(act=F.relu), "The activations are ReLU; MobileNetV2 uses ReLU6, which also "
     "caps the values at 6."),
    (dict(expand_act=False, depthwise_act=False), "There is no activation: put a ReLU6 "
     "after the expansion's and the depthwise step's batch norms."),
    (dict(expand_act=False), "There is no activation after the expansion: put a ReLU6 "
     "after its batch norm."),
    (dict(depthwise_act=False), "There is no activation after the depthwise step: put a "
     "ReLU6 after its batch norm."),
    (dict(project_act=True), "There is a ReLU6 after the projection. The bottleneck must "
     "be linear: no activation after the projection's batch norm."),
    (dict(final_act=True), "There is an activation at the end. The bottleneck must be "
     "linear: no ReLU/ReLU6 after the projection or after the residual addition."),
    (dict(final_act=True, act=F.relu), "There is a ReLU at the end. The bottleneck must "
     "be linear: no ReLU/ReLU6 after the projection or after the residual addition."),
    (dict(stride_on_expand=True), "The stride is on the expansion; it belongs to the "
     "depthwise step (a strided 1x1 convolution skips pixels instead of filtering them)."),
)


@common.checker
def check_inverted_residual(make_block: Callable[..., nn.Module]) -> str:
    """Check ``make_block(in_channels, out_channels, stride, expansion)``, a
    learner's MobileNetV2 inverted residual block (expand 1x1 + BN + ReLU6 unless
    the expansion is 1, depthwise 3x3 + BN + ReLU6, project 1x1 + BN with no
    activation, residual when stride is 1 and channels match, no biases).

    Each case of :data:`BLOCK_CASES` is run in evaluation mode on a
    ``9 x 9`` input with negative values, after giving the block random weights
    and batch-norm statistics (pre-activations well beyond 6). The checker
    follows the ``nn.Conv2d`` and ``nn.BatchNorm2d`` modules the block calls and
    compares its output with an inverted residual computed independently from
    those weights; it also checks the output shape and the parameter count. An
    in-place residual (``x += out``) is accepted; other changes to the input
    are not. PyTorch's global random state is left untouched.
    """
    common.require_callable(make_block, "make_block")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for case in BLOCK_CASES:
            _check_block_case(make_block, *case)
    return (f"Correct on all {len(BLOCK_CASES)} cases: shapes, parameters, the three "
            "steps with their ReLU6, the residual connections and the linear bottleneck.")


def _check_block_case(make_block: Callable[..., nn.Module], cin: int, cout: int,
                      stride: int, t: int) -> None:
    where = f"make_block({cin}, {cout}, stride={stride}, expansion={t})"
    block = common.call(make_block, (cin, cout, stride, t), where)
    if not isinstance(block, nn.Module):
        raise common.Refusal(f"{where} returned {common.describe(block)}; return an nn.Module.")
    try:
        block.eval()
        _randomise(block)
    except Exception as exc:  # a learner's module that cannot be set up
        raise common.Refusal(f"{where}: preparing the block raised {type(exc).__name__}: "
                             f"{exc}") from None
    x = 4 * torch.randn(2, cin, BLOCK_SIZE, BLOCK_SIZE).to(common.input_dtype(block))
    given = x.clone()
    on_input = f"{where} on an input of shape {tuple(x.shape)}"
    steps = _Steps(block)
    try:
        with torch.no_grad():
            answer = common.call(block, (given,), on_input)
    finally:
        steps.remove()
    got, rtol = common.as_array(answer, on_input)
    out_size = (BLOCK_SIZE - 1) // stride + 1
    want_shape = (2, cout, out_size, out_size)
    if got.shape != want_shape:
        raise common.Refusal(f"{where}: output shape {got.shape}, expected {want_shape}. Check the "
                             "stride (only the depthwise step has it) and padding 1.")
    params = sum(p.numel() for p in block.parameters())
    want_params = expected_inverted_residual_params(cin, cout, t)
    if params != want_params:
        raise common.Refusal(f"{where}: {params} parameters, expected {want_params}. "
                             + _params_hint(cin, cout, t, params))
    weights = _identify(steps.called, where, cin, cout, t)
    _check_strides(steps.called[::2], where, stride, t)
    residual = stride == 1 and cin == cout
    if not torch.equal(given, x) and not (residual and np.array_equal(given.double().numpy(),
                                                                       got)):
        raise common.Refusal(f"{on_input} changed its input x in place. Only an in-place "
                             "residual addition (x += out) may write into it.")
    want = _reference_block(x, weights, stride, residual).numpy()
    if common.close(got, want, rtol):
        return
    if residual and common.close(got, _reference_block(x, weights, stride, False).numpy(), rtol):
        hint = ("Stride 1 and equal channels, so the block must add its input to its "
                "output (the residual connection); it does not.")
    else:
        hint = next((hint for variant, hint in _BLOCK_MISTAKES if common.close(
            got, _reference_block(x, weights, stride, residual, **variant).numpy(), rtol)),
            "Expected expand 1x1 + BN + ReLU6 (unless the expansion is 1), depthwise 3x3 "
            "with the stride and padding 1 + BN + ReLU6, project 1x1 + BN, plus the input "
            "when the stride is 1 and the channels match.")
    raise common.Refusal(f"{on_input}: the output differs from an inverted residual computed "
                         f"with your block's own weights (largest difference "
                         f"{common.largest_error(got, want):.3g}). {hint}")


def _identify(called: list[nn.Module], where: str, cin: int, cout: int,
              t: int) -> list[tuple[torch.Tensor, dict]]:
    """The (weight, batch-norm state) of each step, checked against the design."""
    hidden = cin * t
    names = ["expansion", "depthwise", "projection"][t == 1:]
    kinds = ["conv" if isinstance(m, nn.Conv2d) else "norm" for m in called]
    if kinds != ["conv", "norm"] * len(names):
        seen = ", ".join(type(m).__name__ for m in called) or "none"
        raise common.Refusal(f"{where}: expected the block to call a convolution then a batch "
                             f"norm for each of its {len(names)} steps ({', '.join(names)}), "
                             f"in that order; the nn.Conv2d and nn.BatchNorm2d modules it called "
                             f"were: {seen}. Build each step from nn.Conv2d and nn.BatchNorm2d.")
    shapes = {"expansion": ((hidden, cin, 1, 1), hidden),
              "depthwise": ((hidden, 1, 3, 3), hidden),
              "projection": ((cout, hidden, 1, 1), cout)}
    steps = []
    for name, conv, norm in zip(names, called[::2], called[1::2], strict=True):
        want_weight, want_features = shapes[name]
        if tuple(conv.weight.shape) != want_weight:
            raise common.Refusal(f"{where}: the {name} convolution's weight has shape "
                                 f"{tuple(conv.weight.shape)}, expected {want_weight}.")
        if norm.num_features != want_features:
            raise common.Refusal(f"{where}: the batch norm after the {name} has "
                                 f"{norm.num_features} channels, expected {want_features}.")
        steps.append(_snapshot(conv, norm))
    return steps


def _check_strides(convs: list[nn.Module], where: str, stride: int, t: int) -> None:
    """Refuse a stride anywhere but on the depthwise step: on the projection the
    output is the same, but the depthwise step runs at full resolution (stride**2
    times its multiply-adds)."""
    names = ["expansion", "depthwise", "projection"][t == 1:]
    for name, conv in zip(names, convs, strict=True):
        want = (stride, stride) if name == "depthwise" else (1, 1)
        got = tuple(conv.stride)
        if got != want:
            extra = ""
            if name == "expansion":
                extra = (" The stride is on the expansion: a strided 1x1 convolution skips "
                         "pixels instead of filtering them.")
            if name == "projection" and stride > 1:
                extra = (f" On the projection the output has the right size, but the "
                         f"depthwise step then runs at full resolution: {stride ** 2} times "
                         "its multiply-adds, for pixels the projection throws away.")
            raise common.Refusal(f"{where}: the {name} convolution has stride {got}, expected "
                                 f"{want}; the stride belongs to the depthwise step alone.{extra}")


def _params_hint(cin: int, cout: int, t: int, got: int) -> str:
    hidden = cin * t
    want = expected_inverted_residual_params(cin, cout, t)
    if got == want + hidden + cout + (hidden if t != 1 else 0):
        return "That is one extra number per output channel of each convolution: use bias=False."
    if t == 1 and got == want + cin * hidden + 2 * hidden:
        return "With expansion 1 there is no expansion convolution (nothing to expand)."
    if got == want - 2 * (hidden + cout) - (2 * hidden if t != 1 else 0):
        return "The weights are right; each convolution needs a BatchNorm2d after it."
    if got == want + 9 * hidden * (hidden - 1):
        return ("The depthwise step holds a normal 3x3 convolution's weights: pass "
                "groups=hidden channels.")
    return ("Expected 1x1 expansion (in * t * in weights), 3x3 depthwise (9 * t * in), "
            "1x1 projection (t * in * out), each followed by BatchNorm2d (2 per channel).")


#: (in_channels, out_channels, feature_size, width_multiplier, resolution_multiplier) cases.
WIDTH_CASES: tuple[tuple[int, int, int, float, float], ...] = (
    (512, 512, 14, 1.0, 1.0),
    (512, 512, 14, 0.75, 1.0),
    (512, 512, 14, 0.75, 10 / 14),
    (40, 80, 28, 0.5, 0.3),  # a feature size of 8.4: rounds down (a ceiling is wrong)
    (256, 512, 28, 0.25, 192 / 224),
    (48, 96, 14, 0.5, 0.7),  # a feature size of 9.8: rounds up (int() is wrong)
    (32, 64, 14, 0.3, 0.5),  # 9.6 and 19.2 channels: rounding first matters
)


def expected_separable_macs(in_channels: int, out_channels: int, feature_size: int,
                            width_multiplier: float, resolution_multiplier: float) -> int:
    """Reference: equation (7) of Howard et al. (2017) for a 3x3 separable layer,
    with channels and feature size rounded to whole numbers."""
    m = round(in_channels * width_multiplier)
    n = round(out_channels * width_multiplier)
    f = round(feature_size * resolution_multiplier)
    return 9 * m * f * f + m * n * f * f


def _macs_call(case: tuple[int, int, int, float, float]) -> str:
    m, n, f, alpha, rho = case
    return f"fn({m}, {n}, {f}, width_multiplier={alpha}, resolution_multiplier={rho:.4g})"


def _rounded(m: int, n: int, f: int, alpha: float, rho: float) -> tuple[int, int, int]:
    return round(m * alpha), round(n * alpha), round(f * rho)


def _macs_mistakes() -> list[tuple[Callable[..., int], str]]:
    def rounded(fn: Callable[[int, int, int], int]) -> Callable[..., int]:
        return lambda m, n, f, a, r: fn(*_rounded(m, n, f, a, r))

    return [
        (rounded(lambda m, n, f: 9 * m * f * f), "That is only the depthwise step; add the "
         "pointwise step (alpha*M * alpha*N per pixel)."),
        (rounded(lambda m, n, f: m * n * f * f), "That is only the pointwise step; add the "
         "depthwise step (3*3*alpha*M per pixel)."),
        (rounded(lambda m, n, f: 9 * m * n * f * f), "That is a normal 3x3 convolution; the "
         "separable layer is depthwise plus pointwise."),
        (lambda m, n, f, a, r: 9 * m * f * f + m * n * f * f, "That ignores both multipliers."),
        (lambda m, n, f, a, r: expected_separable_macs(m, n, f, a, 1.0), "The width "
         "multiplier is right; the resolution multiplier scales the feature size too."),
        (lambda m, n, f, a, r: expected_separable_macs(m, n, f, 1.0, r), "The resolution "
         "multiplier is right; the width multiplier scales both channel counts too."),
        (lambda m, n, f, a, r: round(_unrounded(m, n, f, a, r)), _ROUND_FIRST),
        (lambda m, n, f, a, r: int(_unrounded(m, n, f, a, r)), _ROUND_FIRST),
        (lambda m, n, f, a, r: 2 * expected_separable_macs(m, n, f, a, r), "That is twice "
         "the multiply-adds: FLOPs (a multiply-add is two floating-point operations). "
         "Count multiply-adds."),
        (lambda m, n, f, a, r: _with_feature(m, n, f, a, r, int), _ROUND_FEATURE),
        (lambda m, n, f, a, r: _with_feature(m, n, f, a, r, math.ceil), _ROUND_FEATURE),
        (lambda m, n, f, a, r: round(_with_feature(m, n, f, a, r, float)), _ROUND_FEATURE),
    ]


_ROUND_FEATURE = ("The channels are right; round the feature size rho * D_F to the "
                  "nearest whole number of pixels (round, not int or ceil) before squaring.")


def _with_feature(m: int, n: int, f: int, alpha: float, rho: float,
                  whole: Callable[[float], float]) -> float:
    """Equation 7 with the channels rounded and the feature size made whole by ``whole``."""
    m, n, _ = _rounded(m, n, f, alpha, rho)
    size = whole(f * rho)
    return 9 * m * size * size + m * n * size * size


_ROUND_FIRST = ("Round the channel counts and the feature size to whole numbers first, "
                "then multiply; not the result.")


def _unrounded(m: int, n: int, f: int, alpha: float, rho: float) -> float:
    return (9 * m * alpha + m * alpha * n * alpha) * (f * rho) ** 2


@common.checker
def check_mobilenet_macs(fn: Callable[..., object]) -> str:
    """Check ``fn(in_channels, out_channels, feature_size, width_multiplier,
    resolution_multiplier)``, a learner's multiply-add count of a 3x3 depthwise
    separable layer of MobileNet thinned by the width multiplier and run at a
    reduced resolution (the paper's equation 7, with whole numbers of channels
    and pixels). Python and NumPy integers are accepted, and so are exact whole
    Fractions and Decimals."""
    common.require_callable(fn)
    answers = common.collect(fn, WIDTH_CASES, _macs_call, _read_macs)
    expected = {case: expected_separable_macs(*case) for case in WIDTH_CASES}
    common.compare_all(answers, expected, int.__eq__, _macs_call, _macs_mistakes(),
                       "Per output pixel: 3*3*(alpha*M) for the depthwise step plus "
                       "(alpha*M)*(alpha*N) for the pointwise step; times (rho*D_F)^2 pixels.")
    return f"Correct on all {len(WIDTH_CASES)} cases."


def _read_macs(value: object, where: str) -> int:
    return common.as_int(value, where, "Round the channels and the feature size first.")
