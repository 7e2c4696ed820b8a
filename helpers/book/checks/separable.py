"""Checkers for chapters 4 and 5 (pointwise and depthwise separable convolution).

Each checker runs a learner's answer on many random configurations, compares
it with PyTorch, and says in words which case is wrong and what the mistake
looks like.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers.book.checks import _common as common

#: (in_channels, out_channels, height, width) for the pointwise checker: several
#: channels in and out first, then square and non-square images, one channel,
#: more outputs than inputs and fewer, a square weight.
POINTWISE_CASES: tuple[tuple[int, int, int, int], ...] = (
    (4, 6, 3, 7), (3, 2, 5, 3), (5, 5, 4, 3), (1, 3, 2, 5), (3, 1, 4, 4), (8, 3, 6, 6),
    (2, 2, 1, 1),
)

#: (in_channels, out_channels, kernel_size, height, width) for the module checker.
SEPARABLE_CASES: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 3, 3, 8, 8), (1, 4, 3, 5, 7), (4, 2, 5, 9, 6), (6, 8, 1, 4, 4), (2, 5, 7, 7, 10),
)

#: (in_channels, out_channels, kernel_size, height, width) for the cost checker.
#: A generic case comes first, so that a wrong formula is caught where the
#: usual mistakes give different numbers (with M = N = k = 1 they all agree).
MACS_CASES: tuple[tuple[int, int, int, int, int], ...] = ((3, 16, 3, 8, 14),) + tuple(
    itertools.product((1, 3, 32), (1, 16, 64), (1, 3, 5), (8,), (8, 14))
)


# --------------------------------------------------------------------------------------
# Chapter 4: a pointwise convolution as a matrix product
# --------------------------------------------------------------------------------------

def _reference_pointwise(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """PyTorch's 1x1 convolution of one image x (M, H, W) with weight (N, M)."""
    out = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(weight)[:, :, None, None])
    return out[0].numpy()


@common.checker
def check_pointwise_matmul(fn: Callable[[np.ndarray, np.ndarray], object]) -> str:
    """Check ``fn(x, weight)``, a learner's 1x1 convolution of one image.

    ``x`` is a float64 NumPy array of shape (M, H, W), ``weight`` one of
    shape (N, M); ``fn`` must return the (N, H, W) output, the same
    as ``torch.nn.functional.conv2d`` with the weight reshaped to
    (N, M, 1, 1), and leave ``x`` and ``weight`` as they were. Arrays,
    tensors and nested lists are accepted, within the tolerance of their dtype.
    """
    common.require_callable(fn)
    rng = np.random.default_rng(0)
    for c_in, c_out, h, w in POINTWISE_CASES:
        x = rng.standard_normal((c_in, h, w))
        weight = rng.standard_normal((c_out, c_in))
        want = _reference_pointwise(x, weight)
        where = f"With x of shape {x.shape}, weight of shape {weight.shape}, fn"

        def shape_hint(shape: tuple[int, ...], want: np.ndarray = want) -> str:
            return f" (N, H, W). {_pointwise_shape_hint(shape, want.shape)}"

        got, rtol, right = common.array_answer(fn, {"x": x, "weight": weight}, want, where,
                                               shape_hint=shape_hint,
                                               error_hint=_pointwise_error_hint)
        if not right:
            raise common.Refusal(f"{where} returned the right shape but wrong values (largest "
                                 f"error {common.largest_error(got, want):.3g}). "
                                 f"{_pointwise_value_hint(x, weight, got, rtol)}")
    return (f"Correct on all {len(POINTWISE_CASES)} cases: your matrix product is a 1x1 "
            "convolution.")


def _pointwise_error_hint(exc: Exception) -> str:
    if "matmul" in str(exc) or "shapes" in str(exc) or "align" in str(exc):
        return ("Check the shapes: weight is (N, M), so it must multiply a matrix "
                "with M rows, x.reshape(M, H * W).")
    return "Reshape x to (M, H * W), multiply by weight, and reshape back."


