"""Recorded measurements: written by :mod:`helpers.lab.measure`, read by the chapters.

A record is one JSON file per chapter (``ch6.json``, ``ch8.json``,
``ch10.json``) in the package data folder ``helpers/lab/data`` (so it travels
with the package wherever it is installed). It holds the provenance, the
settings and guards, and every measurement's raw per-call samples; the
summaries (best time, agreement, median, spread) are computed when read.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from helpers.lab.timing import Measurement

__all__ = ["RECORDS", "load_record", "measurement", "rows", "save_record", "summary"]

#: The recorded chapters.
RECORDS = ("ch6", "ch8", "ch10")


def _check_name(name: object) -> str:
    if name not in RECORDS:
        raise ValueError(f"name must be one of {RECORDS}, got {name!r}")
    return name  # type: ignore[return-value]


def load_record(name: str, folder: str | Path | None = None) -> dict:
    """The record ``name`` (one of :data:`RECORDS`) from the package data, or from
    ``folder`` if given (a quick run's output)."""
    name = _check_name(name)
    if folder is not None:
        return json.loads((Path(folder) / f"{name}.json").read_text())
    text = resources.files("helpers.lab").joinpath("data", f"{name}.json").read_text()
    return json.loads(text)


def save_record(name: str, record: dict, folder: str | Path) -> Path:
    """Write ``record`` as ``folder/name.json`` and return the path."""
    path = Path(folder) / f"{_check_name(name)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def measurement(entry: dict) -> Measurement:
    """A recorded entry as a :class:`helpers.lab.timing.Measurement`."""
    return Measurement(entry["label"], tuple(entry["samples"]), entry["threads"])


def summary(entry: dict) -> dict:
    """An entry with its statistics added: ``time`` (the best round, the estimate),
    ``agreement`` (the relative gap between the two fastest rounds),
    ``median`` and ``relative_iqr`` of all rounds (how often the machine disturbed
    them) and, where the entry has FLOPs, ``flops_per_s`` at ``time``."""
    m = measurement(entry)
    out = {**entry, "time": m.best, "agreement": m.agreement, "median": m.median,
           "relative_iqr": m.relative_iqr}
    if entry.get("flops"):
        out["flops_per_s"] = entry["flops"] / m.best
    return out


def rows(record: dict, group: str, **match: object) -> list[dict]:
    """The summarised entries of ``group`` whose parameters equal ``match``."""
    found = [summary(e) for e in record["measurements"] if e["group"] == group
             and all(e["params"].get(k) == v for k, v in match.items())]
    if not found:
        raise KeyError(f"no measurement of group {group!r} with {match}")
    return found


# --------------------------------------------------------------------------
# chapter 6's record as the objects the figures take
# --------------------------------------------------------------------------


def layers_of(record: dict) -> list[tuple[int, int]]:
    """The ``(channels, size)`` layers of a record's ``layers`` group, in order."""
    seen: list[tuple[int, int]] = []
    for e in record["measurements"]:
        if e["group"] == "layers":
            layer = (e["params"]["channels"], e["params"]["size"])
            if layer not in seen:
                seen.append(layer)
    return seen


def layer_timings(record: dict, layout: str, threads: int = 1) -> list:
    """The ``layers`` group of a record as :class:`helpers.lab.convs.LayerTiming`
    (best seconds and their agreement by kind), one per layer."""
    from helpers.lab.convs import LayerTiming

    out = []
    for c, h in layers_of(record):
        found = [r for r in rows(record, "layers", channels=c, size=h, layout=layout)
                 if r["threads"] == threads]
        if not found:
            raise KeyError(f"no {layout} measurement at {threads} threads of layer {(c, h)}")
        out.append(LayerTiming(c, h, 3, {r["params"]["kind"]: r["time"] for r in found},
                               {r["params"]["kind"]: r["agreement"] for r in found}))
    return out


def roofline_from(record: dict):
    """The one-thread :class:`helpers.lab.roofline.Roofline` of a record: the
    measured peak, and one memory roof per copy of the ``bandwidth`` group
    (compulsory bytes: read + write)."""
    import math

    from helpers.lab.roofline import Roofline

    peak = record["peak"]
    gemm = next(e for e in peak["entries"] if e["params"]["op"] == "gemm"
                and e["threads"] == 1)
    levels = []
    for r in rows(record, "bandwidth"):
        level = r["params"]["level"]
        capacity = math.inf if level == "DRAM" else float(r["params"]["capacity"])
        levels.append((level, capacity, r["bytes"] / r["time"]))
    levels.sort(key=lambda roof: roof[1])
    source = (f"measured; it implies {peak['implied_ghz']['1']:.2f} GHz x {peak['lanes']} "
              f"lanes x {peak['fma_units']} FMA units x 2")
    return Roofline(peak_flops=peak["flops"]["1"], bandwidth=levels[-1][2], threads=1,
                    matmul_flops=gemm["flops"] / summary(gemm)["time"], peak_source=source,
                    levels=tuple(levels))
