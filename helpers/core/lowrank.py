"""The low-rank view: a depthwise separable convolution is a normal convolution
whose kernel is factorised, and any normal convolution has a best separable
approximation, found with one SVD per input channel.

Layouts follow PyTorch. A normal kernel ``W`` has shape ``(N, M, kh, kw)``. A
depthwise kernel ``D`` with depth multiplier ``m`` has shape
``(M*m, 1, kh, kw)`` (``Conv2d(M, M*m, k, groups=M)``): its output channel
``i*m + j`` reads input channel ``i``. A pointwise kernel ``P`` has shape
``(N, M*m)`` or ``(N, M*m, 1, 1)``. Then

.. math:: W[o, i] = \\sum_j P[o, i m + j] \\, D[i m + j, 0].

For one input channel ``i`` the slice ``W[:, i]``, flattened to an
``N x (kh*kw)`` matrix, is a product of an ``N x m`` and an ``m x (kh*kw)``
matrix, so its rank is at most ``m``: the depth multiplier is a rank. The
Eckart–Young theorem then gives the best separable approximation of any
kernel: truncate the SVD of every slice.

Functions accept NumPy arrays or PyTorch tensors and return the same kind;
the arithmetic is done in float64 and cast back to the input's dtype.

The same idea in two dimensions (:func:`rank1_factors`,
:func:`kernel_singular_values`) says when a ``k x k`` filter is *spatially*
separable, a ``k x 1`` filter followed by a ``1 x k`` one.
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import deepcopy
from typing import Any

import numpy as np
import torch
from torch import nn

from helpers.core._validate import (
    _describe,
    require_module,
    require_parameter_count,
    require_positive_int,
)
from helpers.core.threads import fixed_threads

__all__ = [
    "separable_to_normal",
    "normal_to_separable",
    "channel_singular_values",
    "approximation_errors",
    "separable_from_conv",
    "replace_with_separable",
    "recalibrate_batch_norm",
    "kernel_singular_values",
    "rank1_factors",
    "rank1_error",
]


# --------------------------------------------------------------------------
# Argument handling: NumPy or torch in, the same kind out.
# --------------------------------------------------------------------------


def _to_numpy(x: Any, name: str) -> np.ndarray:
    """``x`` (array or tensor of real numbers) as a float64 NumPy array."""
    if not isinstance(x, torch.Tensor | np.ndarray):
        raise TypeError(f"{name} must be a NumPy array or a torch tensor, got "
                        f"{type(x).__name__} {_describe(x)}")
    if (x.is_complex() or x.dtype == torch.bool) if isinstance(x, torch.Tensor) else (
            x.dtype.kind not in "biuf"):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    array = (x.detach().cpu().to(torch.float64).numpy() if isinstance(x, torch.Tensor)
             else x.astype(np.float64))
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must hold finite numbers, got NaN or infinity")
    return array


def _like(result: np.ndarray, template: Any) -> Any:
    """``result`` converted to the kind (array/tensor), dtype and device of ``template``."""
    if isinstance(template, torch.Tensor):
        dtype = template.dtype if template.is_floating_point() else torch.get_default_dtype()
        return torch.from_numpy(np.ascontiguousarray(result)).to(dtype=dtype,
                                                                  device=template.device)
    dtype = template.dtype if template.dtype.kind == "f" else np.float64
    return result.astype(dtype)


def _check_kernel(weight: Any, name: str, layout: str) -> np.ndarray:
    """``weight`` as float64, required to be a non-empty kernel of ``layout``'s rank."""
    w = _to_numpy(weight, name)
    if w.ndim != layout.count(",") + 1:
        raise ValueError(f"{name} must be a {layout.count(',') + 1}-D kernel {layout}, "
                         f"got shape {tuple(w.shape)}")
    if w.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(w.shape)}")
    return w


def _check_normal(weight: Any) -> np.ndarray:
    return _check_kernel(weight, "weight", "(out_channels, in_channels, kh, kw)")


def _check_2d_kernel(kernel: Any) -> np.ndarray:
    return _check_kernel(kernel, "kernel", "(kh, kw)")


def _slices(w: np.ndarray) -> np.ndarray:
    """The per-input-channel matrices of a kernel: shape ``(M, N, kh*kw)``."""
    out_channels, in_channels, kh, kw = w.shape
    return w.transpose(1, 0, 2, 3).reshape(in_channels, out_channels, kh * kw)


# --------------------------------------------------------------------------
# Separable <-> normal
# --------------------------------------------------------------------------


