"""Checkers for chapter 5's exercises on how libraries build the layer: a
depthwise separable layer's weights from PyTorch's layout to Keras' and back,
and the depthwise bias that Keras leaves out, folded into the pointwise one.

The reference layouts are proved against Keras 3 itself in ``tests/test_keras.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from helpers.book.checks import _common as common

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
    answer = common.call(fn, (*given, *extra), where)
    pair = common.array_pair(answer, where, names)
    if not common.unchanged(args, given):
        raise common.Refusal(f"{where} changed its arguments in place: return new arrays "
                             "(a transposed view is fine, an in-place update is not).")
    return pair


def _layout_hint(got: np.ndarray, want: np.ndarray, swapped_order: np.ndarray,
                 swapped_kernel: np.ndarray, rtol: float) -> str:
    if got.shape == want.shape and common.close(got, swapped_order, rtol):
        return (" The channels are in the wrong order: output channel c*m + j is filter j "
                "of input channel c, so split M*m into (M, m), not (m, M).")
    if got.shape == want.shape and common.close(got, swapped_kernel, rtol):
        return " The kernel's height and width are swapped: keep kh before kw."
    return ""


@common.checker
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
    common.require_callable(to_keras, "to_keras")
    common.require_callable(to_torch, "to_torch")
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
                raise common.Refusal(f"{where} gave {name} of shape {array.shape}, expected "
                                     f"{expected.shape}.{order}")
            if not common.close(array, expected, rtol):
                raise common.Refusal(f"{where} gave {name} of the right shape but wrong "
                                     f"values.{hint or ' Check the order of the axes.'}")
        where = (f"to_torch(depthwise_kernel of shape {want[0].shape}, pointwise_kernel "
                 f"of shape {want[1].shape})")
        back = _pair_answer(to_torch, tuple(np.ascontiguousarray(w) for w in want), (),
                            (depthwise, pointwise), where, ("depthwise", "pointwise"))
        for name, (array, rtol), expected in (("depthwise", back[0], depthwise),
                                              ("pointwise", back[1], pointwise)):
            if array.shape != expected.shape:
                raise common.Refusal(f"{where} gave {name} of shape {array.shape}, expected "
                                     f"{expected.shape} (PyTorch's layout).")
            if not common.close(array, expected, rtol):
                hint = ""
                if name == "depthwise" and mult > 1 and common.close(
                        array, want[0].transpose(2, 3, 1, 0).reshape(expected.shape), rtol):
                    hint = (" The channels are in the wrong order: PyTorch's channel "
                            "c*m + j is Keras' [:, :, c, j].")
                raise common.Refusal(f"{where} gave {name} of the right shape but wrong values, "
                                     f"so to_torch does not undo to_keras.{hint}")
    return (f"Correct on all {len(KERAS_CASES)} cases, both ways: your weights give "
            "Keras' SeparableConv2D the same layer as PyTorch's.")


# --------------------------------------------------------------------------------------
# Chapter 5: the depthwise bias folded into the pointwise one
# --------------------------------------------------------------------------------------

#: (in_channels M, depth multiplier m, out_channels N): a multiplier of 2 first, a
#: square pointwise weight (so a transposed one is caught), one output, one input.
FOLD_BIAS_CASES: tuple[tuple[int, int, int], ...] = (
    (3, 2, 5), (4, 1, 4), (2, 3, 1), (1, 2, 3), (5, 2, 2),
)


def _fold_bias_hint(p: np.ndarray, b_dw: np.ndarray, b_pw: np.ndarray, got: np.ndarray,
                    rtol: float) -> str:
    guesses = [(p @ b_dw, "The pointwise step's own bias is missing: add pointwise_bias."),
               (np.full_like(b_pw, b_dw.sum()) + b_pw, "Each output channel o gets "
                "sum_c P[o, c] * b_dw[c]: weight the depthwise biases by the pointwise "
                "weights, do not just add them up.")]
    if p.shape[0] == p.shape[1]:
        guesses.append((p.T @ b_dw + b_pw, "You used the transposed pointwise weight: "
                        "output channel o is sum_c P[o, c] * b_dw[c]."))
    return next((hint for want, hint in guesses if common.close(got, want, rtol)),
                "The folded bias is P @ b_dw + b_pw, with P the (N, M*m) matrix "
                "pointwise_weight[:, :, 0, 0].")


@common.checker
def check_fold_bias(fn: Callable[..., object]) -> str:
    """Check ``fn(pointwise_weight, depthwise_bias, pointwise_bias)``: the pointwise
    bias of the same separable layer without a depthwise bias, ``P @ b_dw + b_pw``.

    The arguments are float64 tensors of shapes ``(N, M*m, 1, 1)``, ``(M*m,)`` and
    ``(N,)`` (copies: changing one in place is refused); tensors, arrays and lists
    are accepted within their precision. On success the message says, computed
    with ``fn`` on a layer with a depth multiplier of 2, whether the folded layer
    equals the original with nothing, a ReLU or a batch norm (evaluation mode)
    between the two steps.
    """
    common.require_callable(fn)
    rng = np.random.default_rng(5)
    for m, mult, n in FOLD_BIAS_CASES:
        p, b_dw, b_pw = (rng.standard_normal(shape) for shape in ((n, m * mult), (m * mult,),
                                                                   (n,)))
        where = (f"With M={m}, depth multiplier {mult} and N={n} (pointwise_weight of "
                 f"shape {(n, m * mult, 1, 1)}), fn")
        args = (torch.from_numpy(p[:, :, None, None].copy()), torch.from_numpy(b_dw),
                torch.from_numpy(b_pw))
        given = tuple(a.clone() for a in args)
        got, rtol = common.as_array(common.call(fn, given, where), where)
        if not common.unchanged(args, given):
            raise common.Refusal(f"{where} changed an argument in place: the layer's weights and "
                                 "biases must stay as they were.")
        want = p @ b_dw + b_pw
        if got.size == want.size:
            got = got.reshape(want.shape)
        if got.shape != want.shape:
            raise common.Refusal(f"{where} returned shape {got.shape}, expected {want.shape}: one "
                                 "bias per output channel.")
        if not common.close(got, want, rtol):
            raise common.Refusal(f"{where} returned a wrong bias (largest error "
                                 f"{common.largest_error(got, want):.3g}). "
                                 f"{_fold_bias_hint(p, b_dw, b_pw, got, rtol)}")
    same = {name: _folded_layer_is_same(fn, between, rng) for name, between in (
        ("nothing", None), ("a ReLU", "relu"), ("a batch norm", "norm"))}
    verdict = "; ".join(f"with {name} between the steps, the "
                        f"{'same layer' if equal else 'layer changes'}"
                        for name, equal in same.items())
    return (f"Correct on all {len(FOLD_BIAS_CASES)} cases. Folded with your function: "
            f"{verdict}." + (" A batch norm absorbs the depthwise bias instead: subtract it "
                             "from the norm's running mean." if not same["a batch norm"]
                             else ""))


def _folded_layer_is_same(fn: Callable[..., object], between: str | None,
                          rng: np.random.Generator) -> bool:
    """Whether a separable layer (M=3, m=2, N=5) with both biases equals the same
    layer with the depthwise bias folded by ``fn``, with ``between`` the steps."""
    dw_w, b_dw = torch.from_numpy(rng.standard_normal((6, 1, 3, 3))), torch.from_numpy(
        rng.standard_normal(6))
    pw_w, b_pw = torch.from_numpy(rng.standard_normal((5, 6, 1, 1))), torch.from_numpy(
        rng.standard_normal(5))
    mean, var = torch.from_numpy(rng.standard_normal(6)), torch.from_numpy(
        rng.uniform(0.5, 2.0, 6))
    x = torch.from_numpy(rng.standard_normal((2, 3, 6, 6)))

    def layer(depthwise_bias: torch.Tensor | None, pointwise_bias: torch.Tensor) -> torch.Tensor:
        hidden = F.conv2d(x, dw_w, depthwise_bias, padding=1, groups=3)
        if between == "relu":
            hidden = torch.relu(hidden)
        elif between == "norm":
            hidden = F.batch_norm(hidden, mean, var, training=False)
        return F.conv2d(hidden, pw_w, pointwise_bias)

    answer = common.call(fn, (pw_w.clone(), b_dw.clone(), b_pw.clone()), "fn")
    folded, rtol = common.as_array(answer, "fn")
    return common.close(layer(None, torch.from_numpy(folded.reshape(5))).numpy(),
                        layer(b_dw, b_pw).numpy(), rtol)
