"""helpers.core.quantize refuses NaN and inf weights instead of quantizing them silently."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.core.quantize import fake_quantize_weight, quantize_weights, symmetric_scales


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused(bad):
    weight = torch.ones(2, 1, 3, 3)
    weight[1, 0, 1, 1] = bad
    original = weight.clone()
    for fn in (fake_quantize_weight, symmetric_scales):
        with pytest.raises(ValueError, match="weight"):
            fn(weight)
    assert torch.equal(weight.nan_to_num(), original.nan_to_num())
    model = nn.Sequential(nn.Conv2d(1, 2, 3))
    with torch.no_grad():
        model[0].weight.copy_(weight[:, :1])
    with pytest.raises(ValueError, match=r"model's weight 0\.weight"):
        quantize_weights(model)
