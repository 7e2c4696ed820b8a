"""helpers.lab.memory leaves the model as it was given and works under inference mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from helpers.lab.memory import forward_backward, saved_tensor_bytes
from helpers.lab.timing import time_callable


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())


def test_saved_tensor_bytes_under_inference_mode_equals_the_normal_count():
    model, x = _model(), torch.randn(2, 3, 8, 8)
    normal = saved_tensor_bytes(model, x)
    with torch.inference_mode():
        inside = saved_tensor_bytes(model, torch.randn(2, 3, 8, 8))
    assert normal.activation_bytes > 0 and inside == normal


def test_forward_backward_leaves_modes_and_statistics_unchanged():
    model = _model().eval()
    before = [b.clone() for b in model.buffers()]
    step = forward_backward(model, torch.randn(2, 3, 8, 8))
    step()
    step()
    assert not any(m.training for m in model.modules())
    assert all(torch.equal(a, b) for a, b in zip(before, model.buffers(), strict=True))
    assert all(p.grad is None for p in model.parameters())


def test_a_training_step_can_be_timed_even_inside_inference_mode():
    model = _model().train()
    with torch.inference_mode():
        step = forward_backward(model, torch.randn(1, 3, 8, 8))
        t = time_callable(step, min_run_time=0.01)
    assert t.median > 0 and model.training


def _model_with_grads() -> nn.Sequential:
    model = _model().train()
    model[1].eval()  # one module in its own mode
    model(torch.randn(2, 3, 8, 8)).sum().backward()  # gradients the caller already has
    return model


def _snapshot(model: nn.Module) -> list:
    return ([m.training for m in model.modules()], [b.clone() for b in model.buffers()],
            [p.grad.clone() for p in model.parameters()])


def _same(a: list, b: list) -> bool:
    return a[0] == b[0] and all(torch.equal(x, y) for x, y in zip(a[1] + a[2], b[1] + b[2],
                                                                    strict=True))


def test_an_input_that_does_not_fit_is_refused_clearly_and_changes_nothing():
    model = _model_with_grads()
    before = _snapshot(model)
    wrong = torch.randn(2, 5, 8, 8)  # 5 channels for a 3-channel model
    with pytest.raises(ValueError, match=r"x \(\(2, 5, 8, 8\).*does not fit the model"):
        saved_tensor_bytes(model, wrong)
    with pytest.raises(ValueError, match=r"x \(\(2, 5, 8, 8\).*does not fit the module"):
        forward_backward(model, wrong)
    with pytest.raises(ValueError, match="x must be a non-empty floating-point tensor"):
        forward_backward(model, torch.ones(2, 3, 8, 8, dtype=torch.int64))
    with pytest.raises(ValueError, match="seed"):
        forward_backward(model, torch.randn(2, 3, 8, 8), seed=2**64)
    assert _same(before, _snapshot(model))


def test_a_training_step_puts_the_callers_gradients_back():
    model = _model_with_grads()
    before = _snapshot(model)
    step = forward_backward(model, torch.randn(2, 3, 8, 8), seed=np.int64(1))
    step()
    assert _same(before, _snapshot(model))
