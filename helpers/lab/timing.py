"""The timing harness: compared variants interleaved in rounds, medians with intervals.

- :func:`measure_rounds` is the harness the recorded data goes through: every
  variant is called in turn in each round (so a change of machine load hits all
  of them, not one), each measurement is a loop of calls lasting at least
  ``min_time`` seconds, at the variant's fixed thread count
  (:func:`helpers.core.threads.fixed_threads`). It returns the per-call time of
  every round, from which :class:`Measurement` gives the median, a
  distribution-free interval for it and the relative interquartile range.
- :func:`time_callable` and :func:`time_module` are a quick single measurement
  (``torch.utils.benchmark``) for a reader's own machine;
  :func:`time_rounds`/:func:`time_calls` the same interleaved, without guards.

Times are in seconds. The guards that refuse an implausible run are in
:mod:`helpers.lab.guards`.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils import benchmark

from helpers.core._validate import (
    require_bool,
    require_callable,
    require_module,
    require_number,
    require_positive_int,
    require_tensor,
)
from helpers.core.modes import evaluating
from helpers.core.threads import fixed_threads

__all__ = ["MAX_REPEATS", "MAX_ROUNDS", "Measurement", "Timing", "Variant", "default_clock",
           "measure_rounds", "time_callable", "time_calls", "time_module", "time_rounds"]

#: The most repeats of a measurement, and rounds (or blocks) of a harness run, a
#: caller may ask for: more is almost surely a typo and would run for hours.
MAX_REPEATS = 100
MAX_ROUNDS = 1000


# --------------------------------------------------------------------------
# statistics of a list of per-call times
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    """The per-call times (seconds) of one variant, one per round."""

    label: str
    samples: tuple[float, ...]
    threads: int = 1

    @property
    def best(self) -> float:
        """The fastest round: the estimate of the code's own time. Other programs
        (on a virtual machine, other guests of the host) only ever add time, so
        the least disturbed round is the best estimate; the median is not, where
        disturbances are frequent."""
        return min(self.samples)

    @property
    def agreement(self) -> float:
        """How far the second-fastest round is above the fastest, relative to it.
        Small (0.02: 2 %) when another round reproduced the best time, so that it
        is the undisturbed time and not one lucky round; large when undisturbed
        rounds were too rare to be caught twice. Needs at least two rounds."""
        if len(self.samples) < 2:
            raise ValueError(f"{self.label}: agreement needs at least 2 rounds, got "
                             f"{len(self.samples)}")
        fastest, second = sorted(self.samples)[:2]
        return (second - fastest) / fastest

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def relative_iqr(self) -> float:
        """Interquartile range / median (0.05: the middle half within 5 %)."""
        q1, _, q3 = statistics.quantiles(self.samples, n=4, method="inclusive")
        return (q3 - q1) / self.median



# --------------------------------------------------------------------------
# the harness
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One thing to time: a callable of no arguments and its thread count."""

    label: str
    fn: Callable[[], object]
    threads: int = 1


def _loop(fn: Callable[[], object], n: int, clock: Callable[[], float]) -> float:
    start = clock()
    for _ in range(n):
        fn()
    return clock() - start


def default_clock(threads: int) -> Callable[[], float]:
    """The clock of a variant at ``threads`` threads: this process's processor time
    on one thread (moments when another program has the core are not counted, so
    a shared machine disturbs it less), the wall clock on several (processor
    time would add up the threads)."""
    return time.process_time if threads == 1 else time.perf_counter


def measure_rounds(variants: Sequence[Variant], *, rounds: int = 7, min_time: float = 0.3,
                   blocks: int = 5, clock: Callable[[], float] | None = None
                   ) -> list[Measurement]:
    """Time every variant once in each of ``rounds`` rounds, in turn (interleaved).

    Before the rounds each variant is warmed up and calibrated: the number of
    calls ``n`` that lasts at least ``min_time / blocks``. A measurement is
    ``blocks`` loops of ``n`` calls (at least ``min_time`` in all); its sample is
    the shortest time per call of the loops: on a shared machine (a virtual one
    whose host lends the core to others) disturbances only ever add time, so the
    least disturbed loop is the best estimate of the code's own time.
    ``clock`` is the time source in seconds (default: :func:`default_clock`;
    a test passes a fake one).
    """
    if isinstance(variants, Variant) or not isinstance(variants, Sequence) or not variants:
        raise TypeError(f"variants must be a non-empty list of Variant, got {variants!r}")
    for i, v in enumerate(variants):
        if not isinstance(v, Variant):
            raise TypeError(f"variants[{i}] must be a Variant, got {type(v).__name__}")
        require_callable(v.fn, f"variants[{i}].fn", "a function of no arguments")
        require_positive_int(v.threads, f"variants[{i}].threads")
    rounds = require_positive_int(rounds, "rounds", maximum=MAX_ROUNDS)
    blocks = require_positive_int(blocks, "blocks", maximum=MAX_ROUNDS)
    min_time = require_number(min_time, "min_time (seconds)", low=0, high=60, low_open=True)
    if clock is not None:
        require_callable(clock, "clock", "a function returning seconds")
    clocks = [clock or default_clock(v.threads) for v in variants]
    counts = []
    for v, tick in zip(variants, clocks, strict=True):
        with fixed_threads(v.threads):
            v.fn()  # warm-up: first-call allocation, weight packing
            n = 1
            while (elapsed := _loop(v.fn, n, tick)) < min_time / blocks:
                n = max(2 * n, math.ceil(1.2 * n * min_time / blocks / max(elapsed, 1e-9)))
                n = min(n, 2**30)
        counts.append(n)
    samples: list[list[float]] = [[] for _ in variants]
    for _ in range(rounds):
        for v, n, tick, out in zip(variants, counts, clocks, samples, strict=True):
            with fixed_threads(v.threads):
                out.append(min(_loop(v.fn, n, tick) / n for _ in range(blocks)))
    return [Measurement(v.label, tuple(s), v.threads)
            for v, s in zip(variants, samples, strict=True)]


