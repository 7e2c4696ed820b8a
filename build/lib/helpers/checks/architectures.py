"""Checkers for the chapter on architectures (MobileNet, MobileNetV2, Xception)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from helpers.checks import CheckResult, failed, passed
from helpers.cost import conv2d_macs, conv2d_params, count_macs, count_parameters

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
    weights = conv2d_params(hidden, hidden, 3, groups=hidden) + conv2d_params(
        hidden, out_channels, 1)
    norms = 2 * (hidden + out_channels)
    if expansion != 1:
        weights += conv2d_params(in_channels, hidden, 1)
        norms += 2 * hidden
    return weights + norms


def expected_inverted_residual_macs(in_channels: int, out_channels: int, stride: int,
                                    expansion: int, size: int) -> int:
    """Reference: expansion at the input size, depthwise and projection at the output size."""
    hidden = in_channels * expansion
    out_size = (size - 1) // stride + 1
    macs = conv2d_macs(hidden, hidden, 3, out_size, groups=hidden)
    macs += conv2d_macs(hidden, out_channels, 1, out_size)
    if expansion != 1:
        macs += conv2d_macs(in_channels, hidden, 1, size)
    return macs


def _zeroed_output(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Output of a copy-free run with every parameter set to zero (restored after)."""
    saved = [p.detach().clone() for p in block.parameters()]
    try:
        with torch.no_grad():
            for p in block.parameters():
                p.zero_()
            return block(x)
    finally:
        with torch.no_grad():
            for p, value in zip(block.parameters(), saved, strict=True):
                p.copy_(value)


def check_inverted_residual(make_block: Callable[..., nn.Module]) -> CheckResult:
    """Check ``make_block(in_channels, out_channels, stride, expansion)``, a
    learner's MobileNetV2 inverted residual block (expand 1x1 + BN + ReLU6 unless
    the expansion is 1, depthwise 3x3 + BN + ReLU6, project 1x1 + BN with no
    activation, residual when stride is 1 and channels match, no biases).

    Runs each case of :data:`BLOCK_CASES` on a ``9 x 9`` input and checks the
    output shape, the parameter and multiply-add counts, the residual
    connection and the linear bottleneck, in that order.
    """
    if not callable(make_block):
        raise TypeError(f"make_block must be a function, got {type(make_block).__name__}")
    torch.manual_seed(0)
    for cin, cout, stride, t in BLOCK_CASES:
        case = f"make_block({cin}, {cout}, stride={stride}, expansion={t})"
        try:
            block = make_block(cin, cout, stride, t)
        except Exception as exc:  # report the learner's error as a message
            return failed(f"{case} raised {type(exc).__name__}: {exc}")
        if not isinstance(block, nn.Module):
            return failed(f"{case} returned {type(block).__name__}; return an nn.Module.")
        block.eval()
        x = torch.randn(2, cin, BLOCK_SIZE, BLOCK_SIZE)
        out_size = (BLOCK_SIZE - 1) // stride + 1
        try:
            with torch.no_grad():
                y = block(x)
        except Exception as exc:
            return failed(f"{case} on an input of shape {tuple(x.shape)} raised "
                          f"{type(exc).__name__}: {exc}")
        want_shape = (2, cout, out_size, out_size)
        if tuple(y.shape) != want_shape:
            return failed(f"{case}: output shape {tuple(y.shape)}, expected {want_shape}. "
                          "Check the stride (only the depthwise step has it) and padding 1.")
        params = count_parameters(block)
        want_params = expected_inverted_residual_params(cin, cout, t)
        if params != want_params:
            return failed(f"{case}: {params} parameters, expected {want_params}. "
                          + _params_hint(cin, cout, t, params))
        macs = count_macs(block, (1, cin, BLOCK_SIZE, BLOCK_SIZE))
        want_macs = expected_inverted_residual_macs(cin, cout, stride, t, BLOCK_SIZE)
        if macs != want_macs:
            return failed(f"{case}: {macs} multiply-adds on a {BLOCK_SIZE}x{BLOCK_SIZE} input, "
                          f"expected {want_macs}. Is the stride on the depthwise step (not on "
                          "the expansion)? Is the depthwise step really depthwise (groups)?")
        if not (y < 0).any():
            return failed(f"{case}: the block never outputs a negative value, so it ends in "
                          "an activation. The bottleneck must be linear: no ReLU/ReLU6 after "
                          "the projection (or after the residual addition).")
        residual = stride == 1 and cin == cout
        zero = _zeroed_output(block, x)
        has_residual = torch.allclose(zero, x) if zero.shape == x.shape else False
        if residual and not has_residual:
            return failed(f"{case}: stride 1 and equal channels, so the block must add its "
                          "input to its output (the residual connection); it does not.")
        if not residual and not torch.allclose(zero, torch.zeros_like(zero)):
            return failed(f"{case}: this block must not have a residual connection "
                          "(it needs stride 1 and in_channels == out_channels).")
        branch = y - x if residual else y
        if not (branch < 0).any():
            return failed(f"{case}: the projection never outputs a negative value. "
                          "The bottleneck must be linear: no ReLU/ReLU6 after the projection.")
    return passed(f"Correct on all {len(BLOCK_CASES)} cases: shapes, parameters, "
                  "multiply-adds, residual connections and the linear bottleneck.")


