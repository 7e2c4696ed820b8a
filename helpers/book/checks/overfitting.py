"""Checkers for chapter 7 (does depthwise separable convolution overfit less?)."""

from __future__ import annotations

import copy
from collections.abc import Callable

from helpers.book.checks import _common as common
from helpers.lab.train import History


def _history(train_acc: list[float], val_acc: list[float]) -> History:
    epochs = list(range(1, len(train_acc) + 1))
    train_loss = [2.0 * (1 - a) + 0.01 for a in train_acc]
    val_loss = [2.5 * (1 - a) + 0.02 for a in val_acc]
    return History(epochs, train_loss, list(train_acc), val_loss, list(val_acc))


#: Histories on which a learner's gap function is tried: a clear gap, a
#: negative gap, a validation accuracy that peaks early, a one-epoch run, and
#: two runs whose curves go up and down (neither the best nor the worst epoch
#: of either curve is the last; in the last run the worst is not the first).
GAP_CASES: tuple[History, ...] = (
    _history([0.50, 0.90, 1.00], [0.45, 0.80, 0.875]),
    _history([0.30, 0.60, 0.70, 0.75], [0.20, 0.62, 0.71, 0.80]),
    _history([0.40, 0.95, 0.97, 0.99], [0.35, 0.93, 0.91, 0.90]),
    _history([0.625], [0.5]),
    _history([0.55, 0.92, 0.85, 0.97, 0.90], [0.50, 0.81, 0.86, 0.79, 0.84]),
    _history([0.70, 0.88, 0.62, 0.93, 0.91], [0.66, 0.70, 0.55, 0.74, 0.69]),
)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


#: Wrong gaps of a history, each with what to tell the learner who computes it.
_GAP_MISTAKES: tuple[tuple[Callable[[History], float], str], ...] = (
    (lambda h: h.val_acc[-1] - h.train_acc[-1],
     "The sign is flipped: training accuracy minus validation accuracy, so an "
     "overfitting model has a positive gap."),
    (lambda h: 100 * (h.train_acc[-1] - h.val_acc[-1]),
     "That is the gap in percent; return a fraction."),
    (lambda h: abs(h.train_acc[-1] - h.val_acc[-1]),
     "That is the size of the gap; keep its sign (it is negative when validation "
     "accuracy is higher)."),
    (lambda h: h.train_acc[0] - h.val_acc[0],
     "That is the gap after the first epoch; use the end of training (index -1)."),
    (lambda h: max(h.train_acc) - max(h.val_acc),
     "That compares the best epochs; use the end of training (index -1)."),
    (lambda h: h.val_loss[-1] - h.train_loss[-1],
     "That is the gap in loss; the exercise asks for the gap in accuracy."),
    (lambda h: h.train_loss[-1] - h.val_loss[-1],
     "That is a difference of losses; use the accuracies."),
    (lambda h: _mean(h.train_acc) - _mean(h.val_acc),
     "That is the mean gap over the epochs; use the end of training (index -1)."),
)


@common.checker
def check_generalisation_gap(fn: Callable[[History], object]) -> str:
    """Check ``fn(history)``: training minus validation accuracy at the end of
    training, on histories whose curves rise, fall and cross. Any real number
    type is accepted; ``fn`` must leave the history as it was."""
    common.require_callable(fn)
    answers: dict[int, tuple[float, float]] = {}
    for i, history in enumerate(GAP_CASES):
        given = copy.deepcopy(history)
        where = f"fn(history) on case {i + 1} ({_describe(history)})"
        answers[i] = common.as_real(common.call(fn, (given,), where), where)
        if given != history:
            raise common.Refusal(f"{where} changed the history (for example with pop()); "
                                 "read the accuracies without modifying the lists.")

    def same(answer: tuple[float, float], want: float) -> bool:
        got, rtol = answer
        return abs(got - want) <= rtol  # accuracies are fractions: scale 1

    by_case = {(i,): answer for i, answer in answers.items()}
    mistakes = [(lambda i, m=mistake: m(GAP_CASES[i]), hint) for mistake, hint in _GAP_MISTAKES]
    for i, history in enumerate(GAP_CASES):
        want = history.train_acc[-1] - history.val_acc[-1]
        if not same(answers[i], want):
            hint = common.first_match(mistakes, by_case, same) or (
                "Subtract the last validation accuracy from the last training accuracy.")
            raise common.Refusal(f"fn(history) on case {i + 1} ({_describe(history)}) returned "
                                 f"{answers[i][0]:.4f}, expected {want:.4f}. {hint}")
    return f"Correct on all {len(GAP_CASES)} histories."