# --------------------------------------------------------------------------
# a single quick measurement (torch.utils.benchmark)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """One measurement: the median and interquartile range of the time of one call."""

    label: str
    median: float  #: seconds per call (median over blocks of runs)
    iqr: float  #: interquartile range of the per-call times, seconds
    runs: int  #: number of calls timed in total
    threads: int

    @property
    def relative_iqr(self) -> float:
        """Spread of the measurement: IQR / median (0.05 means +-2.5 % around the median)."""
        return self.iqr / self.median if self.median > 0 else math.inf


def _check_min_run_time(min_run_time: object) -> float:
    return require_number(min_run_time, "min_run_time (seconds)", low=0, high=60, low_open=True)


def time_callable(fn: Callable[[], object], *, label: str = "", threads: int = 1,
                  min_run_time: float = 0.3, repeats: int = 1) -> Timing:
    """Time ``fn()`` with ``torch.utils.benchmark.Timer.blocked_autorange``.

    ``threads`` fixes ``torch.set_num_threads`` for the measurement (the previous
    value is restored); ``min_run_time`` is the least total time spent timing.
    Autograd stays as the caller set it (a training step can be timed).
    ``repeats > 1`` measures that many times and keeps the smallest median.
    """
    require_callable(fn, "fn", "a function of no arguments")
    if not isinstance(label, str):
        raise TypeError(f"label must be a str, got {label!r}")
    threads = require_positive_int(threads, "threads")
    min_run_time = _check_min_run_time(min_run_time)
    repeats = require_positive_int(repeats, "repeats", maximum=MAX_REPEATS)
    with fixed_threads(threads):
        fn()  # warm-up outside the timer: first-call allocation, weight packing
        timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, label=label,
                                num_threads=threads)
        m = min((timer.blocked_autorange(min_run_time=min_run_time) for _ in range(repeats)),
                key=lambda measurement: measurement.median)
    runs = int(len(m.times) * m.number_per_run)
    return Timing(label=label, median=float(m.median), iqr=float(m.iqr), runs=runs,
                  threads=threads)


def time_module(module: nn.Module, x: torch.Tensor, *, threads: int = 1,
                min_run_time: float = 0.3, label: str = "", repeats: int = 1) -> Timing:
    """Time one forward pass ``module(x)`` in evaluation and inference mode.

    The module's train/eval modes are restored afterwards (batch norm's running
    statistics are not touched in evaluation mode).
    """
    require_module(module, "module")
    require_tensor(x, "x")

    def forward() -> None:
        with torch.inference_mode():
            module(x)

    with evaluating(module):
        try:
            forward()  # a trial call: an input that does not fit fails here, clearly
        except (RuntimeError, ValueError) as error:
            raise ValueError(f"x of shape {tuple(x.shape)} and dtype {x.dtype} does not fit "
                             f"the module: {str(error).splitlines()[0]}") from error
        return time_callable(forward, label=label or type(module).__name__, threads=threads,
                             min_run_time=min_run_time, repeats=repeats)


def time_rounds(calls: Mapping[str, Callable[[], object]], *, threads: int = 1,
                min_run_time: float = 0.05, rounds: int = 3,
                cpu_time: bool = False) -> dict[str, list[float]]:
    """Seconds per call of each callable in each of ``rounds`` interleaved rounds
    (:func:`measure_rounds` at ``threads`` threads, each measurement lasting at
    least ``min_run_time``). ``cpu_time=True`` (one thread only) uses this
    process's processor time instead of the wall clock."""
    if not isinstance(calls, Mapping) or not calls:
        raise TypeError(f"calls must be a non-empty mapping of label -> callable, got {calls!r}")
    for label, fn in calls.items():
        if not isinstance(label, str):
            raise TypeError(f"each label of calls must be a str, got {label!r}")
        if not callable(fn):
            raise TypeError(f"calls[{label!r}] must be callable, got {type(fn).__name__}")
    threads = require_positive_int(threads, "threads")
    rounds = require_positive_int(rounds, "rounds", maximum=MAX_ROUNDS)
    cpu_time = require_bool(cpu_time, "cpu_time")
    if cpu_time and threads != 1:
        raise ValueError(f"cpu_time=True needs threads=1 (the processor time of several "
                         f"threads adds up), got threads={threads}")
    min_run_time = _check_min_run_time(min_run_time)
    clock = time.process_time if cpu_time else time.perf_counter
    measured = measure_rounds([Variant(k, fn, threads) for k, fn in calls.items()],
                              rounds=rounds, min_time=min_run_time, blocks=1, clock=clock)
    return {m.label: list(m.samples) for m in measured}


def time_calls(calls: Mapping[str, Callable[[], object]], *, threads: int = 1,
               min_run_time: float = 0.05, rounds: int = 3,
               cpu_time: bool = False) -> dict[str, float]:
    """The median of each callable's times over ``rounds`` rounds of :func:`time_rounds`."""
    medians = time_rounds(calls, threads=threads, min_run_time=min_run_time, rounds=rounds,
                          cpu_time=cpu_time)
    return {label: statistics.median(values) for label, values in medians.items()}
