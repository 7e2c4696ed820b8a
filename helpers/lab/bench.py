"""Timing convolutions on the CPU, and words for the measured ratios.

Every measurement goes through :mod:`torch.utils.benchmark` (warm-up, blocks of
runs, median) at a fixed number of threads (:func:`helpers.core.threads.fixed_threads`).
Times are in seconds. The machine's roofline is in :mod:`helpers.lab.roofline`.

Run ``python -m helpers.lab.bench`` for a table of our NumPy convolutions against
PyTorch's on MobileNet-sized layers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils import benchmark

from helpers.core._validate import (
    require_bool,
    require_callable,
    require_module,
    require_number,
    require_positive_int,
    require_tensor,
)
from helpers.core.cost import KINDS, conv_cost
from helpers.core.geometry import same_padding
from helpers.core.threads import fixed_threads
from helpers.lab.summaries import format_table

#: MobileNetV1's 3x3 stages as (channels, height = width) of a 224x224 input.
MOBILENET_LAYERS: tuple[tuple[int, int], ...] = ((32, 112), (128, 56), (256, 28), (512, 14))


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------


def _check_kind(kind: object, name: str = "kind") -> str:
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"{name} must be one of {KINDS}, got {kind!r}")
    return kind


def _check_kinds(kinds: object) -> tuple[str, ...]:
    if isinstance(kinds, str) or not isinstance(kinds, Sequence) or len(kinds) == 0:
        raise TypeError(f"kinds must be a non-empty sequence of kinds from {KINDS}, got {kinds!r}")
    return tuple(_check_kind(k, "each entry of kinds") for k in kinds)


def _check_min_run_time(min_run_time: object) -> float:
    return require_number(min_run_time, "min_run_time (seconds)", low=0, high=60, low_open=True)


def _check_layers(layers: object) -> tuple[tuple[int, int], ...]:
    if isinstance(layers, str) or not isinstance(layers, Sequence) or len(layers) == 0:
        raise TypeError(
            f"layers must be a non-empty sequence of (channels, size) pairs, got {layers!r}"
        )
    checked = []
    for i, layer in enumerate(layers):
        if isinstance(layer, str) or not isinstance(layer, Sequence) or len(layer) != 2:
            raise TypeError(f"layers[{i}] must be a (channels, size) pair, got {layer!r}")
        checked.append((require_positive_int(layer[0], f"layers[{i}][0] (channels)"),
                        require_positive_int(layer[1], f"layers[{i}][1] (size)")))
    return tuple(checked)


def _check_memory_format(memory_format: object) -> torch.memory_format:
    if memory_format not in (torch.contiguous_format, torch.channels_last):
        raise ValueError(
            "memory_format must be torch.contiguous_format or torch.channels_last, "
            f"got {memory_format!r}"
        )
    return memory_format  # type: ignore[return-value]


# --------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """One measurement: the median and interquartile range of the time of one call."""

    label: str
    median: float  #: seconds per call (median over blocks of runs)
    iqr: float  #: interquartile range of the per-call times, seconds
    runs: int  #: number of calls timed in total
    threads: int

    @property
    def relative_iqr(self) -> float:
        """Spread of the measurement: IQR / median (0.05 means +-2.5 % around the median)."""
        return self.iqr / self.median if self.median > 0 else math.inf


def time_callable(fn: Callable[[], object], *, label: str = "", threads: int = 1,
                  min_run_time: float = 0.1, repeats: int = 1) -> Timing:
    """Time ``fn()`` with ``torch.utils.benchmark.Timer.blocked_autorange``.

    ``threads`` fixes ``torch.set_num_threads`` for the measurement (the previous
    value is restored); ``min_run_time`` is the least total time spent timing.
    Autograd stays as the caller set it, so a training step can be timed.
    ``repeats > 1`` measures that many times and keeps the measurement with the
    smallest median: on a shared machine other programs only ever add time, so
    the least disturbed measurement is the best estimate of the code's own.
    """
    require_callable(fn, "fn", "a function of no arguments")
    if not isinstance(label, str):
        raise TypeError(f"label must be a str, got {label!r}")
    threads = require_positive_int(threads, "threads")
    min_run_time = _check_min_run_time(min_run_time)
    repeats = require_positive_int(repeats, "repeats")
    with fixed_threads(threads):
        fn()  # warm-up outside the timer: first-call allocation, weight packing
        timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, label=label,
                                num_threads=threads)
        m = min((timer.blocked_autorange(min_run_time=min_run_time) for _ in range(repeats)),
                key=lambda measurement: measurement.median)
    runs = int(len(m.times) * m.number_per_run)
    return Timing(label=label, median=float(m.median), iqr=float(m.iqr), runs=runs,
                  threads=threads)


def time_module(module: nn.Module, x: torch.Tensor, *, threads: int = 1,
                min_run_time: float = 0.1, label: str = "", repeats: int = 1) -> Timing:
    """Time one forward pass ``module(x)`` in evaluation and inference mode; the
    module's train/eval modes are restored afterwards."""
    require_module(module, "module")
    require_tensor(x, "x")
    modes = [(m, m.training) for m in module.modules()]

    def forward() -> None:
        with torch.inference_mode():
            module(x)

    try:
        module.eval()
        return time_callable(forward, label=label or type(module).__name__, threads=threads,
                             min_run_time=min_run_time, repeats=repeats)
    finally:
        for m, training in modes:
            m.training = training


