"""Benchmark: the pages staff read most, on a clinic network of 50 clinics, 100,000 patients and
1,000,000 reminders (backend/core/network_seed.py), against a bare view, in one run.

Run (PostgreSQL only: the network is too big for SQLite)::

    BENCH_DATABASE=aftercare_b2_network flock /tmp/bench.lock .venv/bin/python bench/scale.py

BENCH_DATABASE names a database on BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432)
that `manage.py seed_network` has filled; it is migrated (new migrations apply) and read, never
seeded again. Without it, a database named aftercare_bench_scale is dropped, created, migrated
and seeded with BENCH_CLINICS, BENCH_PATIENTS and BENCH_REMINDERS (defaults: the whole network;
5 CPU-minutes, 17 minutes on this shared machine).

Who reads: the busiest prescriber of the network (the most active plans; each clinic has 10
providers, 5 prescribers, 3 therapists and 2 nurses, each responsible for some 25 courses, and 2
coordinators, for 2,000 patients), and a coordinator of the same clinic. Through Django's whole
middleware stack in this process (django.test.Client, DEBUG off, sessions in the database as in
production; no gunicorn), each path BENCH_REQUESTS times (default 200) in BENCH_ROUNDS alternating
rounds (default 10) after a warm-up:

- bare: a login-required view answering a constant (the baseline),
- provider_dashboard: GET /provider/ as the provider,
- checkins_provider / checkins_coordinator: GET /api/v1/check-ins/upcoming/ (the next 14 days),
- admin_plans / admin_plans_search: /admin/plans/treatmentplan/ as the coordinator, the default
  page (100 plans) and ?q=<part of a patient's name>,
- admin_patients_search: /admin/patients/patient/?q=<part of a name> as the coordinator,
- api_patients_search: /api/v1/patients/?name=<part of a name> as the coordinator.

BENCH_PATHS=a,b limits a development run to some paths. Prints each path's queries, bytes and
rows listed, then, last, `name: value` lines: <path>_p50_ms, <path>_p95_ms, <path>_p95_vs_bare
(wall clock) and <path>_cpu_p95_ms (this process's CPU time per request: the server's own work,
which other programs on the machine slow down far less than the wall clock), and the bare
view's. The machine line gives the load average around the timed rounds.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REUSED = os.environ.get("BENCH_DATABASE", "")
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "10"))
FRESH_NAME = "aftercare_bench_scale"


def _database() -> str:
    """The database this run reads: the reused one, or a fresh one for this run."""
    import psycopg

    name = REUSED or FRESH_NAME
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if REUSED and not exists:
            sys.exit(f"BENCH_DATABASE={name!r} does not exist: seed it with manage.py seed_network")
        if not REUSED:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"{SERVER}/{name}"
    return name


DATABASE = _database()
from bench import page_timing  # noqa: E402

page_timing.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, Q  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from backend.clinics.models import Provider  # noqa: E402
from backend.patients.models import Patient  # noqa: E402
from backend.plans.models import PlanItem, TreatmentPlan  # noqa: E402
from backend.reminders.models import Reminder  # noqa: E402


def _prepare() -> str:
    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    if not REUSED:
        call_command(
            "seed_network",
            clinics=int(os.environ.get("BENCH_CLINICS", "50")),
            patients=int(os.environ.get("BENCH_PATIENTS", "100000")),
            reminders=int(os.environ.get("BENCH_REMINDERS", "1000000")),
        )
    return (
        f"PostgreSQL {DATABASE} ({'reused' if REUSED else 'seeded now'}, ready in "
        f"{time.perf_counter() - began:.0f} s): {Patient.objects.count()} patients in "
        f"{Patient.objects.values('clinic').distinct().count()} clinics, "
        f"{TreatmentPlan.objects.count()} plans "
        f"({TreatmentPlan.objects.filter(status='active').count()} active), "
        f"{PlanItem.objects.count()} items, {Reminder.objects.count()} reminders "
        f"({Reminder.objects.filter(status='scheduled').count()} scheduled)"
    )


def _readers() -> tuple[Provider, object, str]:
    """The busiest prescriber, a coordinator of their clinic, and a part of a name to search."""
    provider = (
        Provider.objects.filter(role=Provider.Role.PRESCRIBER)
        .annotate(active_plans=Count("plans", filter=Q(plans__status="active")))
        .select_related("user", "clinic")
        .order_by("-active_plans", "pk")
        .first()
    )
    coordinator = provider.clinic.coordinators.select_related("user").order_by("pk").first()
    plans = provider.plans.select_related("patient").order_by("pk")
    patient = plans[plans.count() // 2].patient
    # "Patient 01234" -> "1234": part of a name, as staff type it (it also matches the digits
    # of a few patients' email addresses and phone numbers).
    fragment = patient.last_name[1:5]
    return provider, coordinator, fragment


def _timed(client: Client, url: str, n: int, cpu: list[float] | None = None) -> list[float]:
    """Wall-clock milliseconds of ``n`` requests; this process's CPU milliseconds of each go to
    ``cpu`` (the server's share of the work, whatever else the machine is running)."""
    times = []
    for _ in range(n):
        began, began_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - began_cpu) * 1000)
        if response.status_code != 200:
            sys.exit(f"{url} answered {response.status_code}")
    return times


