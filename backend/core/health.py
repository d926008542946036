"""What /health/, /health/detail/ and /metrics report: is the service up, and are reminders going
out on time?

Two conditions make the service unhealthy even when every process answers, because a clinic only
notices them when a patient did not get a reminder:

- the dispatcher has not ticked for DISPATCH_STALE_AFTER (beat stopped, the dispatcher worker
  stopped, or its ticks are dropped): nothing due is being claimed;
- the oldest reminder that is due and not yet sent is more than REMINDERS_LATE_AFTER late: rows are
  claimed but no send worker takes them (they cycle between queued and scheduled), or the backlog
  is more than the workers can carry.

Every age is measured on the database's clock (`Now()`), as the outbox's leases are, so a web host
whose clock drifts reports the same figures as any other. A beat task cannot report its own
absence, which is why these are read on request, by whoever asks (an uptime check, a load balancer,
Prometheus), and never pushed.

Nothing here names a patient: counts and ages only.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import DurationField, ExpressionWrapper, F
from django.db.models.functions import Now

from backend.celery import app as celery_app
from backend.core.models import PeriodicTick, WorkerHeartbeat

log = logging.getLogger(__name__)

DISPATCH_TASK = "reminders.dispatch_due"
DIGEST_TASK = "reminders.create_digests"
# The dispatcher ticks every 30 s: four missed ticks in a row is an outage, not jitter.
DISPATCH_STALE_AFTER = dt.timedelta(minutes=2)
# A due reminder normally goes out within one tick (p99 well under 35 s, bench/dispatch.py).
REMINDERS_LATE_AFTER = dt.timedelta(minutes=5)
# The heartbeat task runs every minute on each worker that consumes the dispatch queue.
HEARTBEAT_STALE_AFTER = dt.timedelta(minutes=3)


@dataclass
class Report:
    """The state of the service at one moment, by the database's clock."""

    failures: list[str] = field(default_factory=list)  # makes the answer 503
    warnings: list[str] = field(default_factory=list)  # reported, still 200
    dispatcher_last_tick_s: float | None = None
    oldest_due_s: float | None = None

    @property
    def healthy(self) -> bool:
        return not self.failures

    def public(self) -> dict:
        """What anyone may read: which check failed and two ages, never configuration or data."""
        body = {
            "status": "unavailable" if self.failures else "degraded" if self.warnings else "ok",
            "dispatcher": {"last_tick_s": self.dispatcher_last_tick_s},
            "reminders": {"oldest_due_s": self.oldest_due_s},
        }
        if self.failures:
            body["failed"] = self.failures
        if self.warnings:
            body["warnings"] = self.warnings
        return body


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not answering"
        log.warning("health: database check failed: %s", exc.__class__.__name__)
        return f"database: {exc.__class__.__name__}"
    return None


def check_broker() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            # ensure_connection opens the socket lazily on Redis; ask the server itself.
            client = getattr(conn.default_channel, "client", None)
            if client is not None:
                client.ping()
    except Exception as exc:
        log.warning("health: broker check failed: %s", exc.__class__.__name__)
        return f"broker: {exc.__class__.__name__}"
    return None


def _seconds(age: dt.timedelta | None) -> float | None:
    return None if age is None else round(max(age.total_seconds(), 0.0), 1)


def oldest_due_age() -> dt.timedelta | None:
    """How late the oldest reminder that is due and not sent is, by the database's clock.

    Scheduled rows are read through the dispatcher's own partial index (status = scheduled, by
    send_at), queued ones are the few in flight: both stay cheap however large the table grows.
    A queued row counts: if no send worker takes claimed rows, they cycle between queued and
    scheduled and stay late.
    """
    from backend.reminders.models import Reminder

    late = ExpressionWrapper(Now() - F("send_at"), DurationField())
    ages = [
        Reminder.objects.filter(status=status, send_at__lte=Now())
        .order_by("send_at")
        .annotate(late=late)
        .values_list("late", flat=True)
        .first()
        for status in (Reminder.Status.SCHEDULED, Reminder.Status.QUEUED)
    ]
    ages = [age for age in ages if age is not None]
    return max(ages) if ages else None


def heartbeat_ages() -> list[tuple[str, dt.timedelta]]:
    """Each worker host's time since its last heartbeat, by the database's clock."""
    age = ExpressionWrapper(Now() - F("seen_at"), DurationField())
    return list(
        WorkerHeartbeat.objects.annotate(age=age)
        .order_by("hostname")
        .values_list("hostname", "age")
    )


def report() -> Report:
    """The whole health picture: dependencies first (without them nothing else can be read)."""
    database = check_database()
    result = Report(failures=[f for f in (database, check_broker()) if f])
    if database is not None:
        return result
    tick = PeriodicTick.age(DISPATCH_TASK)
    result.dispatcher_last_tick_s = _seconds(tick)
    if tick is None:
        result.failures.append("dispatcher: no tick recorded")
    elif tick > DISPATCH_STALE_AFTER:
        result.failures.append(f"dispatcher: last tick {result.dispatcher_last_tick_s:.0f} s ago")
    late = oldest_due_age()
    result.oldest_due_s = _seconds(late)
    if late is not None and late > REMINDERS_LATE_AFTER:
        result.failures.append(f"reminders: oldest due {result.oldest_due_s:.0f} s ago")
    for failure in result.failures:
        log.warning("health: %s", failure)
    return result


def detail() -> dict:
    """For operators (protected): the public report plus what explains it. Counts and ages only."""
    from backend.reminders.models import Reminder

    started = time.perf_counter()
    base = report()
    body = base.public()
    if any(f.startswith("database") for f in base.failures):
        return body
    body["database_ms"] = round((time.perf_counter() - started) * 1000, 1)
    body["ticks"] = {
        task: _seconds(PeriodicTick.age(task)) for task in (DISPATCH_TASK, DIGEST_TASK)
    }
    body["workers"] = {
        hostname: {"last_seen_s": _seconds(age), "stale": age > HEARTBEAT_STALE_AFTER}
        for hostname, age in heartbeat_ages()
    }
    due = Reminder.objects.filter(send_at__lte=Now())
    body["reminders"].update(
        due_scheduled=due.filter(status=Reminder.Status.SCHEDULED).count(),
        queued=Reminder.objects.filter(status=Reminder.Status.QUEUED).count(),
        queued_past_lease=Reminder.objects.filter(
            status=Reminder.Status.QUEUED, lease_expires_at__lt=Now()
        ).count(),
    )
    body["thresholds_s"] = {
        "dispatcher_stale": DISPATCH_STALE_AFTER.total_seconds(),
        "reminders_late": REMINDERS_LATE_AFTER.total_seconds(),
    }
    return body
