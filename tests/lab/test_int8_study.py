"""The int8 study: its committed data came from the script, and its pieces work."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.lab.int8_study import (
    BUDGETS,
    COLLAPSE,
    StudySettings,
    data_file,
    dead_channels,
    int8_copy,
    load,
    run,
    verdict,
    zero_dead_channels,
)


def test_the_committed_study_is_what_the_script_computes():
    """Re-run seed 0 (about 25 s): training is float64, so its float numbers are
    exact; int8 kernels may round differently on another CPU, by an image or two."""
    record = load()
    settings = StudySettings(**{k: tuple(v) if isinstance(v, list) else v
                                for k, v in record["settings"].items()})
    committed = record["runs"][0]
    again = run(committed["seed"], settings)
    assert again["float"] == committed["float"]
    assert again["dead"] == committed["dead"]
    assert again["spread"] == pytest.approx(committed["spread"], rel=1e-4)
    for key, accuracy in committed["int8"].items():
        assert abs(again["int8"][key] - accuracy) * record["test_images"] <= 2, key


def test_the_longer_study_is_the_same_study_at_twice_the_epochs():
    short, long = load(1), load(2)
    assert long["settings"] == short["settings"] | {"epochs": 2 * short["settings"]["epochs"]}
    assert [r["seed"] for r in long["runs"]] == [r["seed"] for r in short["runs"]]
    assert data_file(1) != data_file(2)
    for budget in (0, 3, True, "2"):
        with pytest.raises(ValueError, match="budget"):
            data_file(budget)
    assert BUDGETS == (1, 2)


def test_verdict_counts_what_each_run_lost():
    def run(float_acc, tensor, channel, zeroed, dead):
        schemes = {"per tensor": tensor, "per channel": channel,
                   "per tensor, dead zeroed": zeroed}
        return {"float": float_acc, "dead": {"3": dead},
                "int8": {f"{e} {k}": v for e in ("x86", "qnnpack") for k, v in schemes.items()}}

    n = 100  # test images: an accuracy of 0.01 is one digit
    record = {"test_images": n, "provenance": {"engines": ["x86", "qnnpack"]}, "runs": [
        run(0.95, 0.95 - (COLLAPSE + 1) / n, 0.94, 0.95, 1),  # collapsed, rescued
        run(0.95, 0.95 - COLLAPSE / n, 0.95, 0.95, 0),  # lost exactly the limit: not
        run(0.90, 0.20, 0.87, 0.60, 2),  # collapsed, not rescued
    ]}
    assert verdict(record) == {"runs": 3, "dead": 2, "collapsed": 2, "collapsed_dead": 2,
                               "worst_tensor": 70, "worst_channel": 3, "rescued": 1}
    for bad in ({}, [], {"runs": []}):
        with pytest.raises(TypeError, match="record"):
            verdict(bad)


def test_zeroing_a_dead_channel_changes_nothing_in_float():
    conv = nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False)

    class Block(nn.Module):  # the names make_cnn's separable blocks use
        def __init__(self):
            super().__init__()
            self.depthwise = nn.Sequential()
            self.depthwise.conv = conv
            self.depthwise_norm = nn.BatchNorm2d(3)

        def forward(self, x):
            return self.depthwise_norm(self.depthwise.conv(x))

    model = nn.Sequential(Block()).eval()
    model[0].depthwise_norm.running_var[1] = 0.0  # channel 1 saw a dead input
    assert dead_channels(model) == {"0": 1}
    fixed = zero_dead_channels(model, model)
    assert torch.all(fixed[0].depthwise.conv.weight[1] == 0)
    assert not torch.all(model[0].depthwise.conv.weight[1] == 0)  # the original is intact
    x = torch.randn(2, 3, 5, 5)
    x[:, 1] = 0  # the dead input
    with torch.no_grad():
        torch.testing.assert_close(fixed(x), model(x))


def test_int8_copy_leaves_the_model_and_the_engine_alone():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(36, 2)).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    engine = torch.backends.quantized.engine
    q = int8_copy(model, "x86", torch.randn(8, 1, 5, 5), per_channel=False)
    assert torch.backends.quantized.engine == engine
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert q(torch.randn(2, 1, 5, 5)).shape == (2, 2)


def test_bad_arguments_are_named():
    model = nn.Sequential(nn.Conv2d(1, 1, 1)).eval()
    with pytest.raises(ValueError, match="engine"):
        int8_copy(model, "fbgemm2", torch.randn(1, 1, 2, 2))
    with pytest.raises(TypeError, match="calibration"):
        int8_copy(model, "x86", [1.0])
    with pytest.raises(ValueError, match="seed"):
        run(-1, StudySettings())