def _listed(page) -> str:
    """How many rows the page lists, out of how many it found ("" for other pages)."""
    text = page.content.decode()
    if 'id="result_list"' in text:  # an admin changelist: its table rows, and "n results"
        table = text.split('id="result_list"', 1)[1].split("</table>", 1)[0]
        found = re.search(r"(\d+) results?\b", text)
        return f"{table.count('<tr') - 1} of {found.group(1) if found else 'all'}"
    if page.get("Content-Type", "").startswith("application/json"):
        body = page.json()
        if isinstance(body, dict) and "results" in body:
            return f"{len(body['results'])} of {body.get('count')}"
    return "-"


def _machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return (
        f"{cores} cores, {model}, PostgreSQL {connection.cursor().connection.info.server_version}"
    )


def main() -> None:
    print(_prepare())
    provider, coordinator, fragment = _readers()
    print(
        f"provider {provider.user.username} ({provider.clinic.time_zone}): "
        f"{provider.plans.filter(status='active').count()} active plans of "
        f"{provider.plans.count()}; coordinator {coordinator.user.username}; "
        f"clinic of {provider.clinic.patients.count()} patients; search {fragment!r}"
    )
    as_provider, as_coordinator = Client(), Client()
    as_provider.force_login(provider.user)
    as_coordinator.force_login(coordinator.user)
    paths = {
        "bare": (as_provider, "/bench/bare/"),
        "provider_dashboard": (as_provider, "/provider/"),
        "checkins_provider": (as_provider, "/api/v1/check-ins/upcoming/"),
        "checkins_coordinator": (as_coordinator, "/api/v1/check-ins/upcoming/"),
        "admin_plans": (as_coordinator, "/admin/plans/treatmentplan/"),
        "admin_plans_search": (as_coordinator, f"/admin/plans/treatmentplan/?q={fragment}"),
        "admin_patients_search": (as_coordinator, f"/admin/patients/patient/?q={fragment}"),
        "api_patients_search": (as_coordinator, f"/api/v1/patients/?name={fragment}"),
    }
    if only := os.environ.get("BENCH_PATHS"):  # development runs: some paths only
        paths = {name: paths[name] for name in ("bare", *only.split(","))}
    for name, (client, url) in paths.items():
        with CaptureQueriesContext(connection) as captured:
            page = client.get(url)
        if page.status_code != 200:
            sys.exit(f"{url} answered {page.status_code}")
        slowest = max((float(q["time"]) for q in captured.captured_queries), default=0.0)
        print(
            f"{name}: {url} {len(captured)} queries (slowest {slowest * 1000:.1f} ms), "
            f"{len(page.content) // 1024} KiB, {_listed(page)} rows listed"
        )
        _timed(client, url, 3)  # warm-up: templates, connections, caches
    times: dict[str, list[float]] = {name: [] for name in paths}
    cpu: dict[str, list[float]] = {name: [] for name in paths}
    per_round = max(1, REQUESTS // ROUNDS)
    load_before = os.getloadavg()[0]
    for _ in range(ROUNDS):
        for name, (client, url) in paths.items():
            times[name] += _timed(client, url, per_round, cpu[name])
    print(f"{per_round * ROUNDS} requests per path in {ROUNDS} alternating rounds")
    print(
        f"machine: {_machine()}; load average {load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after the timed rounds"
    )
    print(
        f"command: BENCH_DATABASE={REUSED or '(unset)'} flock /tmp/bench.lock "
        ".venv/bin/python bench/scale.py"
    )

    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1]

    base95 = p95(times["bare"])
    print(f"bare_p50_ms: {statistics.median(times['bare']):.2f}")
    print(f"bare_p95_ms: {base95:.2f}")
    print(f"bare_cpu_p95_ms: {p95(cpu['bare']):.2f}")
    for name, values in times.items():
        if name == "bare":
            continue
        print(f"{name}_p50_ms: {statistics.median(values):.1f}")
        print(f"{name}_p95_ms: {p95(values):.1f}")
        print(f"{name}_p95_vs_bare: {p95(values) / base95:.1f}")
        print(f"{name}_cpu_p95_ms: {p95(cpu[name]):.1f}")


if __name__ == "__main__":
    main()
