"""The over-fitting study of chapter 7, as one command: does depthwise separable
convolution over-fit less than normal convolution?

Every run trains a small CNN of :func:`helpers.lab.cnn.make_cnn` on a few hundred
8x8 digits, in float64, with Adam at a constant rate and early stopping on the
validation loss (:func:`helpers.lab.train.train_ensemble`, ``patience``), and
records its per-epoch loss and accuracy on the training, validation and test
sets. The arms: normal networks of several widths, separable ones at the same
widths and at the same parameter budgets, and a
positive control (a normal network with weight decay). Variance comes from
several data splits times many seeds; a seed fixes the initial weights and, with
the split, the mini-batch order, which both kinds share, so runs pair up by
(split, seed).

``python -m helpers.lab.overfitting_study`` trains every run at twice the
chapter's budget: twice the epochs and twice the patience. The budget-1x runs
are cut from them by the 1x rule (:func:`helpers.lab.overfitting_analysis.at_budget`):
with a constant rate, training does not depend on when it will stop, so a run
that stops earlier is exactly a prefix of a longer one. It writes the histories
with their provenance to ``helpers/lab/data/overfitting_study.json``;
``--quick`` runs a small version into another file. The chapter reads the
committed file with :func:`load_study` and analyses it with
:mod:`helpers.lab.overfitting_analysis`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import sklearn
import torch

from helpers.core._validate import (
    require_number,
    require_positive_int,
    require_seed,
    require_seeds,
)
from helpers.lab.cnn import cnn_parameters, make_cnn_ensemble, separable_width_for_budget
from helpers.lab.digits import Split, load_digits_split, subsample
from helpers.lab.train import MAX_EPOCHS, History, train_ensemble

#: The published study's design, declared before any run.
STUDY: dict[str, Any] = {
    "n_train": 200,  # training images per split: few, so that over-fitting can show
    "val_fraction": 0.15,  # validation: early stopping only
    "test_fraction": 0.2,  # test: the generalisation gap
    "splits": [0, 1, 2],
    "seeds": list(range(20)),
    "batch_size": 32,
    "lr": 0.01,
    "patience": 10,  # budget 1x; the study's runs have budget x patience
    "epochs": 100,  # the budget-1x cap; the study trains up to budget x epochs
    # normal widths 1 to 43: about 100 to 100,000 parameters, and separable
    # networks as wide or as large
    "normal_widths": [1, 4, 16, 43],
    "control": {"width": 4, "weight_decay": 0.02},
}

#: A small design for CI and a first look (minutes, not the published numbers).
QUICK: dict[str, Any] = STUDY | {"splits": [0], "seeds": [0, 1], "epochs": 4, "patience": 2,
                                 "normal_widths": [1, 2], "control": {"width": 2,
                                                                       "weight_decay": 0.02}}

DATA_FILE = "overfitting_study.json"

#: The most processes :func:`run_study` starts (``jobs``).
MAX_JOBS = 64

#: The keys of a run of a study, and of a study.
RUN_KEYS = ("arm", "split", "seed", "epoch", "train_loss", "val_loss", "test_loss",
            "train_acc", "val_acc", "test_acc")
STUDY_KEYS = ("design", "budget", "arms", "runs")


def _check_dict(value: object, name: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """``value`` checked to be a dict holding ``keys``."""
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict with keys {list(keys)}, got "
                        f"{type(value).__name__}")
    missing = [key for key in keys if key not in value]
    if missing:
        raise ValueError(f"{name} lacks the keys {missing}")
    return value


def _check_design(design: object) -> dict[str, Any]:
    """``design`` checked to have the keys and kinds of :data:`STUDY`."""
    _check_dict(design, "design", tuple(STUDY))
    for key in ("n_train", "batch_size", "patience", "epochs"):
        require_positive_int(design[key], f"design['{key}']", maximum=MAX_EPOCHS
                             if key == "epochs" else None)
    require_number(design["lr"], "design['lr']", low=0, low_open=True)
    for key in ("splits", "seeds", "normal_widths"):
        require_seeds(design[key], f"design['{key}']")
    for i, width in enumerate(design["normal_widths"]):
        require_positive_int(width, f"design['normal_widths'][{i}]")
    control = _check_dict(design["control"], "design['control']", ("width", "weight_decay"))
    require_positive_int(control["width"], "design['control']['width']")
    require_number(control["weight_decay"], "design['control']['weight_decay']", low=0)
    return design


def _check_study(study: object) -> dict[str, Any]:
    """``study`` checked to have a study's keys, design and budget."""
    _check_dict(study, "study", STUDY_KEYS)
    _check_design(study["design"])
    require_positive_int(study["budget"], "study['budget']")
    for key in ("arms", "runs"):
        if not isinstance(study[key], list):
            raise TypeError(f"study['{key}'] must be a list, got {type(study[key]).__name__}")
    return study


