"""Small input checks shared by the helpers modules (the one home of each).

Each ``require_*`` names the argument, says what was expected and what it got,
and raises TypeError for a value of the wrong kind or ValueError for a value of
the right kind but out of range (NaN, inf, empty, too large). NumPy scalars,
0-d arrays and 0-d tensors are accepted wherever Python numbers are, and come
back as Python numbers. They are used where a learner calls; code that only the
book calls with literals stays plain.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def _describe(value: Any) -> str:
    """A short description of a value for an error message."""
    if isinstance(value, np.ndarray):
        return f"a {value.ndim}-D array with shape {value.shape}"
    if _is_tensor(value):
        return f"a {value.ndim}-D tensor with shape {tuple(value.shape)}"
    try:
        text = repr(value)
    except Exception:  # an object whose repr fails
        return f"an object of type {type(value).__name__}"
    if len(text) > 60:
        text = text[:57] + "..."
    return text


def _is_tensor(value: Any) -> bool:
    """True for a torch.Tensor (without importing torch: if it is not imported, no
    value can be a tensor)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def _scalar(value: Any) -> Any:
    """A 0-d NumPy array or 0-d tensor as the Python number it holds; anything else
    as it is."""
    if (isinstance(value, np.ndarray) or _is_tensor(value)) and value.ndim == 0:
        if _is_tensor(value) and value.dtype.is_complex:
            return value
        return value.item()
    return value


def _is_int(value: Any) -> bool:
    """True for Python and NumPy integers, False for bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def _int_kind(minimum: int) -> str:
    """Name an int with a lower bound: "positive int", "non-negative int", "int >= 2"."""
    return {1: "positive int", 0: "non-negative int"}.get(minimum, f"int >= {minimum}")


def _a(noun: str) -> str:
    """The noun with its indefinite article."""
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def require_int(value: Any, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an int, requiring ``minimum <= value`` (and ``<= maximum``)."""
    kind = _int_kind(minimum)
    value = _scalar(value)
    if not _is_int(value):
        raise TypeError(f"{name} must be {_a(kind)}, got {_describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be {_a(kind)}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum:,}, got {value:,}")
    return int(value)


def require_positive_int(value: Any, name: str, maximum: int | None = None) -> int:
    """Return ``value`` as an int, requiring ``value >= 1`` (and ``<= maximum``)."""
    return require_int(value, name, minimum=1, maximum=maximum)


#: The largest seed ``torch.Generator.manual_seed`` takes (an unsigned 64-bit integer).
MAX_SEED = 2**64 - 1


def require_seed(value: Any, name: str = "seed") -> int:
    """Return a seed: an int from 0 to :data:`MAX_SEED` (NumPy integers too, not bools)."""
    return require_int(value, name, minimum=0, maximum=MAX_SEED)


def require_seeds(values: Any, name: str = "seeds") -> list[int]:
    """Return a non-empty list, tuple or 1-D integer array of seeds as a list of ints."""
    if (isinstance(values, np.ndarray) or _is_tensor(values)) and values.ndim == 1:
        values = values.tolist()
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list of seeds (non-negative ints), got "
                        f"{_describe(values)}")
    if not values:
        raise ValueError(f"{name} must hold at least one seed, got {_describe(values)}")
    return [require_seed(v, f"{name}[{i}]") for i, v in enumerate(values)]