def _describe(history: History) -> str:
    return f"train_acc={history.train_acc}, val_acc={history.val_acc}"


def separable_cnn_parameters(width: int) -> int:
    """Parameters of chapter 7's separable CNN with batch norm at ``width``:
    stem 3x3 conv + BN (11w), separable blocks w -> 2w and 2w -> 2w with BN
    (2w^2 + 15w and 4w^2 + 26w) and the linear head (20w + 10)."""
    return 6 * width * width + 72 * width + 10


def expected_width(target: int) -> int:
    """Reference: the width whose count is closest to ``target`` (the smaller on a tie)."""
    width = 1
    while separable_cnn_parameters(width) < target:
        width += 1
    if width > 1 and (target - separable_cnn_parameters(width - 1)
                      <= separable_cnn_parameters(width) - target):
        return width - 1
    return width


def _first_reaching(target: int) -> int:
    width = 1
    while separable_cnn_parameters(width) < target:
        width += 1
    return width


def _closest_larger_on_tie(target: int) -> int:
    width = _first_reaching(target)
    if width > 1 and (target - separable_cnn_parameters(width - 1)
                      < separable_cnn_parameters(width) - target):
        return width - 1
    return width


#: Wrong widths of a target, each with what to tell the learner who computes it.
_WIDTH_MISTAKES: tuple[tuple[Callable[[int], int], str], ...] = (
    (_first_reaching,
     "You return the first width that reaches the target; the width before it may be "
     "closer (or as close: on a tie, return the smaller width)."),
    (lambda target: max(1, _first_reaching(target) - 1),
     "You return the last width below the target; the next one may be closer."),
    (_closest_larger_on_tie, "On a tie, return the smaller width."),
)


def _budget_cases() -> tuple[int, ...]:
    exact = [separable_cnn_parameters(w) for w in (3, 10)]
    between = [(separable_cnn_parameters(w) + separable_cnn_parameters(w + 1)) // 2
               + offset for w, offset in ((5, -7), (12, 9), (20, 0))]  # (20, 0) is a tie
    return (50, *exact, *between, 1030, 3778)


def _budget_call(case: tuple[int]) -> str:
    return f"fn({case[0]})"


@common.checker
def check_width_for_budget(fn: Callable[[int], object]) -> str:
    """Check ``fn(target_params)``: the separable CNN's width with the closest
    parameter count (the smaller width on a tie)."""
    common.require_callable(fn)
    cases = [(target,) for target in _budget_cases()]
    answers = common.collect(fn, cases, _budget_call, _read_width)
    expected = {case: expected_width(case[0]) for case in cases}
    for case, got in answers.items():
        if got != expected[case]:
            target, want = case[0], expected[case]
            hint = common.first_match(_WIDTH_MISTAKES, answers, int.__eq__) or (
                "Count with cnn_parameters('separable', width): the count grows with the "
                "width, so walk up until it reaches the target, then compare with the "
                "width before.")
            raise common.Refusal(f"fn({target}) returned width {got}, expected {want}. The "
                                 f"target is {target:,}; {_describe_width(got)}, "
                                 f"{_describe_width(want)}. {hint}")
    return f"Correct on all {len(cases)} parameter budgets."


def _read_width(value: object, where: str) -> int:
    return common.as_int(value, where, "A width is a whole number of channels.")


def _describe_width(width: int) -> str:
    if width < 1:
        return f"width {width} is not a valid width"
    return f"width {width} has {separable_cnn_parameters(width):,} parameters"
