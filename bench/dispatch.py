"""Outbox dispatch on PostgreSQL + Redis: throughput against raw Celery, tick cost, lateness.

Run: .venv/bin/python bench/dispatch.py   (DATABASE_URL may point at a PostgreSQL database; by
default a throwaway database is created on 127.0.0.1:5432 and dropped afterwards. REDIS_URL
defaults to redis://127.0.0.1:6379/9.)

On a clinic network: BENCH_NETWORK=1 (or --network) runs the same phases on the rows of a network
seeded by `manage.py seed_network` (backend/core/network_seed.py: 50 clinics, 100,000 patients,
1,000,000 reminders unless BENCH_CLINICS / BENCH_PATIENTS / BENCH_REMINDERS say otherwise), so a
batch holds what a clinic network sends: many patients and clinics, both channels, every kind,
with their quiet hours, consents and SMS budgets. BENCH_DATABASE names a seeded database to reuse
(it is changed: the rows the phases use are made due and sent); without it a fresh one is seeded
(about 17 minutes) and dropped afterwards. The phases take the next scheduled rows of the network
whose patients are outside their quiet hours now (at 04:00 UTC most of the US sleeps) and move
their send time to now (or spread them over a minute for the lateness phase); rows the send-time
checks still hold back (consent, opt-outs, budget, answered) count as done, and the mix is printed.
The network already holds about a million rows, so the tick is measured on it as it is
(tick_ms_network) and tick_cost_ratio_1e6_vs_1e3 is left to the default run.

Prints, last:
  dispatch_batched_vs_one_task_per_reminder: the same end-to-end rate against one send task
                          per reminder (what batching buys).
  dispatch_pipeline_without_message_building_vs_raw_celery: the same end-to-end rate with
                          workers that skip templates, iCalendar and MIME (bench/tasks.py): what
                          the outbox machinery costs on its own, against raw Celery.
  dispatch_vs_raw_celery: end-to-end reminders/s (claim -> broker -> render -> in-memory backend ->
                          recorded as sent) divided by raw Celery no-op tasks/s, same broker,
                          same worker processes (BENCH_WORKER_PROCESSES, default 4), same run.
  tick_cost_ratio_1e6_vs_1e3: median dispatcher tick with 1,000,000 future reminders in the
                          table divided by the same with 1,000.
  p99_lateness_s:         99th percentile of (sent_at - send_at) for 10,000 reminders due in
                          the same minute, with the dispatcher ticking every 30 s.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NETWORK = os.environ.get("BENCH_NETWORK", "") == "1" or "--network" in sys.argv[1:]
REUSED = os.environ.get("BENCH_DATABASE", "") if NETWORK else ""
N_THROUGHPUT = int(os.environ.get("BENCH_N", "4000"))
N_LATENESS = int(os.environ.get("BENCH_LATENESS_N", "10000"))
TICK_S = 30
# Worker processes for both phases (raw Celery and dispatch alike). Sends wait on the database
# part of the time, so production runs more processes than cores (docker-compose: 4).
WORKER_PROCESSES = int(os.environ.get("BENCH_WORKER_PROCESSES", "4"))

created_db = None
if REUSED:
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{REUSED}"
elif NETWORK or not os.environ.get("DATABASE_URL"):
    created_db = f"aftercare_bench_{'network_' if NETWORK else ''}{os.getpid()}"
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", f"CREATE DATABASE {created_db}"],
        check=True,
    )
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{created_db}"
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
os.environ["SMS_BACKEND"] = "backend.reminders.channels.sms.MemoryBackend"
os.environ["LOG_LEVEL"] = "WARNING"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
os.environ.setdefault("DEBUG", "true")  # the development defaults (secret key, hosts)

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Q  # noqa: E402

import scheduler  # noqa: E402
from backend.clinics.models import Clinic, Provider  # noqa: E402
from backend.patients.models import Patient  # noqa: E402
from backend.plans import services  # noqa: E402
from backend.protocols.models import Protocol  # noqa: E402
from backend.reminders import dispatch, tasks  # noqa: E402
from backend.reminders.models import Reminder  # noqa: E402
from backend.reminders.tasks import dispatch_due  # noqa: E402
from bench.tasks import noop  # noqa: E402

R = redis.Redis.from_url(os.environ["REDIS_URL"])


def start_workers(**extra_env: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **extra_env}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "backend",
            "worker",
            "--queues",
            "send",
            "--concurrency",
            str(WORKER_PROCESSES),
            "--pool",
            "prefork",
            "--loglevel",
            "WARNING",
            "-I",
            "bench.tasks",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
    )


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def wait_until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not finish")
        time.sleep(0.05)


def fixture():
    now = dt.datetime.now(dt.UTC)
    clinic = Clinic.objects.create(
        name="Bench Clinic",
        time_zone="America/New_York",
        phone="+12025550100",
        opening_hours={str(d): [["07:00", "19:00"]] for d in range(7)},
        holiday_country="",
    )
    user = User.objects.create_user("bench-provider", email="p@bench.example")
    provider = Provider.objects.create(user=user, clinic=clinic, role="prescriber")
    patient = Patient.objects.create(
        clinic=clinic,
        first_name="Bench",
        last_name="Patient",
        date_of_birth=dt.date(1980, 1, 1),
        email="bench@example.com",
        mobile="+12025550123",
        time_zone="America/New_York",
        quiet_start=None,
        quiet_end=None,
        email_consent=True,
        sms_consent=True,
    )
    protocol = Protocol.objects.get(slug="iv-ketamine-induction-trd")
    plan = services.plan_create(
        patient=patient,
        protocol=protocol,
        provider=provider,
        start_date=(now + dt.timedelta(days=3)).date(),
        now=now,
    ).plan
    plan.reminders.update(status="cancelled")
    return plan, plan.items.get(key="dosing-1")


def make_reminders(plan, item, n: int, *, prefix: str, send_at_fn) -> list[int]:
    rows = [
        Reminder(
            plan=plan,
            item=item,
            patient=plan.patient,
            key=f"{prefix}-{i}",
            audience="patient",
            channel="email",
            message_kind="preparation_48h",
            send_at=send_at_fn(i),
            not_after=send_at_fn(i) + dt.timedelta(hours=2),
        )
        for i in range(n)
    ]
    Reminder.objects.bulk_create(rows, batch_size=2000)
    return [row.pk for row in rows]


class FixtureRows:
    """The default workload: copies of one patient's 48-hour preparation email."""

    def __init__(self) -> None:
        self.plan, self.item = fixture()

    def due(self, n: int, *, prefix: str, send_at_fn) -> list[int]:
        return make_reminders(self.plan, self.item, n, prefix=prefix, send_at_fn=send_at_fn)


