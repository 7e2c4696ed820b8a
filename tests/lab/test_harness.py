"""The measurement harness: interleaved rounds, intervals, guards (planted contamination),
provenance, the quick mode of the measurement script and the recorded data."""

from __future__ import annotations

import itertools
import json
from importlib import resources
from pathlib import Path

import pytest
import torch

from helpers.lab import measure
from helpers.lab.guards import ContaminatedRun, GuardBounds, find_failures, measure_guarded
from helpers.lab.provenance import dispatch, machine, simd_lanes
from helpers.lab.records import RECORDS, load_record, rows, summary
from helpers.lab.timing import Measurement, Variant, measure_rounds

DATA = Path(str(resources.files("helpers.lab").joinpath("data")))


class FakeClock:
    """A time source that only moves when a fake operation says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def op(self, seconds):
        """A callable taking ``seconds`` (a number, or an iterator of numbers) per call."""
        durations = seconds if hasattr(seconds, "__next__") else itertools.repeat(seconds)

        def run() -> None:
            self.now += next(durations)

        return run


def test_rounds_are_interleaved_and_last_at_least_min_time():
    order, clock = [], FakeClock()

    def op(name, seconds):
        advance = clock.op(seconds)

        def run():
            order.append(name)
            advance()

        return run

    result = measure_rounds([Variant("a", op("a", 0.01)), Variant("b", op("b", 0.002))],
                            rounds=7, min_time=0.3, blocks=5, clock=clock)
    assert [m.samples for m in result] == [pytest.approx((0.01,) * 7),
                                           pytest.approx((0.002,) * 7)]
    runs = [(name, len(list(group))) for name, group in itertools.groupby(order)]
    rounds = runs[-14:]  # after warm-up and calibration: one measurement of each per round
    assert [name for name, _ in rounds] == ["a", "b"] * 7
    assert all(n * {"a": 0.01, "b": 0.002}[name] >= 0.3 for name, n in rounds)


def test_measurement_statistics():
    m = Measurement("x", (1.0, 1.0, 2.0, 1.0, 1.0), 1)
    assert m.median == 1.0 and m.relative_iqr == 0.0 and m.best == 1.0 and m.agreement == 0
    # The fastest round 1.0, the next 1.5: the best time was not reproduced.
    lucky = Measurement("y", (1.0, 2.0, 2.0, 1.5, 2.0), 1)
    assert lucky.best == 1.0 and lucky.agreement == pytest.approx(0.5)
    with pytest.raises(ValueError, match="2 rounds"):
        _ = Measurement("z", (1.0,), 1).agreement


# ---------------------------------------------------------------- planted contamination


def _guarded(clock, variants, **kwargs):
    return measure_guarded(variants, rounds=7, min_time=0.3, retries=2, clock=clock,
                           log=lambda text: None, **kwargs)


def test_guard_refuses_a_slowed_one_thread_baseline():
    clock = FakeClock()
    # The same work: 1 thread "takes" 3 ms, 2 threads 1 ms: a 3x speed-up on 2 threads.
    variants = [Variant("one", clock.op(0.003), 1), Variant("two", clock.op(0.001), 2)]
    with pytest.raises(ContaminatedRun, match="thread-speedup") as refused:
        _guarded(clock, variants, thread_pairs=[("one", "two")])
    assert refused.value.guard == "thread-speedup"
    clean = [Variant("one", clock.op(0.0019), 1), Variant("two", clock.op(0.001), 2)]
    assert set(_guarded(clock, clean, thread_pairs=[("one", "two")])) == {"one", "two"}


def test_guard_refuses_flops_above_the_measured_peak():
    clock = FakeClock()
    variants = [Variant("conv", clock.op(0.001))]  # 1e9 FLOPs in 1 ms: 1 TFLOP/s
    with pytest.raises(ContaminatedRun, match="peak"):
        _guarded(clock, variants, flops={"conv": 1e9}, peak=200e9)
    with pytest.raises(ContaminatedRun, match="peak"):
        _guarded(clock, variants, flops={"conv": 1e9}, peak={1: 200e9})
    assert _guarded(clock, variants, flops={"conv": 1e9}, peak=2e12)


def test_guard_refuses_rounds_that_never_ran_undisturbed_and_accepts_a_clean_remeasurement():
    clock = FakeClock()

    def busy_machine(until=float("inf")):
        """1 ms a call, doubled by another program except for a quiet 50 ms every
        3 s (until ``until`` seconds from now): one lucky round an attempt."""
        start = clock.now
        while True:
            elapsed = clock.now - start
            busy = elapsed < until and elapsed % 3.0 >= 0.05
            yield 0.002 if busy else 0.001

    with pytest.raises(ContaminatedRun, match="agreement"):
        _guarded(clock, [Variant("busy", clock.op(busy_machine()))])
    # Busy during the first attempt (about 5 s) only: re-measured and accepted.
    log = []
    result = measure_guarded([Variant("calmer", clock.op(busy_machine(until=6.0)))],
                             clock=clock, log=log.append)
    assert result["calmer"].agreement <= 0.05
    assert result["calmer"].best == pytest.approx(0.001)
    assert log and all("calmer" in line for line in log)


def test_find_failures_names_every_guard():
    results = {"a": Measurement("a", (3.0,) * 7, 1), "b": Measurement("b", (1.0,) * 7, 2),
               "c": Measurement("c", (1, 9, 9, 9, 9, 9, 9), 1)}
    found = find_failures(results, GuardBounds(), thread_pairs=[("a", "b")],
                          flops={"b": 1e12}, peak=1e11)
    assert {f.guard for f in found} == {"agreement", "thread-speedup", "peak"}
    with pytest.raises(ValueError, match="agreement"):
        GuardBounds(agreement=0)


def test_the_script_exits_nonzero_naming_the_guard(monkeypatch, tmp_path, capsys):
    def refuse(*args, **kwargs):
        raise ContaminatedRun("thread-speedup", "planted")

    monkeypatch.setattr(measure, "measure_guarded", refuse)
    assert measure.main(["--quick", "--only", "ch8", "--out", str(tmp_path)]) == 3
    assert "thread-speedup" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- provenance and data


def test_provenance_fields():
    info = machine()
    for key in ("cpu", "flags", "logical_cpus", "torch", "numpy", "mkl", "onednn",
                "cpu_capability", "date"):
        assert key in info
    assert simd_lanes(["avx2", "fma"]) == (8, 2) and simd_lanes(["avx512f"]) == (16, 2)
    conv = torch.nn.Conv2d(4, 4, 3, padding=1, groups=4).eval()
    x = torch.randn(1, 4, 8, 8)
    with torch.inference_mode():
        kernels = dispatch(lambda: conv(x))
    assert kernels["aten"] and all(name.startswith("aten::") for name in kernels["aten"])
    assert "aten::empty" not in kernels["aten"]


def test_quick_mode_writes_valid_data_and_leaves_the_record_alone(tmp_path):
    def committed_records():
        return {name: (DATA / f"{name}.json").read_bytes() for name in RECORDS
                if (DATA / f"{name}.json").is_file()}

    committed = committed_records()
    assert measure.main(["--quick", "--only", "ch8", "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "ch8.json").read_text())
    assert record["quick"] and record["settings"]["agreement"] == 1.0
    assert record["provenance"]["torch"] == torch.__version__
    dilations = [r["params"]["dilation"] for r in rows(record, "dilation")]
    assert dilations == [1, 2, 4, 6, 8, 12]
    for entry in record["measurements"]:
        assert len(entry["samples"]) == 7 and min(entry["samples"]) > 0
        assert "aten" in entry["dispatch"]
    assert committed_records() == committed


@pytest.mark.parametrize("name", RECORDS)
def test_committed_records_passed_their_guards(name):
    record = load_record(name)
    assert not record["quick"]
    bound = record["settings"]["agreement"]
    for entry in record["measurements"]:
        s = summary(entry)
        assert s["agreement"] <= bound and 0 < s["time"] <= s["median"]
        if entry.get("flops") and entry["group"] != "peak":
            peak = record["peak"]["flops"][str(entry["threads"])]
            assert s["flops_per_s"] <= peak * (1 + record["settings"]["slack"])
