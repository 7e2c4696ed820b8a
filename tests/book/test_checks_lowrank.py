"""Tests of the chapter 9 exercise checkers: right answers written in several
ways pass, typical mistakes fail with a message that names the mistake, other
wrong answers fail without a false hint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from checks_support import assert_fails, assert_passes

from helpers.book.checks.lowrank import (
    DENSE_CASES,
    check_rank1_factors,
    check_separable_to_normal,
    separable_to_normal_reference,
)
from helpers.core.lowrank import rank1_factors, separable_to_normal

NORMAL_GENERIC = "Remember W[o, i] = sum over j of P[o, i*m + j] * D[i*m + j, 0]"
RANK1_GENERIC = "keep its first term: s[0] * outer(u[:, 0], vt[0])."


def loop_normal(d, p, m, *, swapped=False):
    """W[o, i] = sum_j P[o, f] D[f], with f = i*m + j (or j*M + i if ``swapped``)."""
    n_in = d.shape[0] // m
    w = np.zeros((p.shape[0], n_in) + d.shape[2:])
    for o in range(p.shape[0]):
        for i in range(n_in):
            for j in range(m):
                f = j * n_in + i if swapped else i * m + j
                w[o, i] += p[o, f] * d[f, 0]
    return w


def correct_normal(d, p, m):
    return loop_normal(d, p, m)


def test_reference_is_the_libraries_and_the_loops():
    rng = np.random.default_rng(1)
    for m, mult, n, kh, kw in DENSE_CASES:
        d, p = rng.standard_normal((m * mult, 1, kh, kw)), rng.standard_normal((n, m * mult))
        want = separable_to_normal_reference(d, p, mult)
        np.testing.assert_allclose(want, separable_to_normal(d, p, depth_multiplier=mult),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(want, correct_normal(d, p, mult), rtol=1e-12, atol=1e-12)
    assert DENSE_CASES[0][0] > 1 and DENSE_CASES[0][1] > 1


def torch_normal(d, p, m):
    d, p = torch.from_numpy(d).float(), torch.from_numpy(p).float()
    n, channels = p.shape
    return torch.einsum("oij,ijhw->oihw", p.reshape(n, channels // m, m),
                        d[:, 0].reshape(channels // m, m, *d.shape[2:]))


@pytest.mark.parametrize("answer", [
    correct_normal,
    lambda d, p, m: separable_to_normal(d, p, depth_multiplier=m),
    lambda d, p, m: separable_to_normal(torch.from_numpy(d), torch.from_numpy(p),
                                       depth_multiplier=m),
    torch_normal,
    lambda d, p, m: correct_normal(d, p, m).astype(np.float32),
    lambda d, p, m: correct_normal(d, p, m).tolist(),
    lambda d, p, m: (p.reshape(p.shape[0], -1, m, 1, 1)
                     * d[:, 0].reshape(1, -1, m, *d.shape[2:])).sum(axis=2),
], ids=["loops", "book", "book on tensors", "torch float32", "float32", "nested list",
        "broadcast"])
def test_correct_separable_to_normal_passes(answer):
    result = check_separable_to_normal(answer)
    assert_passes(result)
    assert "depth multipliers > 1" in result.message


def wrong_grouping(d, p, m):
    return loop_normal(d, p, m, swapped=True)


def first_filter_only(d, p, m):
    return separable_to_normal(d[::m], p[:, ::m])


@pytest.mark.parametrize("fn, fragment", [
    (wrong_grouping, "grouped the wrong way round"),
    (first_filter_only, "Only the first filter"),
    (lambda d, p, m: -correct_normal(d, p, m), "sign is flipped"),
    (lambda d, p, m: correct_normal(d, p, m).transpose(1, 0, 2, 3), "expected"),
    (lambda d, p, m: 1 / 0, "ZeroDivisionError"),
    (lambda d, p, m: "kernel", "return a NumPy array"),
    (lambda d, p, m: correct_normal(d, p, m).astype(complex), "complex numbers"),
])
def test_separable_to_normal_mistakes_are_named(fn, fragment):
    assert_fails(check_separable_to_normal(fn), fragment)


@pytest.mark.parametrize("fn", [
    lambda d, p, m: correct_normal(d, p, m) + 1,
    lambda d, p, m: correct_normal(d, p, m)[:, :, ::-1, ::-1],  # kernels flipped
    lambda d, p, m: 2 * correct_normal(d, p, m),
    lambda d, p, m: correct_normal(d, np.abs(p), m),
    lambda d, p, m: correct_normal(d, p, m) * (m == 1),  # zero when m > 1
], ids=["offset", "flipped", "doubled", "abs", "zero for m > 1"])
def test_separable_to_normal_gives_no_false_hint(fn):
    assert_fails(check_separable_to_normal(fn), "wrong kernel", NORMAL_GENERIC)


def test_separable_to_normal_detects_a_change_to_the_weights():
    def in_place(d, p, m):
        p *= 1.0
        d[:] = d[::-1]
        return correct_normal(d, p, m)

    assert_fails(check_separable_to_normal(in_place), "in place")


def test_checkers_refuse_non_functions():
    with pytest.raises(TypeError, match="fn must be a function"):
        check_separable_to_normal(3)
    with pytest.raises(TypeError, match="fn must be a function"):
        check_rank1_factors("svd")


# ----------------------------------------------------------------------------- rank 1


def svd_rank1(kernel):
    u, s, vt = np.linalg.svd(kernel)
    return s[0] * u[:, 0], vt[0]


def split_root(kernel):
    u, s, vt = np.linalg.svd(kernel)
    return np.sqrt(s[0]) * u[:, 0], np.sqrt(s[0]) * vt[0]


def negated(kernel):
    column, row = svd_rank1(kernel)
    return -column, -row


def power_iteration(kernel):
    v = np.random.default_rng(0).standard_normal(kernel.shape[1])
    for _ in range(500):
        v = kernel.T @ (kernel @ v)
        v /= np.linalg.norm(v)
    return kernel @ v, v


@pytest.mark.parametrize("answer", [
    svd_rank1,
    rank1_factors,
    split_root,
    negated,
    power_iteration,
    lambda k: tuple(v.tolist() for v in svd_rank1(k)),
    lambda k: [v.reshape(-1, 1) for v in svd_rank1(k)],
    lambda k: tuple(torch.from_numpy(v).float() for v in svd_rank1(k)),
    lambda k: tuple(v.astype(np.float32) for v in svd_rank1(k)),
], ids=["svd", "book", "sqrt split", "negated", "power iteration", "lists",
        "column vectors", "float32 tensors", "float32"])
def test_correct_rank1_passes(answer):
    assert_passes(check_rank1_factors(answer))


def unscaled(kernel):
    u, _, vt = np.linalg.svd(kernel)
    return u[:, 0], vt[0]


def twice(kernel):
    u, s, vt = np.linalg.svd(kernel)
    return s[0] * u[:, 0], s[0] * vt[0]


def v_column(kernel):
    u, s, vt = np.linalg.svd(kernel)
    return s[0] * u[:, 0], vt[:, 0]


def smallest(kernel):
    u, s, vt = np.linalg.svd(kernel)
    q = len(s) - 1
    return s[q] * u[:, q], vt[q]


def u_first_row(kernel):
    u, s, vt = np.linalg.svd(kernel)
    return s[0] * u[0], vt[0]


@pytest.mark.parametrize("fn, fragment", [
    (unscaled, "scale is missing"),
    (twice, "applied twice"),
    (v_column, "vt[0], not vt[:, 0]"),
    (smallest, "smallest singular"),
    (u_first_row, "not the row u[0]"),
    (lambda k: np.linalg.svd(k), "return a pair"),
    (lambda k: (np.linalg.svd(k)[0], np.linalg.svd(k)[2]), "expected"),
    (lambda k: (None, None), "the column fn returned is None"),
    (lambda k: k.missing, "AttributeError"),
])
def test_rank1_mistakes_are_named(fn, fragment):
    assert_fails(check_rank1_factors(fn), fragment)


@pytest.mark.parametrize("fn", [
    lambda k: (k[:, 0], k[0]),
    lambda k: (k.mean(axis=1), k.mean(axis=0)),
    lambda k: tuple(1.01 * v for v in svd_rank1(k)),
    lambda k: (np.linalg.svd(k)[1][0] * np.ones(k.shape[0]), np.linalg.svd(k)[2][0]),
], ids=["first column and row", "means", "one percent off", "flat column"])
def test_rank1_gives_no_false_hint(fn):
    assert_fails(check_rank1_factors(fn), "not the best rank-1 approximation", RANK1_GENERIC)


def test_rank1_smallest_hint_needs_a_nonzero_smallest_value():
    # the Sobel kernel has rank 1: its smallest term is zero, so zeros are no evidence
    def zeros_for_sobel(kernel):
        if np.linalg.matrix_rank(kernel) == 1 and kernel[0, 0] == -1:
            return np.zeros(kernel.shape[0]), np.zeros(kernel.shape[1])
        return svd_rank1(kernel)

    result = check_rank1_factors(zeros_for_sobel)
    assert_fails(result, "Sobel", RANK1_GENERIC)


def test_rank1_detects_a_change_to_the_kernel():
    def in_place(kernel):
        column, row = svd_rank1(kernel)
        kernel[0, 0] = 0
        return column, row

    assert_fails(check_rank1_factors(in_place), "changed the kernel in place")
