"""Tests of helpers.core.lowrank: separable <-> dense kernels, the SVD approximation,
and spatially separable 2-D kernels. Property tests compare with PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.core.lowrank import (
    approximation_errors,
    channel_singular_values,
    kernel_singular_values,
    normal_to_separable,
    rank1_error,
    rank1_factors,
    recalibrate_batch_norm,
    replace_with_separable,
    separable_from_conv,
    separable_to_normal,
)

FAST = settings(max_examples=40, deadline=None)

shapes = st.tuples(
    st.integers(1, 6),  # out_channels N
    st.integers(1, 5),  # in_channels M
    st.integers(1, 4),  # kh
    st.integers(1, 4),  # kw
)


def random_kernel(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


# --------------------------------------------------------------------------
# separable_to_normal
# --------------------------------------------------------------------------


@FAST
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 5), st.integers(1, 3),
       st.integers(1, 3), st.sampled_from([(0, 1, 1), (1, 1, 1), (1, 2, 1), (2, 1, 2)]),
       st.integers(0, 2**31 - 1))
def test_dense_conv_equals_depthwise_then_pointwise(m, mult, n, kh, kw, spd, seed):
    padding, stride, dilation = spd
    gen = torch.Generator().manual_seed(seed)
    d = torch.randn(m * mult, 1, kh, kw, generator=gen, dtype=torch.float64)
    p = torch.randn(n, m * mult, 1, 1, generator=gen, dtype=torch.float64)
    x = torch.randn(2, m, 7, 6, generator=gen, dtype=torch.float64)
    w = separable_to_normal(d, p, depth_multiplier=mult)
    assert isinstance(w, torch.Tensor) and w.shape == (n, m, kh, kw)
    kwargs = {"padding": padding, "stride": stride, "dilation": dilation}
    separable = F.conv2d(F.conv2d(x, d, groups=m, **kwargs), p)
    dense = F.conv2d(x, w, **kwargs)
    torch.testing.assert_close(dense, separable)


@FAST
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_separable_to_normal_matches_the_formula_and_accepts_2d_pointwise(m, mult, n, seed):
    rng = np.random.default_rng(seed)
    d = rng.standard_normal((m * mult, 1, 3, 2))
    p = rng.standard_normal((n, m * mult))
    w = separable_to_normal(d, p, depth_multiplier=mult)
    assert isinstance(w, np.ndarray) and w.dtype == np.float64
    want = np.zeros((n, m, 3, 2))
    for o in range(n):
        for i in range(m):
            for j in range(mult):
                want[o, i] += p[o, i * mult + j] * d[i * mult + j, 0]
    np.testing.assert_allclose(w, want, atol=1e-12)
    np.testing.assert_allclose(separable_to_normal(d, p[:, :, None, None],
                                                  depth_multiplier=mult), want, atol=1e-12)


def test_separable_to_normal_keeps_kind_and_dtype():
    d32 = np.ones((2, 1, 3, 3), dtype=np.float32)
    p32 = np.ones((4, 2), dtype=np.float32)
    assert separable_to_normal(d32, p32).dtype == np.float32
    t = separable_to_normal(torch.ones(2, 1, 3, 3), torch.ones(4, 2, 1, 1))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    torch.testing.assert_close(t, torch.ones(4, 2, 3, 3))


@pytest.mark.parametrize("d_shape, p_shape, mult, error, match", [
    ((3, 2, 3, 3), (4, 3), 1, ValueError, "depthwise_weight must have shape"),
    ((3, 3, 3), (4, 3), 1, ValueError, "depthwise_weight must have shape"),
    ((3, 1, 3, 3), (4, 5), 1, ValueError, "pointwise_weight reads 5 channels"),
    ((3, 1, 3, 3), (4, 3, 3, 3), 1, ValueError, "pointwise_weight must have shape"),
    ((3, 1, 3, 3), (4,), 1, ValueError, "pointwise_weight must have shape"),
    ((3, 1, 3, 3), (4, 3), 2, ValueError, "not a multiple of depth_multiplier=2"),
    ((4, 1, 3, 3), (4, 4), 0, ValueError, "depth_multiplier"),
    ((4, 1, 3, 3), (4, 4), 2.0, TypeError, "depth_multiplier"),
])
def test_separable_to_normal_validates(d_shape, p_shape, mult, error, match):
    with pytest.raises(error, match=match):
        separable_to_normal(np.ones(d_shape), np.ones(p_shape), depth_multiplier=mult)


def test_separable_to_normal_refuses_lists_and_strings():
    with pytest.raises(TypeError, match="depthwise_weight must be a NumPy array or a torch"):
        separable_to_normal([[[[1.0]]]], np.ones((1, 1)))
    with pytest.raises(TypeError, match="pointwise_weight must hold real numbers"):
        separable_to_normal(np.ones((1, 1, 1, 1)), np.array([["a"]]))


# --------------------------------------------------------------------------
# normal_to_separable and the approximation errors
# --------------------------------------------------------------------------


@FAST
@given(shapes, st.integers(0, 3), st.integers(0, 2**31 - 1))
def test_round_trip_is_exact_at_full_rank(shape, extra, seed):
    w = random_kernel(shape, seed)
    n, _, kh, kw = shape
    r = min(n, kh * kw) + extra
    d, p = normal_to_separable(w, depth_multiplier=r)
    assert d.shape == (shape[1] * r, 1, kh, kw) and p.shape == (n, shape[1] * r, 1, 1)
    np.testing.assert_allclose(separable_to_normal(d, p, depth_multiplier=r), w, atol=1e-10)
    assert approximation_errors(w, [r])[0] == 0.0


@FAST
@given(shapes, st.integers(0, 2**31 - 1))
def test_error_never_increases_with_rank_and_matches_discarded_singular_values(shape, seed):
    w = random_kernel(shape, seed)
    n, _, kh, kw = shape
    q = min(n, kh * kw)
    ranks = list(range(1, q + 2))
    errors = approximation_errors(w, ranks)
    assert np.all(np.diff(errors) <= 1e-12)
    s = channel_singular_values(w)
    assert s.shape == (shape[1], q)
    for r, error in zip(ranks, errors, strict=True):
        d, p = normal_to_separable(w, r)
        rebuilt = separable_to_normal(d, p, depth_multiplier=r)
        measured = np.linalg.norm(w - rebuilt) / np.linalg.norm(w)
        discarded = np.sqrt((s[:, r:] ** 2).sum()) / np.linalg.norm(w)
        assert measured == pytest.approx(error, abs=1e-9)
        assert discarded == pytest.approx(error, abs=1e-9)


@FAST
@given(st.integers(2, 5), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_svd_beats_other_separable_kernels(n, m, seed):
    """Optimality sanity: no random separable kernel of the same rank is closer."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n, m, 3, 3))
    r = 1
    best = approximation_errors(w, [r])[0] * np.linalg.norm(w)
    d, p = normal_to_separable(w, r)
    for _ in range(5):
        d2 = d + 0.1 * rng.standard_normal(d.shape)
        p2 = p + 0.1 * rng.standard_normal(p.shape)
        assert np.linalg.norm(w - separable_to_normal(d2, p2, depth_multiplier=r)) >= best - 1e-9


