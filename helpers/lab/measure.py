"""``python -m helpers.lab.measure [--quick] [--only ch6|ch8|ch10] [--out DIR]``

Takes the measurements chapters 6, 8 and 10 publish, under one harness
(:func:`helpers.lab.guards.measure_guarded`: variants interleaved in rounds,
each measurement at least 0.3 s, guards against a contaminated run), and writes
them with their provenance (:mod:`helpers.lab.provenance`) as the package data
the chapters read (:mod:`helpers.lab.records`).

``--quick`` uses small problems and short measurements, writes to a temporary
folder (or ``--out``) and never replaces the recorded data; the guards still
apply. A guard that still refuses after its re-measurements ends the script
with exit status 3 and a message naming the guard; nothing is written.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import torch

from helpers.lab.guards import ContaminatedRun, GuardBounds, measure_guarded
from helpers.lab.provenance import dispatch, machine, simd_lanes
from helpers.lab.records import RECORDS, save_record
from helpers.lab.roofline import cache_sizes
from helpers.lab.suites import Sizes, Spec, all_threads, ch6_specs, ch8_specs, peak_specs

__all__ = ["Settings", "main", "measure_peak", "run_specs"]


@dataclass(frozen=True)
class Settings:
    """How long and how strictly to measure."""

    rounds: int = 15
    min_time: float = 0.3  #: seconds per measurement (a loop of calls)
    retries: int = 3
    bounds: GuardBounds = GuardBounds()

    @classmethod
    def quick(cls) -> Settings:
        return cls(rounds=7, min_time=0.02, retries=2, bounds=GuardBounds(agreement=1.0))


def run_specs(specs: Sequence[Spec], settings: Settings, *,
              pairs: Sequence[tuple[str, str]] = (), peak: dict[int, float] | None = None,
              with_dispatch: bool = True, log=print) -> list[dict]:
    """Measure ``specs`` under the guards; one JSON-ready entry per spec."""
    from helpers.core.threads import fixed_threads
    from helpers.lab.timing import Variant

    flops = {s.label: s.flops for s in specs if s.flops and s.group != "peak"}
    results = measure_guarded([Variant(s.label, s.fn, s.threads) for s in specs],
                              bounds=settings.bounds, thread_pairs=pairs, flops=flops,
                              peak=peak, rounds=settings.rounds, min_time=settings.min_time,
                              retries=settings.retries, log=log)
    entries = []
    for s in specs:
        entry = {"label": s.label, "group": s.group, "params": s.params, "threads": s.threads,
                 "flops": s.flops, "bytes": s.bytes, "samples": list(results[s.label].samples),
                 **s.extra}
        if with_dispatch:
            with fixed_threads(s.threads):
                entry["dispatch"] = dispatch(s.fn)
        entries.append(entry)
    return entries


def measure_peak(sizes: Sizes, settings: Settings, log=print) -> dict:
    """The measured peak FLOP/s per thread count (the best of a large matrix product
    and a large convolution) and the clock it implies."""
    specs = peak_specs(sizes)
    pairs = [(a.label, b.label) for a in specs for b in specs
             if a.params == b.params and a.threads == 1 < b.threads]
    entries = run_specs(specs, settings, pairs=pairs, log=log)
    lanes, units = simd_lanes(machine()["flags"])  # type: ignore[arg-type]
    best: dict[int, float] = {}
    for e in entries:
        flops = e["flops"] / min(e["samples"])
        best[e["threads"]] = max(best.get(e["threads"], 0.0), flops)
    clocks = {t: f / (t * lanes * units * 2) for t, f in best.items()}
    return {"entries": entries, "flops": {str(t): f for t, f in best.items()},
            "lanes": lanes, "fma_units": units,
            "implied_ghz": {str(t): c / 1e9 for t, c in clocks.items()}}


def bandwidth_specs(full: bool) -> list[Spec]:
    """Tensor copies that fit each cache level (a quarter of it each way) and one
    of main memory; ``bytes`` counts compulsory traffic (read + write)."""
    levels = {k: v for k, v in cache_sizes().items() if v >= 2**19}
    levels["DRAM"] = 2**28 if full else 2**24
    specs = []
    for name, capacity in levels.items():
        n = (capacity // 4 if name != "DRAM" else capacity) // 4
        src, dst = torch.ones(n), torch.empty(n)
        specs.append(Spec(f"copy {name} {4 * n} B", "bandwidth",
                          {"level": name, "capacity": capacity, "nbytes": 4 * n},
                          lambda s=src, d=dst: d.copy_(s), 1, None, float(8 * n)))
    return specs


def _chapter(name: str, sizes: Sizes, settings: Settings, peak: dict, log) -> dict:
    flops = {int(t): f for t, f in peak["flops"].items()}
    if name == "ch6":
        specs, pairs = ch6_specs(sizes)
        specs += bandwidth_specs(sizes.full)
    elif name == "ch8":
        specs, pairs = ch8_specs(sizes)
    else:
        from helpers.lab.suites10 import ch10_specs
        specs, pairs = ch10_specs(sizes)
    entries = run_specs(specs, settings, pairs=pairs, peak=flops, log=log)
    return {"record": name, "quick": not sizes.full, "provenance": machine(),
            "threads": {"one": 1, "all": all_threads()},
            "settings": {"rounds": settings.rounds, "min_time": settings.min_time,
                         "retries": settings.retries, **asdict(settings.bounds)},
            "peak": peak, "measurements": entries}


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the script; return its exit status (0 written, 3 refused by a guard)."""
    parser = argparse.ArgumentParser(prog="python -m helpers.lab.measure",
                                     description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true",
                        help="small problems, short runs, to a temporary folder")
    parser.add_argument("--only", choices=RECORDS, action="append",
                        help="measure only this chapter's record (repeatable)")
    parser.add_argument("--out", help="folder to write to (default: the package data; "
                        "with --quick a temporary folder)")
    parser.add_argument("--agreement", type=float,
                        help="largest relative gap between the two fastest rounds "
                        "accepted (default 0.05; quick 1.0); recorded with the data")
    args = parser.parse_args(argv)
    sizes, settings = Sizes(full=not args.quick), Settings.quick() if args.quick else Settings()
    if args.agreement is not None:
        settings = Settings(settings.rounds, settings.min_time, settings.retries,
                            GuardBounds(agreement=args.agreement, slack=settings.bounds.slack))
    if args.out:
        out = Path(args.out)
    elif args.quick:
        out = Path(tempfile.mkdtemp(prefix="measure-"))
    else:
        out = Path(str(resources.files("helpers.lab").joinpath("data")))
    start = time.perf_counter()
    records = {}
    try:
        _log(f"peak: {'quick' if args.quick else 'full'} run, {all_threads()} threads at most")
        peak = measure_peak(sizes, settings, _log)
        for name in args.only or RECORDS:
            _log(f"{name}: measuring")
            records[name] = _chapter(name, sizes, settings, peak, _log)
    except ContaminatedRun as refused:
        print(f"measure: {refused}; nothing written", file=sys.stderr)
        return 3
    for name, record in records.items():
        record["seconds"] = math.ceil(time.perf_counter() - start)
        _log(f"wrote {save_record(name, record, out)}")
    _log(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
