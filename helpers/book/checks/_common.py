"""The scaffolding every checker shares: call the learner's code, read what it
returned, compare it with a reference within its dtype's tolerance.

A checker is written as a plain function that raises :class:`Refusal` with the
message for the learner as soon as something is wrong; :func:`checker` turns
that into a failing :class:`~helpers.book.checks.CheckResult`. Whatever the learner
returns (None, a string, an array of strings, a tensor, an object whose
methods raise), the checker answers with a message and never crashes.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, ParamSpec

import numpy as np
import torch

from helpers.book.checks import CheckResult, failed, passed
from helpers.core import _validate

P = ParamSpec("P")

#: Relative tolerance for an answer of each floating dtype (of the scale of the
#: reference); integers and float64 must be exact to within rounding.
_RTOL = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-5}
_RTOL_EXACT = 1e-9
_RTOL_BFLOAT16 = 2e-2


class Refusal(Exception):
    """Raised inside a checker: the answer is wrong; the argument is the message."""


#: What a learner is told if examining their answer raised an unforeseen error.
UNFORESEEN = "The checker could not examine your answer"


def bad_argument(error: TypeError | ValueError) -> TypeError | ValueError:
    """Mark an error in a checker's own arguments, which :func:`checker` lets
    through (it is the caller's mistake, not an answer to grade)."""
    error.checker_argument = True  # type: ignore[union-attr]
    return error


def require_callable(fn: object, name: str = "fn", kind: str = "a function") -> None:
    """Refuse (TypeError) a checker argument that cannot be called."""
    if not callable(fn):
        raise bad_argument(TypeError(f"{name} must be {kind}, got {type(fn).__name__}"))


def require_seed(seed: object) -> int:
    """A checker's ``seed`` argument as an int >= 0; a bad one is the caller's
    mistake (raised), not the learner's answer."""
    try:
        return _validate.require_int(seed, "seed", minimum=0)
    except (TypeError, ValueError) as error:
        raise bad_argument(error) from None


def checker(run: Callable[P, str]) -> Callable[P, CheckResult]:
    """Turn ``run`` (returns the success message, raises :class:`Refusal`)
    into a checker that returns a :class:`~helpers.book.checks.CheckResult`.

    Errors in the checker's own arguments (see :func:`bad_argument`) are raised;
    any other error while examining the answer becomes a failing result, so
    that a learner always gets a message.
    """

    @functools.wraps(run)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> CheckResult:
        try:
            return passed(run(*args, **kwargs))
        except Refusal as refusal:
            return failed(str(refusal))
        except Exception as exc:
            if getattr(exc, "checker_argument", False):
                raise
            return failed(f"{UNFORESEEN} ({type(exc).__name__}: {_short(str(exc))}). "
                          "Return the kind of value the exercise asks for.")

    wrapped.is_checker = True  # type: ignore[attr-defined]  # how tests find every checker
    return wrapped


def describe(value: Any) -> str:
    """A short description of a returned value for a message."""
    if isinstance(value, np.ndarray | torch.Tensor):
        kind = "NumPy array" if isinstance(value, np.ndarray) else "tensor"
        return f"a {kind} of shape {tuple(value.shape)} and dtype {value.dtype}"
    try:
        text = repr(value)
    except Exception:  # a learner's object whose repr fails
        return f"an object of type {type(value).__name__}"
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{text} ({type(value).__name__})"


def call(fn: Callable[..., Any], args: Sequence[Any], where: str,
         error_hint: Callable[[Exception], str] | None = None) -> Any:
    """``fn(*args)``, or a refusal that reports the learner's exception (with
    ``error_hint(exception)`` after it, if given)."""
    try:
        return fn(*args)
    except Exception as exc:  # report the learner's error as a message
        hint = f". {error_hint(exc)}" if error_hint else ""
        raise Refusal(f"{where} raised {type(exc).__name__}: {_short(str(exc))}{hint}") from None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _scalar_array(value: Any) -> np.ndarray | None:
    """A 0-d array holding a NumPy scalar, 0-d array or 0-d tensor, else None."""
    if isinstance(value, torch.Tensor):
        if value.ndim != 0:
            return None
        value = _tensor_to_numpy(value)
    if isinstance(value, np.generic | np.ndarray):
        array = np.asarray(value)
        return array if array.ndim == 0 else None
    return None


def _whole(value: numbers.Rational | Decimal) -> bool:
    try:
        return bool(value == math.floor(value))
    except (ArithmeticError, ValueError):  # NaN, infinity
        return False


def as_int(value: Any, where: str, hint: str = "") -> int:
    """A whole-number answer as an int: Python and NumPy integers, 0-d integer
    arrays and tensors are accepted; bools, floats and everything else refused
    (``hint`` is added when a float was returned)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        return int(value)
    if (isinstance(value, numbers.Rational | Decimal) and not isinstance(value, bool | np.bool_)
            and _whole(value)):
        return int(value)  # an exact whole number: Fraction(51, 1), Decimal("51")
    array = _scalar_array(value)
    if array is not None and array.dtype.kind in "iu":
        return int(array)
    message = f"{where} returned {describe(value)}; return a whole number (an int)."
    if hint and isinstance(value, float | np.floating):
        message += " " + hint
    elif isinstance(value, float | np.floating) and float(value).is_integer():
        message += " Convert it with int(...)."
    raise Refusal(message)


def as_real(value: Any, where: str) -> tuple[float, float]:
    """A real-number answer as ``(float, relative tolerance)``: Python and NumPy
    numbers, 0-d arrays and tensors; the tolerance follows the dtype."""
    if isinstance(value, bool | np.bool_):
        array = None
    elif isinstance(value, int | float) and not isinstance(value, np.generic):
        return float(value), _python_rtol(np.array([value], dtype=np.float64))
    elif isinstance(value, numbers.Rational | Decimal):  # exact: Fraction, Decimal
        number = float(value)
        if not math.isfinite(number):
            raise Refusal(f"{where} returned {describe(value)}; return a finite number.")
        return number, _RTOL_EXACT
    else:
        array = _scalar_array(value)
    if array is None or array.dtype.kind not in "iuf":
        raise Refusal(f"{where} returned {describe(value)}; return a number (a float).")
    return float(array), rtol_for(array.dtype)


def _python_rtol(array: np.ndarray) -> float:
    """The tolerance of numbers that came without a dtype (Python floats, lists):
    float32's if every one is exactly a float32 (as ``tensor.tolist()`` of a
    float32 result gives), else float64's."""
    finite = array[np.isfinite(array)]
    with np.errstate(over="ignore"):
        single = finite.astype(np.float32).astype(np.float64)
    integral = np.all(finite == np.round(finite))
    if finite.size and not integral and np.array_equal(single, finite):
        return _RTOL[np.dtype(np.float32)]
    return _RTOL_EXACT