def time_rounds(calls: Mapping[str, Callable[[], object]], *, threads: int = 1,
                min_run_time: float = 0.05, rounds: int = 3,
                cpu_time: bool = False) -> dict[str, list[float]]:
    """Median seconds per call of each callable in each of ``rounds`` rounds,
    measured with ``torch.utils.benchmark.Timer.blocked_autorange`` at
    ``threads`` threads.

    In each round the callables are timed in turn, in the order given, so two
    neighbours are measured close together in time: the ratio of their times
    within a round is robust to a machine that is busy for a while. Each is
    called once before timing (warm-up). The thread setting is restored
    afterwards.

    ``cpu_time=True`` (one thread only) measures the processor time of this
    process (``time.process_time``) instead of the wall clock: on an idle
    machine the two agree, but processor time leaves out the moments when
    other programs had the core, so it is steadier on a shared machine.
    """
    if not isinstance(calls, Mapping) or not calls:
        raise TypeError(f"calls must be a non-empty mapping of label -> callable, got {calls!r}")
    for label, fn in calls.items():
        if not isinstance(label, str):
            raise TypeError(f"each label of calls must be a str, got {label!r}")
        if not callable(fn):
            raise TypeError(f"calls[{label!r}] must be callable, got {type(fn).__name__}")
    threads = require_positive_int(threads, "threads")
    rounds = require_positive_int(rounds, "rounds")
    cpu_time = require_bool(cpu_time, "cpu_time")
    if cpu_time and threads != 1:
        raise ValueError(f"cpu_time=True needs threads=1 (the processor time of several "
                         f"threads adds up), got threads={threads}")
    timer = time.process_time if cpu_time else time.perf_counter
    min_run_time = _check_min_run_time(min_run_time)
    medians: dict[str, list[float]] = {label: [] for label in calls}
    with fixed_threads(threads):
        for fn in calls.values():
            fn()
        for _ in range(rounds):
            for label, fn in calls.items():
                measured = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads,
                                           timer=timer)
                result = measured.blocked_autorange(min_run_time=min_run_time)
                medians[label].append(float(result.median))
    return medians


def time_calls(calls: Mapping[str, Callable[[], object]], *, threads: int = 1,
               min_run_time: float = 0.05, rounds: int = 3,
               cpu_time: bool = False) -> dict[str, float]:
    """The best (smallest) of each callable's medians over ``rounds`` rounds of
    :func:`time_rounds` (same arguments): interleaving shares out slow moments
    of a busy machine, and the minimum discards them."""
    medians = time_rounds(calls, threads=threads, min_run_time=min_run_time, rounds=rounds,
                          cpu_time=cpu_time)
    return {label: min(values) for label, values in medians.items()}


