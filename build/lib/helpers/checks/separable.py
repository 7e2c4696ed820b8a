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

from helpers.checks import CheckResult, failed, passed
from helpers.layers import DepthwiseSeparableConv2d

#: (in_channels, out_channels, height, width) for the pointwise checker: square
#: and non-square images, one channel, more outputs than inputs and fewer.
POINTWISE_CASES: tuple[tuple[int, int, int, int], ...] = (
    (3, 1, 4, 4), (1, 3, 2, 5), (3, 2, 5, 3), (4, 6, 3, 7), (8, 3, 6, 6), (2, 2, 1, 1),
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
    """PyTorch's 1x1 convolution of one image x (C, H, W) with weight (N, C)."""
    out = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(weight)[:, :, None, None])
    return out[0].numpy()


def check_pointwise_matmul(fn: Callable[[np.ndarray, np.ndarray], object]) -> CheckResult:
    """Check ``fn(x, weight)``, a learner's 1x1 convolution of one image.

    ``x`` is a NumPy array of shape (C_in, H, W), ``weight`` one of shape
    (C_out, C_in); ``fn`` must return the (C_out, H, W) output, the same as
    ``torch.nn.functional.conv2d`` with the weight reshaped to (C_out, C_in, 1, 1).
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")
    rng = np.random.default_rng(0)
    for c_in, c_out, h, w in POINTWISE_CASES:
        x = rng.standard_normal((c_in, h, w))
        weight = rng.standard_normal((c_out, c_in))
        want = _reference_pointwise(x, weight)
        case = f"x of shape {x.shape}, weight of shape {weight.shape}"
        try:
            got = fn(x.copy(), weight.copy())
        except Exception as exc:  # report the learner's error as a message
            return failed(f"With {case}, fn raised {type(exc).__name__}: {exc}. "
                          f"{_pointwise_error_hint(exc)}")
        if isinstance(got, torch.Tensor):
            got = got.detach().numpy()
        if not isinstance(got, np.ndarray):
            return failed(f"With {case}, fn returned a {type(got).__name__}; "
                          "return a NumPy array.")
        if got.shape != want.shape:
            return failed(f"With {case}, fn returned shape {got.shape}, expected "
                          f"{want.shape} (C_out, H, W). {_pointwise_shape_hint(got, want)}")
        if not np.allclose(got, want, rtol=1e-4, atol=1e-5):
            worst = float(np.abs(got - want).max())
            return failed(f"With {case}, the output has the right shape but wrong values "
                          f"(largest error {worst:.3g}). "
                          f"{_pointwise_value_hint(x, weight, got)}")
    return passed(f"Correct on all {len(POINTWISE_CASES)} cases: your matrix product is "
                  "a 1x1 convolution.")


def _pointwise_error_hint(exc: Exception) -> str:
    if "matmul" in str(exc) or "shapes" in str(exc) or "align" in str(exc):
        return ("Check the shapes: weight is (C_out, C_in), so it must multiply a matrix "
                "with C_in rows, x.reshape(C_in, H * W).")
    return "Reshape x to (C_in, H * W), multiply by weight, and reshape back."


def _pointwise_shape_hint(got: np.ndarray, want: np.ndarray) -> str:
    c_out, h, w = want.shape
    if got.shape == (h, w, c_out):
        return "Your output is channels-last; the book's layout is channels-first (C, H, W)."
    if got.shape == (c_out, h * w):
        return "Reshape the (C_out, H * W) product back to (C_out, H, W)."
    if got.ndim == 4:
        return "Return one image, without a batch dimension."
    return "The product weight @ x.reshape(C_in, H * W) has shape (C_out, H * W)."


def _pointwise_value_hint(x: np.ndarray, weight: np.ndarray, got: np.ndarray) -> str:
    c_in, h, w = x.shape
    c_out = weight.shape[0]
    scrambled = (x.reshape(h * w, c_in) @ weight.T).reshape(c_out, h, w)
    if np.allclose(got, scrambled) or np.allclose(
            got, (x.reshape(h * w, c_in) @ weight.T).T.reshape(c_out, h, w)):
        return ("x.reshape(H * W, C_in) does not move the channels last; it cuts the "
                "memory into rows of the wrong numbers. Use x.reshape(C_in, H * W) (or "
                "x.transpose(1, 2, 0).reshape(H * W, C_in)).")
    if c_in == c_out and np.allclose(got, _reference_pointwise(x, weight.T.copy())):
        return "You used the transposed weight: output channel o is sum_c weight[o, c] * x[c]."
    return "Output channel o at each pixel is sum over c of weight[o, c] * x[c, pixel]."


# --------------------------------------------------------------------------------------
# Chapter 5: a depthwise separable module
# --------------------------------------------------------------------------------------

def _reference_separable(x: torch.Tensor, depthwise: nn.Module,
                         pointwise: nn.Module) -> torch.Tensor:
    """The book's :class:`~helpers.layers.DepthwiseSeparableConv2d` ("same"
    padding) run with the learner's own weights (a missing bias counts as zero)."""
    m, n, k = x.shape[1], pointwise.weight.shape[0], depthwise.weight.shape[-1]
    reference = DepthwiseSeparableConv2d(m, n, k, padding="same", bias=True)
    for ours, theirs in ((reference.depthwise, depthwise), (reference.pointwise, pointwise)):
        ours.weight.copy_(theirs.weight)
        bias = getattr(theirs, "bias", None)
        ours.bias.copy_(bias if isinstance(bias, torch.Tensor) else torch.zeros_like(ours.bias))
    return reference(x)


