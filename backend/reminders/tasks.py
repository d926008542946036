"""Celery tasks: thin wrappers around dispatch and delivery. Messages carry reminder ids only."""

from __future__ import annotations

import logging
import time

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from backend.reminders import delivery, dispatch

log = logging.getLogger(__name__)

SEND_CHUNK = 25  # reminders per send task: batching is what keeps up with raw Celery throughput
TICK_BUDGET_S = 20  # a tick stops claiming after this long, well inside the 30 s interval
TICK_MAX_ROWS = 20_000  # and after this many rows, so a backlog drains over several ticks
FOLLOW_POLL_S = 1.0


def enqueue_send(ids: list[int]) -> None:
    for start in range(0, len(ids), SEND_CHUNK):
        send_batch.delay(ids[start : start + SEND_CHUNK])


@shared_task(name="reminders.dispatch_due", ignore_result=True)
def dispatch_due(follow_seconds: float = 0) -> int:
    """Claim due reminders in bounded batches and enqueue their sending after each commit.

    With `follow_seconds` (beat passes 25 for its 30 s interval) the tick keeps watching for
    rows that fall due during it, one cheap indexed query a second, so a reminder waits about a
    second for dispatch instead of up to a whole interval. Still bounded: at most TICK_MAX_ROWS
    rows and TICK_BUDGET_S of claiming per tick.
    """
    started, total = time.monotonic(), 0
    deadline = started + max(follow_seconds, 0)
    while total < TICK_MAX_ROWS and time.monotonic() - started < max(TICK_BUDGET_S, follow_seconds):
        with transaction.atomic():
            ids = dispatch.claim_due(now=timezone.now())
            transaction.on_commit(lambda ids=ids: enqueue_send(ids))
        total += len(ids)
        if len(ids) == dispatch.CLAIM_BATCH:
            continue
        if time.monotonic() >= deadline:
            break
        time.sleep(FOLLOW_POLL_S)
    if total:
        log.info("dispatched %d reminder(s)", total)
    return total


def _deliver_all(ids: list[int]) -> None:
    for reminder_id, outcome in delivery.deliver_many(ids).items():
        if outcome.status == "retry_soon":
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
