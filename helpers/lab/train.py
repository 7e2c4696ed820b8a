"""A small, deterministic CPU training loop for the digits experiments.

:func:`train` trains a classifier with cross-entropy and Adam, in full-batch or
fixed-size mini-batches whose order comes from a seeded ``torch.Generator``, and
records per-epoch loss and accuracy on the training, validation and (optionally)
test sets in a :class:`History`. With ``patience`` it stops early: when the
validation loss has not reached a new minimum for ``patience`` epochs, and then
restores the weights of the best epoch. :func:`train_ensemble` is the same loop
for many seeds trained as one grouped network (:func:`helpers.lab.cnn.make_cnn_ensemble`).
:func:`evaluate` measures one set. Statistics live in :mod:`helpers.lab.stats`.

Training runs in float64 by default (``dtype=torch.float64``; the model is
converted in place) and on one CPU thread (:func:`helpers.core.threads.fixed_threads`).
float32 training is chaotic: a last-bit difference between two CPUs' kernels
(AVX-512 against AVX2, say) grows over the steps into a visibly different
model. In float64 those differences stay near 1e-15 and do not grow enough to
reach the rounded numbers the book prints: the test suite trains the same seed
under different kernel settings and compares. Same seed, same pinned versions:
the same printed numbers.

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

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from helpers.core._validate import (
    require_int,
    require_module,
    require_number,
    require_positive_int,
    require_seed,
    require_seeds,
)
from helpers.core.threads import fixed_threads
from helpers.lab.digits import Split

SCHEDULES = ("constant", "cosine")

#: The most epochs (and the longest patience) :func:`train` accepts: the book
#: trains for at most 50; a larger count is a typo that would run for days.
MAX_EPOCHS = 10_000


@dataclass
class History:
    """Metrics of one training run, measured after the epochs listed in ``epoch``.

    Losses are mean cross-entropies; accuracies are fractions in [0, 1]. All sets
    are measured after an epoch, in evaluation mode, on the same weights, so the
    curves are directly comparable. Index ``-1`` is the last recorded epoch; after
    early stopping, :meth:`best_index` is the epoch whose weights were kept.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """Number of epochs trained (the last recorded epoch)."""
        return self.epoch[-1] if self.epoch else 0

    def gap(self, epoch: int = -1) -> float:
        """Generalisation gap in accuracy: train accuracy minus validation accuracy,
        at index ``epoch`` of the recorded epochs (-1: the last)."""
        if not self.val_acc:
            raise ValueError("this History has no validation accuracy (train without val?)")
        train_acc, val_acc = self._at("train_acc", "val_acc", epoch)
        return train_acc - val_acc

    def loss_gap(self, epoch: int = -1) -> float:
        """Generalisation gap in loss: validation loss minus train loss (at index ``epoch``)."""
        if not self.val_loss:
            raise ValueError("this History has no validation loss (train without val?)")
        train_loss, val_loss = self._at("train_loss", "val_loss", epoch)
        return val_loss - train_loss

    def _at(self, first: str, second: str, epoch: object) -> tuple[float, float]:
        """Two metrics at index ``epoch``, checked."""
        a, b = getattr(self, first), getattr(self, second)
        if len(a) != len(b):
            raise ValueError(f"this History has {len(a)} {first} values and {len(b)} "
                             f"{second} values: they must pair up")
        epoch = require_int(epoch, "epoch", minimum=-len(a), maximum=len(a) - 1)
        return a[epoch], b[epoch]

    def best_index(self) -> int:
        """Index of the first epoch with the lowest validation loss (early stopping's pick)."""
        if not self.val_loss:
            raise ValueError("this History has no validation loss (train without val?)")
        return min(range(len(self.val_loss)), key=self.val_loss.__getitem__)


