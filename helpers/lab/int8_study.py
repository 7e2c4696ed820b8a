"""Static int8 quantization of trained separable networks: per tensor against per channel.

Chapter 10's study of the failure :cite:`sheng2018quantization` traced in MobileNetV1:
a depthwise channel whose input ReLU has switched off for good computes a constant,
its batch norm's running variance falls towards zero, and folding the batch norm
multiplies that channel's weights by :math:`\\gamma / \\sqrt{\\epsilon}`. One scale per
tensor must then cover those weights, and the other channels round to a few levels.

Each run trains the separable digits network (float64, seeded), folds its batch
norms, and quantizes it with PyTorch's eager static post-training quantization
(``torch.ao.quantization``: activation observers calibrated on training images,
int8 weights and activations, int32 biases, requantization between layers) on each
CPU backend this PyTorch ships, with one weight scale per tensor and one per
channel. ``python -m helpers.lab.int8_study`` writes every run to
``helpers/lab/data/int8_study.json``; ``--budget 2`` trains twice the epochs and
writes ``int8_study_budget2.json``, to check that the verdict survives longer
training. Chapter 10 reads both.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from helpers.core._validate import require_bool, require_int, require_module, require_tensor
from helpers.core.folding import fold_batch_norm
from helpers.core.quantize import channel_quantization_error, channel_ranges
from helpers.lab.cnn import make_cnn
from helpers.lab.digits import Split, load_digits_split
from helpers.lab.train import evaluate, train

__all__ = ["BUDGETS", "DATA", "SCHEMES", "StudySettings", "data_file", "dead_channels",
           "int8_copy", "load", "lost", "run", "study", "verdict", "zero_dead_channels"]

#: Where the committed results live (package data: a notebook on Colab finds them).
DATA = Path(__file__).with_name("data") / "int8_study.json"

#: The epoch budgets the study is recorded at (times ``StudySettings.epochs``).
BUDGETS = (1, 2)


def data_file(budget: int = 1) -> Path:
    """Where the study at ``budget`` times the epochs is recorded."""
    if budget not in BUDGETS or isinstance(budget, bool):
        raise ValueError(f"budget must be one of {BUDGETS}, got {budget!r}")
    return DATA if budget == 1 else DATA.with_name(f"int8_study_budget{budget}.json")

#: The weight-scale schemes compared: the name and whether scales are per channel.
SCHEMES = {"per tensor": False, "per channel": True}

#: A batch norm whose running variance is below this computes a constant: its
#: input channel is dead (the ReLU before it never lets anything through).
DEAD_VARIANCE = 1e-6


@dataclass(frozen=True)
class StudySettings:
    """What the study trains: ``seeds`` (initial weights and batch order), the
    network's ``width``, ``epochs`` at learning rate ``lr``, and how many training
    images calibrate the activation observers."""

    seeds: tuple[int, ...] = tuple(range(10))
    width: int = 32
    epochs: int = 15
    lr: float = 3e-2
    batch_size: int = 64
    calibration: int = 512


def engines() -> list[str]:
    """The CPU backends of static quantization this PyTorch ships, of x86 and qnnpack."""
    return [e for e in ("x86", "qnnpack") if e in torch.backends.quantized.supported_engines]


def int8_copy(model: nn.Module, engine: str, calibration: torch.Tensor,
              per_channel: bool | None = None) -> nn.Module:
    """An int8 copy of the float32 ``model`` (evaluation mode, batch norms folded)
    for ``engine`` (``"x86"`` or ``"qnnpack"``), calibrated on ``calibration``:
    eager mode, ``QuantStub``/``DeQuantStub`` around it, the backend's default
    qconfig, or its default activation observer with symmetric MinMax weight
    scales, one per output channel (``per_channel=True``) or one per tensor
    (``False``). ``model`` is left as it was."""
    from torch.ao import quantization as tq

    require_module(model, "model")
    require_tensor(calibration, "calibration")
    if engine not in engines():
        raise ValueError(f"engine must be one of {engines()} (this PyTorch's CPU backends), "
                         f"got {engine!r}")
    if per_channel is not None:
        require_bool(per_channel, "per_channel")
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        quantized = nn.Sequential(tq.QuantStub(), copy.deepcopy(model), tq.DeQuantStub()).eval()
        qconfig = tq.get_default_qconfig(engine)
        if per_channel is not None:
            qconfig = tq.QConfig(activation=qconfig.activation,
                                 weight=(tq.default_per_channel_weight_observer if per_channel
                                         else tq.default_weight_observer))
        quantized.qconfig = qconfig
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization announces its move
            tq.prepare(quantized, inplace=True)
            with torch.no_grad():
                quantized(calibration)
            tq.convert(quantized, inplace=True)
    finally:
        torch.backends.quantized.engine = previous
    return quantized


def int8_accuracy(model: nn.Module, engine: str, data: Split) -> float:
    """The accuracy of an int8 ``model`` from :func:`int8_copy` on ``data``."""
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        with torch.no_grad():
            predicted = model(data.x.float()).argmax(dim=1)
    finally:
        torch.backends.quantized.engine = previous
    return float((predicted == data.y).double().mean())


def dead_channels(model: nn.Module) -> dict[str, int]:
    """For each batch norm right after a depthwise convolution, how many of its
    channels have a running variance below :data:`DEAD_VARIANCE` (a dead input)."""
    counts = {}
    for name, module in model.named_modules():
        depthwise = getattr(module, "depthwise", None)
        norm = getattr(module, "depthwise_norm", None)
        if isinstance(norm, nn.BatchNorm2d) and depthwise is not None:
            counts[name] = int((norm.running_var < DEAD_VARIANCE).sum())
    return counts


def zero_dead_channels(model: nn.Module, folded: nn.Module) -> nn.Module:
    """A copy of ``folded`` (the batch-norm-folded ``model``) in which the weights of
    every depthwise channel whose batch norm saw a dead input (:func:`dead_channels`)
    are zero. Such a channel's input is zero whenever the network runs, so its
    weights never matter in float; after folding they are the largest of the layer."""
    fixed = copy.deepcopy(folded)
    modules = dict(fixed.named_modules())
    for name, module in model.named_modules():
        norm = getattr(module, "depthwise_norm", None)
        if isinstance(norm, nn.BatchNorm2d):
            dead = norm.running_var < DEAD_VARIANCE
            with torch.no_grad():
                modules[f"{name}.depthwise.conv"].weight[dead] = 0
    return fixed


def folded_spreads(folded: nn.Module) -> dict[str, float]:
    """Per convolution of a folded network, its widest channel's largest |weight|
    over its narrowest channel's: how much one scale per tensor costs it."""
    spreads = {}
    for name, module in folded.named_modules():
        if isinstance(module, nn.Conv2d):
            ranges = channel_ranges(module.weight.detach())
            spreads[name] = float(ranges.max() / ranges.min())
    return spreads