def test_depthwise_filters_are_orthonormal_per_channel():
    w = random_kernel((6, 2, 3, 3), 1)
    d, _ = normal_to_separable(w, 3)
    for i in range(2):
        filters = d[3 * i:3 * i + 3, 0].reshape(3, 9)
        np.testing.assert_allclose(filters @ filters.T, np.eye(3), atol=1e-12)


def test_rank_one_kernel_is_recovered_at_rank_one():
    d = random_kernel((3, 1, 3, 3), 2)
    p = random_kernel((5, 3), 3)
    w = separable_to_normal(d, p)
    assert approximation_errors(w, [1])[0] == pytest.approx(0.0, abs=1e-7)
    d1, p1 = normal_to_separable(w, 1)
    np.testing.assert_allclose(separable_to_normal(d1, p1), w, atol=1e-12)


def test_normal_to_separable_keeps_torch_kind():
    w = torch.randn(4, 3, 3, 3)
    d, p = normal_to_separable(w, 2)
    assert isinstance(d, torch.Tensor) and d.dtype == torch.float32 and d.shape == (6, 1, 3, 3)
    assert p.shape == (4, 6, 1, 1)


def test_errors_of_zero_kernel_and_defaults():
    assert approximation_errors(np.zeros((2, 2, 3, 3))).tolist() == [0.0, 0.0]
    assert len(approximation_errors(np.ones((16, 2, 3, 3)))) == 9
    assert approximation_errors(np.ones((4, 2, 3, 3)), 1).shape == (1,)


