"""A small, deterministic CPU training loop for the digits experiments.

:func:`train` trains a classifier with cross-entropy and Adam (or SGD), in
full-batch or fixed-size mini-batches whose order comes from a seeded
``torch.Generator``, and records per-epoch loss and accuracy on the training
and validation sets in a :class:`History`. :func:`evaluate` measures one set;
:func:`mean_and_spread` summarises a list of numbers (one per seed).

Training runs in float64 by default (``dtype=torch.float64``; the model is
converted in place) and on one CPU thread (:func:`helpers.core.threads.fixed_threads`).
float32 training is chaotic: a last-bit difference between two CPUs' kernels
(AVX-512 against AVX2, say) grows over the steps into a visibly different
model. In float64 those differences stay near 1e-15 and do not grow enough to
reach the rounded numbers the book prints: the test suite trains the same seed
under different kernel settings and compares (``tests/test_train.py``), and
``make test`` re-runs every notebook with another CPU's kernels. Same seed,
same pinned versions: the same printed numbers.

Usage::

    from helpers.lab.digits import load_digits_split
    from helpers.lab.cnn import make_cnn
    from helpers.lab.train import evaluate, train

    data = load_digits_split()
    model = make_cnn("normal", width=8, seed=0)
    history = train(model, data.train, data.val, epochs=20, seed=0)
    print(history.val_acc[-1], history.gap())
    test_loss, test_acc = evaluate(model, data.test)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers.core._validate import _describe, check_int, check_number, check_positive_int
from helpers.core.threads import fixed_threads
from helpers.lab.digits import Split

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine")


@dataclass
class History:
    """Metrics of one training run, measured after the epochs listed in ``epoch``.

    Losses are mean cross-entropies; accuracies are fractions in [0, 1]. Train
    and validation are both measured after an epoch, in evaluation mode, on the
    same weights, so the two curves are directly comparable. Index ``-1`` is
    always the end of training.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """Number of epochs trained (the last recorded epoch)."""
        return self.epoch[-1] if self.epoch else 0

    def gap(self, epoch: int = -1) -> float:
        """Generalisation gap in accuracy: train accuracy minus validation accuracy."""
        if not self.val_acc:
            raise ValueError("this History has no validation accuracy (train without val?)")
        return self.train_acc[epoch] - self.val_acc[epoch]

    def loss_gap(self, epoch: int = -1) -> float:
        """Generalisation gap in loss: validation loss minus train loss."""
        if not self.val_loss:
            raise ValueError("this History has no validation loss (train without val?)")
        return self.val_loss[epoch] - self.train_loss[epoch]


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_split(data: object, name: str) -> Split:
    if not isinstance(data, Split):
        raise TypeError(f"{name} must be a helpers.lab.digits.Split, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(f"{name} must not be empty")
    return data


def _model_dtype(model: nn.Module) -> torch.dtype:
    """The floating dtype of the model's first floating parameter (float32 if none)."""
    for tensor in model.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _check_evaluation(model: object, data: object,
                      batch_size: object) -> tuple[nn.Module, Split, int]:
    """The arguments :func:`evaluate` and :func:`evaluate_ensemble` share, checked."""
    return (_check_model(model), _check_split(data, "data"),
            check_positive_int(batch_size, "batch_size"))


def evaluate(model: nn.Module, data: Split, batch_size: int = 2048) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy (a fraction) of ``model`` on ``data``.

    Runs in evaluation mode without gradients, on one thread, in the model's own
    floating dtype (the images are converted to it), and restores the model's
    previous train/eval mode.
    """
    model, data, batch_size = _check_evaluation(model, data, batch_size)
    was_training = model.training
    model.eval()
    dtype = _model_dtype(model)
    total_loss, correct = 0.0, 0
    with fixed_threads(1), torch.no_grad():
        for start in range(0, len(data), batch_size):
            x, y = data.x[start:start + batch_size], data.y[start:start + batch_size]
            logits = model(x.to(dtype))
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(dim=1) == y).sum())
    model.train(was_training)
    return total_loss / len(data), correct / len(data)


def _check_run(train_data: object, val_data: object, epochs: object, batch_size: object,
               seed: object, eval_every: object, lr: object, weight_decay: object,
               schedule: object, dtype: object) -> tuple:
    """The arguments :func:`train` and :func:`train_ensemble` share, checked."""
    train_data = _check_split(train_data, "train_data")
    if val_data is not None:
        val_data = _check_split(val_data, "val_data")
    epochs = check_positive_int(epochs, "epochs")
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
    seed = check_int(seed, "seed", minimum=0)
    eval_every = check_positive_int(eval_every, "eval_every")
    lr = check_number(lr, "lr", low=0, low_open=True)
    weight_decay = check_number(weight_decay, "weight_decay", low=0)
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype such as torch.float64, "
                        f"got {dtype!r}")
    return train_data, val_data, epochs, batch_size, seed, eval_every, lr, weight_decay


def _batches(data: Split, batch_size: int | None,
             generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch's mini-batches: the whole set (``batch_size=None``), or a fresh
    seeded shuffle cut into batches of ``batch_size``."""
    if batch_size is None:
        yield data.x, data.y
        return
    order = torch.randperm(len(data), generator=generator)
    for start in range(0, len(data), batch_size):
        index = order[start:start + batch_size]
        yield data.x[index], data.y[index]


def _scheduler(opt: torch.optim.Optimizer, schedule: str, epochs: int, n: int,
               batch_size: int | None) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The cosine schedule over every step of the run, or None for a constant rate."""
    if schedule != "cosine":
        return None
    steps = epochs * (1 if batch_size is None else math.ceil(n / batch_size))
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)


def train(model: nn.Module, train_data: Split, val_data: Split | None = None, *,
          epochs: int = 20, lr: float = 1e-2, batch_size: int | None = None,
          optimizer: str = "adam", weight_decay: float = 0.0, seed: int = 0,
          schedule: str = "constant", eval_every: int = 1,
          dtype: torch.dtype = torch.float64) -> History:
    """Train ``model`` in place with cross-entropy and return its :class:`History`.

    ``batch_size=None`` trains full-batch (one step an epoch); otherwise each
    epoch visits the training set once in mini-batches of ``batch_size``, in an
    order drawn from a ``torch.Generator`` seeded with ``seed``. ``optimizer``
    is ``"adam"`` or ``"sgd"`` (momentum 0.9). ``schedule="cosine"`` lowers the
    learning rate from ``lr`` to 0 along a half cosine over all the steps, so
    the last steps are small and the end of training is stable; ``"constant"``
    keeps it at ``lr``. The model's initial weights are
    its own business: build it with a seed (e.g. ``make_cnn(..., seed=0)``).
    Metrics are recorded every ``eval_every`` epochs and after the last one
    (``eval_every=epochs`` records only the end, which is cheaper).

    ``dtype`` (float64 by default) is the precision of training: the model is
    converted to it in place and the images are converted batch by batch. Keep
    float64 wherever the result is printed: float32 training ends in a slightly
    different model on another CPU (see the module docstring).
    """
    model = _check_model(model)
    train_data, val_data, epochs, batch_size, seed, eval_every, lr, weight_decay = _check_run(
        train_data, val_data, epochs, batch_size, seed, eval_every, lr, weight_decay,
        schedule, dtype)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    model.to(dtype)

    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=lr,
                                                      weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9,
                              weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    scheduler = _scheduler(opt, schedule, epochs, len(train_data), batch_size)
    history = History()
    with fixed_threads(1):
        for epoch in range(1, epochs + 1):
            model.train()
            for x, y in _batches(train_data, batch_size, generator):
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(x.to(dtype)), y).backward()
                opt.step()
                if scheduler is not None:
                    scheduler.step()
            if epoch % eval_every and epoch != epochs:
                continue
            history.epoch.append(epoch)
            loss, acc = evaluate(model, train_data)
            history.train_loss.append(loss)
            history.train_acc.append(acc)
            if val_data is not None:
                loss, acc = evaluate(model, val_data)
                history.val_loss.append(loss)
                history.val_acc.append(acc)
    model.eval()
    return history


def mean_and_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of ``values`` (spread 0 for one value)."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise TypeError(f"values must be a sequence of numbers, got {_describe(values)}")
    values = [check_number(v, f"values[{i}]") for i, v in enumerate(values)]
    if not values:
        raise ValueError("values must not be empty")
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), spread


# --------------------------------------------------------------------------
# Many seeds at once (see helpers.lab.cnn.stack_cnns)
# --------------------------------------------------------------------------


def evaluate_ensemble(ensemble: nn.Module, data: Split,
                      batch_size: int = 2048) -> tuple[list[float], list[float]]:
    """Per-member mean cross-entropy and accuracy of an ensemble whose output is
    ``(B, S, classes)`` (:func:`helpers.lab.cnn.stack_cnns`), in evaluation mode."""
    ensemble, data, batch_size = _check_evaluation(ensemble, data, batch_size)
    was_training = ensemble.training
    ensemble.eval()
    dtype = _model_dtype(ensemble)
    losses: torch.Tensor | None = None
    correct: torch.Tensor | None = None
    with fixed_threads(1), torch.no_grad():
        for start in range(0, len(data), batch_size):
            x, y = data.x[start:start + batch_size], data.y[start:start + batch_size]
            logits = ensemble(x.to(dtype))
            if logits.ndim != 3:
                raise ValueError("ensemble must return (B, members, classes) logits")
            target = y[:, None].expand(-1, logits.shape[1])
            loss = F.cross_entropy(logits.permute(0, 2, 1), target, reduction="none").sum(0)
            hits = (logits.argmax(dim=2) == target).sum(0)
            losses = loss if losses is None else losses + loss
            correct = hits if correct is None else correct + hits
    ensemble.train(was_training)
    assert losses is not None and correct is not None
    return ([float(v) / len(data) for v in losses], [int(v) / len(data) for v in correct])


def train_ensemble(ensemble: nn.Module, train_data: Split, val_data: Split | None = None, *,
                   epochs: int = 20, lr: float = 1e-2, batch_size: int | None = None,
                   weight_decay: float = 0.0, seed: int = 0, schedule: str = "constant",
                   eval_every: int = 1, dtype: torch.dtype = torch.float64) -> list[History]:
    """:func:`train` for an ensemble of independent members (output
    ``(B, S, classes)``, e.g. :func:`helpers.lab.cnn.make_cnn_ensemble`): Adam on
    the sum of the members' mean cross-entropies, so that each member follows
    exactly the steps it would take alone (Adam works weight by weight). All
    members see the same mini-batches, in an order seeded with ``seed``.
    Returns one :class:`History` per member.
    """
    ensemble = _check_model(ensemble)
    train_data, val_data, epochs, batch_size, seed, eval_every, lr, weight_decay = _check_run(
        train_data, val_data, epochs, batch_size, seed, eval_every, lr, weight_decay,
        schedule, dtype)
    ensemble.to(dtype)
    opt = torch.optim.Adam(ensemble.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    scheduler = _scheduler(opt, schedule, epochs, len(train_data), batch_size)
    histories: list[History] = []
    with fixed_threads(1):
        for epoch in range(1, epochs + 1):
            ensemble.train()
            for x, y in _batches(train_data, batch_size, generator):
                opt.zero_grad(set_to_none=True)
                logits = ensemble(x.to(dtype))
                members = logits.shape[1]
                target = y[:, None].expand(-1, members)
                (F.cross_entropy(logits.permute(0, 2, 1), target) * members).backward()
                opt.step()
                if scheduler is not None:
                    scheduler.step()
            if epoch % eval_every and epoch != epochs:
                continue
            train_loss, train_acc = evaluate_ensemble(ensemble, train_data)
            if not histories:
                histories = [History() for _ in train_loss]
            if val_data is not None:
                val_loss, val_acc = evaluate_ensemble(ensemble, val_data)
            for i, history in enumerate(histories):
                history.epoch.append(epoch)
                history.train_loss.append(train_loss[i])
                history.train_acc.append(train_acc[i])
                if val_data is not None:
                    history.val_loss.append(val_loss[i])
                    history.val_acc.append(val_acc[i])
    ensemble.eval()
    return histories


def paired_interval(a: Sequence[float], b: Sequence[float],
                    confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of the paired differences ``a[i] - b[i]`` (one pair per seed) and its
    Student-t confidence interval ``(mean, low, high)``.

    Pairing removes what the two runs of a pair share (here: the seed's batch
    order), so the interval is narrower than one from two independent means.
    """
    if isinstance(a, str | bytes) or not isinstance(a, Sequence | np.ndarray):
        raise TypeError(f"a must be a sequence of numbers, got {_describe(a)}")
    if isinstance(b, str | bytes) or not isinstance(b, Sequence | np.ndarray):
        raise TypeError(f"b must be a sequence of numbers, got {_describe(b)}")
    if len(a) != len(b):
        raise ValueError(f"a and b must pair up, got {len(a)} and {len(b)} values")
    if len(a) < 2:
        raise ValueError("a and b need at least two pairs for an interval")
    confidence = check_number(confidence, "confidence", low=0, high=1, low_open=True,
                              high_open=True)
    from scipy import stats  # only this function needs SciPy

    diffs = [check_number(x, f"a[{i}]") - check_number(y, f"b[{i}]")
             for i, (x, y) in enumerate(zip(a, b, strict=True))]
    mean, spread = mean_and_spread(diffs)
    half = float(stats.t.ppf(0.5 + confidence / 2, len(diffs) - 1)) * spread / math.sqrt(len(diffs))
    return mean, mean - half, mean + half