class NetworkRows:
    """The network's own rows: the next `n` scheduled reminders, made due at `send_at_fn(i)`.

    Only the send and expiry times change (a row keeps its kind, channel, patient, clinic and
    everything the send-time checks read); each phase takes rows no earlier phase touched."""

    def due(self, n: int, *, prefix: str, send_at_fn) -> list[int]:
        now = dt.datetime.now(dt.UTC)
        rows, after = [], (now + dt.timedelta(hours=1), 0)
        while len(rows) < n:
            page = list(
                Reminder.objects.filter(status=Reminder.Status.SCHEDULED)
                .filter(Q(send_at__gt=after[0]) | Q(send_at=after[0], id__gt=after[1]))
                .order_by("send_at", "id")
                .select_related("plan__patient")
                .only("id", "send_at", "audience", "plan__patient")[:5000]
            )
            if not page:
                break
            after = (page[-1].send_at, page[-1].id)
            rows += [row for row in page if self.awake(row, now)][: n - len(rows)]
        if len(rows) < n:
            raise SystemExit(f"the network has {len(rows)} future reminders left; {n} needed")
        for i, row in enumerate(rows):
            row.send_at = send_at_fn(i)
            row.not_after = row.send_at + dt.timedelta(hours=2)
        Reminder.objects.bulk_update(rows, ["send_at", "not_after"], batch_size=1000)
        return [row.id for row in rows]

    @staticmethod
    def awake(row, now: dt.datetime) -> bool:
        """Not in the patient's quiet hours now: a network sends, at any hour, to the patients
        who are awake (the others' rows wait for the morning, which no benchmark should)."""
        if row.plan is None or row.audience != Reminder.Audience.PATIENT:
            return True
        patient = row.plan.patient
        if patient.quiet_start is None or patient.quiet_end is None:
            return True
        preferences = scheduler.PatientPreferences(
            time_zone=patient.time_zone,
            quiet_start=patient.quiet_start,
            quiet_end=patient.quiet_end,
        )
        # Awake for the next hour too, so the phase's rows are sent, not moved to the morning.
        return all(
            preferences.quiet_ends(now + dt.timedelta(minutes=m)) is None for m in (0, 30, 60)
        )


