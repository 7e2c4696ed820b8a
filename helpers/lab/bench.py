"""``python -m helpers.lab.bench``: our NumPy convolutions against PyTorch's.

A table of the from-scratch 3x3 convolutions of the earlier chapters against
``torch.nn.functional.conv2d`` on MobileNet-sized layers, one thread each. The
harness is :mod:`helpers.lab.timing`, the layers :mod:`helpers.lab.convs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from helpers.lab.convs import MOBILENET_LAYERS, _check_layers
from helpers.lab.summaries import format_table
from helpers.lab.timing import _check_min_run_time, time_callable

# --------------------------------------------------------------------------
# python -m helpers.lab.bench: NumPy vs PyTorch
# --------------------------------------------------------------------------


def numpy_vs_torch(layers: Sequence[tuple[int, int]] = MOBILENET_LAYERS, *,
                   min_run_time: float = 0.2) -> list[dict[str, object]]:
    """Time our NumPy ``conv2d`` and ``depthwise_conv2d`` against PyTorch, one thread each.

    Returns one row per layer and kind: ``layer``, ``kind``, ``numpy`` and
    ``torch`` seconds, and ``ratio`` = numpy / torch. The layers are checked before
    anything is allocated (at most :data:`helpers.lab.convs.MAX_CHANNELS` channels
    and :data:`helpers.lab.convs.MAX_ACTIVATION` numbers an input).
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
    keys = ("layer", "kind", "numpy", "torch", "ratio")
    if isinstance(rows, str | Mapping) or not isinstance(rows, Sequence):
        raise TypeError(f"rows must be a list of numpy_vs_torch rows, got {type(rows).__name__}")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or any(key not in row for key in keys):
            raise ValueError(f"rows[{i}] must be a numpy_vs_torch row with keys {keys}, "
                             f"got {row!r}")
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
