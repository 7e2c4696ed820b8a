"""Figures of chapter 8 (architectures): where MobileNet spends its
multiply-adds and parameters, our counts against the paper's, and the positions
an atrous (dilated) kernel samples.

Each function returns a matplotlib Figure in the book's style.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from helpers.book.figures.style import KIND_COLORS
from helpers.core._validate import require_int, require_positive_int
from helpers.core.geometry import kernel_span, same_padding

#: Colours of MobileNet's layer types (Table 2 of the paper). Convolution kinds
#: keep the book's colours; the fully connected layer gets reddish purple.
LAYER_TYPE_COLORS: dict[str, str] = {
    "Conv 3 × 3": KIND_COLORS["normal"],
    "Conv DW 3 × 3": KIND_COLORS["depthwise"],
    "Conv 1 × 1": KIND_COLORS["pointwise"],
    "Fully Connected": "#CC79A7",
}

_OURS_COLOR = KIND_COLORS["separable"]


def _check_same_length(name: str, values: Sequence, reference: Sequence, ref_name: str) -> None:
    if len(values) != len(reference):
        raise ValueError(
            f"{name} has {len(values)} values but {ref_name} has {len(reference)}"
        )


def plot_layer_costs(
    labels: Sequence[str],
    layer_types: Sequence[str],
    macs: Sequence[int],
    params: Sequence[int],
    *,
    title: str = "MobileNet, layer by layer",
) -> Figure:
    """Two bar charts, one bar a layer: multiply-adds (top) and parameters
    (bottom), coloured by layer type (:data:`LAYER_TYPE_COLORS`).

    ``labels`` name the layers (shown on the x axis), ``layer_types`` are keys of
    :data:`LAYER_TYPE_COLORS`.
    """
    if len(labels) == 0:
        raise ValueError("labels must not be empty")
    _check_same_length("layer_types", layer_types, labels, "labels")
    _check_same_length("macs", macs, labels, "labels")
    _check_same_length("params", params, labels, "labels")
    unknown = sorted(set(layer_types) - set(LAYER_TYPE_COLORS))
    if unknown:
        raise ValueError(
            f"layer_types must be among {list(LAYER_TYPE_COLORS)}, got {unknown}"
        )
    colors = [LAYER_TYPE_COLORS[t] for t in layer_types]
    x = np.arange(len(labels))
    fig, (ax_macs, ax_params) = plt.subplots(2, 1, figsize=(9.0, 6.0), sharex=True,
                                             layout="constrained")
    ax_macs.bar(x, np.asarray(macs, dtype=float) / 1e6, color=colors)
    ax_macs.set_ylabel("million multiply-adds")
    ax_macs.set_title(title)
    ax_params.bar(x, np.asarray(params, dtype=float) / 1e6, color=colors)
    ax_params.set_ylabel("million parameters")
    ax_params.set_xlabel("layer (in order, input to output)")
    ax_params.set_xticks(x)
    ax_params.set_xticklabels(labels, rotation=90, fontsize=8)
    for ax in (ax_macs, ax_params):
        ax.grid(axis="x", visible=False)
    present = [t for t in LAYER_TYPE_COLORS if t in set(layer_types)]
    handles = [Patch(color=LAYER_TYPE_COLORS[t], label=t) for t in present]
    ax_params.legend(handles=handles, loc="upper left", ncols=2)
    return fig


def plot_relative_differences(
    labels: Sequence[str],
    paper: Sequence[float],
    ours: Sequence[float],
    printed_unit: Sequence[float],
    *,
    title: str = "Our counts against the paper's",
) -> Figure:
    """Horizontal bars of our difference from each published value, measured
    in what the paper's rounding allows: ``(ours - paper) / (printed_unit / 2)``,
    where ``printed_unit`` is the paper's last printed digit (1 for "569", 0.1
    for "4.2").

    A bar inside the grey band ``[-1, 1]`` agrees with the paper up to rounding;
    a bar outside it (drawn in vermillion) is a real disagreement to explain.
    Each bar is labelled with our value and the paper's.
    """
    if len(labels) == 0:
        raise ValueError("labels must not be empty")
    _check_same_length("paper", paper, labels, "labels")
    _check_same_length("ours", ours, labels, "labels")
    _check_same_length("printed_unit", printed_unit, labels, "labels")
    paper_values = np.asarray(paper, dtype=float)
    our_values = np.asarray(ours, dtype=float)
    units = np.asarray(printed_unit, dtype=float)
    if np.any(paper_values <= 0) or np.any(our_values <= 0):
        raise ValueError("paper and ours must be positive numbers")
    if np.any(units <= 0):
        raise ValueError("printed_unit must be positive numbers")
    scaled = (our_values - paper_values) / (units / 2)
    inside = np.abs(scaled) <= 1
    y = np.arange(len(labels))[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.36 * len(labels) + 1.6), layout="constrained")
    ax.axvspan(-1, 1, color="#E3E3E3", zorder=0)
    colors = [_OURS_COLOR if ok else "#D55E00" for ok in inside]
    ax.barh(y, scaled, height=0.55, color=colors, zorder=2)
    for yi, value, p, o, unit in zip(y, scaled, paper_values, our_values, units, strict=True):
        decimals = max(0, -int(np.floor(np.log10(unit) + 1e-9)))
        text = f"ours {o:.{decimals + 1}f}, paper {p:.{decimals}f}"
        ax.annotate(text, (value, yi), textcoords="offset points",
                    xytext=(4 if value >= 0 else -4, 0), ha="left" if value >= 0 else "right",
                    va="center", fontsize=8)
    ax.axvline(0, color="#4D4D4D", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=9)
    ax.set_xlabel("(ours - paper) / (half the paper's last printed digit)")
    ax.set_title(title)
    limit = max(float(np.max(np.abs(scaled))), 1.0) * 1.25 + 3.5
    ax.set_xlim(-limit, limit)
    ax.grid(axis="y", visible=False)
    handles = [Patch(color="#E3E3E3", label="within the paper's rounding"),
               Patch(color=_OURS_COLOR, label="agrees"),
               Patch(color="#D55E00", label="disagrees")]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.06), ncols=3,
              fontsize=9)
    return fig


def _atrous_sample_offsets(kernel_size: int, dilation: int) -> list[tuple[int, int]]:
    """Offsets ``(row, col)`` from the centre of the input positions one output
    of a ``kernel_size x kernel_size`` atrous kernel reads (odd kernel sizes)."""
    kernel_size = require_positive_int(kernel_size, "kernel_size")
    dilation = require_positive_int(dilation, "dilation")
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd (a centred kernel), got {kernel_size}")
    before = same_padding(kernel_size, dilation)[0]
    steps = [dilation * i - before for i in range(kernel_size)]  # centred on 0
    return [(r, c) for r in steps for c in steps]


def plot_atrous_samples(
    dilations: Sequence[int] = (1, 2, 4),
    *,
    kernel_size: int = 3,
    grid_size: int | None = None,
) -> Figure:
    """One panel a dilation: the input grid, the positions a ``kernel_size``
    atrous kernel samples for the centre output (filled), and its receptive
    field (outlined square), with the weights and receptive field in the title.
    """
    if len(dilations) == 0:
        raise ValueError("dilations must not be empty")
    dilations = [require_positive_int(d, f"dilations[{i}]") for i, d in enumerate(dilations)]
    kernel_size = require_positive_int(kernel_size, "kernel_size")
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd (a centred kernel), got {kernel_size}")
    largest = max(kernel_span(kernel_size, d) for d in dilations)
    if grid_size is None:
        grid_size = largest + 2
    grid_size = require_int(grid_size, "grid_size", minimum=1)
    if grid_size < largest or grid_size % 2 == 0:
        raise ValueError(
            f"grid_size must be odd and at least the largest receptive field ({largest}), "
            f"got {grid_size}"
        )
    centre = grid_size // 2
    fig, axes = plt.subplots(1, len(dilations), figsize=(3.3 * len(dilations), 4.2),
                             layout="constrained")
    axes = np.atleast_1d(axes)
    for ax, d in zip(axes, dilations, strict=True):
        field = kernel_span(kernel_size, d)
        for i in range(grid_size + 1):
            ax.plot([i, i], [0, grid_size], color="#DDDDDD", lw=0.8)
            ax.plot([0, grid_size], [i, i], color="#DDDDDD", lw=0.8)
        start = centre - field // 2
        ax.add_patch(Rectangle((start, start), field, field, fill=True,
                               facecolor="#E8F1F8", edgecolor=KIND_COLORS["depthwise"],
                               lw=2.0, ls="--", zorder=1))
        for dr, dc in _atrous_sample_offsets(kernel_size, d):
            row, col = centre + dr, centre + dc
            is_centre = dr == 0 and dc == 0
            ax.add_patch(Rectangle((col + 0.1, row + 0.1), 0.8, 0.8, zorder=2,
                                   facecolor=KIND_COLORS["pointwise"] if is_centre
                                   else KIND_COLORS["depthwise"]))
        ax.set_xlim(0, grid_size)
        ax.set_ylim(grid_size, 0)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        for side in ("top", "right", "bottom", "left"):
            ax.spines[side].set_visible(False)
        ax.set_title(f"dilation {d}\n{kernel_size * kernel_size} weights, "
                     f"receptive field {field}×{field}")
        ax.set_xlabel("input column")
        ax.set_ylabel("input row")
    handles = [
        Patch(color=KIND_COLORS["depthwise"], label="sampled input position"),
        Patch(color=KIND_COLORS["pointwise"], label="centre (the output's position)"),
        Patch(facecolor="#E8F1F8", edgecolor=KIND_COLORS["depthwise"], ls="--",
              label="receptive field"),
    ]
    fig.legend(handles=handles, loc="lower center", ncols=3, frameon=False)
    fig.get_layout_engine().set(rect=(0, 0.1, 1, 0.88))
    return fig
