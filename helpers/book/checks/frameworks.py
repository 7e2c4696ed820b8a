"""Checker for chapter 5's framework exercise: a depthwise separable layer's
weights from PyTorch's layout to Keras' and back.

The reference layouts are proved against Keras 3 itself in ``tests/test_keras.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from helpers.book.checks._common import (
    Refusal,
    as_array,
    call,
    checker,
    close,
    describe,
    require_callable,
    unchanged,
)

# --------------------------------------------------------------------------------------
# Chapter 5: from PyTorch's weight layout to Keras' and back
# --------------------------------------------------------------------------------------

#: (in_channels M, depth_multiplier m, out_channels N, kh, kw): several channels and a
#: multiplier first (so the order of c and j matters), non-square kernels (so kh and
#: kw cannot be swapped unseen), then one channel, m = 1 and a 1x1 kernel.
KERAS_CASES: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 2, 4, 3, 5), (2, 3, 5, 5, 3), (4, 1, 2, 3, 3), (1, 2, 3, 2, 4), (5, 1, 1, 1, 1),
)


def reference_to_keras(depthwise: np.ndarray, pointwise: np.ndarray,
                       depth_multiplier: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's ``(M*m, 1, kh, kw)`` and ``(N, M*m, 1, 1)`` weights of a separable
    layer as Keras' ``depthwise_kernel (kh, kw, M, m)`` and ``pointwise_kernel
    (1, 1, M*m, N)``. Output channel ``c*m + j`` of both libraries is filter ``j`` of
    input channel ``c``; ``tests/test_keras.py`` proves this with Keras itself."""
    channels = depthwise.shape[0] // depth_multiplier
    kh, kw = depthwise.shape[2:]
    return (depthwise.reshape(channels, depth_multiplier, kh, kw).transpose(2, 3, 0, 1),
            pointwise.transpose(2, 3, 1, 0))


def reference_to_torch(depthwise_kernel: np.ndarray,
                       pointwise_kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of :func:`reference_to_keras`."""
    kh, kw, channels, multiplier = depthwise_kernel.shape
    return (depthwise_kernel.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, kh, kw),
            pointwise_kernel.transpose(3, 2, 0, 1))


def _pair_answer(fn: Callable[..., object], args: tuple[np.ndarray, ...], extra: tuple,
                 want: tuple[np.ndarray, np.ndarray], where: str,
                 names: tuple[str, str]) -> list[tuple[np.ndarray, float]]:
    given = tuple(array.copy() for array in args)
    answer = call(fn, (*given, *extra), where)
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise Refusal(f"{where} returned {describe(answer)}; return a pair "
                      f"({names[0]}, {names[1]}).")
    if not unchanged(args, given):
        raise Refusal(f"{where} changed its arguments in place: return new arrays "
                      "(a transposed view is fine, an in-place update is not).")
    return [as_array(part, f"{where}, {name}") for part, name in zip(answer, names, strict=True)]


def _layout_hint(got: np.ndarray, want: np.ndarray, swapped_order: np.ndarray,
                 swapped_kernel: np.ndarray, rtol: float) -> str:
    if got.shape == want.shape and close(got, swapped_order, rtol):
        return (" The channels are in the wrong order: output channel c*m + j is filter j "
                "of input channel c, so split M*m into (M, m), not (m, M).")
    if got.shape == want.shape and close(got, swapped_kernel, rtol):
        return " The kernel's height and width are swapped: keep kh before kw."
    return ""


@checker
def check_keras_layout(to_keras: Callable[..., object], to_torch: Callable[..., object]) -> str:
    """Check a learner's ``to_keras(depthwise, pointwise, depth_multiplier)`` and
    ``to_torch(depthwise_kernel, pointwise_kernel)``.

    ``to_keras`` takes PyTorch's NumPy weights ``(M*m, 1, kh, kw)`` and
    ``(N, M*m, 1, 1)`` and must return Keras' ``(depthwise_kernel, pointwise_kernel)``
    of shapes ``(kh, kw, M, m)`` and ``(1, 1, M*m, N)``; ``to_torch`` the inverse.
    Both are compared with :func:`reference_to_keras` and :func:`reference_to_torch`
    on cases with a depth multiplier and non-square kernels; views and copies,
    float32 and float64 are all accepted, in-place changes are not.
    """
    require_callable(to_keras, "to_keras")
    require_callable(to_torch, "to_torch")
    rng = np.random.default_rng(0)
    for m, mult, n, kh, kw in KERAS_CASES:
        depthwise = rng.standard_normal((m * mult, 1, kh, kw))
        pointwise = rng.standard_normal((n, m * mult, 1, 1))
        want = reference_to_keras(depthwise, pointwise, mult)
        where = (f"to_keras(depthwise of shape {depthwise.shape}, pointwise of shape "
                 f"{pointwise.shape}, depth_multiplier={mult})")
        got = _pair_answer(to_keras, (depthwise, pointwise), (mult,), want, where,
                           ("depthwise_kernel", "pointwise_kernel"))
        swapped_order = depthwise.reshape(mult, m, kh, kw).transpose(2, 3, 1, 0)
        swapped_kernel = depthwise.reshape(m, mult, kh, kw).transpose(3, 2, 0, 1)
        for name, (array, rtol), expected, hint in (
                ("depthwise_kernel", got[0], want[0],
                 _layout_hint(got[0][0], want[0], swapped_order, swapped_kernel, got[0][1])),
                ("pointwise_kernel", got[1], want[1], "")):
            if array.shape != expected.shape:
                turned = (expected.shape[1], expected.shape[0], *expected.shape[2:])
                order = (" The kernel's height and width are swapped: keep kh before kw."
                         if array.shape == turned else
                         " Keras puts the kernel's height and width first, then input "
                         "channels, then outputs.")
                raise Refusal(f"{where} gave {name} of shape {array.shape}, expected "
                              f"{expected.shape}.{order}")
            if not close(array, expected, rtol):
                raise Refusal(f"{where} gave {name} of the right shape but wrong "
                              f"values.{hint or ' Check the order of the axes.'}")
        where = (f"to_torch(depthwise_kernel of shape {want[0].shape}, pointwise_kernel "
                 f"of shape {want[1].shape})")
        back = _pair_answer(to_torch, tuple(np.ascontiguousarray(w) for w in want), (),
                            (depthwise, pointwise), where, ("depthwise", "pointwise"))
        for name, (array, rtol), expected in (("depthwise", back[0], depthwise),
                                              ("pointwise", back[1], pointwise)):
            if array.shape != expected.shape:
                raise Refusal(f"{where} gave {name} of shape {array.shape}, expected "
                              f"{expected.shape} (PyTorch's layout).")
            if not close(array, expected, rtol):
                hint = ""
                if name == "depthwise" and mult > 1 and close(
                        array, want[0].transpose(2, 3, 1, 0).reshape(expected.shape), rtol):
                    hint = (" The channels are in the wrong order: PyTorch's channel "
                            "c*m + j is Keras' [:, :, c, j].")
                raise Refusal(f"{where} gave {name} of the right shape but wrong values, "
                              f"so to_torch does not undo to_keras.{hint}")
    return (f"Correct on all {len(KERAS_CASES)} cases, both ways: your weights give "
            "Keras' SeparableConv2D the same layer as PyTorch's.")