@pytest.mark.parametrize("weight, r, error, match", [
    (np.ones((3, 3, 3)), 1, ValueError, r"4-D kernel \(out_channels, in_channels, kh, kw\)"),
    (np.ones((0, 3, 3, 3)), 1, ValueError, "must not be empty"),
    (np.ones((2, 3, 3, 3)), 0, ValueError, "depth_multiplier must be a positive int"),
    (np.ones((2, 3, 3, 3)), 1.5, TypeError, "depth_multiplier must be a positive int"),
    (np.ones((2, 3, 3, 3)), True, TypeError, "depth_multiplier"),
    ("kernel", 1, TypeError, "weight must be a NumPy array or a torch tensor"),
])
def test_normal_to_separable_validates(weight, r, error, match):
    with pytest.raises(error, match=match):
        normal_to_separable(weight, r)


@pytest.mark.parametrize("ranks, error, match", [
    ([0], ValueError, "ranks entry"),
    ([1, 2.5], TypeError, "ranks entry"),
    ([], ValueError, "ranks must not be empty"),
    (object(), TypeError, "ranks must be a sequence"),
])
def test_approximation_errors_validates(ranks, error, match):
    with pytest.raises(error, match=match):
        approximation_errors(np.ones((2, 2, 3, 3)), ranks)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_kernels_are_refused_by_name(bad):
    weight = np.ones((2, 2, 3, 3))
    weight[1, 0, 2, 2] = bad
    for call in (lambda: normal_to_separable(weight, 1), lambda: approximation_errors(weight),
                 lambda: channel_singular_values(torch.from_numpy(weight))):
        with pytest.raises(ValueError, match="weight must hold finite numbers"):
            call()
    for fn in (rank1_factors, rank1_error, kernel_singular_values):
        with pytest.raises(ValueError, match="kernel must hold finite numbers"):
            fn(weight[1, 0])
    with pytest.raises(ValueError, match="depthwise_weight must hold finite"):
        separable_to_normal(weight[:, :1], np.ones((3, 2)))


def test_depth_multiplier_is_positional_or_keyword_in_both_directions():
    w = np.random.default_rng(0).standard_normal((4, 2, 3, 3))
    d, p = normal_to_separable(w, 2)
    np.testing.assert_array_equal(separable_to_normal(d, p, 2),
                                  separable_to_normal(d, p, depth_multiplier=2))
    assert [a.shape for a in normal_to_separable(w, depth_multiplier=2)] == [d.shape, p.shape]


# --------------------------------------------------------------------------
# Parameter cost and layer replacement
# --------------------------------------------------------------------------


@FAST
@given(st.integers(1, 4), st.integers(1, 6), st.sampled_from([1, 2, 3]), st.booleans(),
       st.sampled_from([(0, 1, 1), (1, 2, 1), (2, 1, 2)]), st.integers(0, 2**31 - 1))
def test_separable_from_conv_is_exact_at_full_rank(m, n, k, bias, spd, seed):
    padding, stride, dilation = spd
    torch.manual_seed(seed)
    conv = torch.nn.Conv2d(m, n, k, padding=padding, stride=stride, dilation=dilation,
                           bias=bias).double()
    replacement = separable_from_conv(conv, min(n, k * k))
    assert replacement[0].groups == m and replacement[1].kernel_size == (1, 1)
    assert (replacement[1].bias is not None) == bias
    x = torch.randn(2, m, 8, 7, dtype=torch.float64)
    torch.testing.assert_close(replacement(x), conv(x))


