"""A small, deterministic CPU training loop for the digits experiments.

:func:`train` trains a classifier with cross-entropy and Adam (or SGD), in
full-batch or fixed-size mini-batches whose order comes from a seeded
``torch.Generator``, and records per-epoch loss and accuracy on the training
and validation sets in a :class:`History`. :func:`evaluate` measures one set.
:func:`run_seeds` trains one fresh model per seed and returns a
:class:`RunResult` per seed; :func:`mean_and_spread` summarises a list of numbers.

Everything runs on one CPU thread (``torch.set_num_threads(1)`` inside the
loop, restored afterwards), so a seed gives bit-for-bit the same numbers on any
machine's thread setting, run after run.

Usage::

    from helpers.digits import load_digits_split, make_cnn
    from helpers.train import evaluate, run_seeds, train

    data = load_digits_split()
    model = make_cnn("normal", width=8, seed=0)
    history = train(model, data.train, data.val, epochs=20, seed=0)
    print(history.val_acc[-1], history.gap())
    test_loss, test_acc = evaluate(model, data.test)

    results = run_seeds(lambda seed: make_cnn("separable", 8, seed=seed),
                        data.train, data.val, data.test, seeds=(0, 1, 2), epochs=20)
"""

from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from helpers._validate import check_int, check_positive_int
from helpers.cost import count_parameters
from helpers.digits import Split

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


@dataclass(frozen=True)
class RunResult:
    """One seed's run: its parameter count, history and final test metrics."""

    seed: int
    params: int
    history: History
    test_loss: float | None = None
    test_acc: float | None = None


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run the block with one PyTorch thread, restoring the previous setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _check_split(data: object, name: str) -> Split:
    if not isinstance(data, Split):
        raise TypeError(f"{name} must be a helpers.digits.Split, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(f"{name} must not be empty")
    return data


def evaluate(model: nn.Module, data: Split, batch_size: int = 2048) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy (a fraction) of ``model`` on ``data``.

    Runs in evaluation mode without gradients, on one thread, and restores the
    model's previous train/eval mode.
    """
    model = _check_model(model)
    data = _check_split(data, "data")
    batch_size = check_positive_int(batch_size, "batch_size")
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    with single_thread(), torch.no_grad():
        for start in range(0, len(data), batch_size):
            x, y = data.x[start:start + batch_size], data.y[start:start + batch_size]
            logits = model(x)
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(dim=1) == y).sum())
    model.train(was_training)
    return total_loss / len(data), correct / len(data)


def train(model: nn.Module, train_data: Split, val_data: Split | None = None, *,
          epochs: int = 20, lr: float = 1e-2, batch_size: int | None = None,
          optimizer: str = "adam", weight_decay: float = 0.0, seed: int = 0,
          schedule: str = "constant", eval_every: int = 1) -> History:
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
    """
    model = _check_model(model)
    train_data = _check_split(train_data, "train_data")
    if val_data is not None:
        val_data = _check_split(val_data, "val_data")
    epochs = check_positive_int(epochs, "epochs")
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size")
    seed = check_int(seed, "seed", minimum=0)
    eval_every = check_positive_int(eval_every, "eval_every")
    for name, value in (("lr", lr), ("weight_decay", weight_decay)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name} must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0 or (name == "lr" and value == 0):
            raise ValueError(f"{name} must be a finite number {'> 0' if name == 'lr' else '>= 0'}"
                             f", got {value!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")

    if optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam(model.parameters(), lr=lr,
                                                      weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9,
                              weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    n = len(train_data)
    step = n if batch_size is None else batch_size
    total_steps = epochs * math.ceil(n / step)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
                 if schedule == "cosine" else None)
    history = History()
    with single_thread():
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(n, generator=generator) if batch_size is not None else None
            for start in range(0, n, step):
                if order is None:
                    x, y = train_data.x, train_data.y
                else:
                    index = order[start:start + step]
                    x, y = train_data.x[index], train_data.y[index]
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(x), y).backward()
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


def run_seeds(factory: Callable[[int], nn.Module], train_data: Split,
              val_data: Split | None = None, test_data: Split | None = None, *,
              seeds: Sequence[int] = (0, 1, 2), **train_kwargs: object) -> list[RunResult]:
    """Train ``factory(seed)`` once per seed and return one :class:`RunResult` each.

    The seed sets both the model's initial weights (through ``factory``) and the
    mini-batch order (through :func:`train`). ``train_kwargs`` go to :func:`train`.
    """
    if not callable(factory):
        raise TypeError(f"factory must be a function seed -> model, got {type(factory).__name__}")
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty sequence of ints, got {seeds!r}")
    seeds = [check_int(s, "seeds[i]", minimum=0) for s in seeds]
    if "seed" in train_kwargs:
        raise TypeError("pass seeds=..., not seed=...: run_seeds sets each run's seed")
    if test_data is not None:
        test_data = _check_split(test_data, "test_data")
    results = []
    for seed in seeds:
        model = _check_model(factory(seed))
        history = train(model, train_data, val_data, seed=seed, **train_kwargs)
        test_loss, test_acc = evaluate(model, test_data) if test_data is not None else (None, None)
        results.append(RunResult(seed, count_parameters(model), history, test_loss, test_acc))
    return results


def mean_and_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation of ``values`` (spread 0 for one value)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("values must not be empty")
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return statistics.fmean(values), spread