def _pointwise_shape_hint(got: tuple[int, ...], want: tuple[int, ...]) -> str:
    c_out, h, w = want
    if got == (h, w, c_out):
        return "Your output is channels-last; the book's layout is channels-first (N, H, W)."
    if got == (c_out, h * w):
        return "Reshape the (N, H * W) product back to (N, H, W)."
    if got == (1, c_out, h, w):
        return "Return one image, without a batch dimension."
    return "The product weight @ x.reshape(M, H * W) has shape (N, H * W)."


def _pointwise_value_hint(x: np.ndarray, weight: np.ndarray, got: np.ndarray,
                          rtol: float) -> str:
    c_in, h, w = x.shape
    c_out = weight.shape[0]
    rows = x.reshape(h * w, c_in) @ weight.T  # the memory cut into rows of M numbers
    if c_in > 1 and h * w > 1 and (common.close(got, rows.reshape(c_out, h, w), rtol)
                                   or common.close(got, rows.T.reshape(c_out, h, w), rtol)):
        return ("x.reshape(H * W, M) does not move the channels last; it cuts the "
                "memory into rows of the wrong numbers. Use x.reshape(M, H * W) (or "
                "x.transpose(1, 2, 0).reshape(H * W, M)).")
    if (c_in == c_out and not np.allclose(weight, weight.T)
            and common.close(got, _reference_pointwise(x, weight.T.copy()), rtol)):
        return "You used the transposed weight: output channel o is sum_c weight[o, c] * x[c]."
    return ("Output channel o at each pixel is sum over c of weight[o, c] * x[c, pixel]."
            + common.precision_hint(got, _reference_pointwise(x, weight), rtol))


# --------------------------------------------------------------------------------------
# Chapter 5: a depthwise separable module
# --------------------------------------------------------------------------------------

def _reference_separable(x: torch.Tensor, depthwise: nn.Module,
                         pointwise: nn.Module) -> torch.Tensor:
    """The depthwise ("same" padding) then pointwise convolution of ``x`` with
    the weights and biases of ``depthwise`` and ``pointwise`` (a missing bias
    counts as zero), computed in float64 with ``F.conv2d``."""
    return _separable(x, *(_snapshot(step) for step in (depthwise, pointwise)))


