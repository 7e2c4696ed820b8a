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

import torch
import torch.nn.functional as F
from torch import nn

from helpers.core._validate import require_int, require_module, require_number, require_positive_int
from helpers.core.threads import fixed_threads
from helpers.lab.digits import Split

SCHEDULES = ("constant", "cosine")


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
        """Generalisation gap in accuracy: train accuracy minus validation accuracy."""
        if not self.val_acc:
            raise ValueError("this History has no validation accuracy (train without val?)")
        return self.train_acc[epoch] - self.val_acc[epoch]

    def loss_gap(self, epoch: int = -1) -> float:
        """Generalisation gap in loss: validation loss minus train loss."""
        if not self.val_loss:
            raise ValueError("this History has no validation loss (train without val?)")
        return self.val_loss[epoch] - self.train_loss[epoch]

    def best_index(self) -> int:
        """Index of the first epoch with the lowest validation loss (early stopping's pick)."""
        if not self.val_loss:
            raise ValueError("this History has no validation loss (train without val?)")
        return min(range(len(self.val_loss)), key=self.val_loss.__getitem__)


def _check_model(model: object) -> nn.Module:
    require_module(model, "model")
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


def _member_logits(logits: torch.Tensor) -> torch.Tensor:
    """Logits as ``(B, members, classes)``: one member for a plain classifier."""
    if logits.ndim == 2:
        return logits[:, None]
    if logits.ndim != 3:
        raise ValueError(f"the model must return (B, classes) or (B, members, classes) "
                         f"logits, got shape {tuple(logits.shape)}")
    return logits


def _measure(model: nn.Module, data: Split, batch_size: int) -> tuple[list[float], list[float]]:
    """Per-member mean cross-entropy and accuracy, in evaluation mode, without gradients."""
    was_training = model.training
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
        model.train(was_training)
    return ([float(v) / len(data) for v in losses], [int(v) / len(data) for v in correct])


def evaluate(model: nn.Module, data: Split, batch_size: int = 2048) -> tuple[float, float]:
    """Mean cross-entropy loss and accuracy (a fraction) of ``model`` on ``data``.

    Runs in evaluation mode without gradients, on one thread, in the model's own
    floating dtype (the images are converted to it), and restores the model's
    previous train/eval mode.
    """
    model, data = _check_model(model), _check_split(data, "data")
    losses, accs = _measure(model, data, require_positive_int(batch_size, "batch_size"))
    if len(losses) != 1:
        raise ValueError("model returns several members' logits: use evaluate_ensemble")
    return losses[0], accs[0]


def evaluate_ensemble(ensemble: nn.Module, data: Split,
                      batch_size: int = 2048) -> tuple[list[float], list[float]]:
    """Per-member mean cross-entropy and accuracy of an ensemble whose output is
    ``(B, S, classes)`` (:func:`helpers.lab.cnn.stack_cnns`), in evaluation mode."""
    ensemble, data = _check_model(ensemble), _check_split(data, "data")
    batch_size = require_positive_int(batch_size, "batch_size")
    with torch.no_grad():
        if ensemble.eval()(data.x[:1].to(_model_dtype(ensemble))).ndim != 3:
            ensemble.train()
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
    model = _check_model(model)
    train_data = _check_split(train_data, "train_data")
    val_data = None if val_data is None else _check_split(val_data, "val_data")
    test_data = None if test_data is None else _check_split(test_data, "test_data")
    epochs = require_positive_int(epochs, "epochs")
    if batch_size is not None:
        batch_size = require_positive_int(batch_size, "batch_size")
    if isinstance(seed, list | tuple):
        if not seed:
            raise ValueError("seed must be an int or a non-empty list of ints (one a member)")
        seeds = [require_int(s, f"seed[{i}]", minimum=0) for i, s in enumerate(seed)]
    else:
        seeds = [require_int(seed, "seed", minimum=0)]
    eval_every = require_positive_int(eval_every, "eval_every")
    lr = require_number(lr, "lr", low=0, low_open=True)
    weight_decay = require_number(weight_decay, "weight_decay", low=0)
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype such as torch.float64, "
                        f"got {dtype!r}")
    if patience is not None:
        patience = require_positive_int(patience, "patience")
        if val_data is None or eval_every != 1:
            raise ValueError("patience (early stopping) needs val_data and eval_every=1")

    model.to(dtype)
    with torch.no_grad():  # how many members? (evaluation mode: nothing changes)
        members = _measure(model, Split(train_data.x[:1], train_data.y[:1]), 1)[0]
    if not ensemble and len(members) != 1:
        raise ValueError("model returns several members' logits: use train_ensemble")
    if len(seeds) > 1 and len(seeds) != len(members):
        raise ValueError(f"seed lists {len(seeds)} batch orders for {len(members)} members")
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    generators = [torch.Generator().manual_seed(s) for s in seeds]
    scheduler = None
    if schedule == "cosine":  # a half cosine from lr to 0 over every step of the run
        steps = epochs * (1 if batch_size is None else math.ceil(len(train_data) / batch_size))
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    sets = {"train": train_data, "val": val_data, "test": test_data}
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
