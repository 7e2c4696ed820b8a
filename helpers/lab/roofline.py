"""The roofline of the machine it runs on, and where a convolution sits under it.

The arithmetic-intensity functions use the *minimal-traffic* model: an
operation reads its input and its weights once and writes its output once, in
float32 (4 bytes a number). Real kernels move at least that much, often more.
Multiply-adds come from :func:`helpers.core.cost.conv_cost`; measurements go through
:func:`helpers.lab.timing.time_callable`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from helpers.core._validate import require_bool, require_int, require_number, require_positive_int
from helpers.core.cost import conv_cost
from helpers.core.threads import MAX_THREADS
from helpers.lab.convs import LayerTiming, require_timings
from helpers.lab.timing import MAX_REPEATS, _check_min_run_time, time_callable

__all__ = ["BYTES_PER_FLOAT32", "MAX_COPY_BYTES", "MAX_MATMUL_SIZE", "Roofline",
           "arithmetic_intensity", "cache_sizes", "cpu_spec", "measure_bandwidth",
           "measure_peak_flops", "measure_roofline", "roofline_points", "traffic_bytes"]

BYTES_PER_FLOAT32 = 4

#: The largest matrix :func:`measure_peak_flops` multiplies (``size``): three
#: float32 matrices of 4096 x 4096 take 200 MB.
MAX_MATMUL_SIZE = 4096

#: The largest tensor :func:`measure_bandwidth` copies (``nbytes``): 512 MiB, so
#: 1 GiB for source and destination, more than the caches of any CPU.
MAX_COPY_BYTES = 2**29


def traffic_bytes(kind: str, channels: int, size: int, kernel_size: int = 3, *,
                  fused: bool = False) -> int:
    """Bytes a convolution must move at least: read input and weights, write output (float32).

    A ``"separable"`` convolution run as two layers also writes its intermediate
    tensor and reads it back; ``fused=True`` counts it as one operation without
    that round trip.
    """
    weights = conv_cost(kind, channels, size, kernel_size).params  # checks the arguments
    if kind == "separable" and not require_bool(fused, "fused"):
        return (traffic_bytes("depthwise", channels, size, kernel_size)
                + traffic_bytes("pointwise", channels, size, kernel_size))
    require_bool(fused, "fused")
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

    peak_flops: float  #: FLOP/s of the compute roof (FMA peak from the spec, else the matmul)
    bandwidth: float  #: bytes/s of a large tensor copy (main memory)
    threads: int
    cache_bandwidth: float | None = None  #: bytes/s of a small, cache-resident copy
    #: FLOP/s of a large float32 matrix product: a ceiling beneath the peak
    matmul_flops: float | None = None
    #: where ``peak_flops`` comes from, e.g. ``"spec: 2.6 GHz x 16 lanes x 2 FMA units x 2"``
    peak_source: str = "matmul"
    #: memory roofs ``(name, capacity in bytes, bytes/s)`` from the smallest cache to main
    #: memory (capacity ``math.inf``)
    levels: tuple[tuple[str, float, float], ...] = ()

    def __post_init__(self) -> None:
        for name in ("peak_flops", "bandwidth", "cache_bandwidth", "matmul_flops"):
            value = getattr(self, name)
            if value is not None or name in ("peak_flops", "bandwidth"):
                require_number(value, name, low=0, low_open=True)
        require_positive_int(self.threads, "threads", maximum=MAX_THREADS)
        if not isinstance(self.peak_source, str):
            raise TypeError(f"peak_source must be a str, got {self.peak_source!r}")
        if not isinstance(self.levels, tuple | list):
            raise TypeError(f"levels must be a tuple of (name, capacity, bytes/s), got "
                            f"{self.levels!r}")
        for i, level in enumerate(self.levels):
            if not isinstance(level, tuple | list) or len(level) != 3 or \
                    not isinstance(level[0], str):
                raise TypeError(f"levels[{i}] must be (name, capacity in bytes, bytes/s), "
                                f"got {level!r}")
            if level[1] != math.inf:  # main memory's capacity is math.inf
                require_number(level[1], f"levels[{i}] capacity", low=0, low_open=True)
            require_number(level[2], f"levels[{i}] bandwidth", low=0, low_open=True)

    @property
    def ridge_intensity(self) -> float:
        """Intensity (FLOP/byte) where the compute and main-memory ceilings meet."""
        return self.peak_flops / self.bandwidth

    def attainable(self, intensity: float) -> float:
        """The roofline: ``min(peak_flops, bandwidth * intensity)`` in FLOP/s."""
        intensity = require_number(intensity, "intensity", low=0, low_open=True)
        return min(self.peak_flops, self.bandwidth * intensity)

    def bound(self, intensity: float) -> str:
        """``"memory"`` left of the ridge, ``"compute"`` right of it."""
        return "memory" if self.attainable(intensity) < self.peak_flops else "compute"

    def roof_for(self, working_set: float) -> tuple[str, float]:
        """The memory roof ``(name, bytes/s)`` that applies to a repeated operation
        whose tensors take ``working_set`` bytes: the smallest level that holds
        them (main memory without measured levels)."""
        working_set = require_number(working_set, "working_set", low=0, low_open=True)
        for name, capacity, bandwidth in self.levels:
            if working_set <= capacity:
                return name, bandwidth
        return "DRAM", self.bandwidth

    def verdict(self, intensity: float, achieved_flops: float, working_set: float,
                *, margin: float = 1.6) -> tuple[str, float, str]:
        """What limits an operation: ``(verdict, factor, roof)``; ``roof`` is the
        binding roof (``"compute"`` or the memory level), whatever the verdict.

        ``factor`` is how far below its attainable performance (the lower of the
        compute roof and the memory roof of :meth:`roof_for`) the operation ran.
        Within ``margin`` of it, the verdict is ``"compute-bound"`` or
        ``"bandwidth-bound"``; more than ``margin**2`` below it,
        ``"below both roofs"`` (the implementation or per-call overhead limits
        it); in between, ``"borderline"``.
        """
        intensity = require_number(intensity, "intensity", low=0, low_open=True)
        achieved_flops = require_number(achieved_flops, "achieved_flops", low=0, low_open=True)
        margin = require_number(margin, "margin", low=1, low_open=True)
        roof, bandwidth = self.roof_for(working_set)
        memory = bandwidth * intensity
        factor = min(self.peak_flops, memory) / achieved_flops
        compute = self.peak_flops <= memory
        binding = "compute" if compute else roof
        if factor <= margin:
            return ("compute-bound" if compute else "bandwidth-bound"), factor, binding
        if factor >= margin * margin:
            return "below both roofs", factor, binding
        return "borderline", factor, binding


def cpu_spec() -> dict[str, object] | None:
    """The CPU's name, clock (GHz) and float32 SIMD lanes from ``/proc/cpuinfo``
    (Linux), with the FMA peak of one core assuming two FMA units:
    ``GHz x lanes x 2 units x 2 FLOPs``. ``None`` where that file is missing.

    The clock is the one the file reports now (it varies with turbo and power
    saving), and the number of FMA units is an assumption (two on most recent
    x86 server and desktop cores, one on some): a nominal peak, not a measured one.
    """
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    try:
        ghz = float(fields["cpu MHz"]) / 1000
    except (KeyError, ValueError):
        return None
    flags = set(fields.get("flags", "").split())
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags or "avx" in flags else 4
    units = 2 if "fma" in flags or "avx512f" in flags else 1
    fma = 2 if "fma" in flags or "avx512f" in flags else 1  # FLOPs per lane per unit
    return {"model": fields.get("model name", "unknown CPU"), "ghz": ghz, "lanes": lanes,
            "fma_units": units, "peak_flops": ghz * 1e9 * lanes * units * fma,
            "source": f"spec: {ghz:.2f} GHz x {lanes} lanes x {units} FMA units x {fma}"}


def cache_sizes() -> dict[str, int]:
    """Data-cache sizes in bytes by level (``{"L1": ..., "L2": ..., "L3": ...}``) from
    Linux's sysfs; an empty dict where it is missing."""
    sizes: dict[str, int] = {}
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for index in sorted(base.glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = int((index / "level").read_text())
            size = (index / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        if kind == "Instruction":
            continue
        units = {"K": 2**10, "M": 2**20, "G": 2**30}
        value = int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)
        sizes[f"L{level}"] = value
    return sizes


def _check_timing(threads: object, min_run_time: object, repeats: object) -> dict[str, object]:
    """The timing arguments of the measurements, checked before anything is allocated."""
    return {"threads": require_positive_int(threads, "threads", maximum=MAX_THREADS),
            "min_run_time": _check_min_run_time(min_run_time),
            "repeats": require_positive_int(repeats, "repeats", maximum=MAX_REPEATS)}


def measure_peak_flops(*, size: int = 1024, threads: int = 1, min_run_time: float = 0.1,
                       repeats: int = 1) -> float:
    """FLOP/s of a ``size x size`` float32 matrix product (``2 * size**3`` FLOPs);
    ``size`` is at most :data:`MAX_MATMUL_SIZE`."""
    n = require_positive_int(size, "size", maximum=MAX_MATMUL_SIZE)
    timing = _check_timing(threads, min_run_time, repeats)
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=generator)
    b = torch.randn(n, n, generator=generator)
    out = torch.empty(n, n)
    t = time_callable(lambda: torch.mm(a, b, out=out), label="matmul", **timing)
    return 2 * n**3 / t.median


