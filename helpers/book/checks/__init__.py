"""Exercise checkers: each runs a learner's answer on many cases and says what
is wrong, in words, rather than returning a bare boolean.

One module a topic (``helpers.book.checks.counting`` for chapter 1, and so on).
Every checker returns a :class:`CheckResult`, which prints as its message,
wrapped to :data:`WIDTH` columns. The scaffolding the checkers share (calling
the learner's code, reading its answer, tolerances) is in ``_common``.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

#: The width messages are wrapped to (they print in notebooks and in the book).
WIDTH = 79

#: A short bracketed group, such as ``(C_out, H, W)``, is not broken across lines.
_GROUP = re.compile(r"[(\[{][^()\[\]{}\n]{0,38}[)\]}]")
_NO_BREAK = "\N{NO-BREAK SPACE}"


def wrap(message: str, width: int = WIDTH) -> str:
    """``message`` with each of its lines filled to ``width`` columns, breaking
    between words (never inside a short bracketed group)."""
    lines = []
    for paragraph in message.split("\n"):
        kept = _GROUP.sub(lambda group: group[0].replace(" ", _NO_BREAK), paragraph)
        filled = textwrap.wrap(kept, width, break_on_hyphens=False) or [""]
        lines += [line.replace(_NO_BREAK, " ") for line in filled]
    return "\n".join(lines)


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
    """A passing result, its message wrapped."""
    return CheckResult(True, wrap(message))


def failed(message: str) -> CheckResult:
    """A failing result, its message wrapped."""
    return CheckResult(False, wrap(message))
