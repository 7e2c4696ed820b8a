"""Checkers for the chapter "After the forward pass" (folding batch norm,
per-channel quantization scales)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.nn.utils.fusion import fuse_conv_bn_weights

from helpers.book.checks import _common as common

#: (weight shape (N, M/g, kh, kw), has bias, eps) for the folding exercise:
#: normal, depthwise, pointwise and non-square kernels, a large eps that a
#: forgotten eps cannot hide behind, and N == M/g so that scaling the wrong
#: axis still broadcasts (first, so that this slip gets its hint rather than
#: a broadcasting error).
FOLD_CASES: tuple[tuple[tuple[int, int, int, int], bool, float], ...] = (
    ((4, 4, 3, 3), True, 0.25),
    ((4, 3, 3, 3), True, 1e-5),
    ((6, 1, 3, 3), False, 1e-3),
    ((5, 7, 1, 1), True, 0.1),
    ((3, 2, 1, 3), False, 0.5),
)

#: (weight shape, bits) for the scale exercise: convolutions of every kind, a
#: linear layer's (N, M) weight, and bit widths other than 8.
SCALE_CASES: tuple[tuple[tuple[int, ...], int], ...] = (
    ((6, 1, 3, 3), 8),
    ((4, 3, 3, 3), 8),
    ((5, 7, 1, 1), 4),
    ((3, 8), 8),
    ((4, 4, 3, 3), 6),
    ((8, 1, 5, 5), 2),
)


def _close(got: np.ndarray, want: np.ndarray, rtol: float) -> bool:
    return common.close(got, want, rtol)


# --------------------------------------------------------------------------
# folding batch norm
# --------------------------------------------------------------------------


def _fold_case(shape: tuple[int, int, int, int], has_bias: bool, eps: float,
               rng: np.random.Generator) -> dict[str, Any]:
    n = shape[0]

    def t(values: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(values)

    return {
        "weight": t(rng.standard_normal(shape)),
        "bias": t(rng.standard_normal(n)) if has_bias else None,
        "mean": t(rng.standard_normal(n)),
        "var": t(rng.uniform(0.01, 4.0, n)),
        "gamma": t(rng.uniform(0.2, 2.0, n) * rng.choice([-1.0, 1.0], n)),
        "beta": t(rng.standard_normal(n)),
        "eps": eps,
    }


def _reference_fold(case: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    w, b = fuse_conv_bn_weights(case["weight"], case["bias"], case["mean"], case["var"],
                                case["eps"], case["gamma"], case["beta"])
    return w.detach().numpy(), b.detach().numpy()


def _fold_hint(case: dict[str, Any], weight: np.ndarray, bias: np.ndarray) -> str:
    """Name the slip if one of the usual ones reproduces the learner's numbers."""
    w = case["weight"].numpy()
    n = w.shape[0]
    b0 = np.zeros(n) if case["bias"] is None else case["bias"].numpy()
    mean, var = case["mean"].numpy(), case["var"].numpy()
    gamma, beta, eps = case["gamma"].numpy(), case["beta"].numpy(), case["eps"]
    shape = (-1,) + (1,) * (w.ndim - 1)

    def candidate(scale: np.ndarray, new_bias: np.ndarray,
                  along_inputs: bool = False) -> tuple[np.ndarray, np.ndarray]:
        if along_inputs:
            return w * scale.reshape(1, -1, *(1,) * (w.ndim - 2)), new_bias
        return w * scale.reshape(shape), new_bias

    right = gamma / np.sqrt(var + eps)
    guesses: list[tuple[tuple[np.ndarray, np.ndarray], str]] = [
        (candidate(gamma / np.sqrt(var), (b0 - mean) * gamma / np.sqrt(var) + beta),
         "The eps is missing: divide by sqrt(var + eps), as batch norm does."),
        (candidate(gamma / (var + eps), (b0 - mean) * gamma / (var + eps) + beta),
         "Divide by the standard deviation sqrt(var + eps), not by the variance."),
        (candidate(right, b0 * right + beta),
         "The folded bias lacks the mean: it is (bias - mean) * scale + beta."),
        (candidate(right, (0 - mean) * right + beta),
         "The convolution's own bias is missing from the folded bias: "
         "(bias - mean) * scale + beta."),
        (candidate(right, beta - mean),
         "The mean must be scaled too: the folded bias is (bias - mean) * scale + beta."),
        (candidate(right, (b0 + mean) * right + beta),
         "The sign of the mean is flipped: batch norm subtracts it."),
        (candidate(1 / np.sqrt(var + eps), (b0 - mean) / np.sqrt(var + eps) + beta),
         "gamma is missing from the scale: scale = gamma / sqrt(var + eps)."),
    ]
    if w.shape[1] == n:
        guesses.append((candidate(right, (b0 - mean) * right + beta, along_inputs=True),
                        "The weights are scaled along the wrong axis: batch norm scales "
                        "output channels, the first axis of the weight."))
    for (want_w, want_b), hint in guesses:
        if _close(weight, want_w, 1e-5) and _close(bias, want_b, 1e-5):
            return hint
    if _close(weight, w * right.reshape(shape), 1e-5):
        return ("The weights are right; check the bias: (bias - mean) * scale + beta, "
                "with bias 0 when the convolution has none.")
    if _close(bias, (b0 - mean) * right + beta, 1e-5):
        return ("The bias is right; check the weights: every filter of output channel c "
                "times gamma[c] / sqrt(var[c] + eps).")
    return ("With scale = gamma / sqrt(var + eps): weight * scale per output channel, "
            "and bias (bias - mean) * scale + beta.")


