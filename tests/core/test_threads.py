"""The one place that pins PyTorch's thread count."""

import pytest
import torch

from helpers.core.threads import fixed_threads


def test_fixed_threads_sets_and_restores():
    before = torch.get_num_threads()
    with fixed_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_fixed_threads_restores_after_an_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), fixed_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_fixed_threads_validates(bad):
    with pytest.raises((TypeError, ValueError), match="threads"), fixed_threads(bad):
        pass


def test_fixed_threads_refuses_a_huge_count_before_starting_threads():
    from helpers.core.threads import MAX_THREADS

    before = torch.get_num_threads()
    with pytest.raises(ValueError, match="threads must be at most"), fixed_threads(10**6):
        pass
    assert torch.get_num_threads() == before and MAX_THREADS >= 64