def _snapshot(step: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """A float64 copy of a step's weight and bias (None if it has none), and its
    padding mode (the exercise asks to keep the size, not for zeros: a
    ``padding_mode='reflect'`` depthwise step meets it too)."""
    bias = getattr(step, "bias", None)
    mode = getattr(step, "padding_mode", "zeros")
    return (step.weight.detach().double().clone(),
            bias.detach().double().clone() if isinstance(bias, torch.Tensor) else None,
            mode if mode in ("reflect", "replicate", "circular") else "zeros")


def _separable(x: torch.Tensor, depthwise: tuple[torch.Tensor, torch.Tensor | None, str],
               pointwise: tuple[torch.Tensor, torch.Tensor | None, str],
               between: Callable[[torch.Tensor], torch.Tensor] = lambda t: t) -> torch.Tensor:
    (dw_weight, dw_bias, mode), (pw_weight, pw_bias, _) = depthwise, pointwise
    k = dw_weight.shape[-1]
    x = x.detach().double()
    if mode != "zeros":  # the same border the learner chose, then no padding
        x = F.pad(x, (k // 2,) * 4, mode=mode)
    hidden = F.conv2d(x, dw_weight, dw_bias, padding=k // 2 if mode == "zeros" else 0,
                      groups=x.shape[1])
    return F.conv2d(between(hidden), pw_weight, pw_bias)


@common.checker
def check_separable_module(cls: Callable[[int, int, int], nn.Module]) -> str:
    """Check a learner's depthwise separable module ``cls(in_channels, out_channels,
    kernel_size)``.

    It must keep the image's height and width (odd kernels, "same" padding),
    have two convolutions as attributes ``depthwise`` and ``pointwise``, hold
    exactly ``k*k*M + M*N`` weights plus one bias per filter of each step that has
    biases (both, neither, or only the pointwise step, as in Keras) and no other
    parameter, compute the depthwise then
    pointwise convolution with those weights (compared with ``F.conv2d`` on an
    input with negative values, borders included: zeros, or the border its
    ``padding_mode`` or its forward chose, such as ``'reflect'``, since the
    exercise only asks to keep the size), and leave its input as it was.
    PyTorch's global random state is left untouched.
    """
    common.require_callable(cls, "cls", "a class (or a function making a module)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for m, n, k, h, w in SEPARABLE_CASES:
            _check_separable_case(cls, m, n, k, h, w)
    return (f"Correct on all {len(SEPARABLE_CASES)} configurations: shapes, weights, "
            "biases and outputs match a depthwise convolution followed by a pointwise one.")


def _check_separable_case(cls: Callable[[int, int, int], nn.Module], m: int, n: int,
                          k: int, h: int, w: int) -> None:
    where = f"cls({m}, {n}, {k})"
    module = common.call(cls, (m, n, k), where)
    if not isinstance(module, nn.Module):
        raise common.Refusal(f"{where} returned {common.describe(module)}, not an nn.Module.")
    missing = [a for a in ("depthwise", "pointwise") if not hasattr(module, a)]
    if missing:
        raise common.Refusal(f"{where} has no attribute {missing[0]!r}: store the two steps as "
                             "self.depthwise and self.pointwise.")
    problem = _weight_problem(module, m, n, k) or _count_problem(module, m, n, k)
    if problem:
        raise common.Refusal(f"{where}: {problem}")
    steps = (_snapshot(module.depthwise), _snapshot(module.pointwise))
    x = torch.randn(2, m, h, w).to(common.input_dtype(module))
    given = x.clone()
    on_input = f"{where} on an input of shape {tuple(x.shape)}"
    with torch.no_grad():
        answer = common.call(module, (given,), on_input)
    got, rtol = common.as_array(answer, on_input)
    want = _separable(x, *steps)
    if got.shape != tuple(want.shape):
        hint = ""
        if got.shape == (2, n, h - k + 1, w - k + 1):
            hint = (f" Without padding a {k}x{k} depthwise step shrinks the image by "
                    f"{k - 1}; pass padding={k // 2} (or padding='same').")
        raise common.Refusal(f"{on_input} returned shape {got.shape}, expected "
                             f"{tuple(want.shape)}.{hint}")
    right = common.close(got, want.numpy(), rtol) or any(  # padded with another border in forward
        common.close(got, _separable(x, (*steps[0][:2], mode), steps[1]).numpy(), rtol)
        for mode in ("reflect", "replicate", "circular") if k > 1 and mode != steps[0][2])
    if not common.unchanged((x,), (given,)):
        raise common.Refusal(f"{on_input} changed its input x in place"
                             f"{'' if right else ' (and its output is wrong)'}: the caller's "
                             "tensor must stay as it was, so use operations that return a new "
                             "tensor.")
    if not right:
        hint = "Does forward apply self.depthwise and then self.pointwise, and nothing else?"
        if common.close(got, _separable(x, *steps, between=torch.relu).numpy(), rtol):
            hint = ("There is a ReLU between the two steps; this exercise asks for the "
                    "two convolutions alone.")
        elif common.close(got, torch.relu(want).numpy(), rtol):
            hint = "There is a ReLU after the two steps; return the convolutions' output."
        raise common.Refusal(f"{where}: the output has the right shape but differs from the "
                             "depthwise-then-pointwise convolution with your own weights "
                             f"(largest error {common.largest_error(got, want.numpy()):.3g}). "
                             f"{hint}"
                             + common.precision_hint(got, want.numpy(), rtol))


def _weight_problem(module: nn.Module, m: int, n: int, k: int) -> str:
    """What is wrong with the two weight shapes, or '' if nothing."""
    depthwise, pointwise = module.depthwise, module.pointwise
    for name, step in (("depthwise", depthwise), ("pointwise", pointwise)):
        if not isinstance(getattr(step, "weight", None), torch.Tensor):
            return f"self.{name} has no weight tensor; make it an nn.Conv2d."
    dw_shape, pw_shape = tuple(depthwise.weight.shape), tuple(pointwise.weight.shape)
    if dw_shape != (m, 1, k, k):
        hint = ""
        if dw_shape == (m, m, k, k):
            hint = f" That is a normal convolution: pass groups={m} (= in_channels)."
        elif dw_shape[-2:] != (k, k):
            hint = f" The depthwise step uses the {k}x{k} kernel."
        return (f"self.depthwise.weight has shape {dw_shape}, expected {(m, 1, k, k)} "
                f"(one {k}x{k} filter per input channel).{hint}")
    if pw_shape != (n, m, 1, 1):
        hint = " The pointwise step is a 1x1 convolution." if pw_shape[:2] == (n, m) else ""
        return (f"self.pointwise.weight has shape {pw_shape}, expected {(n, m, 1, 1)}."
                f"{hint}")
    return ""


def _count_problem(module: nn.Module, m: int, n: int, k: int) -> str:
    """What is wrong with the biases and the parameter count, or '' if nothing."""
    biases = {}
    for name, step, want in (("depthwise", module.depthwise, m),
                             ("pointwise", module.pointwise, n)):
        bias = getattr(step, "bias", None)
        if isinstance(bias, torch.Tensor) and tuple(bias.shape) != (want,):
            return (f"self.{name}.bias has shape {tuple(bias.shape)}, expected ({want},): "
                    "one bias per filter.")
        biases[name] = isinstance(bias, torch.Tensor)
    weights = k * k * m + m * n
    promised = weights + (m if biases["depthwise"] else 0) + (n if biases["pointwise"] else 0)
    total = sum(p.numel() for p in module.parameters())
    if total != promised:
        extra = promised - weights
        return (f"it has {total} parameters, expected k*k*M + M*N = {weights} weights"
                f"{f' plus {extra} biases' if extra else ''}: "
                "the module must hold the two convolutions and nothing else.")
    return ""


def _macs_call(case: tuple[int, int, int, int, int]) -> str:
    return "fn({}, {}, {}, {}, {})".format(*case)


#: Wrong formulas of (M, N, k, H, W) and what to tell the learner who uses one.
_MACS_MISTAKES: tuple[tuple[Callable[[int, int, int, int, int], int], str], ...] = (
    (lambda m, n, k, h, w: k * k * m * n * h * w,
     "That is the normal convolution's count, k*k*M*N*H*W."),
    (lambda m, n, k, h, w: k * k * m * h * w,
     "That is only the depthwise step; add the pointwise step, M*N*H*W."),
    (lambda m, n, k, h, w: m * n * h * w,
     "That is only the pointwise step; add the depthwise step, k*k*M*H*W."),
    (lambda m, n, k, h, w: k * k * m + m * n,
     "That is the parameter count; each weight is used at every one of the H*W output "
     "positions."),
    (lambda m, n, k, h, w: (k * k * m + m * n) * (h - k + 1) * (w - k + 1),
     "With 'same' padding the output keeps all H*W positions."),
    (lambda m, n, k, h, w: 2 * (k * k * m + m * n) * h * w,
     "That is twice the multiply-adds: FLOPs (a multiply-add is two floating-point "
     "operations, as FlopCounterMode counts them). Count multiply-adds."),
)


@common.checker
def check_separable_macs(fn: Callable[[int, int, int, int, int], object]) -> str:
    """Check ``fn(in_channels, out_channels, kernel_size, height, width)``: the
    multiply-adds of a depthwise separable convolution with "same" padding and
    stride 1 (so the output is height x width), without biases."""
    common.require_callable(fn)
    answers = common.collect(fn, MACS_CASES, _macs_call, common.as_int)
    expected = {(m, n, k, h, w): (k * k * m + m * n) * h * w
                for m, n, k, h, w in MACS_CASES}
    common.compare_all(answers, expected, int.__eq__, _macs_call, _MACS_MISTAKES,
                       "Count each step: (weights of the step) x (output positions), then add.")
    return f"Correct on all {len(MACS_CASES)} cases."

