"""Tests of the chapter 9 exercise checkers: right answers pass, typical
mistakes fail with a message that names the mistake."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.checks.lowrank import check_rank1_factors, check_separable_to_dense
from helpers.lowrank import rank1_factors, separable_to_dense


def correct_dense(d, p, m):
    channels = d.shape[0]
    n_in = channels // m
    w = np.zeros((p.shape[0], n_in) + d.shape[2:])
    for o in range(p.shape[0]):
        for i in range(n_in):
            for j in range(m):
                w[o, i] += p[o, i * m + j] * d[i * m + j, 0]
    return w


def test_correct_separable_to_dense_passes():
    result = check_separable_to_dense(correct_dense)
    assert result.passed and "Correct" in str(result)
    assert check_separable_to_dense(lambda d, p, m: separable_to_dense(d, p, depth_multiplier=m))
    # a torch answer is accepted too
    assert check_separable_to_dense(
        lambda d, p, m: separable_to_dense(torch.from_numpy(d), torch.from_numpy(p),
                                           depth_multiplier=m))


def wrong_grouping(d, p, m):
    channels = d.shape[0]
    n_in = channels // m
    w = np.zeros((p.shape[0], n_in) + d.shape[2:])
    for o in range(p.shape[0]):
        for i in range(n_in):
            for j in range(m):
                w[o, i] += p[o, j * n_in + i] * d[j * n_in + i, 0]
    return w


def first_filter_only(d, p, m):
    return separable_to_dense(d[::m], p[:, ::m])


@pytest.mark.parametrize("fn, fragment", [
    (wrong_grouping, "grouped the wrong way round"),
    (first_filter_only, "Only the first filter"),
    (lambda d, p, m: -correct_dense(d, p, m), "sign is flipped"),
    (lambda d, p, m: correct_dense(d, p, m) + 1, "Remember W[o, i]"),
    (lambda d, p, m: correct_dense(d, p, m).transpose(1, 0, 2, 3), "expected"),
    (lambda d, p, m: 1 / 0, "ZeroDivisionError"),
    (lambda d, p, m: "kernel", "return an array"),
])
def test_separable_to_dense_mistakes_are_named(fn, fragment):
    result = check_separable_to_dense(fn)
    assert not result.passed
    assert fragment in result.message


def test_checkers_refuse_non_functions():
    with pytest.raises(TypeError, match="fn must be a function"):
        check_separable_to_dense(3)
    with pytest.raises(TypeError, match="fn must be a function"):
        check_rank1_factors("svd")


def svd_rank1(kernel):
    u, s, vt = np.linalg.svd(kernel)
    return s[0] * u[:, 0], vt[0]


def test_correct_rank1_passes_with_any_scale_split():
    assert check_rank1_factors(svd_rank1).passed
    assert check_rank1_factors(rank1_factors).passed
    assert check_rank1_factors(lambda k: tuple(v.tolist() for v in svd_rank1(k))).passed


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


@pytest.mark.parametrize("fn, fragment", [
    (unscaled, "scale is missing"),
    (twice, "applied twice"),
    (v_column, "vt[0], not vt[:, 0]"),
    (smallest, "smallest singular"),
    (lambda k: (k[:, 0], k[0]), "Use the SVD"),
    (lambda k: np.linalg.svd(k), "return a pair"),
    (lambda k: (np.linalg.svd(k)[0], np.linalg.svd(k)[2]), "expected"),
    (lambda k: (None, None), "must be arrays"),
    (lambda k: k.missing, "AttributeError"),
])
def test_rank1_mistakes_are_named(fn, fragment):
    result = check_rank1_factors(fn)
    assert not result.passed
    assert fragment in result.message
