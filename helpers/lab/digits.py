"""The experiments' data: 8x8 handwritten digits, split and subsampled.

The data are scikit-learn's bundled copy of the UCI optical digits (1,797
images of 8x8 pixels, ten classes; no download). :func:`load_digits_split` scales
them to [0, 1], shapes them ``(N, 1, 8, 8)`` and splits them, stratified by
class and seeded, into train, validation and test sets. :func:`subsample` keeps
a stratified fraction of a split; with one seed, a smaller fraction is a subset
of a larger one.

Usage::

    from helpers.lab.cnn import make_cnn
    from helpers.lab.digits import load_digits_split, subsample
    from helpers.lab.train import train

    data = load_digits_split(seed=0)           # data.train, data.val, data.test
    small = subsample(data.train, 0.3, seed=0)  # 30 % of the training set
    model = make_cnn("normal", width=8, seed=0)  # seeded initial weights
    history = train(model, data.train, data.val, epochs=15, batch_size=128, seed=0)
    print(history.train_acc[-1], history.val_acc[-1])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits

from helpers.core._validate import require_int, require_number

#: Number of classes (the digits 0 to 9).
NUM_CLASSES = 10

#: The label dtypes a :class:`Split` takes: the integers that fit int64.
_LABEL_DTYPES = tuple(getattr(torch, name) for name in (
    "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32") if hasattr(torch, name))


@dataclass(frozen=True)
class Split:
    """One part of the data set: images ``x`` of shape (N, C, H, W), floating
    (float32 in [0, 1] for the digits), and labels ``y`` of shape (N,) in 0..9.

    Labels of any integer dtype that fits int64 (NumPy's default on Windows is
    int32) are stored as int64, the dtype PyTorch's losses want; NumPy arrays
    become tensors. Floating, uint64 or out-of-range labels are refused, and so are
    images with NaN or infinite pixels and tensors that are not dense on the CPU.
    """

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        x, y = self.x, self.y
        if isinstance(x, np.ndarray):
            x = torch.from_numpy(x)
        if isinstance(y, np.ndarray):
            y = torch.from_numpy(y)
        if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise TypeError("Split needs tensors (or arrays) x and y, got "
                            f"{type(self.x).__name__} and {type(self.y).__name__}")
        for name, tensor in (("x", x), ("y", y)):
            if tensor.device.type != "cpu" or tensor.layout != torch.strided:
                raise ValueError(f"{name} must be a dense tensor on the CPU, got one on "
                                 f"{tensor.device} ({tensor.layout})")
        if not x.is_floating_point():
            raise TypeError(f"x must hold floating-point images, got dtype {x.dtype}")
        if y.dtype not in _LABEL_DTYPES:
            raise TypeError(f"y must hold integer labels 0..{NUM_CLASSES - 1} (an integer "
                            f"dtype that fits int64), got dtype {y.dtype}")
        if x.ndim != 4 or y.ndim != 1 or len(x) != len(y):
            raise ValueError("Split needs x of shape (N, C, H, W) and y of shape (N,), got "
                             f"{tuple(x.shape)} and {tuple(y.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("x must hold finite pixel values, got NaN or infinity")
        y = y.to(torch.int64)
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= NUM_CLASSES):
            raise ValueError(f"y must hold labels 0..{NUM_CLASSES - 1}, got labels from "
                             f"{int(y.min())} to {int(y.max())}")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    def __len__(self) -> int:
        return len(self.y)

    def class_counts(self) -> list[int]:
        """Number of images of each digit 0..9."""
        if len(self.y) and (int(self.y.min()) < 0 or int(self.y.max()) >= NUM_CLASSES):
            raise ValueError(f"labels must be 0..{NUM_CLASSES - 1}, got labels from "
                             f"{int(self.y.min())} to {int(self.y.max())}")
        return torch.bincount(self.y, minlength=NUM_CLASSES).tolist()


@dataclass(frozen=True)
class DigitsData:
    """The fixed train / validation / test split of the digits."""

    train: Split
    val: Split
    test: Split


def _check_fraction(value: Any, name: str, *, allow_one: bool) -> float:
    return require_number(value, name, low=0, high=1, low_open=True, high_open=not allow_one)


def _stratified_order(y: np.ndarray, seed: int) -> list[np.ndarray]:
    """For each class, the indices of its examples in a seeded random order."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(np.flatnonzero(y == c)) for c in range(NUM_CLASSES)]


def load_digits_split(val_fraction: float = 0.2, test_fraction: float = 0.2,
                      seed: int = 0) -> DigitsData:
    """Load the 8x8 digits, scale them to [0, 1] and split them by class.

    Within every class, a seeded random ``test_fraction`` of the images goes to
    the test set, ``val_fraction`` to the validation set and the rest to the
    training set, so each set has (almost exactly) the class balance of the whole.
    Each set keeps the images in the data set's original order.
    """
    val_fraction = _check_fraction(val_fraction, "val_fraction", allow_one=False)
    test_fraction = _check_fraction(test_fraction, "test_fraction", allow_one=False)
    if val_fraction + test_fraction >= 1:
        raise ValueError("val_fraction + test_fraction must be below 1 to leave a training "
                         f"set, got {val_fraction} + {test_fraction}")
    seed = require_int(seed, "seed", minimum=0)
    bunch = load_digits()
    images = bunch.images.astype(np.float32) / 16.0  # pixel values are 0..16
    labels = bunch.target.astype(np.int64)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for order in _stratified_order(labels, seed):
        n_test = round(test_fraction * len(order))
        n_val = round(val_fraction * len(order))
        parts["test"].append(order[:n_test])
        parts["val"].append(order[n_test:n_test + n_val])
        parts["train"].append(order[n_test + n_val:])

    def make(name: str) -> Split:
        index = np.sort(np.concatenate(parts[name]))
        return Split(torch.from_numpy(images[index]).unsqueeze(1),
                     torch.from_numpy(labels[index]))

    return DigitsData(train=make("train"), val=make("val"), test=make("test"))


def subsample(split: Split, fraction: float, seed: int = 0) -> Split:
    """A stratified, seeded ``fraction`` of ``split`` (at least one image per class).

    With the same ``seed``, the subset for a smaller fraction is contained in the
    subset for a larger one, so a learning curve adds data rather than swapping it.
    ``fraction=1`` returns ``split`` itself.
    """
    if not isinstance(split, Split):
        raise TypeError(f"split must be a Split, got {type(split).__name__}")
    fraction = _check_fraction(fraction, "fraction", allow_one=True)
    seed = require_int(seed, "seed", minimum=0)
    if fraction == 1.0:
        return split
    keep = [order[:max(1, round(fraction * len(order)))]
            for order in _stratified_order(split.y.numpy(), seed) if len(order)]
    index = torch.from_numpy(np.sort(np.concatenate(keep)))
    return Split(split.x[index], split.y[index])