def _check_split(data: object, name: str) -> Split:
    if not isinstance(data, Split):
        raise TypeError(f"{name} must be a helpers.lab.digits.Split, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(f"{name} must not be empty")
    if data.x.ndim != 4 or len(data.x) != len(data.y):
        raise ValueError(f"{name} must hold images (N, C, H, W) and N labels, got shapes "
                         f"{tuple(data.x.shape)} and {tuple(data.y.shape)}")
    return data


def _model_dtype(model: nn.Module) -> torch.dtype:
    """The floating dtype of the model's first floating parameter (float32 if none)."""
    for tensor in model.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _member_logits(logits: object) -> torch.Tensor:
    """Logits as ``(B, members, classes)``: one member for a plain classifier."""
    if not isinstance(logits, torch.Tensor) or logits.ndim not in (2, 3):
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"the model must return (B, classes) or (B, members, classes) "
                         f"logits, got {shape}")
    return logits[:, None] if logits.ndim == 2 else logits


def _modes(model: nn.Module) -> list[tuple[nn.Module, bool]]:
    """Every module's train/eval mode, to put back with :func:`_restore`."""
    return [(m, m.training) for m in model.modules()]


def _restore(modes: list[tuple[nn.Module, bool]]) -> None:
    for m, training in modes:
        m.training = training


def _trial(model: nn.Module, data: Split, name: str) -> tuple[int, ...]:
    """The logits' shape, ``(1, classes)`` or ``(1, members, classes)``, of one image of
    ``data`` in evaluation mode (nothing changes); a ValueError naming ``name`` if
    the model cannot classify its images or its labels are beyond its classes."""
    modes = _modes(model)
    try:
        model.eval()
        with fixed_threads(1), torch.no_grad():
            logits = model(data.x[:1].to(_model_dtype(model)))
            classes = _member_logits(logits).shape[2]
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"the model cannot classify the images of {name} (shape "
                         f"{tuple(data.x.shape[1:])}): {error}") from error
    finally:
        _restore(modes)
    if int(data.y.max()) >= classes:
        raise ValueError(f"{name} has labels up to {int(data.y.max())}, but the model gives "
                         f"{classes} classes")
    return tuple(logits.shape)


def _measure(model: nn.Module, data: Split, batch_size: int) -> tuple[list[float], list[float]]:
    """Per-member mean cross-entropy and accuracy, in evaluation mode, without gradients."""
    modes = _modes(model)
    model.eval()
    dtype = _model_dtype(model)
    losses, correct = 0.0, 0
    try:
        with fixed_threads(1), torch.no_grad():
            for start in range(0, len(data), batch_size):
                x, y = data.x[start:start + batch_size], data.y[start:start + batch_size]
                logits = _member_logits(model(x.to(dtype)))
                target = y[:, None].expand(-1, logits.shape[1])
                losses = losses + F.cross_entropy(logits.permute(0, 2, 1), target,
                                                  reduction="none").sum(0)
                correct = correct + (logits.argmax(dim=2) == target).sum(0)
    finally:
        _restore(modes)
    return ([float(v) / len(data) for v in losses], [int(v) / len(data) for v in correct])


def evaluate(model: nn.Module, data: Split, batch_size: int = 2048) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy (a fraction) of ``model`` on ``data``.

    Runs in evaluation mode without gradients, on one thread, in the model's own
    floating dtype (the images are converted to it), and restores the model's
    previous train/eval modes.
    """
    model, data = require_module(model, "model"), _check_split(data, "data")
    batch_size = require_positive_int(batch_size, "batch_size")
    if len(_trial(model, data, "data")) != 2:
        raise ValueError("model returns several members' logits: use evaluate_ensemble")
    losses, accs = _measure(model, data, batch_size)
    return losses[0], accs[0]


def evaluate_ensemble(ensemble: nn.Module, data: Split,
                      batch_size: int = 2048) -> tuple[list[float], list[float]]:
    """Per-member mean cross-entropy and accuracy of an ensemble whose output is
    ``(B, S, classes)`` (:func:`helpers.lab.cnn.stack_cnns`), in evaluation mode;
    every module's train/eval mode is restored."""
    ensemble, data = require_module(ensemble, "ensemble"), _check_split(data, "data")
    batch_size = require_positive_int(batch_size, "batch_size")
    if len(_trial(ensemble, data, "data")) != 3:
        raise ValueError("ensemble must return (B, members, classes) logits")
    return _measure(ensemble, data, batch_size)