def widest_layer(folded: nn.Module) -> dict:
    """The depthwise layer of ``folded`` whose channel ranges spread most: its name,
    each channel's largest |weight| and 8-bit relative error per tensor and per
    channel (:func:`helpers.core.quantize.channel_quantization_error`)."""
    spreads = folded_spreads(folded)
    name = max((n for n, m in folded.named_modules()
                if isinstance(m, nn.Conv2d) and m.groups > 1), key=spreads.get)
    weight = dict(folded.named_modules())[name].weight.detach()
    return {"name": name,
            "ranges": channel_ranges(weight).tolist(),
            "per_tensor_error": channel_quantization_error(weight, 8, False).tolist(),
            "per_channel_error": channel_quantization_error(weight, 8, True).tolist()}


def run(seed: int, settings: StudySettings, data=None) -> dict:
    """One run: train with ``seed``, fold, quantize every way; every number of it.
    ``int8`` holds the accuracy of each engine and scheme, and of one scale per
    tensor after :func:`zero_dead_channels` (``"<engine> per tensor, dead zeroed"``)."""
    require_int(seed, "seed", minimum=0)
    if not isinstance(settings, StudySettings):
        raise TypeError(f"settings must be a StudySettings, got {type(settings).__name__}")
    data = data or load_digits_split(seed=0)
    model = make_cnn("separable", settings.width, seed=seed)
    train(model, data.train, data.val, epochs=settings.epochs, lr=settings.lr,
          batch_size=settings.batch_size, seed=seed)
    model = model.float().eval()
    folded = fold_batch_norm(model)
    zeroed = zero_dead_channels(model, folded)
    result = {"seed": seed, "float": evaluate(folded, data.test)[1],
              "float_zeroed": evaluate(zeroed, data.test)[1],
              "dead": dead_channels(model), "spread": folded_spreads(folded),
              "widest": widest_layer(folded), "int8": {}}
    calibration = data.train.x[:settings.calibration].float()
    for engine in engines():
        for scheme, per_channel in SCHEMES.items():
            quantized = int8_copy(folded, engine, calibration, per_channel)
            result["int8"][f"{engine} {scheme}"] = int8_accuracy(quantized, engine, data.test)
        quantized = int8_copy(zeroed, engine, calibration, per_channel=False)
        result["int8"][f"{engine} per tensor, dead zeroed"] = int8_accuracy(
            quantized, engine, data.test)
    return result