def rtol_for(dtype: np.dtype) -> float:
    """The relative tolerance of an answer of this dtype."""
    return _RTOL.get(np.dtype(dtype), _RTOL_EXACT)


def _tensor_to_numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu().resolve_conj().resolve_neg()
    if tensor.dtype == torch.bfloat16:
        return tensor.float().numpy()
    return tensor.numpy()


def as_array(value: Any, where: str, verb: str = "returned") -> tuple[np.ndarray, float]:
    """An array answer as ``(float64 array, relative tolerance)``.

    NumPy arrays, tensors (any device, with or without grad) and nested lists of
    numbers are accepted; the tolerance follows the answer's dtype (a bfloat16
    tensor gets bfloat16's). None, strings, arrays of strings, objects, booleans
    and complex numbers are refused with a message.
    """
    rtol = None
    if isinstance(value, torch.Tensor):
        if value.dtype == torch.bfloat16:
            rtol = _RTOL_BFLOAT16
        try:
            value = _tensor_to_numpy(value)
        except Exception as exc:  # e.g. a tensor without storage
            raise Refusal(f"{where} {verb} a tensor NumPy cannot read "
                          f"({type(exc).__name__}).") from None
    if isinstance(value, np.ndarray):
        array = value
    elif isinstance(value, np.generic):
        array = np.asarray(value)
    elif isinstance(value, list | tuple):
        try:
            array = np.asarray(value)
        except Exception:  # ragged lists and the like
            array = None
        if array is None or array.dtype.kind not in "iuf":
            raise Refusal(f"{where} {verb} {describe(value)}, which is not an "
                          "array of numbers; return a NumPy array.")
        if array.dtype == np.float64:  # Python floats: their precision is not written
            rtol = _python_rtol(array.ravel())
    else:
        raise Refusal(f"{where} {verb} {describe(value)}; return a NumPy array (or a "
                      "tensor).")
    if array.dtype.kind not in "iuf":
        kind = {"b": "booleans", "c": "complex numbers", "U": "strings", "S": "strings",
                "O": "Python objects"}.get(array.dtype.kind, f"dtype {array.dtype}")
        raise Refusal(f"{where} {verb} an array of {kind}; return an array of real "
                      "numbers (float).")
    if rtol is None:
        rtol = rtol_for(array.dtype)
    return np.array(array, dtype=np.float64), rtol


def array_pair(answer: Any, where: str, names: tuple[str, str],
               labels: tuple[str, str] | None = None, verb: str = "returned"
               ) -> list[tuple[np.ndarray, float]]:
    """A pair answer ``(names[0], names[1])``, each part as :func:`as_array` gives it.

    ``where`` says who returned it; ``labels`` name each part in a refusal (by
    default ``"<where>, <name>"``). Anything but a pair of arrays is refused with
    what to return.
    """
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        what = (f"a {type(answer).__name__} of {len(answer)} items"
                if isinstance(answer, tuple | list) else describe(answer))
        raise Refusal(f"{where} returned {what}; return a pair ({names[0]}, {names[1]}).")
    labels = labels or (f"{where}, {names[0]}", f"{where}, {names[1]}")
    return [as_array(part, label, verb=verb) for part, label in zip(answer, labels, strict=True)]


def largest_error(got: np.ndarray, want: np.ndarray) -> float:
    """The largest absolute difference (inf if ``got`` has NaN or inf)."""
    difference = np.abs(got - want)
    return float(np.max(difference)) if np.all(np.isfinite(difference)) else math.inf


