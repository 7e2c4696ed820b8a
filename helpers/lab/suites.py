"""What :mod:`helpers.lab.measure` times for each chapter, as lists of :class:`Spec`.

Each spec is one variant (a callable at a thread count) with the parameters a
chapter looks it up by, and its FLOPs and compulsory bytes where they are known.
Sizes come from a :class:`Sizes` (full or quick).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from helpers.core.cost import KINDS, conv_cost
from helpers.lab.convs import MOBILENET_LAYERS, make_conv
from helpers.lab.roofline import traffic_bytes

__all__ = ["LAYOUTS", "Sizes", "Spec", "all_threads", "ch6_specs", "ch8_specs", "peak_specs"]

#: The two memory layouts, by the names the records use.
LAYOUTS = {"NCHW": torch.contiguous_format, "NHWC": torch.channels_last}


def all_threads() -> int:
    """The thread count of the multi-threaded measurements: the logical CPUs (at most 8)."""
    return max(1, min(8, os.cpu_count() or 1))


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of a run: ``full`` for the record, else small ones for a quick check."""

    full: bool = True

    @property
    def layers(self) -> tuple[tuple[int, int], ...]:
        return MOBILENET_LAYERS if self.full else ((8, 16), (16, 8))

    @property
    def gemm(self) -> int:
        return 2048 if self.full else 256

    @property
    def peak_conv(self) -> tuple[int, int]:
        return (256, 56) if self.full else (32, 16)

    @property
    def sweep_sides(self) -> tuple[int, ...]:
        return (1, 2, 4, 8, 16, 32, 64, 128, 256) if self.full else (1, 4, 16)

    @property
    def dilation_map(self) -> tuple[int, int]:
        return (256, 65) if self.full else (16, 33)


@dataclass(frozen=True)
class Spec:
    """One variant to time and record."""

    label: str
    group: str
    params: dict
    fn: Callable[[], object]
    threads: int = 1
    flops: float | None = None
    bytes: float | None = None
    extra: dict = field(default_factory=dict)


def _forward(module: nn.Module, x: torch.Tensor) -> Callable[[], object]:
    module.eval()

    def run() -> object:
        with torch.inference_mode():
            return module(x)

    return run


def _conv_input(channels: int, size: int, layout: str, batch: int = 1,
                seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, size, size, generator=generator)
    return x.contiguous(memory_format=LAYOUTS[layout])


def conv_spec(group: str, kind: str, channels: int, size: int, layout: str, threads: int,
              kernel_size: int = 3) -> Spec:
    """A batch-1 ``channels -> channels`` convolution of ``kind`` (see :func:`make_conv`)."""
    module = make_conv(kind, channels, kernel_size).to(memory_format=LAYOUTS[layout])
    x = _conv_input(channels, size, layout)
    macs = conv_cost(kind, channels, size, kernel_size).macs
    params = {"kind": kind, "channels": channels, "size": size, "layout": layout,
              "kernel_size": kernel_size}
    label = f"{group} {kind} k{kernel_size} C={channels} H={size} {layout} T={threads}"
    return Spec(label, group, params, _forward(module, x), threads, 2.0 * macs,
                float(traffic_bytes(kind, channels, size, kernel_size)))


def peak_specs(sizes: Sizes) -> list[Spec]:
    """A large float32 matrix product and a large NHWC 3x3 convolution, on one
    thread and on :func:`all_threads`: the best of them is the measured peak."""
    n, specs = sizes.gemm, []
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=generator), torch.randn(n, n, generator=generator)
    for threads in sorted({1, all_threads()}):
        out = torch.empty(n, n)
        specs.append(Spec(f"peak gemm n={n} T={threads}", "peak", {"op": "gemm", "n": n},
                          lambda out=out: torch.mm(a, b, out=out), threads, 2.0 * n**3))
        c, h = sizes.peak_conv
        spec = conv_spec("peak", "normal", c, h, "NHWC", threads)
        specs.append(Spec(spec.label, "peak", {"op": "conv", **spec.params}, spec.fn,
                          threads, spec.flops, spec.bytes))
    return specs


def ch6_specs(sizes: Sizes) -> tuple[list[Spec], list[tuple[str, str]]]:
    """Chapter 6: every kind on every layer in both layouts (one thread), the
    three kinds in NHWC on :func:`all_threads`, larger depthwise kernels, and a
    problem-size sweep (per-call overhead). Returns the specs and the
    ``(1 thread, T threads)`` label pairs of the same work."""
    specs, pairs, many = [], [], all_threads()
    for c, h in sizes.layers:
        for layout in LAYOUTS:
            for kind in KINDS:
                specs.append(conv_spec("layers", kind, c, h, layout, 1))
        if many > 1:
            for kind in ("normal", "depthwise", "pointwise"):
                one = conv_spec("layers", kind, c, h, "NHWC", 1)
                specs.append(conv_spec("layers", kind, c, h, "NHWC", many))
                pairs.append((one.label, specs[-1].label))
    for c, h in sizes.layers[1::2]:
        for k in (5, 7):
            specs.append(conv_spec("kernel", "depthwise", c, h, "NHWC", 1, kernel_size=k))
    c = sizes.layers[0][0]
    for side in sizes.sweep_sides:
        for kind in ("normal", "depthwise"):
            specs.append(conv_spec("sweep", kind, c, side, "NHWC", 1))
    return specs, pairs


def ch8_specs(sizes: Sizes) -> tuple[list[Spec], list[tuple[str, str]]]:
    """Chapter 8: a 3x3 depthwise convolution, NHWC, dilation 1 to 12 ("same" padding)."""
    c, h = sizes.dilation_map
    specs = []
    for d in (1, 2, 4, 6, 8, 12):
        conv = nn.Conv2d(c, c, 3, padding=d, dilation=d, groups=c, bias=False)
        conv = conv.to(memory_format=torch.channels_last)
        x = _conv_input(c, h, "NHWC")
        macs = conv_cost("depthwise", c, h, 3).macs
        specs.append(Spec(f"atrous d={d} C={c} H={h} NHWC T=1", "dilation",
                          {"dilation": d, "channels": c, "size": h, "layout": "NHWC"},
                          _forward(conv, x), 1, 2.0 * macs,
                          float(traffic_bytes("depthwise", c, h))))
    return specs, []
