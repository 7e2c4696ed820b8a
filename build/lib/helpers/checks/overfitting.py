"""Checkers for chapter 7 (does depthwise separable convolution overfit less?)."""

from __future__ import annotations

import math
from collections.abc import Callable

from helpers.checks import CheckResult, failed, passed
from helpers.digits import cnn_parameters, separable_width_for_budget
from helpers.train import History


def _history(train_acc: list[float], val_acc: list[float]) -> History:
    epochs = list(range(1, len(train_acc) + 1))
    train_loss = [2.0 * (1 - a) + 0.01 for a in train_acc]
    val_loss = [2.5 * (1 - a) + 0.02 for a in val_acc]
    return History(epochs, train_loss, list(train_acc), val_loss, list(val_acc))


#: Histories on which a learner's gap function is tried: a clear gap, a
#: negative gap, a run whose best epoch is not its last, and a one-epoch run.
GAP_CASES: tuple[History, ...] = (
    _history([0.50, 0.90, 1.00], [0.45, 0.80, 0.875]),
    _history([0.30, 0.60, 0.70, 0.75], [0.20, 0.62, 0.71, 0.80]),
    _history([0.40, 0.95, 0.97, 0.99], [0.35, 0.93, 0.91, 0.90]),
    _history([0.625], [0.5]),
)


def check_generalisation_gap(fn: Callable[[History], object]) -> CheckResult:
    """Check ``fn(history)``: training minus validation accuracy at the end of training."""
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")
    for i, history in enumerate(GAP_CASES):
        want = history.train_acc[-1] - history.val_acc[-1]
        case = (f"History with train_acc={history.train_acc} and val_acc={history.val_acc} "
                f"(case {i + 1})")
        try:
            got = fn(history)
        except Exception as exc:  # report the learner's error as a message
            return failed(f"fn raised {type(exc).__name__}: {exc} on the {case}")
        if isinstance(got, bool) or not isinstance(got, int | float):
            return failed(f"On the {case} fn returned {got!r} ({type(got).__name__}); "
                          "return a number (a Python float).")
        if not math.isclose(got, want, abs_tol=1e-9):
            return failed(f"On the {case} fn returned {got:.4f}, expected {want:.4f}. "
                          f"{_gap_hint(history, float(got), want)}")
    return passed(f"Correct on all {len(GAP_CASES)} histories.")


def _gap_hint(history: History, got: float, want: float) -> str:
    guesses = [
        (-want, "The sign is flipped: training accuracy minus validation accuracy, so an "
                "overfitting model has a positive gap."),
        (100 * want, "That is the gap in percent; return a fraction."),
        (history.train_acc[0] - history.val_acc[0],
         "That is the gap after the first epoch; use the end of training (index -1)."),
        (max(history.train_acc) - max(history.val_acc),
         "That compares the best epochs; use the end of training (index -1)."),
        (history.val_loss[-1] - history.train_loss[-1],
         "That is the gap in loss; the exercise asks for the gap in accuracy."),
        (history.train_loss[-1] - history.val_loss[-1],
         "That is a difference of losses; use the accuracies."),
    ]
    for value, hint in guesses:
        if math.isclose(got, value, abs_tol=1e-9):
            return hint
    return "Subtract the last validation accuracy from the last training accuracy."


def _budget_cases() -> tuple[int, ...]:
    exact = [cnn_parameters("separable", w) for w in (3, 10)]
    between = [(cnn_parameters("separable", w) + cnn_parameters("separable", w + 1)) // 2
               + offset for w, offset in ((5, -7), (12, 9), (20, 0))]
    normal = [cnn_parameters("normal", w) for w in (4, 8)]
    return (50, *exact, *between, *normal)


def check_width_for_budget(fn: Callable[[int], object]) -> CheckResult:
    """Check ``fn(target_params)``: the separable CNN's width with the closest parameter count."""
    if not callable(fn):
        raise TypeError(f"fn must be a function, got {type(fn).__name__}")
    cases = _budget_cases()
    for target in cases:
        want = separable_width_for_budget(target)
        try:
            got = fn(target)
        except Exception as exc:  # report the learner's error as a message
            return failed(f"fn({target}) raised {type(exc).__name__}: {exc}")
        if isinstance(got, bool) or not isinstance(got, int):
            return failed(f"fn({target}) returned {got!r} ({type(got).__name__}); "
                          "return a width (an int).")
        if got != want:
            return failed(f"fn({target}) returned width {got}, expected {want}. "
                          f"{_budget_hint(target, got, want)}")
    return passed(f"Correct on all {len(cases)} parameter budgets.")


def _budget_hint(target: int, got: int, want: int) -> str:
    def describe(width: int) -> str:
        if width < 1:
            return f"width {width} is not a valid width"
        return f"width {width} has {cnn_parameters('separable', width):,} parameters"

    counts = f"The target is {target:,}; {describe(got)}, {describe(want)}."
    if got == want + 1:
        return (counts + " You return the first width that reaches the target; the width "
                "before it is closer (or as close: on a tie, return the smaller width).")
    if got == want - 1:
        return counts + " You return the last width below the target; the next one is closer."
    return counts + (" Count with cnn_parameters('separable', width): the count grows with "
                     "the width, so walk up until it reaches the target, then compare with "
                     "the width before.")