_FOLD_ARGS = ("weight", "bias", "mean", "var", "gamma", "beta")


@common.checker
def check_fold_batch_norm(fn: Callable[..., Any]) -> str:
    """Check ``fn(weight, bias, mean, var, gamma, beta, eps) -> (weight, bias)``, a
    learner's folding of an eval-mode batch norm into the convolution before it.

    ``weight`` is a float64 tensor ``(N, M/g, kh, kw)``, ``bias`` a tensor of N
    numbers or None; the statistics hold N numbers each. Compared with PyTorch's
    ``torch.nn.utils.fusion.fuse_conv_bn_weights``; tensors, arrays and lists,
    float32 and float64, are accepted within their precision. The arguments are
    copies, and changing any of them in place is refused: the caller's
    convolution and batch norm must stay as they were.
    """
    common.require_callable(fn)
    rng = np.random.default_rng(10)
    for shape, has_bias, eps in FOLD_CASES:
        case = _fold_case(shape, has_bias, eps, rng)
        want_w, want_b = _reference_fold(case)
        originals = [case[name] for name in _FOLD_ARGS if case[name] is not None]
        args = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in case.items()}
        given = [args[name] for name in _FOLD_ARGS if args[name] is not None]
        where = (f"With a weight of shape {shape}, {'a' if has_bias else 'no'} "
                 f"convolution bias and eps={eps}")
        got = common.call(fn, tuple(args[name] for name in (*_FOLD_ARGS, "eps")), f"{where}, fn")
        (weight, w_rtol), (bias, b_rtol) = common.array_pair(
            got, f"{where}, fn", ("folded_weight", "folded_bias"),
            (f"{where}, the folded weight", f"{where}, the folded bias"), verb="is")
        if not common.unchanged(originals, given):
            changed = [name for name, a, b in zip(
                [n for n in _FOLD_ARGS if case[n] is not None], originals, given, strict=True)
                if not common.unchanged((a,), (b,))]
            raise common.Refusal(f"{where}, fn changed its argument {' and '.join(changed)} in "
                                 "place: the convolution and the batch norm it came from must stay "
                                 "as they were, so compute new tensors (weight * scale, not "
                                 "weight.mul_(scale)).")
        if weight.shape != want_w.shape:
            raise common.Refusal(f"{where}, the folded weight has shape {weight.shape}; expected "
                                 f"{want_w.shape}, the shape of the original weight.")
        if bias.size == want_b.size and bias.shape != want_b.shape:
            bias = bias.reshape(want_b.shape)  # one number per channel, any layout
        if bias.shape != want_b.shape:
            raise common.Refusal(f"{where}, the folded bias has shape {bias.shape}; expected "
                                 f"{want_b.shape}, one number per output channel.")
        rtol = max(w_rtol, b_rtol)
        if not (_close(weight, want_w, rtol) and _close(bias, want_b, rtol)):
            raise common.Refusal(f"{where}, the result is wrong. "
                                 f"{_fold_hint(case, weight, bias)}"
                                 + common.precision_hint(weight, want_w, rtol))
    return (f"Correct on all {len(FOLD_CASES)} cases (normal, depthwise and pointwise "
            "weights, with and without a bias).")


