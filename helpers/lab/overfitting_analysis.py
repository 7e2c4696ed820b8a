"""The analysis of chapter 7's over-fitting study: what the chapter computes from
the committed runs of :mod:`helpers.lab.overfitting_study`.

The study trains every run at twice the chapter's budget (twice the epochs and
twice the patience). :func:`histories` gives the runs at either budget:
:func:`at_budget` cuts a run where a shorter cap or patience would have stopped
it, which is exactly what that shorter run records. :func:`measure_table` reads
the measures of over-fitting at the epoch early stopping keeps, and
:func:`comparisons` and :func:`control_pair` name the comparisons the chapter
tests.
"""

from __future__ import annotations

from typing import Any

from helpers.core._validate import require_int, require_positive_int
from helpers.lab.cnn import cnn_parameters, separable_width_for_budget
from helpers.lab.overfitting_study import _check_study
from helpers.lab.train import MAX_EPOCHS, History


def at_budget(history: History, cap: int, patience: int) -> History:
    """``history`` as a run capped at ``cap`` epochs with early stopping after
    ``patience`` epochs without a new best validation loss would have recorded it:
    its first epochs, up to the cap or to the epoch where that patience runs out.
    Exact for a run of this study with a larger cap and patience (the same
    training; only the stopping differs)."""
    if not isinstance(history, History):
        raise TypeError(f"history must be a History, got {type(history).__name__}")
    cap = require_positive_int(cap, "cap", maximum=MAX_EPOCHS)
    patience = require_positive_int(patience, "patience", maximum=MAX_EPOCHS)
    if not history.epoch or history.epoch != list(range(1, len(history.epoch) + 1)):
        raise ValueError("history must hold epochs 1, 2, ..., one validation loss each")
    if len(history.val_loss) != len(history.epoch):
        raise ValueError("history must hold one validation loss an epoch")
    best, keep = 0, 0
    for i, loss in enumerate(history.val_loss[:cap]):
        keep = i + 1
        if loss < history.val_loss[best]:
            best = i
        if i - best >= patience:
            break
    fields = {k: v[:keep] for k, v in vars(history).items()}
    return History(**fields)


def histories(study: dict[str, Any], budget: int | None = None
              ) -> dict[tuple[str, int], list[History]]:
    """The runs as ``{(arm, split): [History per seed]}`` at ``budget`` (default: the
    budget the study was run at): each cut by :func:`at_budget` to ``budget`` times
    the design's epochs and patience."""
    _check_study(study)
    budget = study["budget"] if budget is None else _check_budget(study, budget)
    design = study["design"]
    cap, patience = budget * design["epochs"], budget * design["patience"]
    out: dict[tuple[str, int], list[History]] = {}
    for run in study["runs"]:
        fields = {k: run[k] for k in vars(History()) if k in run}
        out.setdefault((run["arm"], run["split"]), []).append(
            at_budget(History(**fields), cap, patience))
    return out


#: Measures of over-fitting, at the epoch early stopping keeps: name -> History -> value.
MEASURES = {
    "loss gap": lambda h, i: h.test_loss[i] - h.train_loss[i],
    "test loss": lambda h, i: h.test_loss[i],
    "accuracy gap": lambda h, i: h.train_acc[i] - h.test_acc[i],
    "test accuracy": lambda h, i: h.test_acc[i],
}


def _check_budget(study: dict[str, Any], budget: object) -> int:
    """A budget from 1 to the one the study was run at."""
    return require_int(budget, "budget", minimum=1, maximum=study["budget"])


def measure_table(study: dict[str, Any], budget: int) -> dict[str, dict[str, Any]]:
    """Per arm, at ``budget``: each measure at the epoch early stopping keeps, as a
    list over (split, seed) in a fixed order; the kept epochs; and how many runs
    reached the cap still improving (not stopped by patience)."""
    design = _check_study(study)["design"]
    budget = _check_budget(study, budget)
    cap, patience = budget * design["epochs"], budget * design["patience"]
    runs = histories(study, budget)
    out: dict[str, dict[str, Any]] = {}
    for arm in study["arms"]:
        rows = [h for split in design["splits"] for h in runs[arm["name"], split]]
        kept = [h.best_index() for h in rows]
        out[arm["name"]] = {name: [f(h, i) for h, i in zip(rows, kept, strict=True)]
                            for name, f in MEASURES.items()}
        out[arm["name"]]["kept epoch"] = [h.epoch[i] for h, i in zip(rows, kept, strict=True)]
        out[arm["name"]]["at cap"] = sum(len(h.epoch) == cap and h.epoch[i] + patience > cap
                                         for h, i in zip(rows, kept, strict=True))
    return out


def comparisons(study: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The family of comparisons ``(label, arm a, arm b)``, read as a - b: the
    separable network against the normal one at the same width and at the same
    parameter budget, for every normal width (a budget comparison identical to
    the width one is left out)."""
    _check_study(study)
    out = []
    for width in study["design"]["normal_widths"]:
        budget = separable_width_for_budget(cnn_parameters("normal", width))
        out.append((f"same width, {width}", f"separable-{width}", f"normal-{width}"))
        if budget != width:
            out.append((f"same budget, {width}", f"separable-{budget}", f"normal-{width}"))
    return out


def control_pair(study: dict[str, Any]) -> tuple[str, str]:
    """The positive control ``(regularised arm, plain arm)``."""
    _check_study(study)
    width = study["design"]["control"]["width"]
    return f"normal-{width}-wd", f"normal-{width}"
