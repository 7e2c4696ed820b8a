"""Symmetric integer quantization of weights (chapter 10).

:func:`symmetric_scales`, :func:`fake_quantize_weight`, :func:`channel_ranges` and
:func:`channel_quantization_error`: one scale per
tensor or per output channel, through PyTorch's
``torch.fake_quantize_per_channel_affine``.

Quantization here is *weight-only fake quantization*: each weight is replaced by
the nearest of ``2**bits - 1`` evenly spaced values ``q * scale`` with
``q = -(2**(bits-1) - 1) ... 2**(bits-1) - 1`` (the symmetric "narrow" range
of int8 weights, zero point 0), and the arithmetic stays in floating point. The
scales are float32, as an int8 runtime stores them; the weights keep their dtype.
"""

from __future__ import annotations

import torch

from helpers.core._validate import require_bool, require_int, require_tensor

__all__ = [
    "channel_quantization_error",
    "channel_ranges",
    "fake_quantize_weight",
    "symmetric_scales",
]

#: Bit widths :func:`fake_quantize_weight` accepts.
MIN_BITS, MAX_BITS = 2, 16


def _check_bits(bits: object) -> int:
    bits = require_int(bits, "bits", minimum=MIN_BITS)
    if bits > MAX_BITS:
        raise ValueError(f"bits must be an int from {MIN_BITS} to {MAX_BITS}, got {bits}")
    return bits


def _check_weight(weight: object) -> torch.Tensor:
    weight = require_tensor(weight, "weight")
    if weight.ndim < 2 or weight.numel() == 0:
        raise ValueError(f"weight must have an output-channel axis and at least one more "
                         f"(e.g. (N, M/g, kh, kw)), got shape {tuple(weight.shape)}")
    if not weight.is_floating_point():
        raise TypeError(f"weight must hold floating-point numbers, got {weight.dtype}")
    if not bool(torch.isfinite(weight).all()):
        raise ValueError("weight must hold finite numbers, got NaN or inf")
    return weight


def channel_ranges(weight: torch.Tensor) -> torch.Tensor:
    """Largest absolute weight of each output channel (axis 0): ``max |w[c]|``."""
    weight = _check_weight(weight).detach()
    return weight.abs().amax(dim=tuple(range(1, weight.ndim)))


def symmetric_scales(weight: torch.Tensor, bits: int = 8, per_channel: bool = True
                     ) -> torch.Tensor:
    """Scales of symmetric ``bits``-bit quantization: ``max |w| / (2**(bits-1) - 1)``.

    ``per_channel=True`` gives one scale per output channel (axis 0), from that
    channel's largest absolute weight; ``False`` one scale (a 0-d tensor) for the
    whole tensor. Float32, as a runtime stores them. An all-zero channel gets
    the scale 1 (any scale quantizes zeros exactly).
    """
    weight = _check_weight(weight).detach()
    bits = _check_bits(bits)
    per_channel = require_bool(per_channel, "per_channel")
    levels = 2 ** (bits - 1) - 1
    largest = channel_ranges(weight) if per_channel else weight.abs().amax()
    scales = (largest.double() / levels).float()
    return torch.where(scales > 0, scales, torch.ones_like(scales))


def fake_quantize_weight(weight: torch.Tensor, bits: int = 8, per_channel: bool = True
                         ) -> torch.Tensor:
    """``weight`` rounded to symmetric ``bits``-bit integers times their scale.

    Uses ``torch.fake_quantize_per_channel_affine`` with zero point 0 and
    integers from ``-(2**(bits-1) - 1)`` to ``2**(bits-1) - 1``: with one scale
    per output channel, or (``per_channel=False``) with the tensor's single
    scale repeated for every channel, which is per-tensor quantization. (The
    per-tensor op ``torch.fake_quantize_per_tensor_affine`` gives the same
    integers but computes its float64 output in float32 precision; the
    per-channel op keeps float64 exact.) The result has the weight's dtype and
    shape and no gradient history.
    """
    weight = _check_weight(weight).detach()
    scales = symmetric_scales(weight, bits, per_channel)
    levels = 2 ** (bits - 1) - 1
    scales = scales.expand(weight.shape[0]).contiguous()
    zero = torch.zeros(weight.shape[0], dtype=torch.int32, device=weight.device)
    return torch.fake_quantize_per_channel_affine(weight, scales, zero, 0, -levels, levels)


def channel_quantization_error(weight: torch.Tensor, bits: int = 8,
                               per_channel: bool = True) -> torch.Tensor:
    """Relative error of each output channel after :func:`fake_quantize_weight`:
    ``||q(w[c]) - w[c]|| / ||w[c]||`` (0 for an all-zero channel)."""
    weight = _check_weight(weight).detach()
    error = fake_quantize_weight(weight, bits, per_channel) - weight
    dims = tuple(range(1, weight.ndim))
    norms = torch.linalg.vector_norm(weight, dim=dims)
    errors = torch.linalg.vector_norm(error, dim=dims)
    return torch.where(norms > 0, errors / torch.where(norms > 0, norms, 1), 0.0)

