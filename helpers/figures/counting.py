"""Figures of chapter 1: how the counts of each convolution kind grow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from helpers.figures.style import KIND_COLORS


def plot_counts_vs_channels(
    channels: Sequence[int],
    counts: Mapping[str, Sequence[int]],
    *,
    xlabel: str = "channels (in = out)",
    ylabel: str = "parameters",
    title: str | None = None,
    logx: bool = True,
    logy: bool = True,
) -> Figure:
    """Line plot of one count (parameters or multiply-adds) per convolution kind.

    ``counts`` maps a kind (``"normal"``, ``"depthwise"``, ...) to one value per
    entry of ``channels``.
    """
    if len(channels) == 0:
        raise ValueError("channels must not be empty")
    if not counts:
        raise ValueError("counts must map at least one convolution kind to values")
    for kind, values in counts.items():
        if len(values) != len(channels):
            raise ValueError(
                f"counts[{kind!r}] has {len(values)} values but channels has {len(channels)}"
            )
    fig, ax = plt.subplots()
    for kind, values in counts.items():
        ax.plot(channels, values, marker="o", label=kind, color=KIND_COLORS.get(kind))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(channels), [str(c) for c in channels])
        ax.minorticks_off()
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend()
    return fig
