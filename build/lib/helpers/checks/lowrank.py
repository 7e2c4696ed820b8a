"""Checkers for the chapter on the low-rank view (separable = factorised kernel)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from helpers.checks import CheckResult, failed, passed
from helpers.lowrank import rank1_factors, separable_to_dense

#: (in_channels M, depth multiplier m, out_channels N, kh, kw) for separable_to_dense.
DENSE_CASES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 1, 1, 3, 3),
    (3, 1, 4, 3, 3),
    (2, 2, 3, 3, 3),
    (3, 3, 5, 1, 1),
    (4, 2, 2, 3, 5),
    (2, 4, 6, 5, 5),
)

#: Named 2-D kernels for the rank-1 factorisation.
_GAUSS = np.exp(-0.5 * np.arange(-2, 3) ** 2)


def _kernel_cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(9)
    return [
        ("Sobel 3x3", np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])),
        ("Gaussian 5x5", np.outer(_GAUSS, _GAUSS)),
        ("random 3x3", rng.standard_normal((3, 3))),
        ("random 3x5", rng.standard_normal((3, 5))),
        ("random 5x2", rng.standard_normal((5, 2))),
        ("random 4x4", rng.standard_normal((4, 4))),
    ]


def _as_numpy(value: Any) -> np.ndarray | None:
    """A learner's result as a float array, or None if it is not array-like."""
    if value is None:
        return None
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return array


def check_separable_to_dense(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(depthwise_weight, pointwise_weight, depth_multiplier)``, a learner's
    dense kernel of a depthwise-then-pointwise convolution.

    ``depthwise_weight`` has shape ``(M*m, 1, kh, kw)`` (filter ``i*m + j``
    reads input channel ``i``), ``pointwise_weight`` shape ``(N, M*m)``; the
    answer must have shape ``(N, M, kh, kw)``.
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")
    rng = np.random.default_rng(0)
    for m, mult, n, kh, kw in DENSE_CASES:
        d = rng.standard_normal((m * mult, 1, kh, kw))
        p = rng.standard_normal((n, m * mult))
        case = (f"M={m} input channels, depth multiplier {mult}, N={n} output channels, "
                f"{kh}x{kw} kernel")
        try:
            got = fn(d.copy(), p.copy(), mult)
        except Exception as exc:  # report the learner's error as a message
            return failed(f"With {case}, fn raised {type(exc).__name__}: {exc}")
        array = _as_numpy(got)
        want = separable_to_dense(d, p, depth_multiplier=mult)
        if array is None:
            return failed(f"With {case}, fn returned {type(got).__name__}; return an array "
                          f"of shape {want.shape}.")
        if array.shape != want.shape:
            return failed(f"With {case}, fn returned shape {array.shape}, expected "
                          f"{want.shape} = (N, M, kh, kw).")
        if not np.allclose(array, want, atol=1e-8):
            return failed(f"With {case}, the kernel is wrong. {_dense_hint(d, p, mult, array)}")
    return passed(f"Correct on all {len(DENSE_CASES)} cases, including depth multipliers > 1.")


def _dense_hint(d: np.ndarray, p: np.ndarray, mult: int, got: np.ndarray) -> str:
    channels = d.shape[0]
    m = channels // mult
    # the filters grouped the other way round: filter j*M + i for channel i
    swapped = np.arange(channels).reshape(mult, m).T.ravel()
    guesses = []
    if mult > 1:
        guesses.append((separable_to_dense(d[swapped], p[:, swapped], depth_multiplier=mult),
                        "The filters are grouped the wrong way round: with groups=M, "
                        "filter i*m + j (not j*M + i) belongs to input channel i."))
        first = np.arange(0, channels, mult)
        guesses.append((separable_to_dense(d[first], p[:, first]),
                        "Only the first filter of each input channel is used; sum over "
                        "all m filters j of channel i."))
    for candidate, hint in guesses:
        if np.allclose(candidate, got):
            return hint
    if np.allclose(-got, separable_to_dense(d, p, depth_multiplier=mult)):
        return "The sign is flipped."
    return ("Remember W[o, i] = sum over j of P[o, i*m + j] * D[i*m + j, 0]: a weighted sum "
            "of channel i's depthwise filters, weighted by output o's pointwise weights.")


def check_rank1_factors(fn: Callable[..., Any]) -> CheckResult:
    """Check ``fn(kernel) -> (column, row)``, a learner's best rank-1 factorisation
    of a 2-D kernel: ``np.outer(column, row)`` must be the closest rank-1 matrix
    to ``kernel`` (any split of the scale between the two is fine)."""
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")
    cases = _kernel_cases()
    for name, kernel in cases:
        kh, kw = kernel.shape
        try:
            got = fn(kernel.copy())
        except Exception as exc:  # report the learner's error as a message
            return failed(f"On the {name} kernel, fn raised {type(exc).__name__}: {exc}")
        if not isinstance(got, tuple | list) or len(got) != 2:
            return failed(f"On the {name} kernel, fn returned {type(got).__name__}; return a "
                          "pair (column, row).")
        column, row = (_as_numpy(v) for v in got)
        if column is None or row is None:
            return failed(f"On the {name} kernel, column and row must be arrays.")
        if column.size != kh or row.size != kw:
            return failed(f"On the {name} kernel ({kh}x{kw}), column has {column.size} "
                          f"entries and row {row.size}; expected {kh} and {kw}. "
                          "Take one singular vector each: u[:, 0] and vt[0].")
        product = np.outer(column.ravel(), row.ravel())
        want_column, want_row = rank1_factors(kernel)
        want = np.outer(want_column, want_row)
        if not np.allclose(product, want, atol=1e-8):
            return failed(f"On the {name} kernel, np.outer(column, row) is not the best "
                          f"rank-1 approximation. {_rank1_hint(kernel, product)}")
    return passed(f"Correct on all {len(cases)} kernels, square and not, separable and not.")


def _rank1_hint(kernel: np.ndarray, product: np.ndarray) -> str:
    u, s, vt = np.linalg.svd(kernel)
    guesses = [
        (np.outer(u[:, 0], vt[0]), "The shape is right but the scale is missing: multiply "
         "by the largest singular value s[0] (or by its square root on each side)."),
        (s[0] ** 2 * np.outer(u[:, 0], vt[0]), "The scale is applied twice: put s[0] on one "
         "side only, or its square root on each side."),
        (s[0] * np.outer(u[:, 0], vt[:, 0]), "np.linalg.svd returns V transposed: the first "
         "right singular vector is vt[0], not vt[:, 0]."),
        (s[-1] * np.outer(u[:, len(s) - 1], vt[len(s) - 1]), "That is the smallest singular "
         "triple; np.linalg.svd sorts them in decreasing order, so take index 0."),
        (s[0] * np.outer(u[0], vt[0]), "The first left singular vector is the column "
         "u[:, 0], not the row u[0]."),
    ]
    for candidate, hint in guesses:
        if candidate.shape == product.shape and np.allclose(candidate, product, atol=1e-8):
            return hint
    return ("Use the SVD kernel = U S V^T and keep its first term: "
            "s[0] * outer(u[:, 0], vt[0]).")