def separable_to_normal(depthwise_weight: Any, pointwise_weight: Any,
                        depth_multiplier: int = 1) -> Any:
    """The normal-convolution kernel equal to a depthwise then a pointwise convolution.

    Parameters
    ----------
    depthwise_weight:
        Shape ``(M*m, 1, kh, kw)``, the weight of ``Conv2d(M, M*m, k, groups=M)``.
    pointwise_weight:
        Shape ``(N, M*m)`` or ``(N, M*m, 1, 1)``.
    depth_multiplier:
        ``m``, the number of depthwise filters per input channel (the shapes
        alone cannot tell ``M`` from ``m``).

    Returns
    -------
    The kernel ``W`` of shape ``(N, M, kh, kw)`` with
    ``W[o, i] = sum_j P[o, i*m + j] * D[i*m + j, 0]``, of the same kind
    (array or tensor) as ``depthwise_weight``.
    """
    m = require_positive_int(depth_multiplier, "depth_multiplier")
    d = _to_numpy(depthwise_weight, "depthwise_weight")
    p = _to_numpy(pointwise_weight, "pointwise_weight")
    if d.ndim != 4 or d.shape[1] != 1:
        raise ValueError("depthwise_weight must have shape (in_channels * depth_multiplier, "
                         f"1, kh, kw), got shape {tuple(d.shape)}")
    if d.size == 0:
        raise ValueError(f"depthwise_weight must not be empty, got shape {tuple(d.shape)}")
    if not (p.ndim == 2 or (p.ndim == 4 and p.shape[2:] == (1, 1))):
        raise ValueError("pointwise_weight must have shape (out_channels, channels) or "
                         f"(out_channels, channels, 1, 1), got shape {tuple(p.shape)}")
    p = p.reshape(p.shape[:2])
    channels = d.shape[0]
    if channels % m:
        raise ValueError(
            f"depthwise_weight has {channels} filters, which is not a multiple of "
            f"depth_multiplier={m}"
        )
    if p.shape[1] != channels:
        raise ValueError(
            f"pointwise_weight reads {p.shape[1]} channels but depthwise_weight makes "
            f"{channels}; they must match"
        )
    if p.shape[0] == 0:
        raise ValueError("pointwise_weight must have at least one output channel")
    in_channels = channels // m
    kh, kw = d.shape[2:]
    d3 = d[:, 0].reshape(in_channels, m, kh, kw)  # [i, j] = filter i*m + j
    p3 = p.reshape(p.shape[0], in_channels, m)  # [o, i, j] = P[o, i*m + j]
    normal = np.einsum("oij,ijhw->oihw", p3, d3)
    return _like(normal, depthwise_weight)


def channel_singular_values(weight: Any) -> np.ndarray:
    """Singular values of each input channel's ``N x (kh*kw)`` slice of a kernel.

    Returns a float64 array of shape ``(M, min(N, kh*kw))``, each row in
    decreasing order.
    """
    w = _check_normal(weight)
    return np.linalg.svd(_slices(w), compute_uv=False)


def normal_to_separable(weight: Any, depth_multiplier: int = 1) -> tuple[Any, Any]:
    """The best depthwise separable approximation of a normal convolution kernel.

    For each input channel ``i`` the ``N x (kh*kw)`` slice ``W[:, i]`` is
    replaced by its rank-``r`` truncated SVD ``U_r S_r V_r^T``; by the
    Eckart–Young theorem no rank-``r`` matrix is closer in Frobenius norm, and
    since the slices are independent the whole kernel is the closest one a
    separable convolution with depth multiplier ``r`` can make.

    The ``r`` depthwise filters of channel ``i`` are the rows of ``V_r^T``
    (orthonormal filters of unit norm); the pointwise weights are ``U_r S_r``.
    When ``r`` exceeds ``min(N, kh*kw)`` the spare filters are zero. The result
    is exact when ``r >= min(N, kh*kw)``.

    Returns ``(depthwise_weight, pointwise_weight)`` with shapes
    ``(M*r, 1, kh, kw)`` and ``(N, M*r, 1, 1)``, of the same kind as ``weight``.
    """
    w = _check_normal(weight)
    r = require_positive_int(depth_multiplier, "depth_multiplier")
    out_channels, in_channels, kh, kw = w.shape
    require_parameter_count(in_channels * r * (kh * kw + out_channels), "the approximation")
    u, s, vt = np.linalg.svd(_slices(w), full_matrices=False)  # (M,N,q) (M,q) (M,q,k*k)
    q = s.shape[1]
    keep = min(r, q)
    depthwise = np.zeros((in_channels, r, kh * kw))
    pointwise = np.zeros((out_channels, in_channels, r))
    depthwise[:, :keep] = vt[:, :keep]
    pointwise[:, :, :keep] = (u[:, :, :keep] * s[:, None, :keep]).transpose(1, 0, 2)
    depthwise = depthwise.reshape(in_channels * r, 1, kh, kw)
    pointwise = pointwise.reshape(out_channels, in_channels * r, 1, 1)
    return _like(depthwise, weight), _like(pointwise, weight)


