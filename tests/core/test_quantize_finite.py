"""helpers.core.quantize refuses NaN and inf weights instead of quantizing them silently."""

from __future__ import annotations

import pytest
import torch

from helpers.core.quantize import fake_quantize_weight, symmetric_scales


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_weights_are_refused(bad):
    weight = torch.ones(2, 1, 3, 3)
    weight[1, 0, 1, 1] = bad
    original = weight.clone()
    for fn in (fake_quantize_weight, symmetric_scales):
        with pytest.raises(ValueError, match="weight"):
            fn(weight)
    assert torch.equal(weight.nan_to_num(), original.nan_to_num())