def test_separable_from_conv_error_matches_kernel_error():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3, bias=False)
    replacement = separable_from_conv(conv, 2)
    rebuilt = separable_to_normal(replacement[0].weight, replacement[1].weight,
                                 depth_multiplier=2)
    weight = conv.weight.detach()
    error = float((rebuilt - weight).norm() / weight.norm())
    assert error == pytest.approx(approximation_errors(conv.weight, [2])[0], rel=1e-5)


def test_separable_from_conv_validates():
    with pytest.raises(TypeError, match="torch.nn.Conv2d"):
        separable_from_conv(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="groups=2"):
        separable_from_conv(torch.nn.Conv2d(2, 2, 3, groups=2))
    with pytest.raises(ValueError, match="depth_multiplier"):
        separable_from_conv(torch.nn.Conv2d(2, 2, 3), 0)


# --------------------------------------------------------------------------
# Spatially separable 2-D kernels
# --------------------------------------------------------------------------


def test_sobel_is_an_outer_product():
    sobel = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    column, row = rank1_factors(sobel)
    np.testing.assert_allclose(np.outer(column, row), sobel, atol=1e-12)
    np.testing.assert_allclose(column / column[0], [1, 2, 1], atol=1e-12)
    np.testing.assert_allclose(row / row[2], [-1, 0, 1], atol=1e-12)
    assert column[np.argmax(np.abs(column))] > 0
    assert rank1_error(sobel) < 1e-12
    assert not np.signbit(np.concatenate([column, row])[np.concatenate([column, row]) == 0]).any()


@FAST
@given(st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_outer_products_are_separable_and_factor_convolution(kh, kw, seed):
    rng = np.random.default_rng(seed)
    kernel = np.outer(rng.standard_normal(kh), rng.standard_normal(kw))
    column, row = rank1_factors(kernel)
    np.testing.assert_allclose(np.outer(column, row), kernel, atol=1e-10)
    assert rank1_error(kernel) < 1e-7
    s = kernel_singular_values(kernel)
    assert s.shape == (min(kh, kw),) and np.all(s[1:] <= 1e-10 * max(s[0], 1))
    # a kh x 1 then a 1 x kw convolution equals the kh x kw one
    x = torch.from_numpy(rng.standard_normal((1, 1, 9, 9)))
    two_step = F.conv2d(F.conv2d(x, torch.from_numpy(column).view(1, 1, kh, 1)),
                        torch.from_numpy(row).view(1, 1, 1, kw))
    torch.testing.assert_close(two_step, F.conv2d(x, torch.from_numpy(kernel)[None, None]))


@FAST
@given(st.integers(2, 6), st.integers(0, 2**31 - 1))
def test_rank1_error_is_the_best_rank_one_error(k, seed):
    kernel = np.random.default_rng(seed).standard_normal((k, k))
    column, row = rank1_factors(kernel)
    error = np.linalg.norm(kernel - np.outer(column, row)) / np.linalg.norm(kernel)
    assert rank1_error(kernel) == pytest.approx(error, abs=1e-10)
    s = kernel_singular_values(kernel)
    assert np.all(np.diff(s) <= 1e-12)
    assert rank1_error(kernel) == pytest.approx(np.sqrt((s[1:] ** 2).sum() / (s**2).sum()))


def test_rank1_factors_kind_and_zero_kernel():
    column, row = rank1_factors(torch.ones(3, 3))
    assert isinstance(column, torch.Tensor) and column.shape == (3,)
    torch.testing.assert_close(torch.outer(column, row), torch.ones(3, 3))
    assert rank1_error(np.zeros((3, 3))) == 0.0


@pytest.mark.parametrize("kernel, error, match", [
    (np.ones((3, 3, 3)), ValueError, "2-D kernel"),
    (np.ones((0, 3)), ValueError, "must not be empty"),
    ([[1.0, 2.0]], TypeError, "NumPy array or a torch tensor"),
    (np.array([[1 + 1j]]), TypeError, "real numbers"),
])
def test_2d_kernel_functions_validate(kernel, error, match):
    for fn in (rank1_factors, rank1_error, kernel_singular_values):
        with pytest.raises(error, match=match):
            fn(kernel)


def test_replace_with_separable_copies_and_replaces():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.Sequential(torch.nn.Conv2d(4, 5, 3, padding=1)))
    x = torch.randn(2, 2, 6, 6)
    exact = replace_with_separable(model, "2.0", 5)
    assert isinstance(model[2][0], torch.nn.Conv2d), "the original must not change"
    assert isinstance(exact[2][0], torch.nn.Sequential) and exact[2][0][0].groups == 4
    torch.testing.assert_close(exact(x), model(x), atol=1e-5, rtol=1e-4)
    cheap = replace_with_separable(model, "0", 1)
    assert cheap[0][0].out_channels == 2
    with pytest.raises(ValueError, match=r"one of \['0', '2.0'\]"):
        replace_with_separable(model, "7", 1)
    with pytest.raises(TypeError, match="torch.nn.Conv2d"):
        replace_with_separable(model, "1", 1)
    with pytest.raises(TypeError, match="model must be"):
        replace_with_separable("model", "0", 1)


