"""Assertions shared by the checker tests (``tests/test_checks_*.py``)."""

from __future__ import annotations

import numpy as np
import torch

from helpers.book.checks import WIDTH, CheckResult
from helpers.book.checks._common import UNFORESEEN


def words(result: CheckResult) -> str:
    """The message with its line breaks undone (messages are wrapped)."""
    return " ".join(result.message.split())


def _well_formed(result: CheckResult) -> None:
    assert isinstance(result, CheckResult)
    assert all(len(line) <= WIDTH for line in result.message.splitlines()), result.message
    assert UNFORESEEN not in result.message, result.message


def assert_passes(result: CheckResult) -> None:
    """The answer is accepted, with a well-formed message."""
    _well_formed(result)
    assert result.passed, result.message
    assert bool(result)


def assert_fails(result: CheckResult, *phrases: str) -> None:
    """The answer is refused by the checker's own logic (not its safety net),
    with a well-formed message that contains every phrase."""
    _well_formed(result)
    assert not result.passed, result.message
    assert not bool(result)
    text = words(result)
    for phrase in phrases:
        assert phrase in text, text


class _Unreadable:
    """A learner's object that breaks every protocol NumPy or Python may try."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __float__(self) -> float:
        raise RuntimeError("no float")

    def __index__(self) -> int:
        raise RuntimeError("no index")

    def __len__(self) -> int:
        raise RuntimeError("no len")

    def __array__(self, *args, **kwargs):
        raise RuntimeError("no array")


#: Things a learner's function may return by mistake: no checker may crash on them.
GARBAGE: tuple[object, ...] = (
    None, "12", b"x", 3 + 4j, float("nan"), float("inf"), True,
    np.array(["a", "b"]), np.array([[1, "x"]]), np.array([1, 2], dtype=object),
    np.array([True, False]), np.array([1 + 1j]), np.zeros((0,)), np.zeros((2, 0, 3)),
    [[1, 2], [3]], [None, None], {"a": 1}, {1, 2}, object(), _Unreadable(),
    torch.tensor([1.0, float("nan")]), torch.zeros(3, requires_grad=True),
    torch.zeros(2, 2, dtype=torch.complex64), torch.tensor([True]),
    np.float32(1.5), np.int64(7), (1.0, 2.0, 3.0),
)
