"""Tests of helpers.lab.overfitting_study: the committed study came from the script
(a few of its runs re-run equal it), its guard refuses a damaged study, and the
quick mode runs end to end."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from helpers.lab import overfitting_study as study_module
from helpers.lab.overfitting_analysis import comparisons, histories, measure_table
from helpers.lab.overfitting_study import (
    STUDY,
    arms,
    check_study,
    load_study,
    run_arm,
)


@pytest.fixture(scope="module")
def study():
    return load_study()


def test_the_committed_study_is_complete_and_documented(study):
    assert study["design"] == STUDY  # the data were made with the published design
    assert study["arms"] == arms(STUDY)
    provenance = study["provenance"]
    for key in ("command", "date", "torch", "numpy", "python", "training_seconds"):
        assert provenance[key]
    assert provenance["dtype"] == "float64"
    n_runs = len(arms(STUDY)) * len(STUDY["splits"]) * len(STUDY["seeds"])
    assert len(study["runs"]) == n_runs
    params = [a["params"] for a in arms(STUDY)]
    assert min(params) < 100 and max(params) >= 100_000  # three orders of magnitude
    for kind in ("normal", "separable"):
        assert max(a["params"] for a in arms(STUDY) if a["kind"] == kind) >= 100_000


@pytest.mark.parametrize("arm_name", ["normal-1", "separable-1"])
def test_a_re_run_equals_the_committed_histories(study, arm_name):
    """float64 training is deterministic: the first epochs of the committed runs
    are re-made exactly (a constant rate makes a short run a prefix of a long one)."""
    epochs = 3
    arm = next(a for a in arms(STUDY) if a["name"] == arm_name)
    again = run_arm(STUDY, arm, STUDY["splits"][0], epochs)
    committed = histories(study)[arm_name, STUDY["splits"][0]]
    for new, old in zip(again, committed, strict=True):
        assert new.epoch == old.epoch[:epochs]
        for key in ("train_loss", "val_loss", "test_loss", "train_acc", "val_acc", "test_acc"):
            np.testing.assert_allclose(getattr(new, key), getattr(old, key)[:epochs],
                                       rtol=1e-12, atol=1e-12)


def test_the_guard_refuses_a_damaged_study(study):
    for damage, match in (
        (lambda s: s["runs"].pop(), "each of its"),
        (lambda s: s["runs"].append(s["runs"][0]), "each of its"),
        (lambda s: s["runs"][3]["test_loss"].__setitem__(0, float("nan")), "test_loss"),
        (lambda s: s["runs"][3]["train_acc"].__setitem__(0, 1.5), "train_acc"),
        (lambda s: s["runs"][3]["val_loss"].pop(), "val_loss"),
    ):
        damaged = copy.deepcopy(study)
        damage(damaged)
        with pytest.raises(ValueError, match=match):
            check_study(damaged)
    stopped = copy.deepcopy(study)
    run = next(r for r in stopped["runs"] if len(r["epoch"]) < 2 * STUDY["epochs"])
    for key in ("epoch", "train_loss", "val_loss", "test_loss", "train_acc", "val_acc",
                "test_acc"):
        run[key] = run[key][:-1]  # stopped one epoch before its patience ran out
    with pytest.raises(ValueError, match="patience"):
        check_study(stopped)


def test_budgets_cut_the_same_runs(study):
    one, two = histories(study, 1), histories(study, 2)
    cap, patience = STUDY["epochs"], STUDY["patience"]
    for key, runs in one.items():
        for short, long in zip(runs, two[key], strict=True):
            assert short.epoch == long.epoch[:len(short.epoch)]
            best = short.best_index()
            assert len(short.epoch) == cap or len(short.epoch) == best + 1 + patience
    with pytest.raises(ValueError, match="budget"):
        histories(study, 3)


def test_the_budget_1x_runs_are_what_a_budget_1x_run_records(study):
    """The 1x results are cut from the 2x runs; training one arm at the 1x cap
    and patience gives exactly those histories, early stops included."""
    arm = next(a for a in arms(STUDY) if a["name"] == "normal-4")
    split = STUDY["splits"][0]
    again = run_arm(STUDY, arm, split, STUDY["epochs"], STUDY["patience"])
    cut = histories(study, 1)[arm["name"], split]
    assert any(len(h.epoch) < STUDY["epochs"] for h in again)  # patience stopped some
    for new, old in zip(again, cut, strict=True):
        assert new.epoch == old.epoch
        for key in ("train_loss", "val_loss", "test_loss", "test_acc"):
            np.testing.assert_allclose(getattr(new, key), getattr(old, key),
                                       rtol=1e-12, atol=1e-12)


def test_at_budget_applies_the_cap_and_the_patience():
    from helpers.lab.overfitting_analysis import at_budget
    from helpers.lab.train import History

    losses = [0.5, 0.4, 0.45, 0.42, 0.3, 0.35, 0.36, 0.37, 0.2]
    h = History(list(range(1, 10)), val_loss=losses, train_loss=losses)
    assert at_budget(h, 9, 2).epoch == [1, 2, 3, 4]  # no new best at 3 and 4
    assert at_budget(h, 9, 3).epoch == [1, 2, 3, 4, 5, 6, 7, 8]
    assert at_budget(h, 9, 4).epoch == list(range(1, 10))
    assert at_budget(h, 3, 4).epoch == [1, 2, 3]  # the cap
    assert at_budget(h, 9, 3).train_loss == losses[:8]
    tie = History([1, 2, 3], val_loss=[0.3, 0.3, 0.3])  # a tie is not a new best
    assert at_budget(tie, 3, 2).epoch == [1, 2, 3]
    assert at_budget(tie, 3, 1).epoch == [1, 2]
    assert h.epoch == list(range(1, 10))  # the argument is left as it was


def test_measures_and_comparisons(study):
    table = measure_table(study, 1)
    n = len(STUDY["splits"]) * len(STUDY["seeds"])
    for row in table.values():
        assert len(row["loss gap"]) == n and 0 <= row["at cap"] <= n
        assert all(1 <= e <= STUDY["epochs"] for e in row["kept epoch"])
    labels = [label for label, _, _ in comparisons(study)]
    widest = max(STUDY["normal_widths"])
    assert f"same width, {widest}" in labels and f"same budget, {widest}" in labels
    assert "same budget, 1" not in labels  # the same networks as "same width, 1"


def test_quick_mode_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "quick.json"
    study_module.main(["--quick", "--budget", "1", "--out", str(out)])
    quick = check_study(json.loads(out.read_text()))
    assert quick["budget"] == 1 and quick["design"]["seeds"] == [0, 1]
    assert "wrote" in capsys.readouterr().out


def test_the_public_helpers_check_their_arguments(study):
    from helpers.lab.overfitting_analysis import at_budget, control_pair
    from helpers.lab.overfitting_study import batch_seeds, run_study, split_data
    from helpers.lab.train import History

    bad_design = STUDY | {"seeds": [0, 1.5]}
    cases = [
        (lambda: arms("STUDY"), TypeError, "design must be a dict"),
        (lambda: arms({"n_train": 200}), ValueError, "design lacks the keys"),
        (lambda: arms(bad_design), TypeError, r"design\['seeds'\]\[1\]"),
        (lambda: arms(STUDY | {"normal_widths": [0]}), ValueError, "normal_widths"),
        (lambda: arms(STUDY | {"control": {"width": 2}}), ValueError, "control"),
        (lambda: split_data(STUDY, -1), ValueError, "split"),
        (lambda: batch_seeds(STUDY, 1.0), TypeError, "split"),
        (lambda: run_arm(STUDY, arms(STUDY)[0], 0, 10**9), ValueError, "epochs"),
        (lambda: run_arm(STUDY, {"kind": "normal"}, 0, 1), ValueError, "arm lacks"),
        (lambda: run_study(STUDY, budget=10**6), ValueError, "budget"),
        (lambda: run_study(STUDY, jobs=10**6), ValueError, "jobs"),
        (lambda: run_study(STUDY, jobs=0), ValueError, "jobs"),
        (lambda: run_study(STUDY, cache=3), TypeError, "cache"),
        (lambda: check_study({"runs": []}), ValueError, "study lacks the keys"),
        (lambda: check_study(study | {"runs": [{"arm": "normal-1"}]}), ValueError,
         r"study\['runs'\]\[0\] lacks"),
        (lambda: histories(study, "2"), TypeError, "budget"),
        (lambda: histories(study, 0), ValueError, "budget"),
        (lambda: measure_table(study, 3), ValueError, "budget"),
        (lambda: comparisons([]), TypeError, "study"),
        (lambda: control_pair(study | {"design": None}), TypeError, "design"),
        (lambda: at_budget("history", 3, 1), TypeError, "history"),
        (lambda: at_budget(History([5], val_loss=[0.1]), 3, 1), ValueError, "epochs 1, 2"),
        (lambda: at_budget(History([1], val_loss=[]), 3, 1), ValueError, "validation"),
        (lambda: at_budget(History([1], val_loss=[0.1]), 0, 1), ValueError, "cap"),
        (lambda: at_budget(History([1], val_loss=[0.1]), 1, 0), ValueError, "patience"),
        (lambda: run_arm(STUDY, arms(STUDY)[0], 0, 1, patience=0), ValueError, "patience"),
    ]
    for call, exc, word in cases:
        with pytest.raises(exc, match=word):
            call()