def scale_of(want: np.ndarray | float) -> float:
    """The size the tolerance is relative to: the reference's largest entry (at least 1e-12)."""
    return max(float(np.max(np.abs(want))) if np.size(want) else 0.0, 1e-12)


def close(got: np.ndarray | float, want: np.ndarray | float, rtol: float,
          scale: float | None = None) -> bool:
    """Whether ``got`` equals ``want`` to ``rtol`` times ``scale`` (default
    :func:`scale_of` the reference) everywhere; same shapes assumed."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return False
    return largest_error(got, want) <= rtol * (scale_of(want) if scale is None else scale)


def precision_hint(got: np.ndarray, want: np.ndarray, rtol: float) -> str:
    """A hint when a float64 answer is only as accurate as float32 arithmetic."""
    if rtol == _RTOL_EXACT and close(got, want, _RTOL[np.dtype(np.float32)]):
        return (" Your float64 answer agrees only to float32 precision: was part of it "
                "computed in float32? Return the float32 result as it is, or compute in "
                "float64 throughout.")
    return ""


def unchanged(originals: Sequence[np.ndarray | torch.Tensor],
              given: Sequence[np.ndarray | torch.Tensor]) -> bool:
    """Whether every argument handed to the learner still equals its original."""
    for original, copy in zip(originals, given, strict=True):
        if isinstance(original, torch.Tensor):
            same = (original.shape == copy.shape
                    and torch.equal(original, copy.detach().to(original.dtype)))
        else:
            same = (original.shape == copy.shape
                    and np.array_equal(original, copy, equal_nan=True))
        if not same:
            return False
    return True


def first_match(mistakes: Sequence[tuple[Callable[..., Any], str]],
                answers: dict[Any, Any], same: Callable[[Any, Any], bool]) -> str | None:
    """The hint of the first mistake that reproduces *every* answer, or None.

    ``mistakes`` pairs a wrong formula of a case with its hint; ``answers`` maps
    each case to the learner's answer. A hint is only given when the evidence
    (all the answers, not one) supports it.
    """
    for mistake, hint in mistakes:
        try:
            if all(same(answer, mistake(*case)) for case, answer in answers.items()):
                return hint
        except (ArithmeticError, ValueError):  # the formula is undefined on some case
            continue
    return None


def collect(fn: Callable[..., Any], cases: Sequence[tuple[Any, ...]],
            where: Callable[[tuple[Any, ...]], str],
            read: Callable[[Any, str], Any]) -> dict[tuple[Any, ...], Any]:
    """The learner's answer on every case, each read with ``read`` (e.g. :func:`as_int`)."""
    return {case: read(call(fn, case, where(case)), where(case)) for case in cases}


def compare_all(answers: dict[tuple[Any, ...], Any], expected: dict[tuple[Any, ...], Any],
                same: Callable[[Any, Any], bool], where: Callable[[tuple[Any, ...]], str],
                mistakes: Sequence[tuple[Callable[..., Any], str]], fallback: str,
                show: Callable[[Any], str] = str, expected_word: str = "expected") -> None:
    """Refuse at the first case whose answer is not ``same`` as expected, with
    the hint of the mistake that reproduces every answer, else ``fallback``."""
    for case, got in answers.items():
        want = expected[case]
        if not same(got, want):
            hint = first_match(mistakes, answers, same) or fallback
            raise Refusal(f"{where(case)} returned {show(got)}, {expected_word} "
                          f"{show(want)}. {hint}")


def input_dtype(module: torch.nn.Module) -> torch.dtype:
    """The dtype a module's input should have: that of its first floating
    parameter (float32 if it has none), so a float64 module is run in float64."""
    for parameter in module.parameters():
        if parameter.is_floating_point():
            return parameter.dtype
    return torch.float32


def array_answer(fn: Callable[..., Any], inputs: dict[str, np.ndarray], want: np.ndarray,
                 where: str, *, extra: Sequence[Any] = (),
                 shape_hint: Callable[[tuple[int, ...]], str] = lambda shape: ".",
                 error_hint: Callable[[Exception], str] | None = None,
                 ) -> tuple[np.ndarray, float, bool]:
    """Run ``fn`` on copies of the arrays ``inputs`` (then ``extra``) and read
    its array answer: ``(answer, its tolerance, whether it equals want)``.

    Refuses an answer of the wrong shape (``shape_hint(shape)`` completes the
    message after "expected <shape>") and a function that changed its inputs.
    """
    given = tuple(array.copy() for array in inputs.values())
    got, rtol = as_array(call(fn, (*given, *extra), where, error_hint), where)
    if got.shape != want.shape:
        raise Refusal(f"{where} returned shape {got.shape}, expected {want.shape}"
                      f"{shape_hint(got.shape)}")
    right = close(got, want, rtol)
    if not unchanged(tuple(inputs.values()), given):
        raise Refusal(f"{where} changed its argument {' or '.join(inputs)} in place"
                      f"{'' if right else ' (and its result is wrong)'}: leave the inputs "
                      "as they were and return a new array.")
    return got, rtol, right
