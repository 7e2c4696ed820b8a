"""Guards that refuse to record a contaminated run.

A measurement on a shared machine can be disturbed by other programs. Three
symptoms show it, whatever the machine:

- ``agreement``: no other round reproduced a variant's fastest round within a
  stated bound (undisturbed rounds were too rare to be measured reliably);
- ``thread-speedup``: ``T`` threads faster than one by more than ``T`` (times a
  small slack): impossible for the same work, so the one-thread baseline was slowed;
- ``peak``: an operation achieving more FLOP/s than the measured peak (times a
  small slack): the peak, or the operation's time, is wrong.

:func:`measure_guarded` measures with :func:`helpers.lab.timing.measure_rounds`,
re-measures the offending variants a few times and raises
:class:`ContaminatedRun`, naming the guard, if they still fail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from helpers.core._validate import require_int, require_number
from helpers.lab.timing import Measurement, Variant, measure_rounds

__all__ = ["GUARDS", "ContaminatedRun", "Failure", "GuardBounds", "find_failures",
           "measure_guarded"]

#: The guards' names, as :class:`ContaminatedRun` reports them.
GUARDS = ("agreement", "thread-speedup", "peak")


class ContaminatedRun(RuntimeError):
    """A measurement a guard refused; ``guard`` is one of :data:`GUARDS`."""

    def __init__(self, guard: str, message: str) -> None:
        super().__init__(f"guard '{guard}' refused the run: {message}")
        self.guard = guard


@dataclass(frozen=True)
class GuardBounds:
    """The thresholds of the guards."""

    #: Largest relative gap between the fastest and the second-fastest round
    #: (:attr:`helpers.lab.timing.Measurement.agreement`).
    agreement: float = 0.05
    slack: float = 0.05  #: tolerance of the thread-speedup and peak guards (5 %)

    def __post_init__(self) -> None:
        require_number(self.agreement, "agreement", low=0, low_open=True)
        require_number(self.slack, "slack", low=0)


@dataclass(frozen=True)
class Failure:
    guard: str
    labels: tuple[str, ...]
    message: str


def find_failures(results: Mapping[str, Measurement], bounds: GuardBounds, *,
                  thread_pairs: Sequence[tuple[str, str]] = (),
                  flops: Mapping[str, float] | None = None,
                  peak: float | Mapping[int, float] | None = None) -> list[Failure]:
    """Every guard failure of ``results`` (label -> measurement).

    ``thread_pairs``: ``(one-thread label, T-thread label)`` pairs of the same
    work; ``flops``: FLOPs of one call by label, checked against ``peak`` FLOP/s
    (one number, or one per thread count).
    """
    failures = []
    for label, m in results.items():
        if m.agreement > bounds.agreement:
            failures.append(Failure("agreement", (label,),
                                    f"{label}: the two fastest rounds differ by "
                                    f"{m.agreement:.1%}, above the bound "
                                    f"{bounds.agreement:.0%}"))
    for one, many in thread_pairs:
        t = results[many].threads
        speedup = results[one].best / results[many].best
        if speedup > t * (1 + bounds.slack):
            failures.append(Failure("thread-speedup", (one, many),
                                    f"{many} is {speedup:.2f}x faster than {one} on {t} "
                                    f"threads (at most {t} possible)"))
    if peak is not None:
        for label, work in (flops or {}).items():
            m = results[label]
            roof = peak if not isinstance(peak, Mapping) else peak.get(m.threads)
            achieved = work / m.best
            if roof is not None and achieved > roof * (1 + bounds.slack):
                failures.append(Failure("peak", (label,),
                                        f"{label} achieved {achieved / 1e9:.1f} GFLOP/s, above "
                                        f"the measured peak {roof / 1e9:.1f} GFLOP/s"))
    return failures


def measure_guarded(variants: Sequence[Variant], *, bounds: GuardBounds = GuardBounds(),
                    thread_pairs: Sequence[tuple[str, str]] = (),
                    flops: Mapping[str, float] | None = None,
                    peak: float | Mapping[int, float] | None = None,
                    rounds: int = 7, min_time: float = 0.3, retries: int = 3,
                    clock: Callable[[], float] | None = None,
                    log: Callable[[str], object] = print) -> dict[str, Measurement]:
    """Measure ``variants`` interleaved and check them with :func:`find_failures`.

    Offending variants are measured again (together, interleaved) up to
    ``retries`` times; each clean re-measurement replaces the old one. If a
    guard still fails, raises :class:`ContaminatedRun` naming it.
    """
    retries = require_int(retries, "retries", minimum=0)
    by_label = {v.label: v for v in variants}
    if len(by_label) != len(variants):
        raise ValueError("variants must have distinct labels")
    results = {m.label: m for m in measure_rounds(variants, rounds=rounds, min_time=min_time,
                                                   clock=clock)}
    for attempt in range(retries + 1):
        failures = find_failures(results, bounds, thread_pairs=thread_pairs, flops=flops,
                                 peak=peak)
        if not failures:
            return results
        if attempt == retries:
            first = failures[0]
            raise ContaminatedRun(first.guard, first.message
                                  + (f" (and {len(failures) - 1} more failures)"
                                     if len(failures) > 1 else "")
                                  + f", after {retries} re-measurements")
        again = {label for f in failures for label in f.labels}
        log(f"re-measuring {len(again)} variant(s): " + "; ".join(f.message for f in failures))
        remeasured = measure_rounds([v for v in variants if v.label in again], rounds=rounds,
                                    min_time=min_time, clock=clock)
        results.update({m.label: m for m in remeasured})
    raise AssertionError("unreachable")
