"""Recorded measurements: written by :mod:`helpers.lab.measure`, read by the chapters.

A record is one JSON file per chapter (``ch6.json``, ``ch8.json``,
``ch10.json``) in the package data folder ``helpers/lab/data`` (so it travels
with the package wherever it is installed). It holds the provenance, the
settings and guards, and every measurement's raw per-call samples; the
summaries (median, interval, spread) are computed when read.
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
    """An entry with its statistics added: ``median``, ``low``/``high`` (95 %
    interval of the median), ``relative_iqr`` and, where the entry has FLOPs,
    ``flops_per_s``."""
    m = measurement(entry)
    low, high, _ = m.interval()
    out = {**entry, "median": m.median, "low": low, "high": high,
           "relative_iqr": m.relative_iqr}
    if entry.get("flops"):
        out["flops_per_s"] = entry["flops"] / m.median
    return out


def rows(record: dict, group: str, **match: object) -> list[dict]:
    """The summarised entries of ``group`` whose parameters equal ``match``."""
    found = [summary(e) for e in record["measurements"] if e["group"] == group
             and all(e["params"].get(k) == v for k, v in match.items())]
    if not found:
        raise KeyError(f"no measurement of group {group!r} with {match}")
    return found
