"""After the forward pass: what training and deployment do to a network.

- :func:`fold_batch_norm`: a copy of a model with every batch norm folded into
  the convolution before it (PyTorch's ``torch.nn.utils.fusion.fuse_conv_bn_eval``
  does the arithmetic), equal to the original in evaluation mode.
- :func:`saved_tensor_bytes`: the bytes autograd keeps from a training-mode
  forward pass for the backward pass, split into activations and parameters
  (measured with ``torch.autograd.graph.saved_tensors_hooks``; works on the
  ``meta`` device, so large batches cost nothing to measure).
- :func:`symmetric_scales`, :func:`fake_quantize_weight`,
  :func:`quantize_weights`, :func:`channel_ranges` and
  :func:`channel_quantization_error`: symmetric integer quantization of
  weights, one scale per tensor or per output channel, through PyTorch's
  ``torch.fake_quantize_per_tensor_affine`` and
  ``torch.fake_quantize_per_channel_affine``.
- :func:`forward_backward`: one training step's forward and backward pass as a
  callable, to time with :func:`helpers.bench.time_calls`.

Quantization here is *weight-only fake quantization*: each weight is replaced by
the nearest of ``2**bits - 1`` evenly spaced values ``q * scale`` with
``q = -(2**(bits-1) - 1) ... 2**(bits-1) - 1`` (the symmetric "narrow" range
of int8 weights, zero point 0), and the arithmetic stays in floating point. The
scales are float32, as an int8 runtime stores them; the weights keep their dtype.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from helpers._validate import check_bool, check_int
from helpers.layers import DepthwiseSeparableConv2d

__all__ = [
    "SavedTensors",
    "channel_quantization_error",
    "channel_ranges",
    "count_batch_norms",
    "fake_quantize_weight",
    "fold_batch_norm",
    "forward_backward",
    "quantize_weights",
    "saved_tensor_bytes",
    "symmetric_scales",
]

#: Bit widths :func:`fake_quantize_weight` accepts.
MIN_BITS, MAX_BITS = 2, 16


def _check_module(module: object, name: str = "model") -> nn.Module:
    if not isinstance(module, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(module).__name__}")
    return module


def _check_tensor(x: object, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


# --------------------------------------------------------------------------
# folding batch norm
# --------------------------------------------------------------------------


def count_batch_norms(model: nn.Module) -> int:
    """Number of ``nn.BatchNorm2d`` modules in ``model``."""
    model = _check_module(model)
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def _conv_of(module: nn.Module) -> tuple[nn.Module, str] | None:
    """``(owner, attribute)`` of the ``nn.Conv2d`` that ``module`` is or wraps, or None.

    The book's :class:`~helpers.layers.DepthwiseConv2d` and
    :class:`~helpers.layers.PointwiseConv2d` keep theirs in ``.conv``.
    """
    inner = getattr(module, "conv", None)
    if type(module) is not nn.Conv2d and isinstance(inner, nn.Conv2d):
        return module, "conv"
    return None


def _fold_children(parent: nn.Module) -> int:
    """Fold each (convolution, batch norm) pair among ``parent``'s direct children."""
    folded = 0
    names = list(parent._modules)
    for before, name in zip(names, names[1:], strict=False):
        bn, conv_module = parent._modules[name], parent._modules[before]
        if not isinstance(bn, nn.BatchNorm2d) or conv_module is None:
            continue
        if isinstance(conv_module, nn.Conv2d):
            owner, attribute, conv = parent, before, conv_module
        elif (found := _conv_of(conv_module)) is not None:
            owner, attribute = found
            conv = getattr(owner, attribute)
        else:
            continue
        if conv.out_channels != bn.num_features:
            raise ValueError(f"cannot fold {name!r}: {bn.num_features} features after a "
                             f"convolution with {conv.out_channels} output channels")
        setattr(owner, attribute, fuse_conv_bn_eval(conv, bn))
        parent._modules[name] = nn.Identity()
        folded += 1
    return folded


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with each batch norm folded into the
    convolution before it, and replaced by ``nn.Identity``.

    In evaluation mode a batch norm computes ``gamma * (y - mu) / sqrt(var + eps) + beta``
    per channel with fixed statistics: an affine map of each output channel of
    the convolution, which ``torch.nn.utils.fusion.fuse_conv_bn_eval`` merges into
    that convolution's weight (scaled per output channel) and bias.

    A pair is folded when the convolution (an ``nn.Conv2d``, or a book layer
    holding one in ``.conv``) is the child registered right before the batch
    norm in an ``nn.Sequential`` or a
    :class:`~helpers.layers.DepthwiseSeparableConv2d`: containers whose forward
    runs their children in order. Other batch norms are left in place; count
    them with :func:`count_batch_norms`. The original model is not changed.
    """
    model = _check_module(model)
    folded = copy.deepcopy(model).eval()
    containers = (nn.Sequential, DepthwiseSeparableConv2d)
    for module in list(folded.modules()):
        if isinstance(module, containers):
            _fold_children(module)
    return folded


# --------------------------------------------------------------------------
# activation memory
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedTensors:
    """What autograd keeps from one forward pass for the backward pass.

    ``activation_bytes``: tensors computed from the input (layer inputs and
    outputs, batch norm statistics); ``parameter_bytes``: the model's own
    parameters and buffers that operations keep a reference to (no extra
    memory: they exist anyway). Each storage is counted once, however many
    operations save it or views of it.
    """

    activation_bytes: int
    parameter_bytes: int
    activation_tensors: int

    @property
    def total_bytes(self) -> int:
        return self.activation_bytes + self.parameter_bytes


def _storage_key(t: torch.Tensor) -> int:
    # The address of the storage object: shared by every view of one storage,
    # and unique while the tensor is alive (true on the meta device too, where
    # data_ptr() is 0 for every tensor).
    return t.untyped_storage()._cdata


def saved_tensor_bytes(model: nn.Module, x: torch.Tensor) -> SavedTensors:
    """Measure what a training-mode forward pass of ``model`` on ``x`` saves for backward.

    Runs ``model(x)`` in training mode with gradients enabled under
    ``torch.autograd.graph.saved_tensors_hooks``, which hands every tensor an
    operation saves to a hook; the hook records its storage. Batch norm
    running statistics and the model's modes are restored afterwards. On the
    ``meta`` device (model and ``x``) nothing is computed, only shapes, so this
    is cheap for any batch.
    """
    model = _check_module(model)
    x = _check_tensor(x, "x")
    owned = {_storage_key(t) for t in (*model.parameters(), *model.buffers())}
    seen: dict[int, tuple[int, bool]] = {}
    keep: list[torch.Tensor] = []  # keeps the storages alive, so keys stay unique

    def pack(t: torch.Tensor) -> torch.Tensor:
        key = _storage_key(t)
        if key not in seen:
            seen[key] = (t.untyped_storage().nbytes(), key in owned)
            keep.append(t)
        return t

    modes = [(m, m.training) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        model.train()
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model(x)
    finally:
        for m, training in modes:
            m.training = training
        with torch.no_grad():
            for b, value in buffers:
                b.copy_(value)
    activations = [n for n, is_owned in seen.values() if not is_owned]
    parameters = [n for n, is_owned in seen.values() if is_owned]
    return SavedTensors(sum(activations), sum(parameters), len(activations))


# --------------------------------------------------------------------------
# quantization
# --------------------------------------------------------------------------


def _check_bits(bits: object) -> int:
    bits = check_int(bits, "bits", minimum=MIN_BITS)
    if bits > MAX_BITS:
        raise ValueError(f"bits must be an int from {MIN_BITS} to {MAX_BITS}, got {bits}")
    return bits


def _check_weight(weight: object) -> torch.Tensor:
    weight = _check_tensor(weight, "weight")
    if weight.ndim < 2 or weight.numel() == 0:
        raise ValueError(f"weight must have an output-channel axis and at least one more "
                         f"(e.g. (N, M/g, kh, kw)), got shape {tuple(weight.shape)}")
    if not weight.is_floating_point():
        raise TypeError(f"weight must hold floating-point numbers, got {weight.dtype}")
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
    per_channel = check_bool(per_channel, "per_channel")
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


def quantize_weights(model: nn.Module, bits: int = 8, per_channel: bool = True
                     ) -> nn.Module:
    """A copy of ``model`` whose convolution and linear weights are fake-quantized
    (:func:`fake_quantize_weight`); biases and everything else are unchanged."""
    model = _check_module(model)
    bits = _check_bits(bits)
    per_channel = check_bool(per_channel, "per_channel")
    quantized = copy.deepcopy(model)
    with torch.no_grad():
        for module in quantized.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                module.weight.copy_(fake_quantize_weight(module.weight, bits, per_channel))
    return quantized


# --------------------------------------------------------------------------
# timing a training step
# --------------------------------------------------------------------------


def forward_backward(module: nn.Module, x: torch.Tensor, seed: int = 0) -> Callable[[], None]:
    """A callable that runs one forward and backward pass of ``module`` on ``x``.

    The input needs its gradient too (as for any layer but the first), and the
    output's gradient is a fixed random tensor (seeded). Gradients are cleared
    after each call, so repeated calls do the same work.
    """
    module = _check_module(module, "module")
    x = _check_tensor(x, "x")
    seed = check_int(seed, "seed", minimum=0)
    x = x.detach().requires_grad_(True)
    with torch.no_grad():
        shape = module(x).shape
    generator = torch.Generator().manual_seed(seed)
    grad = torch.randn(shape, generator=generator, dtype=x.dtype).to(x.device)
    params = [p for p in module.parameters() if p.requires_grad]

    def step() -> None:
        torch.autograd.backward(module(x), grad)
        x.grad = None
        for p in params:
            p.grad = None

    return step