def check_separable_module(cls: Callable[[int, int, int], nn.Module]) -> CheckResult:
    """Check a learner's depthwise separable module ``cls(in_channels, out_channels,
    kernel_size)``.

    It must keep the image's height and width (odd kernels, "same" padding),
    have two convolutions as attributes ``depthwise`` and ``pointwise``, hold
    exactly ``k*k*M + M*N`` weights (plus ``M + N`` biases if it has biases),
    and compute the depthwise-then-pointwise convolution with those weights:
    the output must equal :class:`helpers.layers.DepthwiseSeparableConv2d`'s
    given the same weights and biases.
    """
    if not callable(cls):
        raise TypeError(f"cls must be a class (or a function making a module), "
                        f"got {type(cls).__name__}")
    for m, n, k, h, w in SEPARABLE_CASES:
        call = f"cls({m}, {n}, {k})"
        torch.manual_seed(0)
        try:
            module = cls(m, n, k)
        except Exception as exc:
            return failed(f"{call} raised {type(exc).__name__}: {exc}")
        if not isinstance(module, nn.Module):
            return failed(f"{call} returned a {type(module).__name__}, not an nn.Module.")
        missing = [a for a in ("depthwise", "pointwise") if not hasattr(module, a)]
        if missing:
            return failed(f"{call} has no attribute {missing[0]!r}: store the two steps as "
                          "self.depthwise and self.pointwise.")
        problem = _weight_problem(module, m, n, k)
        if problem:
            return failed(f"{call}: {problem}")
        x = torch.randn(2, m, h, w)
        try:
            with torch.no_grad():
                got = module(x)
        except Exception as exc:
            return failed(f"{call} on an input of shape {tuple(x.shape)} raised "
                          f"{type(exc).__name__}: {exc}")
        want_shape = (2, n, h, w)
        if tuple(got.shape) != want_shape:
            hint = ""
            if tuple(got.shape) == (2, n, h - k + 1, w - k + 1):
                hint = (f" Without padding a {k}x{k} depthwise step shrinks the image by "
                        f"{k - 1}; pass padding={k // 2} (or padding='same').")
            return failed(f"{call} on an input of shape {tuple(x.shape)} returned shape "
                          f"{tuple(got.shape)}, expected {want_shape}.{hint}")
        with torch.no_grad():
            want = _reference_separable(x, module.depthwise, module.pointwise)
        if not torch.allclose(got, want, atol=1e-5):
            worst = float((got - want).abs().max())
            return failed(f"{call}: the output has the right shape but differs from the "
                          f"depthwise-then-pointwise convolution with your own weights "
                          f"(largest error {worst:.3g}). Does forward apply self.depthwise "
                          "and then self.pointwise, and nothing else?")
        biases = sum(p.numel() for name, p in module.named_parameters()
                     if name.endswith("bias"))
        weights = sum(p.numel() for p in module.parameters()) - biases
        if weights != k * k * m + m * n:
            return failed(f"{call} has {weights} weights, expected k*k*M + M*N = "
                          f"{k * k * m + m * n}.")
    return passed(f"Correct on all {len(SEPARABLE_CASES)} configurations: shapes, weights "
                  "and outputs match a depthwise convolution followed by a pointwise one.")


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


def check_separable_macs(fn: Callable[[int, int, int, int, int], object]) -> CheckResult:
    """Check ``fn(in_channels, out_channels, kernel_size, height, width)``: the
    multiply-adds of a depthwise separable convolution with "same" padding and
    stride 1 (so the output is height x width), without biases."""
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")
    for m, n, k, h, w in MACS_CASES:
        depthwise, pointwise = k * k * m * h * w, m * n * h * w
        want = depthwise + pointwise
        call = f"fn({m}, {n}, {k}, {h}, {w})"
        try:
            got = fn(m, n, k, h, w)
        except Exception as exc:
            return failed(f"{call} raised {type(exc).__name__}: {exc}")
        if isinstance(got, bool) or not isinstance(got, int | np.integer):
            return failed(f"{call} returned {got!r} ({type(got).__name__}); return an int.")
        if got != want:
            guesses = {
                k * k * m * n * h * w: "That is the normal convolution's count, k*k*M*N*H*W.",
                depthwise: "That is only the depthwise step; add the pointwise step, M*N*H*W.",
                pointwise: "That is only the pointwise step; add the depthwise step, "
                           "k*k*M*H*W.",
                k * k * m + m * n: "That is the parameter count; each weight is used at every "
                                   "one of the H*W output positions.",
                k * k * m * (h - k + 1) * (w - k + 1) + m * n * (h - k + 1) * (w - k + 1):
                    "With 'same' padding the output keeps all H*W positions.",
            }
            hint = guesses.get(int(got), "Count each step: (weights of the step) x (output "
                                         "positions), then add.")
            return failed(f"{call} returned {got}, expected {want}. {hint}")
    return passed(f"Correct on all {len(MACS_CASES)} cases.")
