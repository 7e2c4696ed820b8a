"""Figures of chapter 7 (overfitting), training runs: learning curves, generalisation gaps, accuracy
against parameter count, and results against training-set size.

Every function takes results grouped by model (a mapping from a label such as
``"normal"`` to one value or :class:`~helpers.lab.train.History` per seed), draws
the mean over seeds with the spread (min to max) shaded or as error bars, and
returns the Figure. Accuracies and gaps are passed as fractions and drawn in
percent (gaps in percentage points). Colours follow the book's kind colours where
a label names a convolution kind; :data:`MODEL_COLORS` adds the wide separable network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from helpers.book.figures.style import CHANNEL_COLORS, KIND_COLORS
from helpers.lab.train import History

#: Colours of the experiment's models (colour-blind-safe, Okabe and Ito).
MODEL_COLORS: dict[str, str] = {
    "normal": KIND_COLORS["normal"],
    "separable": KIND_COLORS["separable"],
    "wide separable": "#CC79A7",  # reddish purple
}


def model_color(label: str, index: int = 0) -> str:
    """The colour of a model label, falling back to the channel palette."""
    if label in MODEL_COLORS:
        return MODEL_COLORS[label]
    return CHANNEL_COLORS[(index + 3) % len(CHANNEL_COLORS)]


def _check_groups(groups: object, name: str) -> Mapping[str, Sequence]:
    if not isinstance(groups, Mapping) or not groups:
        raise ValueError(f"{name} must be a non-empty mapping label -> values per seed, "
                         f"got {groups!r}"[:200])
    for label, values in groups.items():
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"{name}[{label!r}] must be a non-empty sequence (one entry a seed)")
    return groups


def _histories(groups: object) -> Mapping[str, Sequence[History]]:
    groups = _check_groups(groups, "histories")
    for label, runs in groups.items():
        if not all(isinstance(h, History) for h in runs):
            raise TypeError(f"histories[{label!r}] must hold helpers.lab.train.History objects")
        if len({tuple(h.epoch) for h in runs}) != 1:
            raise ValueError(f"histories[{label!r}]: the runs recorded different epochs")
        if not runs[0].val_acc:
            raise ValueError(f"histories[{label!r}] has no validation metrics")
    return groups


def _band(ax: Axes, x: Sequence[float], rows: np.ndarray, color: str, label: str | None,
          linestyle: str = "-", marker: str | None = None) -> None:
    """Mean line of ``rows`` (seeds x points) with the min-max band."""
    ax.plot(x, rows.mean(axis=0), color=color, linestyle=linestyle, marker=marker, label=label)
    if len(rows) > 1:
        ax.fill_between(x, rows.min(axis=0), rows.max(axis=0), color=color, alpha=0.15,
                        linewidth=0)


def plot_learning_curves(histories: Mapping[str, Sequence[History]], *,
                         title: str | None = None) -> Figure:
    """Loss and accuracy against epoch: training dashed, validation solid.

    One colour per model; lines are the mean over seeds and the shading spans
    the seeds' minimum to maximum.
    """
    histories = _histories(histories)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4.8))
    for i, (label, runs) in enumerate(histories.items()):
        color, epochs = model_color(label, i), runs[0].epoch
        for ax, metric in ((ax_loss, "loss"), (ax_acc, "acc")):
            for split, style in (("train", "--"), ("val", "-")):
                rows = np.array([getattr(h, f"{split}_{metric}") for h in runs])
                if metric == "acc":
                    rows = 100 * rows
                name = f"{label}, {'training' if split == 'train' else 'validation'}"
                _band(ax, epochs, rows, color, name, linestyle=style)
    ax_loss.set_yscale("log")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss (log scale)", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    low = min(min(h.val_acc + h.train_acc) for runs in histories.values() for h in runs)
    ax_acc.set_ylim(max(0.0, 100 * low - 2), 100.5)
    handles, labels = ax_acc.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(histories), fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


def plot_generalisation_gap(gaps: Mapping[str, Sequence[float]], *,
                            ylabel: str = "training - validation accuracy\n(percentage points)",
                            title: str | None = "Generalisation gap at the end of training"
                            ) -> Figure:
    """Bar chart of the mean gap per model, with each seed's gap as a dot."""
    gaps = _check_groups(gaps, "gaps")
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (label, values) in enumerate(gaps.items()):
        values = 100 * np.asarray(values, dtype=float)
        color = model_color(label, i)
        ax.bar(i, values.mean(), color=color, alpha=0.35, edgecolor=color, width=0.6)
        ax.scatter(np.full(len(values), i), values, color=color, zorder=3, s=25,
                   label="one seed" if i == 0 else None)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(gaps)), list(gaps))
    ax.set(ylabel=ylabel, xlabel="model")
    ax.grid(axis="x", visible=False)
    ax.legend(fontsize=9)
    if title:
        ax.set_title(title)
    return fig


