"""What :mod:`helpers.lab.measure` times for chapter 10: training steps, folding,
whole networks and int8 inference (see :mod:`helpers.lab.suites` for chapters 6 and 8)."""

from __future__ import annotations

import copy

import torch

from helpers.core.cost import KINDS, conv_cost, count_macs
from helpers.core.folding import fold_batch_norm
from helpers.core.models import mobilenet_v1
from helpers.lab.convs import make_conv
from helpers.lab.int8_study import int8_copy
from helpers.lab.memory import forward_backward
from helpers.lab.suites import LAYOUTS, Sizes, Spec, _conv_input, _forward

__all__ = ["BATCH", "ch10_specs"]

#: The batch of the training-step measurements.
BATCH = 4


def ch10_specs(sizes: Sizes) -> tuple[list[Spec], list[tuple[str, str]]]:
    """Chapter 10 (one thread): forward pass and training step of each kind at batch
    :data:`BATCH` (NCHW); MobileNetV1 with batch norm and folded at batch 1 and 8;
    MobileNetV1 and its all-normal twin in both layouts; int8 against float32."""
    specs = []
    for c, h in sizes.layers:
        x = _conv_input(c, h, "NCHW", batch=BATCH)
        for kind in KINDS:
            module = make_conv(kind, c)
            flops = 2.0 * BATCH * conv_cost(kind, c, h).macs
            params = {"kind": kind, "channels": c, "size": h, "batch": BATCH}
            specs.append(Spec(f"train {kind} C={c} H={h} forward", "train",
                              {**params, "step": "forward"}, _forward(module, x), 1, flops))
            specs.append(Spec(f"train {kind} C={c} H={h} training", "train",
                              {**params, "step": "training"}, forward_backward(module, x), 1,
                              3 * flops))
    side = 128 if sizes.full else 32
    torch.manual_seed(0)
    mobilenet = mobilenet_v1().eval()
    folded = fold_batch_norm(mobilenet)
    twin = fold_batch_norm(mobilenet_v1(separable=False).eval())
    images = {b: torch.randn(b, 3, side, side, generator=torch.Generator().manual_seed(b))
              for b in (1, 8)}
    for b, x in images.items():
        for name, model in (("with BN", mobilenet), ("folded", folded)):
            specs.append(Spec(f"fold {name} B={b}", "fold",
                              {"model": name, "batch": b, "resolution": side},
                              _forward(model, x), 1, 2.0 * count_macs(model, tuple(x.shape))))
    for name, model in (("MobileNetV1", folded), ("twin", twin)):
        for layout, memory_format in LAYOUTS.items():
            converted = copy.deepcopy(model).to(memory_format=memory_format)
            for b, x in images.items():
                specs.append(Spec(f"latency {name} B={b} {layout}", "latency",
                                  {"model": name, "batch": b, "layout": layout,
                                   "resolution": side},
                                  _forward(converted, x.contiguous(memory_format=memory_format)),
                                  1, 2.0 * count_macs(model, tuple(x.shape))))
    x = images[1]
    engines = [e for e in ("x86", "qnnpack") if e in torch.backends.quantized.supported_engines]
    previous = torch.backends.quantized.engine
    for engine in engines:
        quantized = int8_copy(folded, engine, torch.cat([x, images[8]]))

        def run(q=quantized, e=engine) -> object:
            torch.backends.quantized.engine = e
            with torch.inference_mode():
                return q(x)

        specs.append(Spec(f"int8 {engine} B=1", "int8",
                          {"engine": engine, "batch": 1, "resolution": side}, run, 1))
    torch.backends.quantized.engine = previous
    specs.append(Spec("int8 float32 B=1", "int8", {"engine": "float32", "batch": 1,
                                                    "resolution": side},
                      _forward(folded, x), 1))
    return specs, []