def prepare_network() -> NetworkRows:
    """Seed the network into the fresh database (or reuse BENCH_DATABASE), then send what fell
    due since it was seeded, so the phases time their own rows only."""
    if not REUSED:
        call_command(
            "seed_network",
            clinics=int(os.environ.get("BENCH_CLINICS", "50")),
            patients=int(os.environ.get("BENCH_PATIENTS", "100000")),
            reminders=int(os.environ.get("BENCH_REMINDERS", "1000000")),
        )
    now = dt.datetime.now(dt.UTC)
    backlog = Reminder.objects.filter(status=Reminder.Status.SCHEDULED, send_at__lte=now).count()
    print(
        f"network: {Clinic.objects.count()} clinics, {Patient.objects.count()} patients, "
        f"{Reminder.objects.count()} reminders "
        f"({Reminder.objects.filter(status='scheduled').count()} scheduled); "
        f"{'reused ' + REUSED if REUSED else 'seeded now'}; {backlog} due since the seed",
        flush=True,
    )
    return NetworkRows()


def outcomes(ids: list[int]) -> str:
    counts = Counter(Reminder.objects.filter(id__in=ids).values_list("status", flat=True))
    return ", ".join(f"{status} {count}" for status, count in sorted(counts.items()))


def raw_celery_rate(n: int) -> float:
    R.delete("bench:noop:done")
    started = time.perf_counter()
    for i in range(n):
        noop.apply_async(args=[i], queue="send")
    wait_until(lambda: int(R.get("bench:noop:done") or 0) >= n, 300)
    return n / (time.perf_counter() - started)


def dispatch_rate(rows, n: int, prefix: str) -> float:
    """Reminders/s from "all due" to "all recorded as sent", dispatched as production does.

    One dispatcher tick claims every due row (in batches of CLAIM_BATCH, each enqueued as soon
    as its transaction commits) while the workers already send; completion is then polled
    every 50 ms with one indexed query, as the raw phase polls its Redis counter.
    """
    now = dt.datetime.now(dt.UTC)
    ids = rows.due(n, prefix=prefix, send_at_fn=lambda i: now - dt.timedelta(seconds=1))
    queued = Reminder.objects.filter(status=Reminder.Status.QUEUED)  # its partial index
    started = time.perf_counter()
    dispatch_due()
    wait_until(lambda: not queued.exists(), 300)
    elapsed = time.perf_counter() - started
    if NETWORK:
        # Rows held back at send time (quiet hours, consent, budget) are done too: that is the
        # work of a clinic network's batch. Say what became of them.
        print(f"{prefix}: {outcomes(ids)}", flush=True)
    else:
        assert Reminder.objects.filter(id__in=ids, status="sent").count() == n
    return n / elapsed


def tick_cost(samples: int = 200) -> float:
    """Median seconds of one claim transaction (release, expire, claim a batch), rolled back.

    The table is vacuumed first, so both sizes are measured in the steady state autovacuum keeps
    in production rather than with the dead rows the throughput phase just left behind.
    """
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE reminders_reminder")
    for _ in range(20):  # warm the caches
        dispatch.claim_due(now=dt.datetime.now(dt.UTC), limit=1)
    times = []
    for _ in range(samples):
        now = dt.datetime.now(dt.UTC)
        with transaction.atomic():
            started = time.perf_counter()
            dispatch.claim_due(now=now)
            times.append(time.perf_counter() - started)
            transaction.set_rollback(True)
    return statistics.median(times)


