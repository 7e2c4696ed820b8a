"""helpers.lab.memory leaves the model as it was given and works under inference mode."""

from __future__ import annotations

import torch
from torch import nn

from helpers.lab.bench import time_callable
from helpers.lab.memory import forward_backward, saved_tensor_bytes


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
