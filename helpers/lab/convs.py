"""The convolutions the book times, and words for measured ratios.

:func:`make_conv` builds one kind of ``channels -> channels`` convolution
(normal, depthwise, pointwise, separable) for a MobileNet-sized layer of
:data:`MOBILENET_LAYERS`; :class:`LayerTiming` holds the times of several kinds
on one layer; :func:`time_layers` takes them quickly (the recorded data goes
through :mod:`helpers.lab.measure`). Times are in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from helpers.core._validate import (
    require_number,
    require_parameter_count,
    require_positive_int,
    require_seed,
)
from helpers.core.cost import KINDS, conv_cost
from helpers.core.geometry import same_padding
from helpers.core.threads import MAX_THREADS
from helpers.lab.timing import MAX_REPEATS, _check_min_run_time, time_module

#: MobileNetV1's 3x3 stages as (channels, height = width) of a 224x224 input.
MOBILENET_LAYERS: tuple[tuple[int, int], ...] = ((32, 112), (128, 56), (256, 28), (512, 14))

#: The most channels :func:`make_conv` and :func:`time_layers` build: twice
#: MobileNet's widest layer (a normal 3x3 convolution this wide has 38 million
#: weights). Larger is a typo, refused before anything is allocated.
MAX_CHANNELS = 2048

#: The largest layer input (channels x size x size numbers) :func:`time_layers`
#: and :func:`helpers.lab.bench.numpy_vs_torch` allocate: 16 MB of float32, ten
#: times MobileNet's largest 3x3 input (32 x 112 x 112).
MAX_ACTIVATION = 2**22



def _check_kind(kind: object, name: str = "kind") -> str:
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"{name} must be one of {KINDS}, got {kind!r}")
    return kind


def _check_kinds(kinds: object) -> tuple[str, ...]:
    if isinstance(kinds, str) or not isinstance(kinds, Sequence) or len(kinds) == 0:
        raise TypeError(f"kinds must be a non-empty sequence of kinds from {KINDS}, got {kinds!r}")
    return tuple(_check_kind(k, "each entry of kinds") for k in kinds)


def _check_layers(layers: object) -> tuple[tuple[int, int], ...]:
    if isinstance(layers, str) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise TypeError(
            f"layers must be a non-empty sequence of (channels, size) pairs, got {layers!r}"
        )
    checked = []
    for i, layer in enumerate(layers):
        if isinstance(layer, str) or not isinstance(layer, Sequence) or len(layer) != 2:
            raise TypeError(f"layers[{i}] must be a (channels, size) pair, got {layer!r}")
        c = require_positive_int(layer[0], f"layers[{i}][0] (channels)", maximum=MAX_CHANNELS)
        h = require_positive_int(layer[1], f"layers[{i}][1] (size)")
        if c * h * h > MAX_ACTIVATION:
            raise ValueError(f"layers[{i}] = ({c}, {h}) needs an input of {c * h * h:,} "
                             f"numbers, above the limit of {MAX_ACTIVATION:,}")
        checked.append((c, h))
    return tuple(checked)


def _check_memory_format(memory_format: object) -> torch.memory_format:
    if memory_format not in (torch.contiguous_format, torch.channels_last):
        raise ValueError(
            "memory_format must be torch.contiguous_format or torch.channels_last, "
            f"got {memory_format!r}"
        )
    return memory_format  # type: ignore[return-value]


def _check_conv(kind: object, channels: object, kernel_size: object) -> tuple[str, int, int]:
    """``(kind, channels, kernel_size)`` of :func:`make_conv`, checked (sizes too)."""
    kind = _check_kind(kind)
    c = require_positive_int(channels, "channels", maximum=MAX_CHANNELS)
    k = require_positive_int(kernel_size, "kernel_size")
    if k % 2 == 0:
        raise ValueError(f"kernel_size must be odd (for 'same' padding), got {k}")
    require_parameter_count(conv_cost(kind, c, 1, k).params, f"a {kind} convolution",
                            f"channels={c}, kernel_size={k}")
    return kind, c, k


def make_conv(kind: str, channels: int, kernel_size: int = 3) -> nn.Module:
    """A ``channels -> channels`` convolution of one kind, stride 1, "same" padding, no bias.

    ``"separable"`` is ``nn.Sequential(depthwise, pointwise)``. At most
    :data:`MAX_CHANNELS` channels and
    :data:`helpers.core._validate.MAX_PARAMETERS` weights.
    """
    kind, c, k = _check_conv(kind, channels, kernel_size)
    padding = same_padding(k)[0]
    if kind == "normal":
        return nn.Conv2d(c, c, k, padding=padding, bias=False)
    if kind == "depthwise":
        return nn.Conv2d(c, c, k, padding=padding, groups=c, bias=False)
    if kind == "pointwise":
        return nn.Conv2d(c, c, 1, bias=False)
    return nn.Sequential(make_conv("depthwise", c, k), make_conv("pointwise", c, k))


@dataclass(frozen=True)
class LayerTiming:
    """Times of several convolution kinds on one ``(channels, size)`` layer."""

    channels: int
    size: int
    kernel_size: int
    seconds: Mapping[str, float]  #: seconds per call, by kind
    #: Relative uncertainty of each time, by kind: the relative IQR of one
    #: measurement, or the agreement of a recorded best round (helpers.lab.records).
    noise: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("channels", "size", "kernel_size"):
            require_positive_int(getattr(self, name), name)
        if not isinstance(self.seconds, Mapping) or not self.seconds:
            raise TypeError(f"seconds must be a non-empty mapping of kind -> seconds per call, "
                            f"got {self.seconds!r}")
        if not isinstance(self.noise, Mapping):
            raise TypeError(f"noise must be a mapping of kind -> number, got {self.noise!r}")
        for name, values in (("seconds", self.seconds), ("noise", self.noise)):
            for kind, value in values.items():
                _check_kind(kind, f"each kind of {name}")
                require_number(value, f"{name}[{kind!r}]", low=0, low_open=name == "seconds")

    def _seconds(self, kind: str) -> float:
        if _check_kind(kind) not in self.seconds:
            raise ValueError(f"{kind!r} was not timed on this layer; timed: {list(self.seconds)}")
        return self.seconds[kind]

    def macs(self, kind: str) -> int:
        """Multiply-adds of ``kind`` on this layer (from :func:`helpers.core.cost.conv_cost`)."""
        return conv_cost(kind, self.channels, self.size, self.kernel_size).macs

    @property
    def theoretical_speedup(self) -> float:
        """Normal MACs / separable MACs."""
        return self.macs("normal") / self.macs("separable")

    @property
    def measured_speedup(self) -> float:
        """Normal time / separable time (needs both kinds timed)."""
        return self._seconds("normal") / self._seconds("separable")

    def achieved_flops(self, kind: str) -> float:
        """Floating-point operations per second (2 per multiply-add) of ``kind``."""
        return 2 * self.macs(kind) / self._seconds(kind)


def require_timings(timings: object, name: str = "timings") -> list[LayerTiming]:
    """``timings`` as a list, checked to be a non-empty sequence of :class:`LayerTiming`."""
    if isinstance(timings, LayerTiming) or not isinstance(timings, Sequence) or not timings:
        raise TypeError(f"{name} must be a non-empty list of LayerTiming, got {timings!r}")
    for i, t in enumerate(timings):
        if not isinstance(t, LayerTiming):
            raise TypeError(f"{name}[{i}] must be a LayerTiming, got {type(t).__name__}")
    return list(timings)


def time_layers(layers: Sequence[tuple[int, int]] = MOBILENET_LAYERS, *,
                kinds: Sequence[str] = ("normal", "separable"), kernel_size: int = 3,
                threads: int = 1, min_run_time: float = 0.3,
                memory_format: torch.memory_format = torch.contiguous_format,
                seed: int = 0, repeats: int = 1) -> list[LayerTiming]:
    """Time each kind of ``channels -> channels`` convolution on each ``(channels, size)`` layer.

    Batch 1, a ``size x size`` input, float32, "same" padding, stride 1.
    ``memory_format=torch.channels_last`` stores input and weights channels-last.
    ``repeats`` (at most :data:`MAX_REPEATS`): see :func:`time_callable`. Every
    argument is checked before anything is allocated (:data:`MAX_CHANNELS`,
    :data:`MAX_ACTIVATION`).
    """
    layers = _check_layers(layers)
    kinds = _check_kinds(kinds)
    for channels, _ in layers:
        for kind in kinds:
            _check_conv(kind, channels, kernel_size)
    memory_format = _check_memory_format(memory_format)
    threads = require_positive_int(threads, "threads", maximum=MAX_THREADS)
    min_run_time = _check_min_run_time(min_run_time)
    repeats = require_positive_int(repeats, "repeats", maximum=MAX_REPEATS)
    generator = torch.Generator().manual_seed(require_seed(seed))
    results = []
    for channels, size in layers:
        x = torch.randn(1, channels, size, size, generator=generator)
        x = x.contiguous(memory_format=memory_format)
        seconds, spread = {}, {}
        for kind in kinds:
            module = make_conv(kind, channels, kernel_size).to(memory_format=memory_format)
            t = time_module(module, x, threads=threads, min_run_time=min_run_time,
                            label=f"{kind} C={channels} H={size}", repeats=repeats)
            seconds[kind], spread[kind] = t.median, t.relative_iqr  # one measurement
        results.append(LayerTiming(channels, size, kernel_size, seconds, spread))
    return results


# --------------------------------------------------------------------------
# words for measured ratios (so that prose built from them stays true)
# --------------------------------------------------------------------------


def compare_timings(base: Sequence[LayerTiming], other: Sequence[LayerTiming]
                    ) -> dict[str, list[float]]:
    """Per kind timed in both, the ratios ``base time / other time``, one per layer
    (above 1: ``other`` is faster). Both lists must cover the same layers in order."""
    base, other = require_timings(base, "base"), require_timings(other, "other")
    if [(t.channels, t.size) for t in base] != [(t.channels, t.size) for t in other]:
        raise ValueError("base and other must cover the same layers in the same order")
    kinds = [k for k in KINDS if all(k in t.seconds for t in [*base, *other])]
    if not kinds:
        raise ValueError("base and other share no timed convolution kind")
    return {k: [b.seconds[k] / o.seconds[k] for b, o in zip(base, other, strict=True)]
            for k in kinds}


def geometric_mean(values: Sequence[float]) -> float:
    """The geometric mean, the right average of ratios such as speed-ups."""
    if isinstance(values, str) or not isinstance(values, Sequence) or not values:
        raise TypeError(f"values must be a non-empty sequence of numbers, got {values!r}")
    logs = [math.log(require_number(v, f"values[{i}]", low=0, low_open=True))
            for i, v in enumerate(values)]
    return math.exp(sum(logs) / len(logs))


def describe_speedup(ratio: float, *, tolerance: float = 0.1) -> str:
    """Words for a ratio ``old time / new time``: ``"1.8 times faster"``,
    ``"about as fast"`` (within ``tolerance``) or ``"1.3 times slower"``."""
    ratio = require_number(ratio, "ratio", low=0, low_open=True)
    tolerance = require_number(tolerance, "tolerance", low=0, high=1, high_open=True)
    if abs(ratio - 1) <= tolerance:
        return "about as fast"
    if ratio > 1:
        return f"{ratio:.1f} times faster"
    return f"{1 / ratio:.1f} times slower"
