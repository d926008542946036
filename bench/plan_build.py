"""Benchmark: build the 12-week IV induction plan with all its reminders, many times.

Run with the project's venv, no Django needed::

    .venv/bin/python bench/plan_build.py

Prints, as its last lines:

* ``plan_build_median_ms``: median wall time of one ``build_plan`` call (target: under 5 ms);
* ``baseline_median_ms``: the median time, measured in the same run, of a reference workload --
  as many local-to-UTC ``zoneinfo`` conversions as the plan's items and reminders need
  (``conversions_per_plan``), so the ratio is comparable across machines;
* ``plan_build_vs_baseline``: the first divided by the second;
* ``plan_build_cost_ratio_10000_vs_1``: mean cost per plan over a batch of 10,000 distinct plans
  (different patients, start dates and zones) divided by the cost of a single plan built alone
  (median of repeated single builds). Near 1.0 means the cost per plan stays flat: no cache or
  list grows with the number of plans built.
"""

from __future__ import annotations

import statistics
import sys
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scheduler import (
    ClinicCalendar,
    PatientPreferences,
    build_plan,
    load_library,
)

PROTOCOL = load_library()["iv-ketamine-induction-trd"]
CLINIC = ClinicCalendar(
    time_zone="America/New_York",
    opening_hours={d: [(time(8, 0), time(12, 0)), (time(13, 0), time(18, 0))] for d in range(5)},
    slot_minutes=30,
    closed_dates=frozenset({date(2025, 12, 24)}),
    holiday_country="US",
    holiday_subdivision="NY",
)
PATIENT = PatientPreferences(
    time_zone="America/Chicago", quiet_start=time(21, 0), quiet_end=time(8, 0)
)
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
START = date(2025, 3, 3)


def build_once(start: date = START, patient: PatientPreferences = PATIENT):
    return build_plan(protocol=PROTOCOL, start_date=start, clinic=CLINIC, patient=patient, now=NOW)


def time_calls(function, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        began = clock.perf_counter()
        function()
        samples.append((clock.perf_counter() - began) * 1000)
    return samples


def baseline_workload(conversions: int):
    zone = ZoneInfo("America/New_York")
    day = date(2025, 3, 3)

    def run() -> None:
        for i in range(conversions):
            naive = datetime.combine(day + timedelta(days=i % 90), time(9, 0))
            naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)

    return run


def batch_patients(count: int) -> list[tuple[date, PatientPreferences]]:
    zones = ["America/Chicago", "America/New_York", "America/Denver", "America/Los_Angeles"]
    patients = [
        PatientPreferences(time_zone=z, quiet_start=time(21, 0), quiet_end=time(8, 0))
        for z in zones
    ]
    return [(START + timedelta(days=i % 60), patients[i % len(patients)]) for i in range(count)]


def main() -> None:
    for _ in range(20):  # warm caches that a long-lived process would have warm too
        build_once()
    plan = build_once()
    conversions = 2 * len(plan.items) + 3 * len(plan.reminders)
    samples = time_calls(build_once, 300)
    baseline = time_calls(baseline_workload(conversions), 300)
    median_ms = statistics.median(samples)
    baseline_ms = statistics.median(baseline)

    batch = batch_patients(10_000)
    for start, patient in batch[:60]:
        build_once(start, patient)  # warm the per-day caches of the whole batch range
    single = statistics.median(time_calls(build_once, 200))
    began = clock.perf_counter()
    for start, patient in batch:
        build_once(start, patient)
    per_plan_batch = (clock.perf_counter() - began) * 1000 / len(batch)

    print(f"items_per_plan: {len(plan.items)}")
    print(f"reminders_per_plan: {len(plan.reminders)}")
    print(f"conversions_per_plan: {conversions}")
    print(f"plan_build_p90_ms: {statistics.quantiles(samples, n=10)[-1]:.3f}")
    print(f"plan_build_batch_10000_per_plan_ms: {per_plan_batch:.3f}")
    print(f"plan_build_median_ms: {median_ms:.3f}")
    print(f"baseline_median_ms: {baseline_ms:.3f}")
    print(f"plan_build_vs_baseline: {median_ms / baseline_ms:.2f}")
    print(f"plan_build_cost_ratio_10000_vs_1: {per_plan_batch / single:.2f}")


if __name__ == "__main__":
    main()
