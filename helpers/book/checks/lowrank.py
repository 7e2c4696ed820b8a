"""Checkers for the chapter on the low-rank view (separable = factorised kernel)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from helpers.book.checks import _common as common

#: (in_channels M, depth multiplier m, out_channels N, kh, kw) for separable_to_normal:
#: several channels and a depth multiplier above 1 first, then square and
#: non-square kernels, 1x1 kernels, one channel.
DENSE_CASES: tuple[tuple[int, int, int, int, int], ...] = (
    (2, 2, 3, 3, 3),
    (3, 1, 4, 3, 3),
    (4, 2, 2, 3, 5),
    (3, 3, 5, 1, 1),
    (2, 4, 6, 5, 5),
    (1, 1, 1, 3, 3),
)

#: Named 2-D kernels for the rank-1 factorisation.
_GAUSS = np.exp(-0.5 * np.arange(-2, 3) ** 2)


def _kernel_cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(9)
    return [  # a full-rank kernel first: on it every slip gives a different product
        ("random 3x3", rng.standard_normal((3, 3))),
        ("Sobel 3x3", np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])),
        ("Gaussian 5x5", np.outer(_GAUSS, _GAUSS)),
        ("random 3x5", rng.standard_normal((3, 5))),
        ("random 5x2", rng.standard_normal((5, 2))),
        ("random 4x4", rng.standard_normal((4, 4))),
    ]


def separable_to_normal_reference(depthwise: np.ndarray, pointwise: np.ndarray,
                                 depth_multiplier: int) -> np.ndarray:
    """``W[o, i] = sum_j P[o, i*m + j] * D[i*m + j, 0]`` with ``einsum``."""
    channels, _, kh, kw = depthwise.shape
    m = depth_multiplier
    d = depthwise[:, 0].reshape(channels // m, m, kh, kw)
    p = pointwise.reshape(pointwise.shape[0], channels // m, m)
    return np.einsum("oij,ijhw->oihw", p, d)


@common.checker
def check_separable_to_normal(fn: Callable[..., Any]) -> str:
    """Check ``fn(depthwise_weight, pointwise_weight, depth_multiplier)``, a learner's
    normal kernel of a depthwise-then-pointwise convolution.

    ``depthwise_weight`` has shape ``(M*m, 1, kh, kw)`` (filter ``i*m + j``
    reads input channel ``i``), ``pointwise_weight`` shape ``(N, M*m)``; the
    answer must have shape ``(N, M, kh, kw)``, and the two weights must be left
    as they were. Arrays, tensors and nested lists are accepted, within the
    tolerance of their dtype.
    """
    common.require_callable(fn)
    rng = np.random.default_rng(0)
    for m, mult, n, kh, kw in DENSE_CASES:
        d = rng.standard_normal((m * mult, 1, kh, kw))
        p = rng.standard_normal((n, m * mult))
        where = (f"With M={m} input channels, depth multiplier {mult}, N={n} output "
                 f"channels, {kh}x{kw} kernel, fn")
        want = separable_to_normal_reference(d, p, mult)
        got, rtol, right = common.array_answer(fn, {"depthwise": d, "pointwise": p}, want, where,
                                               extra=(mult,),
                                               shape_hint=lambda shape: " = (N, M, kh, kw).")
        if not right:
            raise common.Refusal(f"{where} returned a wrong kernel (largest error "
                                 f"{common.largest_error(got, want):.3g}). "
                                 + _normal_hint(d, p, mult, got, rtol))
    return f"Correct on all {len(DENSE_CASES)} cases, including depth multipliers > 1."


def _normal_hint(d: np.ndarray, p: np.ndarray, mult: int, got: np.ndarray,
                rtol: float) -> str:
    channels = d.shape[0]
    m = channels // mult
    want = separable_to_normal_reference(d, p, mult)
    guesses = []
    if mult > 1 and m > 1:
        # the filters grouped the other way round: filter j*M + i for channel i
        swapped = np.arange(channels).reshape(mult, m).T.ravel()
        guesses.append((separable_to_normal_reference(d[swapped], p[:, swapped], mult),
                        "The filters are grouped the wrong way round: with groups=M, "
                        "filter i*m + j (not j*M + i) belongs to input channel i."))
    if mult > 1:
        first = np.arange(0, channels, mult)
        guesses.append((separable_to_normal_reference(d[first], p[:, first], 1),
                        "Only the first filter of each input channel is used; sum over "
                        "all m filters j of channel i."))
    guesses.append((-want, "The sign is flipped."))
    for candidate, hint in guesses:
        if common.close(got, candidate, rtol):
            return hint
    return ("Remember W[o, i] = sum over j of P[o, i*m + j] * D[i*m + j, 0]: a weighted sum "
            "of channel i's depthwise filters, weighted by output o's pointwise weights."
            + common.precision_hint(got, want, rtol))


@common.checker
def check_rank1_factors(fn: Callable[..., Any]) -> str:
    """Check ``fn(kernel) -> (column, row)``, a learner's best rank-1 factorisation
    of a 2-D kernel: ``np.outer(column, row)`` must be the closest rank-1 matrix
    to ``kernel`` (any split of the scale or sign between the two is fine), and
    ``kernel`` must be left as it was. Arrays, tensors and lists are accepted,
    within the tolerance of their dtype."""
    common.require_callable(fn)
    cases = _kernel_cases()
    for name, kernel in cases:
        kh, kw = kernel.shape
        where = f"On the {name} kernel, fn"
        given = kernel.copy()
        answer = common.call(fn, (given,), where)
        (column, column_rtol), (row, row_rtol) = common.array_pair(
            answer, where, ("column", "row"),
            tuple(f"On the {name} kernel, the {part} fn returned" for part in ("column", "row")),
            verb="is")
        if column.size != kh or row.size != kw:
            raise common.Refusal(f"On the {name} kernel ({kh}x{kw}), column has {column.size} "
                                 f"entries and row {row.size}; expected {kh} and {kw}. "
                                 "Take one singular vector each: u[:, 0] and vt[0].")
        rtol = max(column_rtol, row_rtol)
        product = np.outer(column.ravel(), row.ravel())
        u, s, vt = np.linalg.svd(kernel)
        want = s[0] * np.outer(u[:, 0], vt[0])
        right = common.close(product, want, rtol)
        if not common.unchanged((kernel,), (given,)):
            raise common.Refusal(f"{where} changed the kernel in place"
                                 f"{'' if right else ' (and its factors are wrong)'}: leave it "
                                 "as it was.")
        if not right:
            raise common.Refusal(f"{where} returned factors whose product np.outer(column, row) is "
                                 "not the best rank-1 approximation (largest error "
                                 f"{common.largest_error(product, want):.3g}). "
                                 f"{_rank1_hint(kernel, product, rtol)}")
    return f"Correct on all {len(cases)} kernels, square and not, separable and not."


def _rank1_hint(kernel: np.ndarray, product: np.ndarray, rtol: float) -> str:
    u, s, vt = np.linalg.svd(kernel)
    last = len(s) - 1
    guesses = [
        (np.outer(u[:, 0], vt[0]), "The shape is right but the scale is missing: multiply "
         "by the largest singular value s[0] (or by its square root on each side)."),
        (s[0] ** 2 * np.outer(u[:, 0], vt[0]), "The scale is applied twice: put s[0] on one "
         "side only, or its square root on each side."),
        (s[0] * np.outer(u[:, 0], vt[:, 0]), "np.linalg.svd returns V transposed: the first "
         "right singular vector is vt[0], not vt[:, 0]."),
        (s[0] * np.outer(u[0], vt[0]), "The first left singular vector is the column "
         "u[:, 0], not the row u[0]."),
    ]
    if s[last] > 1e-6 * s[0]:  # a rank-deficient kernel's smallest term is zero
        guesses.append((s[last] * np.outer(u[:, last], vt[last]), "That is the smallest "
                        "singular triple; np.linalg.svd sorts them in decreasing order, so "
                        "take index 0."))
    for candidate, hint in guesses:
        if candidate.shape == product.shape and common.close(product, candidate, rtol):
            return hint
    return ("Use the SVD kernel = U S V^T and keep its first term: "
            "s[0] * outer(u[:, 0], vt[0]).")
