"""Benchmark: the provider dashboard of a clinic of 10,000 patients, against a bare view, one run.

Run (SQLite: a fresh var/bench-dashboard.sqlite3; or PostgreSQL)::

    .venv/bin/python bench/dashboard.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/aftercare_bench_h1 \
        .venv/bin/python bench/dashboard.py

On PostgreSQL the named database is dropped and created afresh, so its name must contain "bench".

Seeds one clinic: BENCH_PATIENTS patients (default 10,000), each with an IV-ketamine course shared
out among BENCH_PROVIDERS providers (default 5). One course is planned by plans.services; the
others are copies of its items and reminders made in SQL, each moved by whole days, and to one of
five times of day, so that the courses start evenly over the last BENCH_SPREAD_DAYS days (default
1,095) and the next 30 (with 2,000 courses a provider is still booked twice at times): courses
whose last item has passed are completed, past items have their outcomes (one in 50 missed, one in
20 of the last fortnight's still open), past reminders are sent (one in 300 failed). Besides:
questionnaire answers for every answered assessment, readiness for half of the next three days'
doses, a patient's request for one in 40 upcoming sessions, one patient in 100 opted out of email
and texts, a few open flags and unread messages among many settled ones. The tables are analysed
(PostgreSQL plans with statistics, as autovacuum keeps them in production).

Measures in this process, through Django's whole middleware stack (django.test.Client, logged in
as the first provider, DEBUG off): GET /provider/ and GET /bench/bare/ (a login-required view that
returns a constant), alternating in BENCH_ROUNDS rounds (default 5) of BENCH_DASHBOARD_REQUESTS
(default 8) and BENCH_BARE_REQUESTS (default 40), after a warm-up. Prints the sizes (the
dashboard's rows, its queries and bytes) and, last, `name: value` lines: dashboard_p50_ms,
bare_p50_ms, dashboard_vs_bare_p50.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PATIENTS = int(os.environ.get("BENCH_PATIENTS", "10000"))
PROVIDERS = int(os.environ.get("BENCH_PROVIDERS", "5"))
SPREAD_DAYS = int(os.environ.get("BENCH_SPREAD_DAYS", "1095"))
AHEAD_DAYS = 30
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
DASHBOARD_REQUESTS = int(os.environ.get("BENCH_DASHBOARD_REQUESTS", "8"))
BARE_REQUESTS = int(os.environ.get("BENCH_BARE_REQUESTS", "40"))
SQLITE_FILE = ROOT / "var" / "bench-dashboard.sqlite3"
SLOTS, SLOT_MINUTES = 5, 110  # courses start at 08:00, 09:50, 11:40, 13:30 or 15:20


def _fresh_database() -> str:
    """A new, empty database for this run; returns its description."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        SQLITE_FILE.parent.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{SQLITE_FILE}"
        return f"SQLite {SQLITE_FILE.relative_to(ROOT)}"
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL must be unset (SQLite) or postgres://...")
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"refusing to drop {name!r}: the bench's database name must contain 'bench'")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"PostgreSQL {name}"


DATABASE = _fresh_database()
from bench import page_timing  # noqa: E402

page_timing.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from backend.clinics.models import Clinic, Provider  # noqa: E402
from backend.measures.models import QuestionnaireResponse  # noqa: E402
from backend.patients.models import Patient  # noqa: E402
from backend.plans import dashboard, services  # noqa: E402
from backend.plans.models import PlanItem, SessionReadiness, SessionRequest, TreatmentPlan  # noqa: E402
from backend.protocols.models import Protocol  # noqa: E402
from backend.reminders.models import Reminder  # noqa: E402
from backend.safety.models import Flag, PatientMessage  # noqa: E402

POSTGRES = connection.vendor == "postgresql"


# --- SQL that reads the same on both databases, but for dates ----------------------------------
# The values below are the bench's own dates, written into the SQL as literals.


def _shift(expr: str, days: str = "0", *, minutes: str = "0", kind: str = "timestamp") -> str:
    """``expr`` (a timestamp, a date or a time of day) moved by ``days`` whole days and
    ``minutes`` minutes (SQL integers)."""
    if POSTGRES:
        if kind == "date":
            return f"({expr} + {days})"
        return f"({expr} + {days} * interval '1 day' + {minutes} * interval '1 minute')"
    function = {"timestamp": "datetime", "date": "date", "time": "time"}[kind]
    return f"{function}({expr}, {days} || ' days', {minutes} || ' minutes')"


