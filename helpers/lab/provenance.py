"""Where a measurement comes from: the machine, the libraries, the kernels, the date.

- :func:`machine`: CPU model and SIMD flags, logical CPUs, platform, library
  versions (PyTorch, NumPy, MKL, oneDNN from ``torch.__config__.show()``, the
  CPU capability ATen dispatches to) and the date (UTC).
- :func:`dispatch`: the kernels one call ran, from PyTorch's profiler (ATen
  operator names such as ``aten::mkldnn_convolution`` or ``aten::thnn_conv2d``)
  and oneDNN's verbose log (:func:`helpers.lab.onednn.onednn_primitives`).
"""

from __future__ import annotations

import datetime
import os
import platform
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from helpers.core._validate import require_callable
from helpers.lab.onednn import onednn_primitives

__all__ = ["SIMD_FLAGS", "dispatch", "machine", "simd_lanes"]

#: The /proc/cpuinfo flags that say which vector instructions the CPU has.
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16",
              "avx_vnni", "amx_tile", "hypervisor")

#: Profiler events that are bookkeeping, not the kernel.
_BOOKKEEPING = {"aten::empty", "aten::empty_like", "aten::resize_", "aten::as_strided_",
                "aten::as_strided", "aten::zeros", "aten::zero_", "aten::fill_",
                "aten::empty_strided", "aten::view", "aten::reshape", "aten::t",
                "aten::transpose", "aten::expand", "aten::contiguous", "aten::detach",
                "aten::to", "aten::_to_copy", "aten::copy_", "aten::select", "aten::slice",
                "aten::unsqueeze", "aten::squeeze", "aten::alias", "aten::clone"}


def _cpuinfo() -> dict[str, str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def _config_version(pattern: str) -> str:
    match = re.search(pattern, torch.__config__.show())
    return match.group(1).strip() if match else "absent"


def machine() -> dict[str, object]:
    """The provenance of a run on this machine (plain JSON-ready values)."""
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    return {
        "cpu": info.get("model name") or platform.processor() or "unknown",
        "flags": [f for f in SIMD_FLAGS if f in flags],
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "mkl": _config_version(r"Math Kernel Library Version ([^\n]*?)(?: for|\n)"),
        "onednn": _config_version(r"MKL-DNN (v[\d.]+)"),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def simd_lanes(flags: list[str] | tuple[str, ...]) -> tuple[int, int]:
    """``(float32 lanes of a vector, FMA units assumed)`` from SIMD flags: 16 lanes
    with AVX-512, 8 with AVX/AVX2, 4 otherwise; two FMA units where the CPU has
    FMA (most recent x86 cores; some have one, which only doubles the clock
    implied by a measured peak)."""
    lanes = 16 if "avx512f" in flags else 8 if ("avx2" in flags or "avx" in flags) else 4
    return lanes, 2 if ("fma" in flags or "avx512f" in flags) else 1


def dispatch(fn: Callable[[], object]) -> dict[str, list[str]]:
    """The kernels ``fn()`` ran: ``{"aten": [...], "onednn": [...]}``.

    ``aten``: the distinct ATen operators PyTorch's profiler recorded, in order,
    without bookkeeping (allocations, views); ``onednn``: ``"kind impl"`` of
    each oneDNN primitive executed (e.g. ``"convolution brdgmm_dw:avx2"``),
    empty when the call does not reach oneDNN.
    """
    require_callable(fn, "fn", "a function of no arguments")
    fn()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    aten: list[str] = []
    for event in prof.events():
        name = event.name
        if name.startswith("aten::") and name not in _BOOKKEEPING and name not in aten:
            aten.append(name)
    onednn = [f"{p['kind']} {p['impl']}" for p in onednn_primitives(fn)]
    return {"aten": aten, "onednn": onednn}