def _batches(data: Split, batch_size: int | None, generators: list[torch.Generator]
             ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch's mini-batches: the whole set (``batch_size=None``), or a fresh
    seeded shuffle cut into batches of ``batch_size``. With several generators (one
    per member of an ensemble) each member gets its own order: images
    ``(B, members, C, H, W)`` and labels ``(B, members)``."""
    if batch_size is None:
        yield data.x, data.y
        return
    orders = torch.stack([torch.randperm(len(data), generator=g) for g in generators])
    for start in range(0, len(data), batch_size):
        index = orders[:, start:start + batch_size]
        if len(generators) == 1:
            yield data.x[index[0]], data.y[index[0]]
        else:
            yield data.x[index.T], data.y[index.T]


def _loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The sum over members of each member's mean cross-entropy (Adam works weight by
    weight, so each member of an ensemble takes exactly the steps it would take alone).
    ``y`` is ``(B,)`` (the same labels for every member) or ``(B, members)``."""
    if logits.ndim == 2:
        return F.cross_entropy(logits, y)
    members = _member_logits(logits).shape[1]
    target = y if y.ndim == 2 else y[:, None].expand(-1, members)
    return F.cross_entropy(logits.permute(0, 2, 1), target) * members


def _fit(model: nn.Module, train_data: object, val_data: object, test_data: object, *,
         epochs: object, lr: object, batch_size: object, weight_decay: object, seed: object,
         schedule: object, eval_every: object, dtype: object,
         patience: object, ensemble: bool) -> list[History]:
    """The one training loop of :func:`train` and :func:`train_ensemble`."""
    model = require_module(model, "model")
    train_data = _check_split(train_data, "train_data")
    val_data = None if val_data is None else _check_split(val_data, "val_data")
    test_data = None if test_data is None else _check_split(test_data, "test_data")
    epochs = require_positive_int(epochs, "epochs", maximum=MAX_EPOCHS)
    if batch_size is not None:
        batch_size = require_positive_int(batch_size, "batch_size")
    if isinstance(seed, list | tuple | np.ndarray):
        seeds = require_seeds(seed, "seed")
    else:
        seeds = [require_seed(seed, "seed")]
    eval_every = require_positive_int(eval_every, "eval_every")
    lr = require_number(lr, "lr", low=0, low_open=True)
    weight_decay = require_number(weight_decay, "weight_decay", low=0)
    if not isinstance(schedule, str) or schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype such as torch.float64, "
                        f"got {dtype!r}")
    if patience is not None:
        patience = require_positive_int(patience, "patience", maximum=MAX_EPOCHS)
        if val_data is None or eval_every != 1:
            raise ValueError("patience (early stopping) needs val_data and eval_every=1")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no parameters to train")
    sets = {"train": train_data, "val": val_data, "test": test_data}
    shape = [_trial(model, data, f"{name}_data") for name, data in sets.items()
             if data is not None][0]  # the model runs on every set, before it changes
    if not ensemble and len(shape) != 2:
        raise ValueError("model returns several members' logits: use train_ensemble")
    members = 1 if len(shape) == 2 else shape[1]
    if len(seeds) > 1 and len(seeds) != members:
        raise ValueError(f"seed lists {len(seeds)} batch orders for {members} members")

    model.to(dtype)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    scheduler = None
    if schedule == "cosine":  # a half cosine from lr to 0 over every step of the run
        steps = epochs * (1 if batch_size is None else math.ceil(len(train_data) / batch_size))
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    histories: list[History] = []
    waited: list[int] = []  # per member: epochs since its best validation loss
    best_state = None
    with fixed_threads(1):
        for epoch in range(1, epochs + 1):
            model.train()
            for x, y in _batches(train_data, batch_size, generators):
                opt.zero_grad(set_to_none=True)
                _loss(model(x.to(dtype)), y).backward()
                opt.step()
                if scheduler is not None:
                    scheduler.step()
            if epoch % eval_every and epoch != epochs:
                continue
            measured = {name: _measure(model, data, 128)
                        for name, data in sets.items() if data is not None}
            if not histories:
                histories = [History() for _ in measured["train"][0]]
                waited = [0] * len(histories)
            for i, history in enumerate(histories):
                if patience is not None and waited[i] >= patience:
                    continue  # stopped: its history ends at best + patience
                history.epoch.append(epoch)
                for name, (losses, accs) in measured.items():
                    getattr(history, f"{name}_loss").append(losses[i])
                    getattr(history, f"{name}_acc").append(accs[i])
                if patience is not None:
                    waited[i] = 0 if history.best_index() == len(history.epoch) - 1 \
                        else waited[i] + 1
                    if waited[i] == 0 and len(histories) == 1:
                        best_state = copy.deepcopy(model.state_dict())
            if patience is not None and min(waited) >= patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)  # restore the best epoch (one network only)
    model.eval()
    return histories


