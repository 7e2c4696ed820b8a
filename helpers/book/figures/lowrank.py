"""Figures of chapter 9 (the low-rank view of separable convolution).

Every function returns a :class:`matplotlib.figure.Figure` drawn in the book's
style (:func:`helpers.book.figures.style.book_style`) with the book's colours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from helpers.book.figures.style import CHANNEL_COLORS, KIND_COLORS, book_style
from helpers.core._validate import require_int, require_number
from helpers.core.lowrank import kernel_singular_values, rank1_error

__all__ = [
    "plot_error_vs_rank",
    "plot_accuracy_vs_rank",
    "plot_singular_values",
    "plot_outer_product",
    "plot_kernel_spectra",
]

#: Colours of the curves of a comparison, in order (the separable colour,
#: then colours of the channel palette).
_SERIES_COLORS = (KIND_COLORS["separable"], CHANNEL_COLORS[2], CHANNEL_COLORS[0],
                  CHANNEL_COLORS[3], CHANNEL_COLORS[4], CHANNEL_COLORS[5])
#: Curves whose label contains one of these words are drawn in grey: they are
#: the untrained baseline.
_BASELINE_WORDS = ("random", "untrained")
#: A colour-blind-safe diverging map for signed kernel weights.
_DIVERGING = "PuOr_r"


def _series_color(index: int, label: str = "") -> str:
    if any(word in label.lower() for word in _BASELINE_WORDS):
        return "#888888"
    return _SERIES_COLORS[index % len(_SERIES_COLORS)]


def _check_ranks(ranks: Sequence[int]) -> np.ndarray:
    values = np.asarray(list(ranks))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"ranks must be a non-empty sequence of ints, got {ranks!r}")
    if values.dtype.kind not in "iu" or np.any(values < 1):
        raise ValueError(f"ranks must hold positive ints, got {ranks!r}")
    return values


def _check_series(values: Sequence[float], name: str, length: int) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.shape != (length,):
        raise ValueError(f"{name} must have one value per rank ({length}), got shape "
                         f"{array.shape}")
    return array


def _check_2d(kernel, name: str) -> np.ndarray:
    array = np.asarray(kernel, dtype=float)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D kernel, got shape {array.shape}")
    return array


def plot_error_vs_rank(ranks: Sequence[int], errors: Mapping[str, Sequence[float]], *,
                       title: str | None = None, full_rank: int | None = None) -> Figure:
    """Relative approximation error of the best separable kernel against the rank.

    ``errors`` maps a label (``"trained"``, ``"random"``, ...) to one relative
    Frobenius error per rank. ``full_rank`` (optional) marks the rank from
    which the approximation is exact with a dotted vertical line.
    """
    r = _check_ranks(ranks)
    if not errors:
        raise ValueError("errors must map at least one label to values")
    with book_style():
        fig, ax = plt.subplots(figsize=(7.0, 3.8))
        for index, (label, values) in enumerate(errors.items()):
            ax.plot(r, 100 * _check_series(values, f"errors[{label!r}]", len(r)), marker="o",
                    color=_series_color(index, label), label=label, linewidth=2)
        if full_rank is not None:
            ax.axvline(full_rank, color="0.4", linestyle=":", linewidth=1.2)
            ax.annotate("exact from here", (full_rank, 95), xytext=(-6, 0),
                        textcoords="offset points", ha="right", va="top", color="0.3",
                        fontsize=10)
        ax.set_xlabel("depth multiplier r (rank kept per input channel)")
        ax.set_ylabel("relative kernel error (%)")
        ax.set_ylim(0, 100)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title or "Best separable approximation: error against rank")
        ax.legend()
    return fig


def plot_accuracy_vs_rank(ranks: Sequence[int], accuracies: Mapping[str, Sequence[float]],
                          params: Mapping[str, Sequence[int]], *, baseline_accuracy: float,
                          baseline_params: Mapping[str, int],
                          title: str | None = None, data_name: str = "test",
                          xlabel: str = "depth multiplier r (no fine-tuning)") -> Figure:
    """Accuracy (on the ``data_name`` set) after replacing one layer by its rank-``r`` separable
    approximation (top) and that layer's weights relative to the normal layer
    (bottom), against ``r``.

    ``accuracies`` and ``params`` map a layer's label to one value per rank
    (accuracies as fractions in [0, 1]); ``baseline_params`` maps the same
    labels to the normal layer's weights. Dashed lines show the original
    network's accuracy and the normal layer's cost; below the dashed line of
    the bottom panel the separable layer is the cheaper one. Layers with the
    same relative cost (it depends only on ``N`` and ``k``) share one line.
    """
    r = _check_ranks(ranks)
    if not accuracies:
        raise ValueError("accuracies must map at least one layer label to values")
    if set(params) != set(accuracies) or set(baseline_params) != set(accuracies):
        raise ValueError("accuracies, params and baseline_params must have the same labels, "
                         f"got {list(accuracies)}, {list(params)} and {list(baseline_params)}")
    baseline_accuracy = require_number(baseline_accuracy, "baseline_accuracy", low=0, high=1)
    for text, name in ((data_name, "data_name"), (xlabel, "xlabel")):
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a str, got {text!r}")
    normal = KIND_COLORS["normal"]
    with book_style():
        fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7.0, 5.6),
                                          height_ratios=(3, 2))
        ratios: list[tuple[list[str], np.ndarray, str]] = []
        for index, label in enumerate(accuracies):
            acc = _check_series(accuracies[label], f"accuracies[{label!r}]", len(r))
            if np.any((acc < 0) | (acc > 1)):
                raise ValueError(f"accuracies[{label!r}] must hold fractions in [0, 1]")
            base = baseline_params[label]
            if base <= 0:
                raise ValueError(f"baseline_params[{label!r}] must be positive, got {base!r}")
            ratio = _check_series(params[label], f"params[{label!r}]", len(r)) / base
            color = _series_color(index, label)
            top.plot(r, 100 * acc, marker="o", color=color, linewidth=2, label=label)
            for group in ratios:  # layers with the same cost curve share one line
                if np.allclose(group[1], ratio):
                    group[0].append(label)
                    break
            else:
                ratios.append(([label], ratio, color))
        for group_labels, ratio, color in ratios:
            bottom.plot(r, ratio, marker="o", color=color if len(group_labels) == 1 else
                        KIND_COLORS["separable"], linewidth=2, label=" and ".join(group_labels))
        top.axhline(100 * baseline_accuracy, color=normal, linestyle="--",
                    label="original network")
        top.set_ylabel(f"{data_name} accuracy (%)")
        top.set_ylim(0, 102)
        top.legend(loc="lower right")
        top.set_title(title or "Replacing one trained layer by its rank-r approximation")
        bottom.axhline(1.0, color=normal, linestyle="--", label="normal layer")
        bottom.set_ylabel("weights / normal")
        bottom.set_xlabel(xlabel)
        bottom.set_ylim(0, None)
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.legend(loc="upper left", fontsize=9)
    return fig


def plot_singular_values(spectra: Mapping[str, np.ndarray], *,
                         title: str | None = None, first_color: int = 0) -> Figure:
    """Singular values of every input channel's ``N x k^2`` slice, one panel per kernel.

    ``spectra`` maps a label to an array of shape ``(M, q)`` (as returned by
    :func:`helpers.core.lowrank.channel_singular_values`). Each channel is a thin
    line, scaled so its largest singular value is 1; the thick line is the
    median over channels. ``first_color`` is the position of the first kernel in
    the series colours, so that a layer keeps its colour from another figure
    (labels naming an untrained or random kernel are grey).
    """
    if not spectra:
        raise ValueError("spectra must map at least one label to an (M, q) array")
    first_color = require_int(first_color, "first_color", minimum=0)
    with book_style():
        fig, axes = plt.subplots(1, len(spectra), sharey=True, squeeze=False,
                                 figsize=(3.6 * len(spectra) + 0.6, 3.6))
        for index, (ax, (label, values)) in enumerate(zip(axes[0], spectra.items(),
                                                          strict=True)):
            s = np.asarray(values, dtype=float)
            if s.ndim != 2 or s.size == 0:
                raise ValueError(f"spectra[{label!r}] must be a non-empty (M, q) array, got "
                                 f"shape {s.shape}")
            top = np.where(s[:, :1] > 0, s[:, :1], 1.0)
            scaled = s / top
            position = np.arange(1, s.shape[1] + 1)
            color = _series_color(first_color + index, label)
            for row in scaled:
                ax.plot(position, row, color=color, alpha=0.25, linewidth=0.9)
            ax.plot(position, np.median(scaled, axis=0), color=color, linewidth=2.5,
                    marker="o", label="median over channels")
            ax.set_title(label)
            ax.set_xlabel("singular value index")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.legend(loc="upper right")
        axes[0, 0].set_ylabel("singular value / largest")
        axes[0, 0].set_ylim(0, 1.05)
        if title:
            fig.suptitle(title)
    return fig


def _heatmap(ax, values: np.ndarray, limit: float, *, fmt: str = "{:.2g}") -> None:
    ax.imshow(values, cmap=_DIVERGING, vmin=-limit, vmax=limit)
    for (i, j), value in np.ndenumerate(values):
        shade = abs(value) / limit if limit else 0.0
        ax.text(j, i, fmt.format(value + 0.0), ha="center", va="center", fontsize=11,
                color="white" if shade > 0.6 else "black")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color("0.6")


def plot_outer_product(column: Sequence[float], row: Sequence[float], *,
                       title: str | None = None, fmt: str = "{:.3g}") -> Figure:
    """A ``k x 1`` column filter times a ``1 x k`` row filter equals a ``k x k`` kernel.

    Draws the column, the row and their outer product as annotated heatmaps
    (one diverging colour scale: purple negative, white zero, orange positive).
    """
    col = np.asarray(column, dtype=float).ravel()
    rw = np.asarray(row, dtype=float).ravel()
    if col.size == 0 or rw.size == 0:
        raise ValueError("column and row must not be empty")
    kernel = np.outer(col, rw)
    limit = float(max(np.abs(col).max(), np.abs(rw).max(), np.abs(kernel).max())) or 1.0
    widths = (1, 0.5, rw.size, 0.5, rw.size)
    with book_style():
        fig = plt.figure(figsize=(7.0, 2.9), layout="constrained")
        grid = fig.add_gridspec(1, 5, width_ratios=widths)
        ax_col, ax_times, ax_row, ax_eq, ax_kernel = (fig.add_subplot(grid[0, i])
                                                       for i in range(5))
        _heatmap(ax_col, col[:, None], limit, fmt=fmt)
        _heatmap(ax_row, rw[None, :], limit, fmt=fmt)
        _heatmap(ax_kernel, kernel, limit, fmt=fmt)
        ax_col.set_title(f"{col.size}x1")
        ax_row.set_title(f"1x{rw.size}")
        ax_kernel.set_title(f"{col.size}x{rw.size} kernel")
        for ax, symbol in ((ax_times, "\u00d7"), (ax_eq, "=")):
            ax.axis("off")
            ax.text(0.5, 0.5, symbol, ha="center", va="center", fontsize=22,
                    transform=ax.transAxes)
        if title:
            fig.suptitle(title)
    return fig


def plot_kernel_spectra(kernels: Mapping[str, np.ndarray], *,
                        title: str | None = None) -> Figure:
    """Each 2-D kernel (top) and its singular values scaled by the largest (bottom).

    A spatially separable kernel has one non-zero singular value; the panel
    titles give the relative error of the best rank-1 (``k x 1`` then
    ``1 x k``) approximation.
    """
    if not kernels:
        raise ValueError("kernels must map at least one label to a 2-D kernel")
    items = [(label, _check_2d(k, f"kernels[{label!r}]")) for label, k in kernels.items()]
    with book_style():
        fig, axes = plt.subplots(2, len(items), squeeze=False,
                                 figsize=(1.7 * len(items) + 0.4, 4.3),
                                 height_ratios=(1.1, 1))
        for index, (label, kernel) in enumerate(items):
            top, bottom = axes[0, index], axes[1, index]
            limit = float(np.abs(kernel).max()) or 1.0
            top.imshow(kernel, cmap=_DIVERGING, vmin=-limit, vmax=limit)
            top.set_xticks([])
            top.set_yticks([])
            top.grid(False)
            for spine in top.spines.values():
                spine.set_visible(True)
                spine.set_color("0.6")
            top.set_title(label)
            s = kernel_singular_values(kernel)
            scaled = s / s[0] if s[0] > 0 else s
            bottom.bar(np.arange(1, s.size + 1), scaled, color=KIND_COLORS["depthwise"], width=0.6)
            bottom.set_ylim(0, 1.1)
            bottom.set_yticks([0, 0.5, 1])
            bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
            bottom.set_xlabel("index")
            bottom.set_title(f"rank-1 error {100 * rank1_error(kernel):.0f}%", fontsize=10)
        axes[1, 0].set_ylabel("singular value / largest")
        if title:
            fig.suptitle(title)
    return fig