def study(settings: StudySettings, log=print) -> dict:
    """Every run of ``settings``, with the provenance of the whole study."""
    data = load_digits_split(seed=0)
    start = time.perf_counter()
    runs = []
    for seed in settings.seeds:
        runs.append(run(seed, settings, data))
        log(f"seed {seed}: float {runs[-1]['float']:.3f}, int8 {runs[-1]['int8']}")
    return {"settings": {k: (list(v) if isinstance(v, tuple) else v)
                         for k, v in settings.__dict__.items()},
            "provenance": {"torch": torch.__version__, "python": platform.python_version(),
                           "machine": platform.machine(), "engines": engines(),
                           "date": time.strftime("%Y-%m-%d"),
                           "seconds": round(time.perf_counter() - start, 1)},
            "test_images": len(data.test), "runs": runs}


def load(budget: int = 1) -> dict:
    """The committed study at ``budget`` times the epochs (written by
    ``python -m helpers.lab.int8_study --budget N``)."""
    return json.loads(data_file(budget).read_text(encoding="utf-8"))


#: A network "collapses" when int8 loses more than this many test digits.
COLLAPSE = 10


def lost(run_record: dict, scheme: str, test_images: int) -> int:
    """Test digits one run lost to int8 ``scheme`` against its own float network."""
    return round((run_record["float"] - run_record["int8"][scheme]) * test_images)


def verdict(record: dict) -> dict:
    """What a recorded study found: networks with a dead channel (``dead``), those
    that lost more than :data:`COLLAPSE` digits with per-tensor scales on every
    backend (``collapsed``, and ``collapsed_dead`` of them with a dead channel),
    the worst losses per tensor and per channel, and how many collapsed networks
    zeroing the dead channels rescued on every backend (``rescued``)."""
    if not isinstance(record, dict) or not {"runs", "test_images", "provenance"} <= set(record):
        raise TypeError("record must be a study as load() returns it")
    runs, n, engines_ = record["runs"], record["test_images"], record["provenance"]["engines"]

    def worst(scheme: str) -> int:
        return max(lost(r, f"{e} {scheme}", n) for r in runs for e in engines_)

    collapsed = [r for r in runs
                 if min(lost(r, f"{e} per tensor", n) for e in engines_) > COLLAPSE]
    return {
        "runs": len(runs),
        "dead": sum(sum(r["dead"].values()) > 0 for r in runs),
        "collapsed": len(collapsed),
        "collapsed_dead": sum(sum(r["dead"].values()) > 0 for r in collapsed),
        "worst_tensor": worst("per tensor"), "worst_channel": worst("per channel"),
        "rescued": sum(all(lost(r, f"{e} per tensor, dead zeroed", n) <= COLLAPSE
                           for e in engines_) for r in collapsed),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="two short runs, printed, nothing written")
    parser.add_argument("--budget", type=int, default=1, choices=BUDGETS,
                        help="train this many times the epochs (default 1)")
    args = parser.parse_args(argv)
    if args.quick:
        print(json.dumps(study(StudySettings(seeds=(0, 1), epochs=2)), indent=1)[:2000])
        return
    settings = StudySettings()
    record = study(replace(settings, epochs=args.budget * settings.epochs))
    out = data_file(args.budget)
    out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
