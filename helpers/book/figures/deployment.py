"""Figures of the chapter "After the forward pass": training cost, activation
memory, per-channel weight ranges and quantization, and whole-network latency.

Every function returns a :class:`matplotlib.figure.Figure` drawn in the book's
style (:data:`helpers.book.figures.style.BOOK_STYLE`: white background, so it reads in light
and dark themes) with the book's colours (:data:`helpers.book.figures.style.KIND_COLORS`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from helpers.book.figures.style import CHANNEL_COLORS, KIND_COLORS, annotate_bars, book_style

__all__ = [
    "plot_channel_ranges",
    "plot_int8_accuracy",
    "plot_latency",
    "plot_memory",
    "plot_training_speedup",
]

#: Colours: per-tensor quantization (vermillion), per-channel (the separable green).
PER_TENSOR_COLOR = CHANNEL_COLORS[0]
PER_CHANNEL_COLOR = KIND_COLORS["separable"]
#: Light and dark shade of one colour for paired bars (forward, forward + backward).
_FORWARD_COLOR = "#7FCEB9"


def _numbers(values: object, name: str, *, positive: bool = False,
             length: int | None = None) -> list[float]:
    """``values`` as a list of finite floats (NumPy scalars and arrays welcome)."""
    if isinstance(values, str | bytes | Mapping):
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}")
    try:
        items = list(values.ravel() if isinstance(values, np.ndarray)
                     else values)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}") from None
    if not items:
        raise ValueError(f"{name} must not be empty")
    out = []
    for v in items:
        if hasattr(v, "item") and not isinstance(v, numbers.Real):
            v = v.item()  # a 0-d tensor
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must hold numbers, got {v!r}")
        v = float(v)
        if not math.isfinite(v) or (positive and v <= 0) or v < 0:
            kind = "positive" if positive else "non-negative"
            raise ValueError(f"{name} must hold finite {kind} numbers, got {v!r}")
        out.append(v)
    if length is not None and len(out) != length:
        raise ValueError(f"{name} must have {length} values (one per label), got {len(out)}")
    return out


def _labels(labels: object, name: str = "labels") -> list[str]:
    if isinstance(labels, str) or not isinstance(labels, Sequence) or not labels:
        raise TypeError(f"{name} must be a non-empty sequence of strings, got {labels!r}")
    if not all(isinstance(label, str) for label in labels):
        raise TypeError(f"{name} must hold strings, got {labels!r}")
    return list(labels)


def _plain_log_axis(axis) -> None:
    """Label a log axis at 1, 2, 5 times powers of ten, in plain numbers."""
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def plot_training_speedup(labels: Sequence[str], predicted: Sequence[float],
                          forward: Sequence[float], forward_backward: Sequence[float], *,
                          title: str | None = None) -> Figure:
    """Bars per layer: speed-up of separable over normal convolution predicted
    by multiply-adds (hatched), measured for the forward pass alone, and measured
    for a training step (forward and backward)."""
    labels = _labels(labels)
    n = len(labels)
    series = {
        "predicted (multiply-adds)": _numbers(predicted, "predicted", positive=True, length=n),
        "measured: forward": _numbers(forward, "forward", positive=True, length=n),
        "measured: forward + backward": _numbers(forward_backward, "forward_backward",
                                                 positive=True, length=n),
    }
    with book_style():
        fig, ax = plt.subplots(figsize=(7.4, 4.4))
        x = np.arange(n)
        width = 0.27
        color = KIND_COLORS["separable"]
        styles = (dict(color="white", edgecolor=color, hatch="//", linewidth=1.5),
                  dict(color=_FORWARD_COLOR, edgecolor=color, linewidth=1.0),
                  dict(color=color))
        for i, ((label, values), style) in enumerate(zip(series.items(), styles, strict=True)):
            bars = ax.bar(x + (i - 1) * width, values, width, label=label, **style)
            annotate_bars(ax, bars, "{:.1f}x")
        ax.axhline(1, color="black", linewidth=0.8)
        ax.set_xticks(x, labels)
        ax.set_xlabel("layer (channels in = out, input height x width)")
        ax.set_ylabel("speed-up of separable over normal")
        ax.set_ylim(0, max(max(v) for v in series.values()) * 1.15)
        ax.grid(axis="x", visible=False)
        ax.set_title(title or "Does the separable speed-up survive the backward pass?")
        fig.legend(loc="outside lower center", ncols=3, fontsize=9.5)
    return fig


def plot_memory(models: Mapping[str, Mapping[str, float]], *,
                title: str | None = None) -> Figure:
    """Grouped bars, log scale: megabytes of each item (e.g. weights, training
    state, activations at two batch sizes) for each model.

    ``models`` maps a model's name to a mapping item -> megabytes; every model
    must list the same items in the same order.
    """
    if not isinstance(models, Mapping) or not models:
        raise TypeError(f"models must be a non-empty mapping name -> {{item: MB}}, got {models!r}")
    items: list[str] | None = None
    for name, values in models.items():
        if not isinstance(name, str) or not isinstance(values, Mapping) or not values:
            raise TypeError(f"models[{name!r}] must be a non-empty mapping item -> MB")
        if items is None:
            items = list(values)
        elif list(values) != items:
            raise ValueError(f"models[{name!r}] must list the items {items}, got {list(values)}")
        _numbers(list(values.values()), f"models[{name!r}]", positive=True)
    assert items is not None
    colors = ("#4D4D4D", "#999999", CHANNEL_COLORS[2], CHANNEL_COLORS[0], CHANNEL_COLORS[3])
    with book_style():
        fig, ax = plt.subplots(figsize=(7.4, 4.6))
        x = np.arange(len(models))
        width = 0.8 / len(items)
        for i, item in enumerate(items):
            values = [float(models[name][item]) for name in models]
            bars = ax.bar(x + (i - (len(items) - 1) / 2) * width, values, width, label=item,
                          color=colors[i % len(colors)])
            for bar in bars:
                height = bar.get_height()
                ax.annotate(f"{height:,.0f}" if height >= 10 else f"{height:.1f}",
                            (bar.get_x() + bar.get_width() / 2, height), xytext=(0, 2),
                            textcoords="offset points", ha="center", va="bottom", fontsize=8.5)
        ax.set_yscale("log")
        _plain_log_axis(ax.yaxis)
        ax.set_xticks(x, list(models))
        ax.set_ylabel("megabytes (float32)")
        ax.grid(axis="x", visible=False)
        every = [float(v) for values in models.values() for v in values.values()]
        ax.set_ylim(min(every) / 3, max(every) * 3)
        ax.set_title(title or "Training memory: weights vs activations kept for backward")
        fig.legend(loc="outside lower center", ncols=min(len(items), 3), fontsize=9.5)
    return fig


def plot_channel_ranges(ranges: Sequence[float], per_tensor_error: Sequence[float],
                        per_channel_error: Sequence[float], *, layer: str = "",
                        bits: int = 8) -> Figure:
    """Two panels over the output channels of one layer, sorted by range: the
    largest absolute weight of each channel (top), and each channel's relative
    quantization error with one scale per tensor and one per channel (bottom,
    log scale)."""
    ranges_ = _numbers(ranges, "ranges", positive=True)
    n = len(ranges_)
    tensor_err = _numbers(per_tensor_error, "per_tensor_error", length=n)
    channel_err = _numbers(per_channel_error, "per_channel_error", length=n)
    if isinstance(layer, bool) or not isinstance(layer, str):
        raise TypeError(f"layer must be a str, got {layer!r}")
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or bits < 2:
        raise ValueError(f"bits must be an int >= 2, got {bits!r}")
    order = np.argsort(ranges_)
    x = np.arange(n)
    with book_style():
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.4, 5.6), sharex=True)
        top.bar(x, np.asarray(ranges_)[order], color=KIND_COLORS["depthwise"], width=0.8)
        top.set_ylabel("largest |weight|")
        top.set_title(f"{layer + ': ' if layer else ''}per-channel weight range after "
                      "folding batch norm")
        top.grid(axis="x", visible=False)
        bottom.plot(x, 100 * np.asarray(tensor_err)[order], marker="o", linestyle="-",
                    color=PER_TENSOR_COLOR, label="one scale per tensor")
        bottom.plot(x, 100 * np.asarray(channel_err)[order], marker="s", linestyle="-",
                    color=PER_CHANNEL_COLOR, label="one scale per channel")
        bottom.set_yscale("log")
        _plain_log_axis(bottom.yaxis)
        bottom.set_ylabel(f"{bits}-bit error (% of\nthe channel's weights)")
        bottom.set_xlabel("output channel, sorted by range")
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
        fig.legend(loc="outside lower center", ncols=2)
    return fig


def plot_int8_accuracy(accuracy: Mapping[str, Sequence[float]],
                       float_accuracy: Sequence[float], *, title: str = "") -> Figure:
    """Test accuracy (fractions in [0, 1], shown in percent) of every run under each
    int8 configuration, one column of dots a configuration, each run's float
    accuracy in the first column; a run's dots are joined across the columns, so
    a run that collapses under one configuration only stands out."""
    if not isinstance(accuracy, Mapping) or not accuracy:
        raise TypeError(f"accuracy must be a non-empty mapping of configuration to "
                        f"accuracies, got {accuracy!r}")
    floats = _numbers(float_accuracy, "float_accuracy")
    n = len(floats)
    columns = {"float32": floats}
    for name, values in accuracy.items():
        columns[str(name)] = _numbers(values, f"accuracy[{name!r}]", length=n)
    if max(max(v) for v in columns.values()) > 1 or min(min(v) for v in columns.values()) < 0:
        raise ValueError("accuracies must be fractions in [0, 1]")
    if isinstance(title, bool) or not isinstance(title, str):
        raise TypeError(f"title must be a str, got {title!r}")
    names = list(columns)
    colors = ["black"] + [PER_TENSOR_COLOR if "tensor" in k else PER_CHANNEL_COLOR
                          for k in names[1:]]
    with book_style():
        fig, ax = plt.subplots(figsize=(7.4, 4.4))
        values = np.array([columns[k] for k in names]) * 100  # (configurations, runs)
        for run in range(n):
            ax.plot(range(len(names)), values[:, run], color="#BBBBBB", linewidth=0.8,
                    zorder=1)
        for i, color in enumerate(colors):
            ax.scatter(np.full(n, i), values[i], color=color, s=28, zorder=2,
                       edgecolor="white", linewidth=0.5)
        ax.set_xticks(range(len(names)), [k.replace(" ", "\n", 1) for k in names])
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(0, 100)
        ax.set_title(title or "Static int8 quantization of the trained digits networks")
    return fig


def plot_latency(labels: Sequence[str], separable_ms: Sequence[float],
                 normal_ms: Sequence[float], predicted_ratio: float, *,
                 title: str | None = None) -> Figure:
    """Bars per setting (batch, memory layout): milliseconds per image of
    MobileNetV1 and of its all-normal twin, log scale, each pair annotated
    with the measured ratio; the title gives the ratio multiply-adds predict."""
    labels = _labels(labels)
    n = len(labels)
    sep = _numbers(separable_ms, "separable_ms", positive=True, length=n)
    normal = _numbers(normal_ms, "normal_ms", positive=True, length=n)
    (predicted,) = _numbers([predicted_ratio], "predicted_ratio", positive=True)
    with book_style():
        fig, ax = plt.subplots(figsize=(7.4, 4.4))
        x = np.arange(n)
        width = 0.38
        ax.bar(x - width / 2, sep, width, color=KIND_COLORS["separable"],
               label="MobileNetV1 (separable)")
        ax.bar(x + width / 2, normal, width, color=KIND_COLORS["normal"],
               label="all-normal twin")
        for i in range(n):
            ax.annotate(f"{normal[i] / sep[i]:.1f}x", (x[i], max(sep[i], normal[i])),
                        xytext=(0, 4), textcoords="offset points", ha="center",
                        va="bottom", fontsize=10, fontweight="bold")
        ax.set_yscale("log")
        _plain_log_axis(ax.yaxis)
        ax.set_ylim(min(sep) / 2, max(normal) * 3)
        ax.set_xticks(x, labels)
        ax.set_xlabel("batch and memory layout")
        ax.set_ylabel("milliseconds per image")
        ax.grid(axis="x", visible=False)
        ax.set_title(title or f"Whole network: measured ratio (bold) vs {predicted:.1f}x "
                              "predicted by multiply-adds")
        fig.legend(loc="outside lower center", ncols=2)
    return fig