# --- batch-norm recalibration --------------------------------------------------


def _bn_net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(3, momentum=0.3),
        torch.nn.ReLU(),
        torch.nn.Conv2d(3, 4, 1),
        torch.nn.BatchNorm2d(4),
    ).double()


@pytest.mark.parametrize("batch_size", [None, 5])
def test_recalibrate_batch_norm_estimates_the_data_statistics(batch_size):
    net = _bn_net()
    x = torch.randn(20, 2, 6, 6, dtype=torch.float64) * 3 + 1
    weights = [p.detach().clone() for p in net.parameters()]
    out = recalibrate_batch_norm(net, x, batch_size=batch_size)
    assert out is net and not net.training
    assert net[1].momentum == 0.3 and net[4].momentum == 0.1  # restored
    assert all(torch.equal(a, b) for a, b in zip(weights, net.parameters(), strict=True))
    with torch.no_grad():
        h = net[0](x)
    # one batch: the exact mean; batches of equal size: the mean of batch means
    assert torch.allclose(net[1].running_mean, h.mean(dim=(0, 2, 3)), atol=1e-10)
    assert net[1].num_batches_tracked == (1 if batch_size is None else 4)
    if batch_size is None:
        assert torch.allclose(net[1].running_var, h.var(dim=(0, 2, 3)), atol=1e-10)
        # in eval mode, the first norm now standardises the training data
        with torch.no_grad():
            z = net[1](h)
        assert torch.allclose(z.mean(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64),
                              atol=1e-10)


def test_recalibrate_batch_norm_fixes_stale_statistics():
    net = _bn_net()
    x = torch.randn(64, 2, 6, 6, dtype=torch.float64)
    recalibrate_batch_norm(net, x)
    with torch.no_grad():
        net[0].weight.mul_(10)  # the layer before the norm changes
        stale = net(x)
        fresh = recalibrate_batch_norm(net, x)(x)
    assert not torch.allclose(stale, fresh)
    # the last norm now centres its input (up to the first norm normalising with
    # the biased batch variance in training mode and the unbiased one in eval)
    assert torch.allclose(fresh.mean(dim=(0, 2, 3)), net[4].bias, atol=1e-2)
    assert stale.mean(dim=(0, 2, 3)).abs().max() > 0.1


def test_recalibrate_batch_norm_accepts_a_split_and_validates():
    from helpers.lab.digits import load_digits_split

    data = load_digits_split(seed=0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    recalibrate_batch_norm(net, data.train)
    assert int(net[1].num_batches_tracked) == 1
    with pytest.raises(TypeError, match="model"):
        recalibrate_batch_norm("net", data.train)
    with pytest.raises(TypeError, match="images"):
        recalibrate_batch_norm(net, np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match="images"):
        recalibrate_batch_norm(net, torch.zeros(0, 1, 8, 8))
    with pytest.raises(ValueError, match="batch_size"):
        recalibrate_batch_norm(net, data.train, batch_size=0)
