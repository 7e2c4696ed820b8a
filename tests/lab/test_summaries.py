"""helpers.lab.summaries: one short line per layer."""

from __future__ import annotations

import pytest
from torch import nn

from helpers.lab.summaries import module_summary


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
