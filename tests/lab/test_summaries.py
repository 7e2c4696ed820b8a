"""helpers.lab.summaries: one short line per layer."""

from __future__ import annotations

import pytest
from torch import nn

from helpers.lab.summaries import format_table, module_summary


def test_summary_lists_each_leaf_layer_compactly():
    block = nn.Sequential(nn.Conv2d(8, 8, 3, stride=2, groups=8, dilation=2, bias=False),
                          nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 16, 1), nn.Linear(16, 4))
    lines = module_summary(block).splitlines()
    assert lines == ["0  Conv2d 8->8 3x3 stride 2 depthwise dilation 2",
                     "1  BatchNorm2d 8", "2  ReLU", "3  Conv2d 8->16 1x1 stride 1 +bias",
                     "4  Linear 16->4"]
    assert max(map(len, lines)) < 79
    with pytest.raises(TypeError, match="module"):
        module_summary("conv")


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