def plot_accuracy_vs_params(params: Mapping[str, int],
                            accuracies: Mapping[str, Sequence[float]], *,
                            ylabel: str = "validation accuracy (%)",
                            title: str | None = "Accuracy against parameter count") -> Figure:
    """Accuracy (mean, with min-max error bar over seeds) against parameter count."""
    accuracies = _check_groups(accuracies, "accuracies")
    if set(params) != set(accuracies):
        raise ValueError(f"params and accuracies must have the same labels, got "
                         f"{sorted(params)} and {sorted(accuracies)}")
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (label, values) in enumerate(accuracies.items()):
        values = 100 * np.asarray(values, dtype=float)
        mean = values.mean()
        error = [[mean - values.min()], [values.max() - mean]]
        ax.errorbar(params[label], mean, yerr=error, fmt="o", color=model_color(label, i),
                    capsize=4, markersize=8, label=label)
    ax.set_xlim(0, 1.15 * max(params.values()))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    ax.set(xlabel="parameters", ylabel=ylabel)
    ax.legend(fontsize=9)
    if title:
        ax.set_title(title)
    return fig


def plot_vs_train_size(sizes: Sequence[int], results: Mapping[str, Sequence[Sequence[float]]],
                       gaps: Mapping[str, Sequence[Sequence[float]]] | None = None, *,
                       ylabel: str = "validation accuracy (%)",
                       title: str | None = None) -> Figure:
    """Results against training-set size: mean over seeds with the min-max band.

    ``results[label][j]`` holds one value per seed for ``sizes[j]``; ``gaps``
    (same layout), if given, adds a second panel with the generalisation gap.
    """
    if len(sizes) == 0:
        raise ValueError("sizes must not be empty")
    panels = [("results", _check_groups(results, "results"), ylabel)]
    if gaps is not None:
        panels.append(("gaps", _check_groups(gaps, "gaps"),
                       "training - validation accuracy\n(percentage points)"))
    for name, groups, _ in panels:
        for label, per_size in groups.items():
            if len(per_size) != len(sizes):
                raise ValueError(f"{name}[{label!r}] has {len(per_size)} entries but sizes "
                                 f"has {len(sizes)}")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels) + 0.5, 4), squeeze=False)
    for ax, (_, groups, label_y) in zip(axes[0], panels, strict=True):
        for i, (label, per_size) in enumerate(groups.items()):
            rows = 100 * np.array(per_size, dtype=float).T  # seeds x sizes, in percent
            _band(ax, list(sizes), rows, model_color(label, i), label, marker="o")
        ax.set_xscale("log")
        ax.set_xticks(list(sizes), [str(s) for s in sizes])
        ax.minorticks_off()
        ax.set(xlabel="training images (log scale)", ylabel=label_y)
    axes[0][0].legend(fontsize=9)
    axes[0][0].set_title("Validation accuracy" if ylabel.startswith("validation") else ylabel)
    if gaps is not None:
        axes[0][1].axhline(0, color="black", linewidth=0.8)
        axes[0][1].set_title("Generalisation gap")
    if title:
        fig.suptitle(title)
    return fig


def plot_loss_vs_params(params: Mapping[str, Sequence[int]],
                        val_loss: Mapping[str, Sequence[Sequence[float]]],
                        train_loss: Mapping[str, Sequence[Sequence[float]]] | None = None, *,
                        title: str | None = "Loss against parameter count") -> Figure:
    """Validation loss (solid, mean over seeds with a 95 % t interval as error bars)
    against parameter count (log scale), one line per kind; training loss dashed.

    ``params[kind]`` lists the parameter counts of the widths tried;
    ``val_loss[kind][j]`` (and ``train_loss``) holds one value per seed for
    width ``j``.
    """
    from scipy import stats

    val_loss = _check_groups(val_loss, "val_loss")
    if set(params) != set(val_loss) or (train_loss is not None and set(train_loss) != set(params)):
        raise ValueError("params, val_loss and train_loss must have the same labels")
    fig, ax = plt.subplots(figsize=(7, 4.4))
    for i, (label, counts) in enumerate(params.items()):
        color = model_color(label, i)
        rows = [np.asarray(v, dtype=float) for v in val_loss[label]]
        if len(rows) != len(counts) or any(len(r) < 2 for r in rows):
            raise ValueError(f"val_loss[{label!r}] must hold at least two seeds per width")
        means = np.array([r.mean() for r in rows])
        halves = np.array([stats.t.ppf(0.975, len(r) - 1) * r.std(ddof=1) / np.sqrt(len(r))
                           for r in rows])
        ax.errorbar(counts, means, yerr=halves, color=color, marker="o", capsize=4,
                    linewidth=2, label=f"{label}, validation")
        if train_loss is not None:
            train = [np.mean(v) for v in train_loss[label]]
            ax.plot(counts, train, color=color, linestyle="--", marker="s", markersize=4,
                    label=f"{label}, training")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set(xlabel="parameters (log scale)", ylabel="cross-entropy loss (log scale)")
    ax.legend(fontsize=9)
    if title:
        ax.set_title(title)
    return fig
