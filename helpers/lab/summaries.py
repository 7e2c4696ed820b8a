"""Text for the page: the one table formatter of the chapters and scripts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["format_table"]


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows as aligned plain text under a header line: the first column
    left-aligned, the others right-aligned. Values are printed with ``str``, so
    format numbers before passing them in."""
    if len(columns) == 0:
        raise ValueError("columns must not be empty")
    cells = [[str(c) for c in columns]]
    for i, row in enumerate(rows):
        if len(row) != len(columns):
            raise ValueError(f"rows[{i}] has {len(row)} values for {len(columns)} columns")
        cells.append([str(v) for v in row])
    widths = [max(len(r[j]) for r in cells) for j in range(len(columns))]

    def line(values: list[str]) -> str:
        parts = [values[0].ljust(widths[0])]
        parts += [v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(r) for r in cells[1:]])