def measure_bandwidth(*, nbytes: int = 2**27, threads: int = 1,
                      min_run_time: float = 0.1, write_allocate: bool = False,
                      repeats: int = 1) -> float:
    """Bytes/s of copying an ``nbytes`` float32 tensor into another.

    A copy reads ``nbytes`` and writes ``nbytes``: by default its compulsory
    traffic, ``2 * nbytes``, counted the same way as the operations' bytes
    (:func:`traffic_bytes`). ``write_allocate=True`` also counts the read of each
    destination line that a write-allocate cache does before writing it,
    ``3 * nbytes`` in all. The default, 128 MiB, is larger than the caches
    of most CPUs, so this is the bandwidth of main memory; smaller tensors that
    stay in cache move faster. ``nbytes`` is at most :data:`MAX_COPY_BYTES`.
    """
    write_allocate = require_bool(write_allocate, "write_allocate")
    nbytes = require_int(nbytes, "nbytes", minimum=BYTES_PER_FLOAT32, maximum=MAX_COPY_BYTES)
    timing = _check_timing(threads, min_run_time, repeats)
    n = nbytes // BYTES_PER_FLOAT32
    src = torch.ones(n)
    dst = torch.empty(n)
    t = time_callable(lambda: dst.copy_(src), label="copy", **timing)
    return (3 if write_allocate else 2) * n * BYTES_PER_FLOAT32 / t.median


