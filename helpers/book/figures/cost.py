"""Figures of chapter 6 (cost): theory vs measured speed-up, the roofline,
memory layout and threads. Each function returns a matplotlib Figure and uses
the book's colours for the convolution kinds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from helpers.book.figures.style import KIND_COLORS, annotate_bars
from helpers.core._validate import require_positive_int
from helpers.core.cost import KINDS
from helpers.lab.convs import LayerTiming, compare_timings, require_timings
from helpers.lab.roofline import Roofline

#: One marker per layer, so a layer is recognisable across kinds on the roofline.
LAYER_MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "X", "*")


def _layer_label(timing: LayerTiming) -> str:
    return f"C={timing.channels}\n{timing.size}x{timing.size}"


def plot_speedup(timings: Sequence[LayerTiming], *, title: str | None = None) -> Figure:
    """Bars per layer: the speed-up separable over normal predicted by multiply-adds
    and the one measured."""
    timings = require_timings(timings)
    for i, t in enumerate(timings):
        if not {"normal", "separable"} <= set(t.seconds):
            raise ValueError(f"timings[{i}] must hold times of 'normal' and 'separable'")
    x = np.arange(len(timings))
    width = 0.38
    theory = [t.theoretical_speedup for t in timings]
    measured = [t.measured_speedup for t in timings]
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    color = KIND_COLORS["separable"]
    b1 = ax.bar(x - width / 2, theory, width, label="theory (multiply-adds)", color="white",
                edgecolor=color, hatch="//", linewidth=1.5)
    b2 = ax.bar(x + width / 2, measured, width, label="measured (time)", color=color)
    annotate_bars(ax, b1, "{:.1f}x")
    annotate_bars(ax, b2, "{:.1f}x")
    ax.axhline(1, color="black", linewidth=0.8)
    ax.set_xticks(x, [_layer_label(t) for t in timings])
    ax.set_xlabel("layer (channels in = out, input height x width)")
    ax.set_ylabel("speed-up of separable over normal")
    ax.set_ylim(0, max(max(theory), max(measured)) * 1.12)
    ax.grid(axis="x", visible=False)
    ax.set_title(title or "3x3 convolution: predicted vs measured speed-up")
    fig.legend(loc="outside lower center", ncols=2)
    return fig


def plot_roofline(roofline: Roofline, points: Sequence[Mapping[str, object]], *,
                  title: str | None = None) -> Figure:
    """Log-log roofline with each measured operation placed on it.

    ``points`` holds dicts with ``kind`` (colour), ``layer`` (marker; any label),
    ``intensity`` (FLOP/byte) and ``flops`` (achieved FLOP/s).
    """
    if not isinstance(roofline, Roofline):
        raise TypeError(f"roofline must be a Roofline, got {type(roofline).__name__}")
    if isinstance(points, Mapping) or not isinstance(points, Sequence) or not points:
        raise TypeError("points must be a non-empty list of dicts with kind, layer, "
                        "intensity and flops")
    layers: list[object] = []
    for i, p in enumerate(points):
        missing = {"kind", "layer", "intensity", "flops"} - set(p)
        if missing:
            raise ValueError(f"points[{i}] lacks {sorted(missing)}")
        if p["kind"] not in KIND_COLORS:
            raise ValueError(f"points[{i}]['kind'] must be one of {KINDS}, got {p['kind']!r}")
        if not (float(p["intensity"]) > 0 and float(p["flops"]) > 0):
            raise ValueError(f"points[{i}] needs positive intensity and flops")
        if p["layer"] not in layers:
            layers.append(p["layer"])

    intensities = [float(p["intensity"]) for p in points]
    roofs = roofline.levels or (("DRAM", float("inf"), roofline.bandwidth),)
    ridges = [roofline.peak_flops / bandwidth for _, _, bandwidth in roofs]
    lo = min(*intensities, *ridges) / 4  # every ridge and point inside: no roof is clipped
    hi = max(*intensities, *ridges) * 4
    grid = np.geomspace(lo, hi, 200)
    peak = roofline.peak_flops / 1e9

    fig, ax = plt.subplots(figsize=(8.0, 4.8))
    compute_label = ("compute roof: matrix product" if roofline.peak_source == "matmul"
                     else "compute roof: FMA peak" if roofline.peak_source.startswith("spec")
                     else "compute roof: measured peak")
    ceilings = [ax.axhline(peak, color="black", linewidth=2,
                           label=f"{compute_label}, {peak:.3g} GFLOP/s")]
    if roofline.matmul_flops is not None and roofline.peak_source != "matmul":
        ceilings.append(ax.axhline(roofline.matmul_flops / 1e9, color="black", linewidth=1.2,
                                   linestyle="-.", label="float32 matrix product, "
                                   f"{roofline.matmul_flops / 1e9:.3g} GFLOP/s"))
    if roofline.levels:
        styles = ["--", ":", (0, (5, 1, 1, 1)), (0, (1, 3))]
        for i, (name, _, bandwidth) in enumerate(reversed(roofline.levels)):
            ceilings += ax.plot(grid, np.minimum(peak, bandwidth * grid / 1e9), color="0.35",
                                linewidth=1.6 if name == "DRAM" else 1.1,
                                linestyle="-" if name == "DRAM" else styles[i % len(styles)],
                                label=f"{name} roof: {bandwidth / 1e9:.3g} GB/s")
    else:
        ceilings += ax.plot(grid, np.minimum(peak, roofline.bandwidth * grid / 1e9),
                            color="0.35", linewidth=1.6,
                            label=f"main memory: {roofline.bandwidth / 1e9:.3g} GB/s")
        if roofline.cache_bandwidth is not None:
            ceilings += ax.plot(grid, np.minimum(peak, roofline.cache_bandwidth * grid / 1e9),
                                color="0.35", linewidth=1.1, linestyle="--", zorder=1,
                                label=f"with cache: {roofline.cache_bandwidth / 1e9:.3g} GB/s")
    for (name, _, _), ridge in zip(roofs, ridges, strict=True):  # one ridge per memory roof
        ax.axvline(ridge, color="0.4", linestyle=":", linewidth=1)
        ax.annotate(f"ridge {name}", (ridge, 0.02), xycoords=("data", "axes fraction"),
                    xytext=(3, 0), textcoords="offset points", fontsize=8.5, color="0.3",
                    rotation=90, va="bottom")
    for p in points:
        marker = LAYER_MARKERS[layers.index(p["layer"]) % len(LAYER_MARKERS)]
        ax.scatter(float(p["intensity"]), float(p["flops"]) / 1e9, s=60, marker=marker,
                   color=KIND_COLORS[str(p["kind"])], edgecolor="black", linewidth=0.5,
                   zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    achieved = [float(p["flops"]) / 1e9 for p in points]
    lowest = min(bandwidth for _, _, bandwidth in roofs)
    ax.set_ylim(min(min(achieved), lowest * lo / 1e9) / 1.5, max(max(achieved), peak) * 1.5)
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved)")
    ax.set_ylabel("achieved GFLOP/s")
    ax.set_title(title or f"Roofline of this machine ({roofline.threads} thread"
                          f"{'s' if roofline.threads > 1 else ''}), float32")
    kinds_present = [k for k in KINDS if any(p["kind"] == k for p in points)]
    kind_handles = [Line2D([], [], linestyle="", marker="o", markersize=8,
                           markerfacecolor=KIND_COLORS[k], markeredgecolor="black", label=k)
                    for k in kinds_present]
    layer_handles = [Line2D([], [], linestyle="", marker=LAYER_MARKERS[i % len(LAYER_MARKERS)],
                            markersize=8, markerfacecolor="white", markeredgecolor="black",
                            label=str(layer))
                     for i, layer in enumerate(layers)]
    header = Line2D([], [], linestyle="", marker="", label="layer (C, H):")
    fig.legend(handles=[*ceilings, *kind_handles, header, *layer_handles],
               loc="outside right upper", fontsize=9.5)
    return fig


def _plot_ratio_bars(labels: Sequence[str], ratios: Mapping[str, Sequence[float]], *,
                     reference: float, reference_label: str, ylabel: str, title: str,
                     xlabel: str) -> Figure:
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    x = np.arange(len(labels))
    width = 0.8 / len(ratios)
    for i, (kind, values) in enumerate(ratios.items()):
        bars = ax.bar(x + (i - (len(ratios) - 1) / 2) * width, values, width, label=kind,
                      color=KIND_COLORS.get(kind))
        if len(ratios) <= 2:
            annotate_bars(ax, bars, "{:.2f}")
    ax.axhline(reference, color="black", linestyle="--", linewidth=1, label=reference_label)
    ax.set_xticks(x, labels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    top = max(max(v) for v in ratios.values())
    ax.set_ylim(0, max(top, reference) * 1.1)
    ax.grid(axis="x", visible=False)
    ax.set_title(title)
    fig.legend(loc="outside lower center", ncols=len(ratios) + 1)
    return fig


def _paired_ratios(base: Sequence[LayerTiming], other: Sequence[LayerTiming]
                   ) -> tuple[list[str], dict[str, list[float]]]:
    ratios = compare_timings(base, other)
    return [_layer_label(t) for t in base], ratios


def plot_layout_comparison(contiguous: Sequence[LayerTiming],
                           channels_last: Sequence[LayerTiming]) -> Figure:
    """Speed-up of ``torch.channels_last`` over the default contiguous layout, per layer, kind."""
    labels, ratios = _paired_ratios(contiguous, channels_last)
    return _plot_ratio_bars(labels, ratios, reference=1.0, reference_label="no change",
                            ylabel="time contiguous / time channels_last",
                            xlabel="layer (channels, input height x width)",
                            title="Memory layout: above 1, channels_last is faster")


def plot_thread_scaling(one_thread: Sequence[LayerTiming], many_threads: Sequence[LayerTiming],
                        threads: int) -> Figure:
    """Speed-up of ``threads`` threads over one, per layer and kind; the ideal is ``threads``."""
    threads = require_positive_int(threads, "threads")
    labels, ratios = _paired_ratios(one_thread, many_threads)
    return _plot_ratio_bars(labels, ratios, reference=float(threads),
                            reference_label=f"ideal ({threads}x)",
                            ylabel=f"time 1 thread / time {threads} threads",
                            xlabel="layer (channels, input height x width)",
                            title=f"Threads: speed-up of {threads} threads over one")


def plot_achieved_bandwidth(roofline: Roofline, points: Sequence[Mapping[str, object]], *,
                            title: str | None = None) -> Figure:
    """Achieved bandwidth (minimal traffic / time, GB/s) of each operation and
    layer, against the memory roofs of ``roofline`` as horizontal lines.

    ``points`` as for :func:`plot_roofline`, with ``bytes_per_s`` (see
    :func:`helpers.lab.roofline.roofline_points`).
    """
    if not isinstance(roofline, Roofline):
        raise TypeError(f"roofline must be a Roofline, got {type(roofline).__name__}")
    if isinstance(points, Mapping) or not isinstance(points, Sequence) or not points:
        raise TypeError("points must be a non-empty list of dicts")
    layers: list[object] = []
    for i, p in enumerate(points):
        if "bytes_per_s" not in p or p.get("kind") not in KIND_COLORS:
            raise ValueError(f"points[{i}] needs a kind and bytes_per_s")
        if p["layer"] not in layers:
            layers.append(p["layer"])
    kinds = [k for k in KINDS if any(p["kind"] == k for p in points)]
    fig, ax = plt.subplots(figsize=(8.0, 4.4))
    width = 0.8 / len(kinds)
    for j, kind in enumerate(kinds):
        xs, ys = [], []
        for p in points:
            if p["kind"] == kind:
                xs.append(layers.index(p["layer"]) + (j - (len(kinds) - 1) / 2) * width)
                ys.append(float(p["bytes_per_s"]) / 1e9)
        ax.bar(xs, ys, width=width, color=KIND_COLORS[kind], edgecolor="black",
               linewidth=0.5, label=kind)
    roofs = list(roofline.levels) or [("DRAM", math.inf, roofline.bandwidth)]
    styles = ["--", ":", "-."]
    for i, (name, _, bandwidth) in enumerate(roofs):
        ax.axhline(bandwidth / 1e9, color="0.35", linewidth=1.2,
                   linestyle="-" if name == "DRAM" else styles[i % len(styles)])
        ax.annotate(f"{name} {bandwidth / 1e9:.3g} GB/s", (1.0, bandwidth / 1e9),
                    xycoords=("axes fraction", "data"), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=9, color="0.3")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xticks(range(len(layers)), [str(layer) for layer in layers])
    ax.set_xlabel("layer (C, H)")
    ax.set_ylabel("achieved GB/s (minimal traffic / time)")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=len(kinds),
               fontsize=9)
    ax.set_title(title or f"Bandwidth each operation achieved ({roofline.threads} thread"
                          f"{'s' if roofline.threads > 1 else ''})")
    return fig


def plot_size_sweep(sides: Sequence[int], seconds: Mapping[str, Sequence[float]], *,
                    channels: int) -> Figure:
    """Time per call against the side ``H`` of the ``channels x H x H`` map, one line
    per kind (log-log), with the smallest time drawn as the per-call floor."""
    if isinstance(sides, str) or not isinstance(sides, Sequence) or not sides:
        raise TypeError(f"sides must be a non-empty list of sizes, got {sides!r}")
    if not isinstance(seconds, Mapping) or not seconds:
        raise TypeError(f"seconds must map kinds to lists of times, got {seconds!r}")
    for kind, times in seconds.items():
        if kind not in KIND_COLORS or len(times) != len(sides):
            raise ValueError(f"seconds[{kind!r}] must be a kind of {KINDS} with one time per "
                             "side")
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    for kind, times in seconds.items():
        ax.plot(sides, [t * 1e6 for t in times], marker="o", color=KIND_COLORS[kind],
                label=f"{kind} 3x3")
    floor = min(min(times) for times in seconds.values()) * 1e6
    ax.axhline(floor, color="0.4", linestyle=":", linewidth=1,
               label=f"smallest call: {floor:.3g} µs")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(f"side H of the {channels} x H x H input (batch 1, NHWC)")
    ax.set_ylabel("time per call (µs)")
    ax.set_title("Where the call, the data and the arithmetic dominate")
    ax.legend(fontsize=9.5)
    return fig