def approximation_errors(weight: Any, ranks: Any = None) -> np.ndarray:
    """Relative Frobenius error of the best separable approximation, for each rank.

    ``error(r) = sqrt(sum of the discarded squared singular values of every
    slice) / ||W||``, which is exactly ``||W - W_r|| / ||W||`` for the kernel
    ``W_r`` rebuilt from :func:`normal_to_separable` with ``depth_multiplier=r``.

    ``ranks`` is a sequence of positive ints; by default ``1 .. min(N, kh*kw)``.
    Returns a float64 array with one error per rank (0 for an all-zero kernel).
    """
    s = channel_singular_values(weight)
    q = s.shape[1]
    if ranks is None:
        ranks = range(1, q + 1)
    if isinstance(ranks, int | np.integer) and not isinstance(ranks, bool):
        ranks = [ranks]
    if not isinstance(ranks, Iterable) or isinstance(ranks, str):
        raise TypeError(f"ranks must be a sequence of positive ints, got {_describe(ranks)}")
    ranks = [require_positive_int(r, "ranks entry") for r in ranks]
    if not ranks:
        raise ValueError("ranks must not be empty")
    energy = s**2
    total = float(energy.sum())
    # discarded[r] = energy beyond the first r singular values, for r = 0..q
    tail = np.concatenate([energy[:, ::-1].cumsum(axis=1)[:, ::-1], np.zeros((s.shape[0], 1))],
                          axis=1).sum(axis=0)
    if total == 0.0:
        return np.zeros(len(ranks))
    return np.array([np.sqrt(max(tail[min(r, q)], 0.0) / total) for r in ranks])


def separable_from_conv(conv: nn.Conv2d, depth_multiplier: int = 1) -> nn.Sequential:
    """A depthwise-then-pointwise replacement for ``conv`` from its rank-``r``
    approximation (see :func:`normal_to_separable`).

    The depthwise step keeps ``conv``'s stride, padding, dilation and padding
    mode; the pointwise step carries ``conv``'s bias. With
    ``depth_multiplier >= min(out_channels, kh*kw)`` the replacement computes
    the same function as ``conv`` (up to rounding).
    """
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"conv must be a torch.nn.Conv2d, got {type(conv).__name__}")
    if conv.groups != 1:
        raise ValueError(f"conv must be a normal convolution (groups=1), got groups={conv.groups}")
    r = require_positive_int(depth_multiplier, "depth_multiplier")
    in_channels, hidden = conv.in_channels, conv.in_channels * r
    depthwise_w, pointwise_w = normal_to_separable(conv.weight.detach(), r)
    depthwise = nn.Conv2d(in_channels, hidden, conv.kernel_size, stride=conv.stride,
                          padding=conv.padding, dilation=conv.dilation, groups=in_channels,
                          bias=False,
                          padding_mode=conv.padding_mode)
    pointwise = nn.Conv2d(hidden, conv.out_channels, 1, bias=conv.bias is not None)
    factory = {"dtype": conv.weight.dtype, "device": conv.weight.device}
    depthwise.to(**factory)
    pointwise.to(**factory)
    with torch.no_grad():
        depthwise.weight.copy_(depthwise_w)
        pointwise.weight.copy_(pointwise_w)
        if conv.bias is not None:
            pointwise.bias.copy_(conv.bias)
    return nn.Sequential(depthwise, pointwise)


def replace_with_separable(model: nn.Module, name: str, depth_multiplier: int) -> nn.Module:
    """A copy of ``model`` whose convolution ``name`` (as in
    ``model.named_modules()``) is replaced by :func:`separable_from_conv`'s
    rank-``depth_multiplier`` approximation. ``model`` itself is not changed."""
    require_module(model)
    modules = dict(model.named_modules())
    if not isinstance(name, str) or name not in modules or name == "":
        convs = [key for key, module in modules.items() if isinstance(module, nn.Conv2d)]
        raise ValueError(f"name must name a submodule of model, one of {convs}, got {name!r}")
    replacement = separable_from_conv(modules[name], depth_multiplier)
    copy = deepcopy(model)
    parent_name, _, child = name.rpartition(".")
    parent = copy.get_submodule(parent_name) if parent_name else copy
    setattr(parent, child, replacement)
    return copy