def _days_since(day: dt.date) -> str:
    """Whole days from ``day`` to the plan's start date (the plan aliased ``p``)."""
    if POSTGRES:
        return f"(p.start_date - DATE '{day.isoformat()}')"
    return f"CAST(julianday(p.start_date) - julianday('{day.isoformat()}') AS INTEGER)"


def _at(instant: dt.datetime) -> str:
    """A timestamp literal, compared with stored ones (SQLite stores UTC as text)."""
    text = instant.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"TIMESTAMPTZ '{text}+00'" if POSTGRES else f"'{text}'"


def _columns(model, overrides: dict[str, str], alias: str) -> tuple[str, str]:
    """The INSERT column list and SELECT list copying a ``model`` row aliased ``alias``, with
    ``overrides`` (column -> SQL) in place of the copied values: new columns other code adds are
    copied too."""
    names, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        column = field.column
        names.append(connection.ops.quote_name(column))
        values.append(overrides.get(column, f"{alias}.{connection.ops.quote_name(column)}"))
    return ", ".join(names), ", ".join(values)


def _run(sql: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# --- seeding ----------------------------------------------------------------------------------


def _people(now: dt.datetime):
    clinic = Clinic.objects.create(
        name="Bench Clinic",
        time_zone="America/New_York",
        holiday_country="US",
        opening_hours={str(d): [["08:00", "18:00"]] for d in range(6)},
    )
    providers = [
        Provider.objects.create(
            user=User.objects.create_user(f"bench-provider-{n}", email=f"p{n}@bench.example"),
            clinic=clinic,
            role=Provider.Role.PRESCRIBER,
        )
        for n in range(PROVIDERS)
    ]
    patients = [
        Patient(
            clinic=clinic,
            first_name=f"Pat{n}",
            last_name=f"Bench{n:05d}",
            date_of_birth=dt.date(1980, 1, 1) + dt.timedelta(days=n % 9000),
            email=f"patient{n}@bench.example",
            mobile=f"+1202555{n % 10000:04d}",
            time_zone="America/New_York",
            email_consent=True,
            sms_consent=True,
            # One in 100 opted out of both channels.
            email_opted_out_at=now if n % 100 == 99 else None,
            sms_opted_out_at=now if n % 100 == 99 else None,
        )
        for n in range(PATIENTS)
    ]
    Patient.objects.bulk_create(patients, batch_size=2000)
    return clinic, providers, list(Patient.objects.filter(clinic=clinic).order_by("pk"))


def _courses(clinic, providers, patients, now: dt.datetime) -> TreatmentPlan:
    """One course planned by the service, and every other patient's a copy of it moved by whole
    days; returns the planned one."""
    protocol = Protocol.objects.filter(slug="iv-ketamine-induction-trd").order_by("-version")[0]
    start = (now + dt.timedelta(days=1)).date()
    template = services.plan_create(
        patient=patients[0], provider=providers[0], protocol=protocol, start_date=start, now=now
    ).plan
    last_end = max(template.items.values_list("end", flat=True))
    plans = []
    for n, patient in enumerate(patients[1:], 1):
        offset = -SPREAD_DAYS + (n * (SPREAD_DAYS + AHEAD_DAYS)) // PATIENTS
        plans.append(
            TreatmentPlan(
                patient=patient,
                clinic=clinic,
                provider=providers[n % len(providers)],
                protocol=protocol,
                start_date=start + dt.timedelta(days=offset),
                status="completed" if last_end + dt.timedelta(days=offset) < now else "active",
            )
        )
    TreatmentPlan.objects.bulk_create(plans, batch_size=2000)
    days = _days_since(start)
    # Each course at one of five times of day, so a provider's sessions mostly do not overlap.
    minutes = f"(((p.id / {PROVIDERS}) %% {SLOTS}) * {SLOT_MINUTES})"
    end = _shift('t."end"', days, minutes=minutes)
    status = (
        f"CASE WHEN {end} >= {_at(now)} THEN 'scheduled' "
        "WHEN (p.id + t.sequence) %% 50 = 0 THEN 'missed' "
        f"WHEN {end} >= {_at(now - dashboard.OVERDUE_LOOKBACK)} AND (p.id + t.sequence) %% 20 = 1 "
        "THEN 'scheduled' ELSE 'completed' END"
    )
    names, values = _columns(
        PlanItem,
        {
            "plan_id": "p.id",
            "start": _shift("t.start", days, minutes=minutes),
            "end": end,
            "local_date": _shift("t.local_date", days, kind="date"),
            "local_time": _shift("t.local_time", minutes=minutes, kind="time"),
            "provider_id": "CASE WHEN t.provider_id IS NULL THEN NULL ELSE p.provider_id END",
            "status": status,
        },
        "t",
    )
    _run(
        f"INSERT INTO plans_planitem ({names}) SELECT {values} FROM plans_planitem t "
        "CROSS JOIN plans_treatmentplan p WHERE t.plan_id = %s AND p.id <> %s",
        [template.pk, template.pk],
    )
    return template


def _reminders(template: TreatmentPlan, now: dt.datetime) -> None:
    """Every course's copy of the planned course's reminders, sent or failed once due."""
    days = _days_since(template.start_date)
    minutes = f"(((p.id / {PROVIDERS}) %% {SLOTS}) * {SLOT_MINUTES})"
    send_at = _shift("r.send_at", days, minutes=minutes)
    failed = "(p.id + r.id) %% 300 = 0"
    names, values = _columns(
        Reminder,
        {
            "plan_id": "p.id",
            "item_id": "ni.id",
            "patient_id": "CASE WHEN r.patient_id IS NULL THEN NULL ELSE p.patient_id END",
            "provider_id": "CASE WHEN r.provider_id IS NULL THEN NULL ELSE p.provider_id END",
            "send_at": send_at,
            "not_after": _shift("r.not_after", days, minutes=minutes),
            "status": f"CASE WHEN {send_at} >= {_at(now)} THEN 'scheduled' "
            f"WHEN {failed} THEN 'failed' ELSE 'sent' END",
            "last_error": f"CASE WHEN {failed} THEN '30003: unreachable handset' ELSE '' END",
        },
        "r",
    )
    _run(
        f"INSERT INTO reminders_reminder ({names}) SELECT {values} FROM reminders_reminder r "
        "JOIN plans_planitem ti ON ti.id = r.item_id CROSS JOIN plans_treatmentplan p "
        "JOIN plans_planitem ni ON ni.plan_id = p.id AND ni.key = ti.key "
        "WHERE r.plan_id = %s AND p.id <> %s",
        [template.pk, template.pk],
    )


def _records(clinic, providers, now: dt.datetime) -> None:
    """Answers, readiness, requests, flags and messages, as the services would have left them."""
    assessments = PlanItem.objects.filter(kind="assessment", status="completed").values_list(
        "id", "plan_id", "plan__patient_id", "end"
    )
    answers = [
        QuestionnaireResponse(
            clinic=clinic, patient_id=patient, plan_id=plan, item_id=item, instrument=code,
            instrument_version="1", language="en", answers={}, total=(item * 7) % 20,
            band="moderate", band_label="moderate", urgent=False, submitted_at=end,
            source="link",
        )
        for item, plan, patient, end in assessments
        for code in ("phq9", "gad7")
    ]  # fmt: skip
    QuestionnaireResponse.objects.bulk_create(answers, batch_size=5000)
    soon = PlanItem.objects.filter(
        kind="dosing", status="scheduled", start__gt=now, start__lte=now + dt.timedelta(days=3)
    ).values_list("id", "start")
    SessionReadiness.objects.bulk_create(
        SessionReadiness(
            item_id=item, confirmed_at=now, via="link", fasting=True, ride_home=True,
            no_alcohol=True, no_new_medicines=True, answered_at=now, session_start=start,
        )
        for item, start in soon[::2]
    )  # fmt: skip
    upcoming = PlanItem.objects.filter(
        kind__in=("dosing", "integration"), status="scheduled", start__gt=now
    ).values_list("id", "start")
    SessionRequest.objects.bulk_create(
        SessionRequest(
            item_id=item, kind="reschedule", via="link", preferred_weekdays=[1, 3],
            note="Could we do another day?", session_start=start, created_at=now,
        )
        for item, start in upcoming[::40]
    )  # fmt: skip
    coordinator = User.objects.create_user("bench-coordinator")
    plans = list(TreatmentPlan.objects.values_list("id", "patient_id")[:: max(1, PATIENTS // 500)])
    flags = [
        Flag(
            clinic=clinic, patient_id=patient, plan_id=plan,
            kind=("urgent", "worsening", "missed_session")[n % 3], reasons=["bench"],
            raised_at=now - dt.timedelta(hours=n),
            **({} if n < 12 else {"acknowledged_by": coordinator, "acknowledgement_note": "Called",
                                  "acknowledged_at": now - dt.timedelta(hours=n - 1)}),
        )
        for n, (plan, patient) in enumerate(plans)
    ]  # fmt: skip
    Flag.objects.bulk_create(flags)
    PatientMessage.objects.bulk_create(
        PatientMessage(
            clinic=clinic, patient_id=patient, plan_id=plan, source="sms", body="See you soon",
            received_at=now - dt.timedelta(hours=n),
            **({"read_at": now, "read_by": coordinator} if n >= 20 else {}),
        )
        for n, (plan, patient) in enumerate(plans)
    )  # fmt: skip


def seed() -> tuple[Provider, str]:
    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter()
    now = timezone.now()
    with transaction.atomic():
        clinic, providers, patients = _people(now)
        template = _courses(clinic, providers, patients, now)
        _reminders(template, now)
        _records(clinic, providers, now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    sizes = (
        f"{DATABASE}: migrated in {migrated - began:.0f} s, seeded in "
        f"{time.perf_counter() - migrated:.0f} s: {Patient.objects.count()} patients, "
        f"{TreatmentPlan.objects.filter(status='active').count()} active plans of "
        f"{TreatmentPlan.objects.count()}, {PlanItem.objects.count()} items, "
        f"{Reminder.objects.count()} reminders "
        f"({Reminder.objects.filter(status='failed').count()} failed), "
        f"{QuestionnaireResponse.objects.count()} answers, "
        f"{Flag.objects.filter(acknowledged_at=None).count()} open flags, "
        f"{len(providers)} providers"
    )
    return providers[0], sizes


# --- measuring --------------------------------------------------------------------------------


def _timed(client: Client, url: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        began = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:
            sys.exit(f"{url} answered {response.status_code}")
    return times


def main() -> None:
    provider, sizes = seed()
    print(sizes)
    client = Client()
    client.force_login(provider.user)
    board = dashboard.build(provider=provider, now=timezone.now())
    with CaptureQueriesContext(connection) as captured:
        page = client.get("/provider/")
    queries = len(captured)
    print(
        f"dashboard of {provider.user.username}: {board.row_count} rows over {len(board.days)} "
        f"days, {len(board.flags)} flags, {len(board.requests)} requests, "
        f"{len(board.unreachable)} patients not reached, {len(board.conflicts)} overlaps; "
        f"{queries} queries, {len(page.content) // 1024} KiB"
    )
    _timed(client, "/provider/", 3)  # warm-up: templates, connections, caches
    _timed(client, "/bench/bare/", 20)
    dash, bare_ = [], []
    for _ in range(ROUNDS):
        dash += _timed(client, "/provider/", DASHBOARD_REQUESTS)
        bare_ += _timed(client, "/bench/bare/", BARE_REQUESTS)
    p50_dash, p50_bare = statistics.median(dash), statistics.median(bare_)
    print(f"{len(dash)} dashboard and {len(bare_)} bare requests in {ROUNDS} alternating rounds")
    print(f"dashboard_queries: {queries}")
    print(f"dashboard_rows: {board.row_count}")
    print(f"dashboard_p50_ms: {p50_dash:.1f}")
    print(f"bare_p50_ms: {p50_bare:.2f}")
    print(f"dashboard_vs_bare_p50: {p50_dash / p50_bare:.1f}")


if __name__ == "__main__":
    main()