def arms(design: dict[str, Any]) -> list[dict[str, Any]]:
    """The networks of a design: name, kind, width, weight decay, parameters."""
    _check_design(design)
    out: list[dict[str, Any]] = []

    def add(name: str, kind: str, width: int, weight_decay: float = 0.0) -> None:
        if all(a["name"] != name for a in out):
            out.append({"name": name, "kind": kind, "width": width,
                        "weight_decay": weight_decay,
                        "params": cnn_parameters(kind, width)})

    for width in design["normal_widths"]:
        add(f"normal-{width}", "normal", width)
        add(f"separable-{width}", "separable", width)
        budget = separable_width_for_budget(cnn_parameters("normal", width))
        add(f"separable-{budget}", "separable", budget)
    control = design["control"]
    add(f"normal-{control['width']}-wd", "normal", control["width"], control["weight_decay"])
    return out


def split_data(design: dict[str, Any], split: int) -> tuple[Split, Split, Split]:
    """Training (``n_train`` images, stratified), validation and test sets of one split."""
    _check_design(design)
    split = require_seed(split, "split")
    data = load_digits_split(design["val_fraction"], design["test_fraction"], seed=split)
    train = subsample(data.train, design["n_train"] / len(data.train), seed=split)
    return train, data.val, data.test


def batch_seeds(design: dict[str, Any], split: int) -> list[int]:
    """The mini-batch order of each seed in one split (shared by every arm)."""
    _check_design(design)
    split = require_seed(split, "split")
    return [1000 * split + seed for seed in design["seeds"]]


def run_arm(design: dict[str, Any], arm: dict[str, Any], split: int,
            epochs: int, patience: int | None = None) -> list[History]:
    """Train one arm's seeds of one split together, up to ``epochs`` epochs, each
    stopping early after ``patience`` epochs without a new best validation loss
    (default: the design's patience)."""
    _check_dict(arm, "arm", ("kind", "width", "weight_decay"))
    epochs = require_positive_int(epochs, "epochs", maximum=MAX_EPOCHS)
    patience = design["patience"] if patience is None else \
        require_positive_int(patience, "patience", maximum=MAX_EPOCHS)
    train, val, test = split_data(design, split)
    ensemble = make_cnn_ensemble(arm["kind"], arm["width"], design["seeds"])
    return train_ensemble(ensemble, train, val, test_data=test, epochs=epochs,
                          lr=design["lr"], batch_size=design["batch_size"],
                          weight_decay=arm["weight_decay"], seed=batch_seeds(design, split),
                          patience=patience)


def _job(args: tuple[dict[str, Any], dict[str, Any], int, int, int, Path | None]
         ) -> tuple[list[dict[str, Any]], float]:
    design, arm, split, epochs, patience, cache = args
    key = json.dumps([design | {"normal_widths": None, "control": None}, arm, split, epochs,
                      patience], sort_keys=True)
    stored = cache / f"{arm['name']}-split{split}.json" if cache else None
    if stored is not None and stored.exists():
        saved = json.loads(stored.read_text())
        if saved["key"] == key:
            return saved["runs"], saved["seconds"]
    start = time.perf_counter()
    histories = run_arm(design, arm, split, epochs, patience)
    seconds = round(time.perf_counter() - start, 1)
    print(f"  {arm['name']:<18} split {split}: {seconds:6.1f} s, "
          f"stopped at {[h.epochs for h in histories]}", flush=True)
    runs = [{"arm": arm["name"], "split": split, "seed": seed, **vars(h)}
            for seed, h in zip(design["seeds"], histories, strict=True)]
    if stored is not None:
        stored.write_text(json.dumps({"key": key, "runs": runs, "seconds": seconds}))
    return runs, seconds


def run_study(design: dict[str, Any], budget: int = 2, jobs: int = 1, command: str = "",
              cache: Path | None = None) -> dict[str, Any]:
    """Every run of ``design`` at ``budget`` times its epochs and its patience, with
    provenance.
    ``cache``: a folder that keeps each finished (arm, split) and reuses it when the
    same run is asked for again (an interrupted study resumes). ``jobs`` is at most
    :data:`MAX_JOBS`; ``budget`` times the design's epochs at most
    :data:`helpers.lab.train.MAX_EPOCHS`."""
    _check_design(design)
    budget = require_positive_int(budget, "budget", maximum=MAX_EPOCHS // design["epochs"])
    jobs = require_positive_int(jobs, "jobs", maximum=MAX_JOBS)
    if not isinstance(command, str):
        raise TypeError(f"command must be a str, got {command!r}")
    if cache is not None:
        if not isinstance(cache, str | Path):
            raise TypeError(f"cache must be a folder (a str or Path), got {cache!r}")
        cache = Path(cache)
        cache.mkdir(parents=True, exist_ok=True)
    todo = [(design, arm, split, budget * design["epochs"], budget * design["patience"], cache)
            for arm in sorted(arms(design), key=lambda a: a["params"])
            for split in design["splits"]]
    if jobs == 1:
        results = [_job(job) for job in todo]
    else:  # fresh processes: a fork of a process whose torch threads are running can hang
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_job, todo))
    runs = [run for result, _ in results for run in result]
    return {
        "provenance": {
            "command": command,
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "jobs": jobs,  # wall time of every (arm, split), summed (a resumed study
            # keeps the times of the runs it reuses):
            "training_seconds": round(sum(seconds for _, seconds in results), 1),
            "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__, "machine": platform.machine(),
            "dtype": "float64", "threads_per_run": 1,
        },
        "design": design, "budget": budget, "arms": arms(design), "runs": runs,
    }


