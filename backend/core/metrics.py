"""Prometheus metrics, served at /metrics to operators (backend.core.views).

Two sources, because the web process that answers a scrape is not the process that sends:

- **The database, read at scrape time** (`OutboxCollector`): reminders by status and channel, how
  late the oldest due reminder is (dispatch lag), the dispatcher's last tick and each worker's
  heartbeat. These are the truth whichever host asks, and cost a few indexed reads plus one
  grouped count.
- **Events counted where they happen**: send latency (the provider's call, in a send worker), task
  failures (any Celery process), webhook receipts (web). With `PROMETHEUS_MULTIPROC_DIR` set to a
  directory every process of a host shares (docker-compose mounts one volume into web and the
  workers), prometheus_client's multiprocess mode writes each process's values there and the scrape
  sums them. Without it (tests, a single process) the scrape shows this process's own values.
  The directory must be emptied when the host's processes start (docker-compose and `make run` do),
  as the prometheus_client documentation says.

Labels are kinds, channels and statuses only: never a patient, an address or a message.
"""

from __future__ import annotations

import logging
import os

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # prometheus_client writes a file per process there; a missing directory would make every
    # counted event (a send) raise.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

# Providers answer in tens to hundreds of milliseconds; a slow one is seconds.
SEND_LATENCY = Histogram(
    "aftercare_send_latency_seconds",
    "Time the email or SMS provider took to accept one message.",
    ["channel"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
# How late a reminder went out against its planned time: what a patient feels.
SEND_LATENESS = Histogram(
    "aftercare_send_lateness_seconds",
    "sent_at minus send_at for each reminder recorded as sent.",
    ["channel"],
    buckets=(1, 5, 10, 20, 30, 45, 60, 120, 300, 900, 3600),
)
TASK_FAILURES = Counter(
    "aftercare_task_failures_total",
    "Celery tasks that raised (after their own retries), by task name.",
    ["task"],
)
TASK_RETRIES = Counter(
    "aftercare_task_retries_total", "Celery task retries, by task name.", ["task"]
)
WEBHOOK_RECEIPTS = Counter(
    "aftercare_webhook_receipts_total",
    "Provider webhooks received, by endpoint and response status class (2xx, 4xx, 5xx).",
    ["endpoint", "status"],
)


class OutboxCollector:
    """Reads the outbox's state from the database at each scrape (see the module docstring)."""

    def describe(self):
        return []  # computed at scrape time; nothing to check at registration

    def collect(self):
        from backend.core import health
        from backend.core.models import PeriodicTick
        from backend.reminders.models import Reminder

        up = GaugeMetricFamily("aftercare_database_up", "1 when the database answered the scrape.")
        try:
            by_status = GaugeMetricFamily(
                "aftercare_reminders",
                "Reminders in the outbox, by status and channel.",
                labels=["status", "channel"],
            )
            counts = {
                (row["status"], row["channel"]): row["n"]
                for row in Reminder.objects.order_by()
                .values("status", "channel")
                .annotate(n=Count("id"))
            }
            for status in Reminder.Status.values:
                for channel in Reminder.Channel.values:
                    by_status.add_metric([status, channel], counts.get((status, channel), 0))
            late = health.oldest_due_age()
            lag = GaugeMetricFamily(
                "aftercare_dispatch_lag_seconds",
                "How late the oldest due, unsent reminder is (0 when none is due).",
            )
            lag.add_metric([], late.total_seconds() if late else 0.0)
            ticks = GaugeMetricFamily(
                "aftercare_periodic_task_age_seconds",
                "Seconds since a periodic task last ran (database clock); absent if never.",
                labels=["task"],
            )
            for task in (health.DISPATCH_TASK, health.DIGEST_TASK):
                age = PeriodicTick.age(task)
                if age is not None:
                    ticks.add_metric([task], max(age.total_seconds(), 0.0))
            workers = GaugeMetricFamily(
                "aftercare_worker_heartbeat_age_seconds",
                "Seconds since each worker host last ran the heartbeat task.",
                labels=["hostname"],
            )
            for hostname, age in health.heartbeat_ages():
                workers.add_metric([hostname], max(age.total_seconds(), 0.0))
        except DatabaseError as exc:
            log.warning("metrics: database unavailable (%s)", exc.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield from (up, by_status, lag, ticks, workers)


def exposition() -> tuple[bytes, str]:
    """The text a scrape gets: every process's events (or this one's) and the outbox's state."""
    database = CollectorRegistry(auto_describe=False)
    database.register(OutboxCollector())
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        events = CollectorRegistry()
        multiprocess.MultiProcessCollector(events)
    else:
        events = REGISTRY
    return generate_latest(events) + generate_latest(database), CONTENT_TYPE_LATEST


def count_webhook(endpoint: str):
    """Wraps a webhook view so each receipt is counted by its response's status class."""

    def decorate(view):
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            WEBHOOK_RECEIPTS.labels(endpoint, f"{response.status_code // 100}xx").inc()
            return response

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        # Keep the view's own attributes (csrf_exempt, require_POST) visible to Django.
        wrapped.__dict__.update(view.__dict__)
        return wrapped

    return decorate


def connect_task_signals() -> None:
    """Counts task failures and retries in whichever Celery process runs the task."""
    from celery.signals import task_failure, task_retry

    def failed(sender=None, **kwargs):
        TASK_FAILURES.labels(getattr(sender, "name", "unknown")).inc()

    def retried(sender=None, **kwargs):
        TASK_RETRIES.labels(getattr(sender, "name", "unknown")).inc()

    task_failure.connect(failed, weak=False, dispatch_uid="aftercare-metrics-task-failure")
    task_retry.connect(retried, weak=False, dispatch_uid="aftercare-metrics-task-retry")