def _params_hint(cin: int, cout: int, t: int, got: int) -> str:
    hidden = cin * t
    want = expected_inverted_residual_params(cin, cout, t)
    if got == want + hidden + cout + (hidden if t != 1 else 0):
        return "That is one extra number per output channel of each convolution: use bias=False."
    if t == 1 and got == want + cin * hidden + 2 * hidden:
        return "With expansion 1 there is no expansion convolution (nothing to expand)."
    if got == want - 2 * (hidden + cout) - (2 * hidden if t != 1 else 0):
        return "The weights are right; each convolution needs a BatchNorm2d after it."
    return ("Expected 1x1 expansion (in * t * in weights), 3x3 depthwise (9 * t * in), "
            "1x1 projection (t * in * out), each followed by BatchNorm2d (2 per channel).")


#: (in_channels, out_channels, feature_size, width_multiplier, resolution_multiplier) cases.
WIDTH_CASES: tuple[tuple[int, int, int, float, float], ...] = (
    (512, 512, 14, 1.0, 1.0),
    (512, 512, 14, 0.75, 1.0),
    (512, 512, 14, 0.75, 10 / 14),
    (32, 64, 112, 0.5, 1.0),
    (256, 512, 28, 0.25, 192 / 224),
    (1024, 1024, 7, 0.5, 4 / 7),
)


def expected_separable_macs(in_channels: int, out_channels: int, feature_size: int,
                            width_multiplier: float, resolution_multiplier: float) -> int:
    """Reference: equation (7) of Howard et al. (2017) for a 3x3 separable layer,
    with channels and feature size rounded to whole numbers."""
    m = round(in_channels * width_multiplier)
    n = round(out_channels * width_multiplier)
    f = round(feature_size * resolution_multiplier)
    return conv2d_macs(m, m, 3, f, groups=m) + conv2d_macs(m, n, 1, f)


def check_separable_macs(fn: Callable[..., object]) -> CheckResult:
    """Check ``fn(in_channels, out_channels, feature_size, width_multiplier,
    resolution_multiplier)``, a learner's multiply-add count of a 3x3 depthwise
    separable layer of MobileNet thinned by the width multiplier and run at a
    reduced resolution (the paper's equation 7, with whole numbers of channels
    and pixels)."""
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")
    for m, n, f, alpha, rho in WIDTH_CASES:
        case = f"fn({m}, {n}, {f}, width_multiplier={alpha}, resolution_multiplier={rho:.4g})"
        want = expected_separable_macs(m, n, f, alpha, rho)
        try:
            got = fn(m, n, f, alpha, rho)
        except Exception as exc:
            return failed(f"{case} raised {type(exc).__name__}: {exc}")
        if isinstance(got, bool) or not isinstance(got, int):
            return failed(f"{case} returned {got!r} ({type(got).__name__}); return a whole "
                          "number (int): round the channels and the feature size first.")
        if got != want:
            return failed(f"{case} returned {got}, expected {want}. "
                          + _macs_hint(m, n, f, alpha, rho, got))
    return passed(f"Correct on all {len(WIDTH_CASES)} cases.")


def _macs_hint(m: int, n: int, f: int, alpha: float, rho: float, got: int) -> str:
    am, an, rf = round(m * alpha), round(n * alpha), round(f * rho)
    guesses = {
        9 * am * rf * rf: "That is only the depthwise step; add the pointwise step "
                          "(alpha*M * alpha*N per pixel).",
        am * an * rf * rf: "That is only the pointwise step; add the depthwise step "
                           "(3*3*alpha*M per pixel).",
        9 * am * an * rf * rf: "That is a normal 3x3 convolution; the separable layer is "
                               "depthwise plus pointwise.",
        9 * m * f * f + m * n * f * f: "That ignores both multipliers.",
        9 * am * f * f + am * an * f * f: "The width multiplier is right; the resolution "
                                          "multiplier scales the feature size too.",
        9 * m * rf * rf + m * n * rf * rf: "The resolution multiplier is right; the width "
                                           "multiplier scales both channel counts too.",
    }
    return guesses.get(got, "Per output pixel: 3*3*(alpha*M) for the depthwise step plus "
                            "(alpha*M)*(alpha*N) for the pointwise step; times (rho*D_F)^2 pixels.")