def require_bool(value: Any, name: str) -> bool:
    """Return ``value`` as a bool; only True and False (Python, NumPy or 0-d) are accepted."""
    value = _scalar(value)
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def require_number(value: Any, name: str, *, low: float | None = None,
                   high: float | None = None, low_open: bool = False,
                   high_open: bool = False) -> float:
    """Return a finite real number (Python, NumPy or 0-d, not bool) as a float, in a range.

    ``low`` and ``high`` bound it (``None``: unbounded); ``low_open`` and
    ``high_open`` exclude the bound itself.
    """
    lower = "(" if low_open else "["
    upper = ")" if high_open else "]"
    wanted = "a finite number" if low is None and high is None else (
        f"a number in {lower}{'-inf' if low is None else f'{low:g}'}, "
        f"{'inf' if high is None else f'{high:g}'}{upper}")
    value = _scalar(value)
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {wanted}, got {_describe(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float's range
        number = math.inf if value > 0 else -math.inf
    if not math.isfinite(number) or (
            low is not None and (number < low or (low_open and number == low))) or (
            high is not None and (number > high or (high_open and number == high))):
        raise ValueError(f"{name} must be {wanted}, got {number!r}")
    return number


def require_callable(value: Any, name: str, expected: str = "a function") -> Callable[..., Any]:
    """Return ``value`` if it can be called."""
    if not callable(value):
        raise TypeError(f"{name} must be {expected}, got {_describe(value)}")
    return value


def require_module(value: Any, name: str = "model") -> Any:
    """Return ``value`` if it is a ``torch.nn.Module``."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(value, torch.nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(value).__name__} "
                        f"{_describe(value)}")
    return value


def require_tensor(value: Any, name: str) -> Any:
    """Return ``value`` if it is a ``torch.Tensor``."""
    torch = sys.modules.get("torch")
    if torch is None or not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__} "
                        f"{_describe(value)}")
    return value


#: The most parameters a layer or model of the book may be built with (400 MB of
#: float32; MobileNetV1 at width 1 has 4.2 million): a larger request is almost
#: certainly a typo (a width multiplier of 75 meant as 0.75), refused before
#: anything is allocated.
MAX_PARAMETERS = 10**8


def require_parameter_count(count: int, owner: str, hint: str = "") -> None:
    """Refuse (ValueError) building ``owner`` with more than :data:`MAX_PARAMETERS`
    parameters, before anything is allocated; ``hint`` says which argument to look at."""
    if count > MAX_PARAMETERS:
        raise ValueError(f"{owner} would have {count:,} parameters, more than the "
                         f"{MAX_PARAMETERS:,} this book builds: check its arguments"
                         + (f" ({hint})" if hint else ""))


def as_pair(value: Any, name: str, minimum: int = 1) -> tuple[int, int]:
    """Return an int or a pair of ints as a pair ``(height, width)``.

    Every entry must be an int ``>= minimum`` (1 by default; 0 for padding); NumPy
    integers and 0-d arrays or tensors count as ints.
    """
    kind = _int_kind(minimum)
    expected = f"{name} must be {_a(kind)} or a pair of {kind}s, got "
    value = _scalar(value)
    if _is_int(value):
        values: tuple[Any, ...] = (value, value)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes) and len(value) == 2:
        values = tuple(_scalar(v) for v in value)
    else:
        raise TypeError(expected + _describe(value))
    if not all(_is_int(v) for v in values):
        raise TypeError(expected + _describe(value))
    if any(v < minimum for v in values):
        raise ValueError(expected + _describe(value))
    return int(values[0]), int(values[1])


def require_array(x: Any, name: str, ndim: int | tuple[int, ...] | None = None, *,
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


def require_input_channels(x: Any, in_channels: int, owner: str) -> None:
    """Check that a layer input ``x`` is a floating (or, in an int8 copy, quantized)
    tensor ``(B, M, H, W)`` or ``(M, H, W)`` with ``M = in_channels``, as ``nn.Conv2d``
    accepts. ``owner`` names the layer in the message.
    """
    if not _is_tensor(x):
        raise TypeError(f"{owner} expected a torch.Tensor (B, M, H, W) or (M, H, W), got "
                        f"{type(x).__name__} {_describe(x)}; convert it with torch.from_numpy")
    shape = tuple(x.shape)
    if not (x.is_floating_point() or x.is_quantized):
        raise TypeError(f"{owner} expected a floating-point tensor, got dtype {x.dtype}; "
                        "convert it with .float()")
    if len(shape) not in (3, 4):
        raise ValueError(
            f"{owner} expected a 4-D input (B, M, H, W) or a 3-D input (M, H, W) with "
            f"{in_channels} channels, got a {len(shape)}-D input with shape {shape}"
        )
    if 0 in shape[-2:]:
        raise ValueError(f"{owner} expected an input at least 1 x 1 in height and width, "
                         f"got shape {shape}")
    if shape[-3] != in_channels:
        raise ValueError(
            f"{owner} expected input with {in_channels} channels (in_channels={in_channels}), "
            f"got {shape[-3]} (shape {shape})"
        )


def require_layer_input(x: Any, weight: Any, owner: str) -> None:
    """Check that a floating tensor ``x`` has ``weight``'s dtype and device, as
    ``nn.Conv2d`` needs; the message says how to convert it. A quantized input (an
    int8 copy of the layer, whose ``weight`` is a method) is the quantized kernel's
    to check."""
    if x.is_quantized:
        return
    if x.dtype != weight.dtype:
        raise TypeError(f"{owner} has {weight.dtype} weights and got a {x.dtype} input; "
                        f"convert one of them (e.g. x.to({weight.dtype}))")
    if x.device != weight.device:
        raise ValueError(f"{owner} is on {weight.device} and got an input on {x.device}; "
                         f"move one of them (e.g. x.to('{weight.device}'))")