def check_study(study: dict[str, Any]) -> dict[str, Any]:
    """Refuse an incomplete or implausible study: every (arm, split, seed) run present
    once, losses finite and non-negative, accuracies in [0, 1], epochs 1, 2, ...
    up to at most the cap, and early stopping's rule respected."""
    design = _check_study(study)["design"]
    cap, patience = study["budget"] * design["epochs"], study["budget"] * design["patience"]
    for name, entries, keys in (("arms", study["arms"], ("name",)),
                                ("runs", study["runs"], RUN_KEYS)):
        for i, entry in enumerate(entries):
            _check_dict(entry, f"study['{name}'][{i}]", keys)
    wanted = {(a["name"], split, seed) for a in study["arms"]
              for split in design["splits"] for seed in design["seeds"]}
    found = [(r["arm"], r["split"], r["seed"]) for r in study["runs"]]
    if len(found) != len(set(found)) or set(found) != wanted:
        raise ValueError(f"the study must hold each of its {len(wanted)} runs once, "
                         f"got {len(found)} ({len(set(found) & wanted)} of them)")
    for run in study["runs"]:
        name = f"run {run['arm']}, split {run['split']}, seed {run['seed']}"
        epochs = run["epoch"]
        if not 1 <= len(epochs) <= cap or epochs != list(range(1, len(epochs) + 1)):
            raise ValueError(f"{name}: epochs must be 1, 2, ... up to at most {cap}")
        for key in ("train_loss", "val_loss", "test_loss", "train_acc", "val_acc", "test_acc"):
            values = np.asarray(run[key], dtype=float)
            high = np.inf if key.endswith("loss") else 1.0
            if len(values) != len(epochs) or not np.all((values >= 0) & (values <= high)):
                raise ValueError(f"{name}: {key} must hold one value in [0, {high}] an epoch")
        best = int(np.argmin(run["val_loss"]))
        if len(epochs) < cap and len(epochs) != best + 1 + patience:
            raise ValueError(f"{name}: stopped at epoch {len(epochs)}, but its best epoch "
                             f"{best + 1} plus a patience of {patience} says otherwise")
    return study


def load_study(name: str = DATA_FILE) -> dict[str, Any]:
    """The committed study (package data of ``helpers.lab``)."""
    if not isinstance(name, str) or not name.endswith(".json"):
        raise ValueError(f"name must be a .json file name, got {name!r}")
    text = resources.files("helpers.lab").joinpath("data", name).read_text()
    return check_study(json.loads(text))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the small CI design")
    parser.add_argument("--budget", type=int, default=2, help="epoch budget, times the design's")
    parser.add_argument("--jobs", type=int, default=1, help="processes (one thread each)")
    parser.add_argument("--cache", type=Path, help="a folder to keep finished runs in "
                        "and resume from")
    parser.add_argument("--out", type=Path, help="where to write (default: the package data, "
                        "or overfitting_study_quick.json in the current folder with --quick)")
    args = parser.parse_args(argv)
    if args.budget < 1 or args.jobs < 1:
        parser.error("--budget and --jobs must be at least 1")
    design = QUICK if args.quick else STUDY
    out = args.out or (Path("overfitting_study_quick.json") if args.quick else
                       Path(str(resources.files("helpers.lab").joinpath("data", DATA_FILE))))
    words = list(sys.argv[1:] if argv is None else argv)
    if "--cache" in words:  # where finished runs wait does not change them
        at = words.index("--cache")
        del words[at:at + 2]
    command = " ".join(["python -m helpers.lab.overfitting_study", *words])
    start = time.perf_counter()
    print(f"{len(arms(design))} arms x {len(design['splits'])} splits x "
          f"{len(design['seeds'])} seeds, up to {args.budget * design['epochs']} epochs")
    study = check_study(run_study(design, args.budget, args.jobs, command,
                                   args.cache))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(study, separators=(",", ":")) + "\n")
    print(f"wrote {out} ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
