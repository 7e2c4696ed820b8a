"""Where a kernel lands: its span, "same" padding, and the output size.

The one home of these formulas: the NumPy convolutions, the PyTorch layers, the
models, the cost model and the figures all ask here.

- :func:`kernel_span`: a ``k``-tap kernel with dilation ``d`` covers ``d*(k-1)+1``
  pixels (the receptive field of one layer).
- :func:`same_padding`: the zeros before and after that keep the size at stride 1.
- :func:`resolve_padding`: ``"valid"``, ``"same"``, an int or a pair, as zeros per side.
- :func:`conv_output_size`: ``floor((H + 2p - d*(k-1) - 1) / s) + 1``.

**"same" with a stride above 1** (the book's one policy, followed by the NumPy
convolutions and the PyTorch layers alike): PyTorch's ``F.conv2d`` refuses it;
here it means torchvision's symmetric zeros, ``d*(k-1)//2`` on every side, which
for an odd kernel gives ``ceil(size / stride)`` outputs. TensorFlow and Keras
give the same size but put the larger half of the zeros at the bottom/right.
"""

from __future__ import annotations

from helpers.core._validate import as_pair, require_int, require_positive_int

__all__ = ["conv_output_size", "kernel_span", "output_length", "resolve_padding",
           "same_padding"]

Padding = int | tuple[int, int] | str  # an int, a pair (height, width), "valid" or "same"
SidePadding = tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))

PADDING_EXPECTED = "padding must be 'valid', 'same', a non-negative int or a pair of them"


def kernel_span(kernel_size: int, dilation: int = 1) -> int:
    """Pixels one output reads along an axis: ``dilation * (kernel_size - 1) + 1``."""
    kernel_size = require_positive_int(kernel_size, "kernel_size")
    dilation = require_positive_int(dilation, "dilation")
    return dilation * (kernel_size - 1) + 1


def same_padding(kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """Zeros ``(before, after)`` on one axis that keep the size at stride 1.

    The kernel spans ``dilation*(kernel_size-1)+1`` pixels, so that many zeros
    minus one keep the size; when that total is odd (an even kernel) the extra
    zero goes after (bottom/right), as in PyTorch.
    """
    total = kernel_span(kernel_size, dilation) - 1
    return total // 2, total - total // 2


def resolve_padding(padding: Padding, kernel_size: int | tuple[int, int] = 1,
                    stride: int | tuple[int, int] = 1,
                    dilation: int | tuple[int, int] = 1) -> SidePadding:
    """Zeros to add on each side, ``((top, bottom), (left, right))``.

    ``"same"`` at stride 1 is PyTorch's (for an even span the extra zero goes
    after); with a larger stride it is the symmetric policy of the module
    docstring. ``kernel_size``, ``stride`` and ``dilation`` are ints or pairs.
    """
    kernel_size = as_pair(kernel_size, "kernel_size")
    stride = as_pair(stride, "stride")
    dilation = as_pair(dilation, "dilation")
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            sides = [same_padding(k, d) for k, d in zip(kernel_size, dilation, strict=True)]
            if stride != (1, 1):  # symmetric: the smaller half on both sides
                sides = [(before, before) for before, _ in sides]
            return sides[0], sides[1]
        raise ValueError(f"{PADDING_EXPECTED}, got {padding!r}")
    try:
        pad_h, pad_w = as_pair(padding, "padding", minimum=0)
    except (TypeError, ValueError) as error:
        raise type(error)(f"{PADDING_EXPECTED}, got {padding!r}") from None
    return (pad_h, pad_h), (pad_w, pad_w)


def output_length(size: int, kernel_size: int, stride: int = 1, pad_total: int = 0,
                  dilation: int = 1, axis: str = "the input") -> int:
    """Output length on one axis with ``pad_total`` zeros in all; ``axis`` names it in errors.

    Raises ValueError if the dilated kernel does not fit in the padded input.
    """
    size = require_positive_int(size, "size")
    stride = require_positive_int(stride, "stride")
    pad_total = require_int(pad_total, "pad_total", minimum=0)
    span = kernel_span(kernel_size, dilation)
    padded = size + pad_total
    if span > padded:
        raise ValueError(
            f"the kernel spans {span} pixels in {axis} (kernel size {kernel_size}, dilation "
            f"{dilation}), larger than the padded input's {padded} (size {size} + padding "
            f"{pad_total})"
        )
    return (padded - span) // stride + 1


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int | str = 0,
                     dilation: int = 1) -> int:
    """Output length of a convolution along one axis.

    ``floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1``.
    ``padding`` may also be ``"valid"`` (0) or ``"same"`` (output = input at stride 1;
    see the module docstring for larger strides).
    Raises ValueError if the (dilated) kernel does not fit in the padded input.
    """
    size = require_positive_int(size, "size")
    kernel_size = require_positive_int(kernel_size, "kernel_size")
    stride = require_positive_int(stride, "stride")
    dilation = require_positive_int(dilation, "dilation")
    if isinstance(padding, str):
        (before, after), _ = resolve_padding(padding, kernel_size, stride, dilation)
        pad_total = before + after
    else:
        pad_total = 2 * require_int(padding, "padding", minimum=0)
    return output_length(size, kernel_size, stride, pad_total, dilation)
