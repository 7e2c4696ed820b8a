"""Exercise checkers: each runs a learner's answer on many cases and says what
is wrong, in words, rather than returning a bare boolean.

One module a topic (``helpers.checks.counting`` for chapter 1, and so on).
Every checker returns a :class:`CheckResult`, which prints as its message.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """The outcome of an exercise check: ``passed`` and a message for the learner."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython display
        printer.text(self.message)


def passed(message: str) -> CheckResult:
    """A passing result."""
    return CheckResult(True, message)


def failed(message: str) -> CheckResult:
    """A failing result."""
    return CheckResult(False, message)
