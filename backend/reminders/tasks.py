"""Celery tasks: thin wrappers around the outbox's dispatch and delivery. Messages carry reminder
ids only.

Faults cost seconds: a tick that cannot hand its claimed rows to the broker gives them back at
once (they are due again on the next pass), and a send task that meets a database error gives back
every row it had not yet handed to the provider (backend.reminders.delivery) before it fails. A
tick that a worker rejects or drops (revoked, expired) is logged at WARNING, and every tick that
runs is recorded by the database's clock, so /health/ tells a silent dispatcher apart.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from celery import shared_task
from celery.signals import task_revoked
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from backend.core.models import PeriodicTick
from backend.reminders import delivery, digest, dispatch, outbox
from backend.reminders.models import Reminder
from backend.reminders.outbox import Outcome

log = logging.getLogger(__name__)

SEND_CHUNK = 25  # reminders per send task: batching is what keeps up with raw Celery throughput
DISPATCH_INTERVAL_S = 30  # beat's schedule (core/migrations/0002_periodic_tasks.py)
TICK_BUDGET_S = 20  # a tick stops claiming after this long, well inside the 30 s interval
TICK_MAX_ROWS = 20_000  # and after this many rows, so a backlog drains over several ticks
FOLLOW_POLL_S = 1.0
DISPATCH_TASK = "reminders.dispatch_due"
DIGEST_TASK = "reminders.create_digests"  # every 15 min (core/migrations/0006_digest_tick.py)


def enqueue_send(claim: outbox.Claim) -> None:
    """Hand a claim's rows to the broker in chunks; if the broker fails, the rows not handed over
    are due again at once instead of waiting out their dispatch lease."""
    ids = claim.ids
    for start in range(0, len(ids), SEND_CHUNK):
        try:
            send_batch.delay(ids[start : start + SEND_CHUNK])
        except Exception:
            released = outbox.release_claim(claim.token, ids[start:])
            log.warning("broker error: %d claimed reminder(s) given back", released)
            raise


@shared_task(name=DISPATCH_TASK, ignore_result=True)
def dispatch_due(follow_seconds: float = 0) -> int:
    """Claim due reminders in bounded batches and enqueue their sending after each commit.

    With `follow_seconds` (beat passes 25 for its 30 s interval) the tick keeps watching for
    rows that fall due during it, one cheap indexed query a second, so a reminder waits about a
    second for dispatch instead of up to a whole interval. Still bounded: at most TICK_MAX_ROWS
    rows and TICK_BUDGET_S of claiming per tick. Each tick is recorded (PeriodicTick).
    """
    PeriodicTick.record(DISPATCH_TASK)
    started, total = time.monotonic(), 0
    deadline = started + max(follow_seconds, 0)
    while total < TICK_MAX_ROWS and time.monotonic() - started < max(TICK_BUDGET_S, follow_seconds):
        with transaction.atomic():
            claim = outbox.claim(now=timezone.now(), limit=dispatch.CLAIM_BATCH)
            if claim.ids:
                transaction.on_commit(lambda claim=claim: enqueue_send(claim))
        total += len(claim.ids)
        if len(claim.ids) == dispatch.CLAIM_BATCH:
            continue
        if time.monotonic() >= deadline:
            break
        time.sleep(FOLLOW_POLL_S)
    if total:
        log.info("dispatched %d reminder(s)", total)
    return total


@shared_task(name=DIGEST_TASK, ignore_result=True)
def create_digests() -> int:
    """Create the providers' daily digests whose 07:00 (clinic time) has come (idempotent: a late
    or doubled tick creates none twice, a missed one is caught up by the next). The dispatcher
    sends them. Recorded like the dispatcher's tick (PeriodicTick)."""
    PeriodicTick.record(DIGEST_TASK)
    created = digest.create_due_digests(now=timezone.now())
    if created:
        log.info("created %d provider digest(s)", created)
    return created


@task_revoked.connect(dispatch_uid="aftercare-warn-revoked")
def _warn_revoked(sender=None, request=None, terminated=False, expired=False, **kwargs) -> None:
    """A periodic task dropped unseen means reminders silently wait: say so at WARNING."""
    name = getattr(sender, "name", None) or getattr(request, "task", "?")
    why = "expired before it ran" if expired else ("terminated" if terminated else "revoked")
    log.warning("task %s (%s) %s", name, getattr(request, "id", "?"), why)


def _deliver_all(ids: list[int]) -> None:
    for reminder_id, outcome in delivery.deliver_many(ids).items():
        if outcome.status == Outcome.RETRY_SOON:
            send_reminder.apply_async(args=[reminder_id], countdown=outcome.countdown)


@shared_task(
    name="reminders.send_batch", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def send_batch(reminder_ids: list[int]) -> None:
    _deliver_all(reminder_ids)


@shared_task(
    name="reminders.send_reminder", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def send_reminder(reminder_id: int) -> None:
    """One reminder: the short Celery retry after a transient error, and "send now"."""
    _deliver_all([reminder_id])


@shared_task(
    name="reminders.record_sent",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=30,
    max_retries=40,
)
def record_sent(
    reminder_id: int,
    lease_token: str,
    channel: str,
    backend: str,
    message_id: str,
    sent_at: str,
) -> None:
    """Record a send the provider accepted while the database was away (delivery): retried with
    a short backoff until the database answers, so the row is on record as sent and never goes
    out again."""
    reminder = Reminder(id=reminder_id, lease_token=lease_token, channel=channel)
    outbox.record_sent(
        reminder, backend=backend, message_id=message_id, now=dt.datetime.fromisoformat(sent_at)
    )
