"""helpers.lab.summaries: the table formatter."""

from __future__ import annotations

import pytest

from helpers.lab.summaries import format_table


def test_format_table_aligns_columns():
    text = format_table(["name", "value"], [["a", "1"], ["long name", "1,234"]])
    lines = text.splitlines()
    assert lines[0] == "name       value"
    assert lines[1] == "---------  -----"
    assert lines[2] == "a              1"
    assert lines[3] == "long name  1,234"
    with pytest.raises(ValueError, match="columns"):
        format_table([], [])
    with pytest.raises(ValueError, match=r"rows\[0\]"):
        format_table(["a", "b"], [["x"]])