def train(model: nn.Module, train_data: Split, val_data: Split | None = None, *,
          test_data: Split | None = None, epochs: int = 20, lr: float = 1e-2,
          batch_size: int | None = None, weight_decay: float = 0.0, seed: int = 0,
          schedule: str = "constant", eval_every: int = 1, patience: int | None = None,
          dtype: torch.dtype = torch.float64) -> History:
    """Train ``model`` in place with cross-entropy and Adam; return its :class:`History`.

    ``batch_size=None`` trains full-batch (one step an epoch); otherwise each
    epoch visits the training set once in mini-batches of ``batch_size``, in an
    order drawn from a ``torch.Generator`` seeded with ``seed``. ``weight_decay``
    is Adam's L2 penalty. ``schedule="cosine"`` lowers the learning rate from
    ``lr`` to 0 along a half cosine over all the steps; ``"constant"`` keeps it
    at ``lr``. The model's initial weights are its own business: build it with a
    seed (e.g. ``make_cnn(..., seed=0)``). Metrics are recorded every
    ``eval_every`` epochs and after the last one, on ``test_data`` too if given.

    ``patience`` stops early: after ``patience`` epochs without a new minimum of
    the validation loss (or after ``epochs``), the weights of the best epoch are
    restored; the history ends ``patience`` epochs after it
    (:meth:`History.best_index`). With a constant rate, a longer run's first
    epochs are exactly a shorter run's.

    ``dtype`` (float64 by default) is the precision of training: the model is
    converted to it in place and the images are converted batch by batch. Keep
    float64 wherever the result is printed: float32 training ends in a slightly
    different model on another CPU (see the module docstring).

    Every argument is checked (``epochs`` and ``patience`` at most
    :data:`MAX_EPOCHS`; the model must classify every set's images, with labels
    below its number of classes) before the model changes.
    """
    histories = _fit(model, train_data, val_data, test_data, epochs=epochs, lr=lr,
                     batch_size=batch_size, weight_decay=weight_decay, seed=seed,
                     schedule=schedule, eval_every=eval_every, dtype=dtype, patience=patience,
                     ensemble=False)
    return histories[0]


def train_ensemble(ensemble: nn.Module, train_data: Split, val_data: Split | None = None, *,
                   test_data: Split | None = None, epochs: int = 20, lr: float = 1e-2,
                   batch_size: int | None = None, weight_decay: float = 0.0,
                   seed: int | list[int] = 0,
                   schedule: str = "constant", eval_every: int = 1,
                   patience: int | None = None,
                   dtype: torch.dtype = torch.float64) -> list[History]:
    """:func:`train` for an ensemble of independent members (output
    ``(B, S, classes)``, e.g. :func:`helpers.lab.cnn.make_cnn_ensemble`): Adam on
    the sum of the members' mean cross-entropies, so that each member follows
    exactly the steps it would take alone. With an int ``seed`` all members see the
    same mini-batches, in an order seeded with it; with a list of seeds (one a
    member) member ``i`` sees the order ``train(..., seed=seed[i])`` would give it.
    Returns one :class:`History` per member.

    With ``patience`` each member's history stops on its own rule, exactly as if it
    were trained alone, and training ends when every member has stopped. The
    ensemble's weights are not restored (its members' best epochs differ): the
    histories hold each member's metrics at its best epoch.
    """
    return _fit(ensemble, train_data, val_data, test_data, epochs=epochs, lr=lr,
                batch_size=batch_size, weight_decay=weight_decay, seed=seed,
                schedule=schedule, eval_every=eval_every, dtype=dtype, patience=patience,
                ensemble=True)
