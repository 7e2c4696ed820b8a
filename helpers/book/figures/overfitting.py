"""Figures of chapter 7 (overfitting): one run's learning curves, a measure against
parameter count, and paired differences against an equivalence margin.

Every function returns the Figure. Colours follow the book's kind colours where a
label starts with a convolution kind ("normal", "separable").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from helpers.book.figures.style import CHANNEL_COLORS, KIND_COLORS
from helpers.lab.train import History

#: Colours of the experiment's models (colour-blind-safe, Okabe and Ito).
MODEL_COLORS: dict[str, str] = {
    "normal": KIND_COLORS["normal"],
    "separable": KIND_COLORS["separable"],
    "normal, weight decay": "#CC79A7",  # reddish purple
}


def _model_color(label: str, index: int = 0) -> str:
    """The colour of a model label (its longest known prefix), else the channel palette."""
    if not isinstance(label, str):
        raise TypeError(f"label must be a string, got {type(label).__name__}")
    for known in sorted(MODEL_COLORS, key=len, reverse=True):
        if label.startswith(known):
            return MODEL_COLORS[known]
    return CHANNEL_COLORS[(index + 3) % len(CHANNEL_COLORS)]


def plot_run_curves(runs: Mapping[str, History], *, title: str | None = None) -> Figure:
    """Loss against epoch for one run per label: training dashed, validation
    dotted, test solid, and a marker at the epoch early stopping keeps (the lowest
    validation loss)."""
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a non-empty mapping label -> History")
    for label, history in runs.items():
        if not isinstance(history, History):
            raise TypeError(f"runs[{label!r}] must be a helpers.lab.train.History")
        if not history.val_loss or len(history.test_loss) != len(history.epoch):
            raise ValueError(f"runs[{label!r}] needs validation and test loss at every epoch")
    fig, ax = plt.subplots(figsize=(7, 4.4))
    for i, (label, h) in enumerate(runs.items()):
        color = _model_color(label, i)
        ax.plot(h.epoch, h.train_loss, color=color, linestyle="--", label=f"{label}, training")
        ax.plot(h.epoch, h.val_loss, color=color, linestyle=":", label=f"{label}, validation")
        ax.plot(h.epoch, h.test_loss, color=color, linestyle="-", label=f"{label}, test")
        best = h.best_index()
        ax.plot(h.epoch[best], h.test_loss[best], "o", color=color, markersize=8)
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set(xlabel="epoch", ylabel="cross-entropy loss (log scale)")
    ax.legend(fontsize=8, ncol=2)
    if title:
        ax.set_title(title)
    return fig


def _t_interval(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of the 95 % Student-t interval of ``values``."""
    from scipy import stats

    values = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(half)


def plot_measure_vs_params(params: Mapping[str, Sequence[int]],
                           values: Mapping[str, Sequence[Sequence[float]]], *,
                           ylabel: str, title: str | None = None,
                           zero_line: bool = False) -> Figure:
    """A measure (mean over runs with its 95 % t interval) against parameter count
    (log scale), one line per label; ``values[label][j]`` holds one value per run
    for the network with ``params[label][j]`` parameters."""
    if not isinstance(params, Mapping) or not params or set(params) != set(values):
        raise ValueError("params and values must be non-empty mappings with the same labels")
    fig, ax = plt.subplots(figsize=(7, 4.4))
    for i, (label, counts) in enumerate(params.items()):
        rows = values[label]
        if len(rows) != len(counts) or any(len(r) < 2 for r in rows):
            raise ValueError(f"values[{label!r}] must hold at least two runs per entry of "
                             f"params[{label!r}]")
        means, halves = zip(*(_t_interval(r) for r in rows), strict=True)
        order = np.argsort(counts)
        ax.errorbar(np.asarray(counts)[order], np.asarray(means)[order],
                    yerr=np.asarray(halves)[order], color=_model_color(label, i), marker="o",
                    capsize=4, linewidth=2, label=label)
    if zero_line:
        ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set(xlabel="parameters (log scale)", ylabel=ylabel)
    ax.legend(fontsize=9)
    if title:
        ax.set_title(title)
    return fig


def plot_differences(labels: Sequence[str],
                     intervals: Mapping[str, Sequence[tuple[float, float, float]]],
                     margin: float, *, xlabel: str, title: str | None = None) -> Figure:
    """Paired differences with their intervals, one row per comparison and one
    marker per set of results (``intervals[name][j] = (mean, low, high)`` for
    ``labels[j]``), over the shaded equivalence band ``(-margin, margin)``."""
    if not labels or not isinstance(intervals, Mapping) or not intervals:
        raise ValueError("labels and intervals must not be empty")
    for name, rows in intervals.items():
        if len(rows) != len(labels):
            raise ValueError(f"intervals[{name!r}] has {len(rows)} rows for {len(labels)} labels")
    if not margin > 0:
        raise ValueError(f"margin must be positive, got {margin!r}")
    fig, ax = plt.subplots(figsize=(7, 0.9 + 0.38 * len(labels)))
    ax.axvspan(-margin, margin, color="#999999", alpha=0.25, linewidth=0,
               label="equivalence margin")
    ax.axvline(0, color="black", linewidth=0.8)
    offsets = np.linspace(-0.15, 0.15, len(intervals)) if len(intervals) > 1 else [0.0]
    for k, (name, rows) in enumerate(intervals.items()):
        y = np.arange(len(labels)) + offsets[k]
        mean, low, high = (np.array(v) for v in zip(*rows, strict=True))
        ax.errorbar(mean, y, xerr=[mean - low, high - mean], fmt="os"[k % 2], capsize=3,
                    color=CHANNEL_COLORS[(k + 2) % len(CHANNEL_COLORS)], label=name)
    ax.set_yticks(range(len(labels)), list(labels))
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set(xlabel=xlabel, ylabel="comparison (a - b)")
    ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title)
    return fig