def fill_future(plan, item, total: int) -> None:
    """Bring the number of future reminders up to `total` with one INSERT ... SELECT."""
    have = Reminder.objects.filter(key__startswith="future-").count()
    if total <= have:
        return
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO reminders_reminder (plan_id, item_id, key, audience, patient_id, channel,
                message_kind, send_at, not_after, requires_attended, priority, repeat_index, rule,
                status, status_reason, attempts, last_error, provider_message_id, delivery_status,
                lease_token, created_at, updated_at)
            SELECT %s, %s, 'future-' || g, 'patient', %s, 'email', 'journal_prompt',
                now() + (g %% 100000) * interval '1 minute' + interval '1 day',
                now() + (g %% 100000) * interval '1 minute' + interval '2 days',
                false, 0, 0, '', 'scheduled', '', 0, '', '', '', '', now(), now()
            FROM generate_series(%s::integer, %s::integer) AS g
            """,
            [plan.id, item.id, plan.patient_id, have, total - 1],
        )


def shrink_future(total: int) -> None:
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM reminders_reminder WHERE key LIKE 'future-%%' AND "
            "substr(key, 8)::int >= %s",
            [total],
        )


def lateness_p99(work, n: int) -> float:
    # Due from a few seconds on: time to write the rows first (the network's take longer).
    start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=15 if NETWORK else 5)
    ids = work.due(n, prefix="late", send_at_fn=lambda i: start + dt.timedelta(seconds=60 * i / n))
    stop = threading.Event()

    def beat():
        # As beat does: every 30 s, a tick that follows newly due rows for 25 s.
        while not stop.is_set():
            started = time.monotonic()
            dispatch_due(follow_seconds=25)
            stop.wait(max(0.0, TICK_S - (time.monotonic() - started)))

    ticker = threading.Thread(target=beat, daemon=True)
    ticker.start()
    rows = Reminder.objects.filter(id__in=ids)
    # Done: sent, or held back by a send-time check (a row moved past quiet hours is scheduled
    # again, later; only the network has those).
    undone = Q(status=Reminder.Status.QUEUED) | Q(
        status=Reminder.Status.SCHEDULED, send_at__lte=start + dt.timedelta(seconds=60)
    )
    wait_until(lambda: not rows.filter(undone).exists(), 600)
    stop.set()
    sent = rows.filter(status=Reminder.Status.SENT)
    if NETWORK:
        print(f"late: {outcomes(ids)}", flush=True)
    late = sorted((r.sent_at - r.send_at).total_seconds() for r in sent.only("sent_at", "send_at"))
    last = max(sent.values_list("sent_at", flat=True))
    print(f"lateness_p50_s: {late[len(late) // 2]:.1f}")
    print(f"lateness_drain_s_after_first_due: {(last - start).total_seconds():.1f}")
    return late[int(0.99 * (len(late) - 1))]


def main() -> None:
    print(f"machine: nproc {os.cpu_count()}, {cpu_model()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}", flush=True)
    call_command("migrate", verbosity=0)
    work = prepare_network() if NETWORK else FixtureRows()
    R.delete("dispatch", "send")
    workers = start_workers()
    try:
        time.sleep(3)
        raw_celery_rate(200)  # warm-up: worker processes import everything
        if NETWORK:
            # What fell due since the seed goes first (not timed), then the warm-up.
            dispatch_due()
            wait_until(
                lambda: not Reminder.objects.filter(status=Reminder.Status.QUEUED).exists(), 600
            )
        dispatch_rate(work, 200, "warm")
        raw = raw_celery_rate(N_THROUGHPUT)
        ours = dispatch_rate(work, N_THROUGHPUT, "tp")
        # The same work with one task per reminder: what batching buys.
        tasks.SEND_CHUNK, chunk = 1, tasks.SEND_CHUNK
        unbatched = dispatch_rate(work, N_THROUGHPUT // 2, "one")
        tasks.SEND_CHUNK = chunk
        # The same pipeline with workers that skip building the message (bench/tasks.py): what
        # the outbox machinery costs apart from templates, iCalendar and MIME.
        workers.terminate()
        workers.wait(30)
        workers = start_workers(BENCH_NULL_MESSAGE="1")
        time.sleep(3)
        dispatch_rate(work, 200, "warm-null")
        pipeline = dispatch_rate(work, N_THROUGHPUT, "null")
        workers.terminate()
        workers.wait(30)
        workers = start_workers()
        print(f"raw_celery_noop_per_s: {raw:.0f}")
        print(f"dispatch_end_to_end_per_s: {ours:.0f}")
        print(f"dispatch_one_task_per_reminder_per_s: {unbatched:.0f}")
        print(f"dispatch_without_message_building_per_s: {pipeline:.0f}")

        if NETWORK:
            print(f"tick_ms_network: {tick_cost() * 1000:.2f}")
        else:
            # Small, large, small again: the baseline brackets the measurement, so drift of the
            # machine during the run does not pass for a cost of the table's size.
            fill_future(work.plan, work.item, 1_000)
            small_before = tick_cost()
            fill_future(work.plan, work.item, 1_000_000)
            large = tick_cost()
            shrink_future(1_000)
            small = (small_before + tick_cost()) / 2
            print(f"tick_ms_1e3_future: {small * 1000:.2f}")
            print(f"tick_ms_1e6_future: {large * 1000:.2f}")

        p99 = lateness_p99(work, N_LATENESS)
        print(f"dispatch_batched_vs_one_task_per_reminder: {ours / unbatched:.2f}")
        print(f"dispatch_pipeline_without_message_building_vs_raw_celery: {pipeline / raw:.2f}")
        print(f"dispatch_vs_raw_celery: {ours / raw:.2f}")
        if not NETWORK:
            print(f"tick_cost_ratio_1e6_vs_1e3: {large / small:.2f}")
        print(f"p99_lateness_s: {p99:.1f}")
    finally:
        workers.terminate()
        workers.wait(30)
        connection.close()
        if created_db:
            subprocess.run(
                [
                    "psql",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-q",
                    "-c",
                    f"DROP DATABASE IF EXISTS {created_db} WITH (FORCE)",
                ],
                check=False,
            )


if __name__ == "__main__":
    main()
