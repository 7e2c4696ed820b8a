"""Small input checks shared by the helpers modules.

Each check names the argument, says what was expected and what it got, and
raises TypeError for a value of the wrong kind or ValueError for a value of the
right kind but out of range. NumPy scalars are accepted wherever Python numbers
are, and come back as Python numbers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def _describe(value: Any) -> str:
    """A short description of a value for an error message."""
    if isinstance(value, np.ndarray):
        return f"a {value.ndim}-D array with shape {value.shape}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text


def _is_int(value: Any) -> bool:
    """True for Python and NumPy integers, False for bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _int_kind(minimum: int) -> str:
    """Name an int with a lower bound: "positive int", "non-negative int", "int >= 2"."""
    return {1: "positive int", 0: "non-negative int"}.get(minimum, f"int >= {minimum}")


def _a(noun: str) -> str:
    """The noun with its indefinite article."""
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, requiring ``value >= minimum``."""
    kind = _int_kind(minimum)
    if not _is_int(value):
        raise TypeError(f"{name} must be {_a(kind)}, got {_describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be {_a(kind)}, got {value}")
    return int(value)


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as an int, requiring ``value >= 1``."""
    return check_int(value, name, minimum=1)


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` as a bool; only True and False (Python or NumPy) are accepted."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def check_number(value: Any, name: str, *, low: float | None = None,
                 high: float | None = None, low_open: bool = False,
                 high_open: bool = False) -> float:
    """Return a finite real number (Python or NumPy, not bool) as a float, in a range.

    ``low`` and ``high`` bound it (``None``: unbounded); ``low_open`` and
    ``high_open`` exclude the bound itself.
    """
    lower = "(" if low_open else "["
    upper = ")" if high_open else "]"
    wanted = "a finite number" if low is None and high is None else (
        f"a number in {lower}{'-inf' if low is None else f'{low:g}'}, "
        f"{'inf' if high is None else f'{high:g}'}{upper}")
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {wanted}, got {_describe(value)}")
    number = float(value)
    if not math.isfinite(number) or (
            low is not None and (number < low or (low_open and number == low))) or (
            high is not None and (number > high or (high_open and number == high))):
        raise ValueError(f"{name} must be {wanted}, got {number!r}")
    return number


def check_callable(value: Any, name: str, expected: str = "a function") -> Callable[..., Any]:
    """Return ``value`` if it can be called."""
    if not callable(value):
        raise TypeError(f"{name} must be {expected}, got {_describe(value)}")
    return value


def as_pair(value: Any, name: str, minimum: int = 1) -> tuple[int, int]:
    """Return an int or a pair of ints as a pair ``(height, width)``.

    Every entry must be an int ``>= minimum`` (1 by default; 0 for padding).
    """
    kind = _int_kind(minimum)
    expected = f"{name} must be {_a(kind)} or a pair of {kind}s, got "
    if _is_int(value):
        values = (value, value)
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        values = tuple(value)
    else:
        raise TypeError(expected + _describe(value))
    if not all(_is_int(v) for v in values):
        raise TypeError(expected + _describe(value))
    if any(v < minimum for v in values):
        raise ValueError(expected + _describe(value))
    return int(values[0]), int(values[1])


def check_array(x: Any, name: str, ndim: int | tuple[int, ...] | None = None, *,
                empty_batch: bool = False) -> np.ndarray:
    """Check that ``x`` is a real-valued NumPy array with an allowed number of dimensions.

    Lists, strings, tensors and other objects are refused rather than silently
    converted, so a mistake shows up where it was made. An empty array is
    refused, except with ``empty_batch=True`` when only its first (batch)
    axis of a 4-D array is 0, as ``torch.nn.functional.conv2d`` allows.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array, got {type(x).__name__} {_describe(x)}")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            wanted = " or ".join(f"{n}-D" for n in allowed)
            raise ValueError(f"{name} must be a {wanted} array, got {_describe(x)}")
    batch_only = empty_batch and x.ndim == 4 and x.shape[0] == 0 and all(x.shape[1:])
    if x.size == 0 and not batch_only:
        raise ValueError(f"{name} must not be empty, got {_describe(x)}")
    return x


def check_input_channels(x: Any, in_channels: int, owner: str) -> None:
    """Check that a layer input ``x`` is a tensor ``(B, M, H, W)`` or ``(M, H, W)`` with
    ``M = in_channels``, as ``nn.Conv2d`` accepts. ``owner`` names the layer in the message.
    """
    import torch  # here, so that the NumPy modules do not import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{owner} expected a torch.Tensor (B, M, H, W) or (M, H, W), got "
                        f"{type(x).__name__} {_describe(x)}; convert it with torch.from_numpy")
    shape = tuple(x.shape)
    if len(shape) not in (3, 4):
        raise ValueError(
            f"{owner} expected a 4-D input (B, M, H, W) or a 3-D input (M, H, W) with "
            f"{in_channels} channels, got a {len(shape)}-D input with shape {shape}"
        )
    if shape[-3] != in_channels:
        raise ValueError(
            f"{owner} expected input with {in_channels} channels (in_channels={in_channels}), "
            f"got {shape[-3]} (shape {shape})"
        )
