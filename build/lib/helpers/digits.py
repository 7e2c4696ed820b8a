"""The overfitting experiment's data and models: 8x8 handwritten digits and small CNNs.

The data are scikit-learn's bundled copy of the UCI optical digits (1,797
images of 8x8 pixels, ten classes; no download). :func:`load_digits_split` scales
them to [0, 1], shapes them ``(N, 1, 8, 8)`` and splits them, stratified by
class and seeded, into train, validation and test sets. :func:`subsample` keeps
a stratified fraction of a split; with one seed, a smaller fraction is a subset
of a larger one.

The models are one small CNN in two kinds (:func:`make_cnn`): ``"normal"``
uses ``nn.Conv2d`` and ``"separable"`` uses
:class:`helpers.layers.DepthwiseSeparableConv2d` at the same widths.
:func:`separable_width_for_budget` finds the width at which the separable
network has (as nearly as possible) a given number of parameters.

Usage::

    from helpers.digits import load_digits_split, make_cnn, subsample
    from helpers.train import train

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
from torch import nn

from helpers._validate import check_int, check_positive_int
from helpers.cost import count_parameters
from helpers.layers import DepthwiseSeparableConv2d

#: Number of classes (the digits 0 to 9).
NUM_CLASSES = 10
#: Height and width of one image.
IMAGE_SIZE = 8
#: The two kinds of network :func:`make_cnn` builds.
KINDS = ("normal", "separable")


@dataclass(frozen=True)
class Split:
    """One part of the data set: images ``x`` of shape (N, 1, 8, 8), float32 in
    [0, 1], and labels ``y`` of shape (N,), int64 in 0..9."""

    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if not isinstance(self.x, torch.Tensor) or not isinstance(self.y, torch.Tensor):
            raise TypeError("Split needs torch tensors x and y, got "
                            f"{type(self.x).__name__} and {type(self.y).__name__}")
        if self.x.ndim != 4 or self.y.ndim != 1 or len(self.x) != len(self.y):
            raise ValueError("Split needs x of shape (N, C, H, W) and y of shape (N,), got "
                             f"{tuple(self.x.shape)} and {tuple(self.y.shape)}")

    def __len__(self) -> int:
        return len(self.y)

    def class_counts(self) -> list[int]:
        """Number of images of each digit 0..9."""
        return torch.bincount(self.y, minlength=NUM_CLASSES).tolist()


@dataclass(frozen=True)
class DigitsData:
    """The fixed train / validation / test split of the digits."""

    train: Split
    val: Split
    test: Split


def _check_fraction(value: Any, name: str, *, allow_zero: bool, allow_one: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise TypeError(f"{name} must be a number, got {value!r}")
    low_ok = value >= 0 if allow_zero else value > 0
    high_ok = value <= 1 if allow_one else value < 1
    if not (low_ok and high_ok and np.isfinite(value)):
        low = "[0" if allow_zero else "(0"
        high = "1]" if allow_one else "1)"
        raise ValueError(f"{name} must be in {low}, {high}, got {value!r}")
    return float(value)


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
    val_fraction = _check_fraction(val_fraction, "val_fraction", allow_zero=False,
                                   allow_one=False)
    test_fraction = _check_fraction(test_fraction, "test_fraction", allow_zero=False,
                                    allow_one=False)
    if val_fraction + test_fraction >= 1:
        raise ValueError("val_fraction + test_fraction must be below 1 to leave a training "
                         f"set, got {val_fraction} + {test_fraction}")
    seed = check_int(seed, "seed", minimum=0)
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
    fraction = _check_fraction(fraction, "fraction", allow_zero=False, allow_one=True)
    seed = check_int(seed, "seed", minimum=0)
    if fraction == 1.0:
        return split
    keep = [order[:max(1, round(fraction * len(order)))]
            for order in _stratified_order(split.y.numpy(), seed) if len(order)]
    index = torch.from_numpy(np.sort(np.concatenate(keep)))
    return Split(split.x[index], split.y[index])


def _conv_block(kind: str, in_channels: int, out_channels: int,
                batch_norm: bool) -> list[nn.Module]:
    """A size-preserving 3x3 convolution of the given kind, with its norm and ReLU."""
    norm = nn.BatchNorm2d if batch_norm else None
    if kind == "separable":  # depthwise [+ norm] + ReLU, pointwise [+ norm] + ReLU
        return [DepthwiseSeparableConv2d(in_channels, out_channels, 3, padding=1,
                                         norm_layer=norm, activation=nn.ReLU)]
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 3, padding=1,
                                         bias=not batch_norm)]
    if norm is not None:
        layers.append(norm(out_channels))
    return [*layers, nn.ReLU()]


def make_cnn(kind: str = "normal", width: int = 8, *, batch_norm: bool = True,
             seed: int | None = None) -> nn.Sequential:
    """A small CNN for 8x8 digits, with normal or depthwise separable convolutions.

    Layers (``w = width``; "conv" is the ``kind`` of convolution, each one
    followed by batch norm, if ``batch_norm``, and ReLU)::

        stem:    Conv2d(1, w, 3x3), MaxPool 2      8x8 -> 4x4   (normal in both kinds)
        block 1: conv(w, 2w, 3x3)                  4x4
        block 2: conv(2w, 2w, 3x3)                 4x4
        head:    global average pool, Linear(2w, 10)

    ``kind="normal"`` makes the blocks ``nn.Conv2d``; ``kind="separable"`` makes
    them :class:`~helpers.layers.DepthwiseSeparableConv2d` in MobileNet's form
    (depthwise 3x3, norm, ReLU, pointwise 1x1, norm, ReLU). The stem stays a
    normal convolution in both, as in MobileNet: with one input channel a
    separable stem could only scale a single filter. Convolutions followed by a
    batch norm have no bias (the norm's shift replaces it). ``seed`` makes the
    initial weights reproducible without touching PyTorch's global random state.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    width = check_positive_int(width, "width")
    if not isinstance(batch_norm, bool):
        raise TypeError(f"batch_norm must be True or False, got {batch_norm!r}")
    if seed is not None:
        seed = check_int(seed, "seed", minimum=0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return make_cnn(kind, width, batch_norm=batch_norm)
    return nn.Sequential(
        *_conv_block("normal", 1, width, batch_norm), nn.MaxPool2d(2),
        *_conv_block(kind, width, 2 * width, batch_norm),
        *_conv_block(kind, 2 * width, 2 * width, batch_norm),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, NUM_CLASSES),
    )


def cnn_parameters(kind: str, width: int, *, batch_norm: bool = True) -> int:
    """Number of parameters of ``make_cnn(kind, width, batch_norm=...)``, counted on the model."""
    with torch.device("meta"):  # shapes only: no memory, no random numbers
        return count_parameters(make_cnn(kind, width, batch_norm=batch_norm))


def separable_width_for_budget(target_params: int, *, batch_norm: bool = True,
                               max_width: int = 1024) -> int:
    """The width at which the separable CNN's parameter count is closest to ``target_params``.

    The count grows with the width, so a bisection finds the first width whose
    count reaches the target; the answer is it or the width before, whichever is
    closer (the smaller on a tie). Widths up to ``max_width`` are allowed.
    """
    target_params = check_positive_int(target_params, "target_params")
    max_width = check_positive_int(max_width, "max_width")

    def count(width: int) -> int:
        return cnn_parameters("separable", width, batch_norm=batch_norm)

    if count(max_width) < target_params:
        raise ValueError(f"target_params={target_params} needs a width above "
                         f"max_width={max_width}")
    low, high = 1, max_width  # invariant: count(high) >= target
    while low < high:
        middle = (low + high) // 2
        if count(middle) >= target_params:
            high = middle
        else:
            low = middle + 1
    if high > 1 and target_params - count(high - 1) <= count(high) - target_params:
        return high - 1
    return high