def recalibrate_batch_norm(model: nn.Module, images: Any,
                           batch_size: int | None = None) -> nn.Module:
    """Re-estimate the running statistics of every batch norm in ``model`` from
    ``images`` (a ``(B, C, H, W)`` tensor, or anything with such an ``.x``,
    e.g. a :class:`helpers.lab.digits.Split`), in place, and return ``model`` in
    evaluation mode.

    After a layer is replaced (by its low-rank approximation, say), the batch
    norms after it still hold the mean and variance of the *old* layer's
    outputs. This resets them and runs forward passes in training mode with
    ``momentum=None`` (a plain average over the batches), without gradients:
    no weight changes and no label is used. ``batch_size=None`` uses all the
    images in one batch, which gives the exact mean over them. Each batch
    norm's momentum is restored afterwards.
    """
    require_module(model)
    x = getattr(images, "x", images)
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise TypeError(f"images must be a 4-D torch.Tensor (B, C, H, W) or have one "
                        f"as .x, got {_describe(images)}")
    if not x.is_floating_point():
        raise TypeError(f"images must hold floating-point numbers, got dtype {x.dtype}")
    if len(x) == 0:
        raise ValueError("images must not be empty")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("images must hold finite numbers, got NaN or infinity")
    if batch_size is not None:
        batch_size = require_positive_int(batch_size, "batch_size")
    step = len(x) if batch_size is None else batch_size
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    # What is restored if the model cannot run on the images: statistics, momenta, modes.
    saved = [(deepcopy(norm.state_dict()), norm.momentum) for norm in norms]
    modes = [(module, module.training) for module in model.modules()]
    first = next((p for p in model.parameters() if p.is_floating_point()), None)
    dtype = first.dtype if first is not None else x.dtype
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    model.train()
    try:
        with fixed_threads(1), torch.no_grad():
            for start in range(0, len(x), step):
                model(x[start:start + step].to(dtype))
    except Exception as error:
        for norm, (state, _) in zip(norms, saved, strict=True):
            norm.load_state_dict(state)
        for module, training in modes:
            module.training = training
        raise ValueError(f"model cannot run on images of shape {tuple(x.shape)} "
                         f"({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
                         "model is left as it was") from error
    finally:
        for norm, (_, momentum) in zip(norms, saved, strict=True):
            norm.momentum = momentum
    model.eval()
    return model


# --------------------------------------------------------------------------
# Spatially separable 2-D kernels
# --------------------------------------------------------------------------


def kernel_singular_values(kernel: Any) -> np.ndarray:
    """Singular values of a 2-D kernel, in decreasing order (float64 array).

    A kernel is spatially separable (a column filter times a row filter)
    exactly when only the first one is non-zero; the size of the others says
    how far from separable it is.
    """
    return np.linalg.svd(_check_2d_kernel(kernel), compute_uv=False)


def rank1_factors(kernel: Any) -> tuple[Any, Any]:
    """The best rank-1 approximation of a 2-D kernel as ``(column, row)``.

    ``column`` has shape ``(kh,)`` and ``row`` shape ``(kw,)``; their outer
    product ``column[:, None] * row[None, :]`` is the closest rank-1 kernel in
    Frobenius norm (equal to ``kernel`` when it is separable). Convolving with
    ``column`` as a ``kh x 1`` filter and then with ``row`` as a ``1 x kw``
    filter is convolving with that product.

    The scale is shared evenly (both vectors have norm ``sqrt(s1)``) and the
    sign is fixed so that the largest-magnitude entry of ``column`` is positive.
    Returns the same kind (array or tensor) as ``kernel``.
    """
    k = _check_2d_kernel(kernel)
    u, s, vt = np.linalg.svd(k)
    column, row = u[:, 0] * np.sqrt(s[0]), vt[0] * np.sqrt(s[0])
    if column[np.argmax(np.abs(column))] < 0:
        column, row = -column, -row
    column, row = column + 0.0, row + 0.0  # no negative zeros in printouts
    return _like(column, kernel), _like(row, kernel)


def rank1_error(kernel: Any) -> float:
    """Relative Frobenius error of the best rank-1 (spatially separable)
    approximation of a 2-D kernel: ``sqrt(s2^2 + s3^2 + ...) / ||kernel||``,
    0 for a separable kernel."""
    s = kernel_singular_values(kernel)
    total = float((s**2).sum())
    if total == 0.0:
        return 0.0
    return float(np.sqrt(float((s[1:] ** 2).sum()) / total))