def make_conv(kind: str, channels: int, kernel_size: int = 3) -> nn.Module:
    """A ``channels -> channels`` convolution of one kind, stride 1, "same" padding, no bias.

    ``"separable"`` is ``nn.Sequential(depthwise, pointwise)``.
    """
    kind = _check_kind(kind)
    c = require_positive_int(channels, "channels")
    k = require_positive_int(kernel_size, "kernel_size")
    if k % 2 == 0:
        raise ValueError(f"kernel_size must be odd (for 'same' padding), got {k}")
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
    seconds: Mapping[str, float]  #: median seconds per call, by kind
    relative_iqr: Mapping[str, float] = field(default_factory=dict)  #: spread, by kind

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
        return self.seconds["normal"] / self.seconds["separable"]

    def achieved_flops(self, kind: str) -> float:
        """Floating-point operations per second (2 per multiply-add) of ``kind``."""
        return 2 * self.macs(kind) / self.seconds[kind]


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
                threads: int = 1, min_run_time: float = 0.1,
                memory_format: torch.memory_format = torch.contiguous_format,
                seed: int = 0, repeats: int = 1) -> list[LayerTiming]:
    """Time each kind of ``channels -> channels`` convolution on each ``(channels, size)`` layer.

    Batch 1, a ``size x size`` input, float32, "same" padding, stride 1.
    ``memory_format=torch.channels_last`` stores input and weights channels-last.
    ``repeats``: see :func:`time_callable`.
    """
    layers = _check_layers(layers)
    kinds = _check_kinds(kinds)
    memory_format = _check_memory_format(memory_format)
    generator = torch.Generator().manual_seed(seed)
    results = []
    for channels, size in layers:
        x = torch.randn(1, channels, size, size, generator=generator)
        x = x.contiguous(memory_format=memory_format)
        seconds, spread = {}, {}
        for kind in kinds:
            module = make_conv(kind, channels, kernel_size).to(memory_format=memory_format)
            t = time_module(module, x, threads=threads, min_run_time=min_run_time,
                            label=f"{kind} C={channels} H={size}", repeats=repeats)
            seconds[kind], spread[kind] = t.median, t.relative_iqr
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


# --------------------------------------------------------------------------
# python -m helpers.lab.bench: NumPy vs PyTorch
# --------------------------------------------------------------------------


def numpy_vs_torch(layers: Sequence[tuple[int, int]] = MOBILENET_LAYERS, *,
                   min_run_time: float = 0.2) -> list[dict[str, object]]:
    """Time our NumPy ``conv2d`` and ``depthwise_conv2d`` against PyTorch, one thread each.

    Returns one row per layer and kind: ``layer``, ``kind``, ``numpy`` and
    ``torch`` seconds, and ``ratio`` = numpy / torch.
    """
    import numpy as np
    from threadpoolctl import threadpool_limits

    from helpers.core.numpy_conv import conv2d, depthwise_conv2d

    layers = _check_layers(layers)
    min_run_time = _check_min_run_time(min_run_time)
    rng = np.random.default_rng(0)
    rows: list[dict[str, object]] = []
    for channels, size in layers:
        x = rng.standard_normal((1, channels, size, size), dtype=np.float32)
        cases = {
            "normal": (rng.standard_normal((channels, channels, 3, 3), dtype=np.float32),
                       lambda x, w: conv2d(x, w, padding=1)),
            "depthwise": (rng.standard_normal((channels, 1, 3, 3), dtype=np.float32),
                          lambda x, w: depthwise_conv2d(x, w, padding=1)),
        }
        for kind, (w, numpy_fn) in cases.items():
            xt, wt = torch.from_numpy(x), torch.from_numpy(w)
            groups = 1 if kind == "normal" else channels
            with threadpool_limits(limits=1):
                t_np = time_callable(lambda x=x, w=w, f=numpy_fn: f(x, w), threads=1,
                                     min_run_time=min_run_time)
            t_torch = time_callable(
                lambda xt=xt, wt=wt, g=groups: torch.nn.functional.conv2d(xt, wt, padding=1,
                                                                          groups=g),
                threads=1, min_run_time=min_run_time)
            rows.append({"layer": (channels, size), "kind": kind, "numpy": t_np.median,
                         "torch": t_torch.median, "ratio": t_np.median / t_torch.median})
    return rows


def format_numpy_vs_torch(rows: Sequence[Mapping[str, object]]) -> str:
    """The rows of :func:`numpy_vs_torch` as a text table (times in milliseconds)."""
    return format_table(
        ["layer (C, H)", "kind", "NumPy ms", "PyTorch ms", "NumPy/PyTorch"],
        [[str(tuple(row["layer"])), row["kind"], f"{row['numpy'] * 1e3:.2f}",
          f"{row['torch'] * 1e3:.3f}", f"{row['ratio']:.1f}"] for row in rows])


def main() -> None:
    """Print NumPy vs PyTorch times of 3x3 convolutions on MobileNet-sized layers."""
    print("3x3 convolution, padding 1, batch 1, C -> C channels, float32, one thread")
    print(format_numpy_vs_torch(numpy_vs_torch()))


if __name__ == "__main__":
    main()
