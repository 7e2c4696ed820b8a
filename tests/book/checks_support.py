"""Assertions shared by the checker tests (``tests/test_checks_*.py``)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from decimal import Decimal
from fractions import Fraction

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


def _endless():
    while True:
        yield 1.0


def _raises_on_use():
    class Explodes:
        def __getattr__(self, name):
            raise RuntimeError(f"no {name}")

        def __array__(self, *args, **kwargs):
            raise RuntimeError("no array")

        def __eq__(self, other):
            raise RuntimeError("no eq")

        __hash__ = None

    return Explodes()


#: More odd returns: generators (finite and endless), an object whose every use
#: raises, a 0-d float32 tensor, Fraction and Decimal numbers, a nested tuple.
MORE_GARBAGE: tuple[object, ...] = (
    (x for x in range(3)), _endless(), _raises_on_use(), torch.tensor(2.5),
    Fraction(1, 3), Decimal("NaN"), Decimal("Infinity"), ((1.0,), (2.0, 3.0)),
    np.float64("nan"), np.int8(-1), torch.empty(0), np.array(5.0),
)


def find_checkers() -> dict[str, object]:
    """Every checker of ``helpers.book.checks``, found by walking its modules for
    functions made by the scaffolding's ``@checker`` (not written by hand), keyed
    by ``module.name``. Aliases (an older name bound to the same checker) are
    left out: a checker counts under its own name."""
    import helpers.book.checks as package

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for name, value in vars(module).items():
            if (getattr(value, "is_checker", False) and value.__module__ == module.__name__
                    and value.__name__ == name):
                found[f"{info.name}.{name}"] = value
    return found


def required_arguments(check) -> int:
    """How many functions a checker takes (its parameters without a default)."""
    return sum(p.default is inspect.Parameter.empty
               and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               for p in inspect.signature(check).parameters.values())
