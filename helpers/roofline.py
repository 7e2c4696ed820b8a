"""The roofline of the machine it runs on, and where a convolution sits under it.

The arithmetic-intensity functions use the *minimal-traffic* model: an
operation reads its input and its weights once and writes its output once, in
float32 (4 bytes a number). Real kernels move at least that much, often more.
Multiply-adds come from :func:`helpers.cost.conv_cost`; measurements go through
:func:`helpers.bench.time_callable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from helpers._validate import check_bool, check_number, check_positive_int
from helpers.bench import LayerTiming, check_timings, time_callable
from helpers.cost import conv_cost

__all__ = ["BYTES_PER_FLOAT32", "Roofline", "arithmetic_intensity", "measure_bandwidth",
           "measure_peak_flops", "measure_roofline", "roofline_points", "traffic_bytes"]

BYTES_PER_FLOAT32 = 4


def traffic_bytes(kind: str, channels: int, size: int, kernel_size: int = 3, *,
                  fused: bool = False) -> int:
    """Bytes a convolution must move at least: read input and weights, write output (float32).

    A ``"separable"`` convolution run as two layers also writes its intermediate
    tensor and reads it back; ``fused=True`` counts it as one operation without
    that round trip.
    """
    weights = conv_cost(kind, channels, size, kernel_size).params  # checks the arguments
    if kind == "separable" and not check_bool(fused, "fused"):
        return (traffic_bytes("depthwise", channels, size, kernel_size)
                + traffic_bytes("pointwise", channels, size, kernel_size))
    check_bool(fused, "fused")
    activation = channels * size * size  # input and output have the same shape here
    return BYTES_PER_FLOAT32 * (activation + weights + activation)


def arithmetic_intensity(kind: str, channels: int, size: int, kernel_size: int = 3, *,
                         fused: bool = False) -> float:
    """FLOPs per byte moved (2 FLOPs a multiply-add), minimal-traffic model."""
    macs = conv_cost(kind, channels, size, kernel_size).macs
    return 2 * macs / traffic_bytes(kind, channels, size, kernel_size, fused=fused)


@dataclass(frozen=True)
class Roofline:
    """The ceilings of a machine: compute (FLOP/s) and memory bandwidth (bytes/s).

    ``bandwidth`` is main memory's (a copy larger than the caches);
    ``cache_bandwidth``, if measured, is that of a copy small enough to stay in
    cache, like the tensors of a single MobileNet layer.
    """

    peak_flops: float  #: FLOP/s of a large float32 matrix product (2 FLOPs a multiply-add)
    bandwidth: float  #: bytes/s of a large tensor copy (bytes read + bytes written)
    threads: int
    cache_bandwidth: float | None = None  #: bytes/s of a small, cache-resident copy

    def __post_init__(self) -> None:
        for name in ("peak_flops", "bandwidth", "cache_bandwidth"):
            value = getattr(self, name)
            if value is not None or name != "cache_bandwidth":
                check_number(value, name, low=0, low_open=True)
        check_positive_int(self.threads, "threads")

    @property
    def ridge_intensity(self) -> float:
        """Intensity (FLOP/byte) where the compute and main-memory ceilings meet."""
        return self.peak_flops / self.bandwidth

    def attainable(self, intensity: float) -> float:
        """The roofline: ``min(peak_flops, bandwidth * intensity)`` in FLOP/s."""
        intensity = check_number(intensity, "intensity", low=0, low_open=True)
        return min(self.peak_flops, self.bandwidth * intensity)

    def bound(self, intensity: float) -> str:
        """``"memory"`` left of the ridge, ``"compute"`` right of it."""
        return "memory" if self.attainable(intensity) < self.peak_flops else "compute"


def measure_peak_flops(*, size: int = 1024, threads: int = 1, min_run_time: float = 0.1) -> float:
    """FLOP/s of a ``size x size`` float32 matrix product (``2 * size**3`` FLOPs)."""
    n = check_positive_int(size, "size")
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=generator)
    b = torch.randn(n, n, generator=generator)
    out = torch.empty(n, n)
    t = time_callable(lambda: torch.mm(a, b, out=out), label="matmul", threads=threads,
                      min_run_time=min_run_time)
    return 2 * n**3 / t.median


def measure_bandwidth(*, nbytes: int = 2**27, threads: int = 1,
                      min_run_time: float = 0.1) -> float:
    """Bytes/s of copying an ``nbytes`` float32 tensor into another (counts read + write).

    The default, 128 MiB, is larger than the caches of most CPUs, so this is the
    bandwidth of main memory; smaller tensors that stay in cache move faster.
    """
    nbytes = check_positive_int(nbytes, "nbytes")
    if nbytes < BYTES_PER_FLOAT32:
        raise ValueError(f"nbytes must be at least {BYTES_PER_FLOAT32}, got {nbytes}")
    n = nbytes // BYTES_PER_FLOAT32
    src = torch.ones(n)
    dst = torch.empty(n)
    t = time_callable(lambda: dst.copy_(src), label="copy", threads=threads,
                      min_run_time=min_run_time)
    return 2 * n * BYTES_PER_FLOAT32 / t.median


def measure_roofline(*, threads: int = 1, matmul_size: int = 1024, copy_bytes: int = 2**27,
                     cache_copy_bytes: int | None = 2**21,
                     min_run_time: float = 0.1) -> Roofline:
    """Measure this machine's compute and memory ceilings at ``threads`` threads.

    ``cache_copy_bytes=None`` skips the cache-resident copy.
    """
    threads = check_positive_int(threads, "threads")
    peak = measure_peak_flops(size=matmul_size, threads=threads, min_run_time=min_run_time)
    bandwidth = measure_bandwidth(nbytes=copy_bytes, threads=threads, min_run_time=min_run_time)
    cache = None
    if cache_copy_bytes is not None:
        cache = measure_bandwidth(nbytes=cache_copy_bytes, threads=threads,
                                  min_run_time=min_run_time)
    return Roofline(peak_flops=peak, bandwidth=bandwidth, threads=threads,
                    cache_bandwidth=cache)


def roofline_points(timings: Sequence[LayerTiming], *, fused: bool = False
                    ) -> list[dict[str, object]]:
    """One point per layer and timed kind: ``kind``, ``layer`` ``(C, H)``, ``intensity``
    (FLOP/byte, minimal traffic) and ``flops`` (achieved FLOP/s), for :func:`plot_roofline`."""
    points: list[dict[str, object]] = []
    for t in check_timings(timings):
        for kind in t.seconds:
            points.append({
                "kind": kind,
                "layer": (t.channels, t.size),
                "intensity": arithmetic_intensity(kind, t.channels, t.size, t.kernel_size,
                                                  fused=fused),
                "flops": t.achieved_flops(kind),
            })
    return points