def measure_roofline(*, threads: int = 1, matmul_size: int = 1024, copy_bytes: int = 2**27,
                     cache_copy_bytes: int | None = 2**21,
                     min_run_time: float = 0.1, levels: bool = False,
                     repeats: int = 1) -> Roofline:
    """Measure this machine's compute and memory ceilings at ``threads`` threads.

    The compute roof is the FMA peak of :func:`cpu_spec` times ``threads`` where
    the spec is known and above the measured matrix product, else the matrix
    product itself; the matrix product is kept as ``matmul_flops``, a ceiling
    beneath it. ``cache_copy_bytes=None`` skips the cache-resident copy.
    ``levels=True`` also measures a copy that fits each cache level of
    :func:`cache_sizes` (a quarter of the level: source and destination take
    half), giving one memory roof per level. Levels under 512 KiB (usually L1)
    are left out: a copy that small takes about as long as the call itself, so
    it would measure PyTorch's overhead, not the cache; operations that fit
    there get the next level's roof. ``repeats``: see
    :func:`helpers.lab.timing.time_callable`. Every argument is checked before
    anything is measured.
    """
    timing = _check_timing(threads, min_run_time, repeats)
    threads = timing["threads"]
    levels = require_bool(levels, "levels")
    require_positive_int(matmul_size, "matmul_size", maximum=MAX_MATMUL_SIZE)
    for name, value in (("copy_bytes", copy_bytes), ("cache_copy_bytes", cache_copy_bytes)):
        if value is not None or name == "copy_bytes":
            require_int(value, name, minimum=BYTES_PER_FLOAT32, maximum=MAX_COPY_BYTES)
    matmul = measure_peak_flops(size=matmul_size, **timing)
    bandwidth = measure_bandwidth(nbytes=copy_bytes, **timing)
    cache = None
    if cache_copy_bytes is not None:
        cache = measure_bandwidth(nbytes=cache_copy_bytes, **timing)
    spec = cpu_spec()
    peak, source = matmul, "matmul"
    if spec is not None and float(spec["peak_flops"]) * threads > matmul:
        peak = float(spec["peak_flops"]) * threads
        source = f"{spec['source']}" + (f" x {threads} cores" if threads > 1 else "")
    roofs: list[tuple[str, float, float]] = []
    if levels:
        for name, size in cache_sizes().items():
            if size < 2**19:
                continue
            copy = max(BYTES_PER_FLOAT32, size // 4)
            roofs.append((name, float(size), measure_bandwidth(nbytes=copy, **timing)))
        roofs.append(("DRAM", math.inf, bandwidth))
    return Roofline(peak_flops=peak, bandwidth=bandwidth, threads=threads,
                    cache_bandwidth=cache, matmul_flops=matmul, peak_source=source,
                    levels=tuple(roofs))


def roofline_points(timings: Sequence[LayerTiming], *, fused: bool = False
                    ) -> list[dict[str, object]]:
    """One point per layer and timed kind: ``kind``, ``layer`` ``(C, H)``, ``intensity``
    (FLOP/byte, minimal traffic), ``flops`` (achieved FLOP/s), ``bytes`` (minimal
    traffic, also the working set of a repeated call) and ``bytes_per_s`` (achieved
    bandwidth), for :func:`plot_roofline`."""
    points: list[dict[str, object]] = []
    for t in require_timings(timings):
        for kind in t.seconds:
            moved = traffic_bytes(kind, t.channels, t.size, t.kernel_size, fused=fused)
            points.append({
                "kind": kind,
                "layer": (t.channels, t.size),
                "intensity": arithmetic_intensity(kind, t.channels, t.size, t.kernel_size,
                                                  fused=fused),
                "flops": t.achieved_flops(kind),
                "bytes": moved,
                "bytes_per_s": moved / t.seconds[kind],
            })
    return points