# --------------------------------------------------------------------------
# per-channel scales
# --------------------------------------------------------------------------


def _scale_case(shape: tuple[int, ...], rng: np.random.Generator) -> torch.Tensor:
    """Channels whose ranges differ by a factor of up to 1000, and whose largest
    weight is negative in some channels."""
    n = shape[0]
    w = rng.standard_normal(shape) * np.geomspace(1e-3, 1.0, n).reshape((-1,) + (1,) * (
        len(shape) - 1))
    flat = w.reshape(n, -1)
    for c in range(0, n, 2):  # make the extreme weight of every other channel negative
        i = np.argmax(np.abs(flat[c]))
        flat[c, i] = -abs(flat[c, i]) * 1.5
    return torch.from_numpy(flat.reshape(shape))


def _reference_scales(weight: np.ndarray, bits: int) -> np.ndarray:
    return np.abs(weight.reshape(weight.shape[0], -1)).max(axis=1) / (2 ** (bits - 1) - 1)


def _scale_hint(weight: np.ndarray, bits: int, got: np.ndarray) -> str:
    n = weight.shape[0]
    flat = weight.reshape(n, -1)
    largest = np.abs(flat).max(axis=1)
    levels = 2 ** (bits - 1) - 1
    guesses: list[tuple[np.ndarray, str]] = [
        (np.full(n, np.abs(weight).max() / levels),
         "All channels got the same scale, the per-tensor one; take the largest |w| of "
         "each output channel separately."),
        (flat.max(axis=1) / levels,
         "Use the largest *absolute* weight: a channel's extreme weight can be negative."),
        (largest / (2**bits - 1),
         f"Divide by 2**(bits-1) - 1 = {levels}, the largest integer of the signed "
         "symmetric range, not by 2**bits - 1."),
        (largest / 2 ** (bits - 1),
         f"Divide by 2**(bits-1) - 1 = {levels}: the symmetric range stops at "
         f"+-{levels} so that 0 sits in the middle."),
        (largest / 2**bits, f"Divide by 2**(bits-1) - 1 = {levels}, not by 2**bits."),
        (levels / largest, "That is the reciprocal: scale = max|w| / (2**(bits-1) - 1)."),
        (largest / 127, "The bit width is ignored: use 2**(bits-1) - 1, which is 127 only "
         "for 8 bits."),
    ]
    for candidate, hint in guesses:
        if candidate.shape == got.shape and common.close(got, candidate, 1e-5):
            return hint
    return "scale[c] = max over channel c of |w| / (2**(bits-1) - 1)."


@common.checker
def check_channel_scales(fn: Callable[..., Any]) -> str:
    """Check ``fn(weight, bits)``, a learner's per-channel scales of symmetric
    ``bits``-bit quantization: ``max |w[c]| / (2**(bits-1) - 1)`` for each output
    channel ``c`` (axis 0). ``weight`` is a float64 tensor (a copy: changing it in
    place is refused); any result with one number per channel is accepted (shape
    ``(N,)`` or ``(N, 1, 1, 1)``, tensor, array or list, float32 or float64)."""
    common.require_callable(fn)
    rng = np.random.default_rng(11)
    for shape, bits in SCALE_CASES:
        weight = _scale_case(shape, rng)
        want = _reference_scales(weight.numpy(), bits)
        where = f"With a weight of shape {shape} and bits={bits}"
        given = weight.clone()
        got = common.call(fn, (given, bits), f"{where}, fn")
        array, rtol = common.as_array(got, f"{where}, fn")
        if not common.unchanged((weight,), (given,)):
            raise common.Refusal(f"{where}, fn changed the weight in place: the layer's weights "
                                 "must stay as they were (use weight.abs(), not weight.abs_()).")
        if array.size != want.size:
            raise common.Refusal(f"{where}, fn returned {array.size} numbers (shape "
                                 f"{array.shape}); expected {want.size}, one per output channel "
                                 "(the first axis).")
        array = array.reshape(-1)
        if not _close(array, want, rtol):
            raise common.Refusal(f"{where}, the scales are wrong. "
                                 f"{_scale_hint(weight.numpy(), bits, array)}"
                                 + common.precision_hint(array, want, rtol))
    return (f"Correct on all {len(SCALE_CASES)} cases (convolution and linear "
            "weights, 2 to 8 bits).")
