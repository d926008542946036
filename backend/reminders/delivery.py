"""Sending the rows of a batch: check, render, hand to the provider. The one place retries are
decided; every status change it makes is a call into backend.reminders.outbox.

Per row, in order: the send-time checks (eligibility), the rendering, then `outbox.begin_send`
(the row still queued under this worker's token, checked in the same UPDATE that fences it)
immediately before the provider call, then the record. A cancel that committed before
`begin_send` means no send. Workers handle one row at a time (prefetch 1, rows of a batch in
sequence), so a worker killed between the provider's acceptance and the record duplicates at
most one message.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time

from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from backend.celery import MAX_CELERY_RETRY_DELAY_S
from backend.core import metrics
from backend.plans.models import PlanItem
from backend.reminders import compose, eligibility, outbox
from backend.reminders.channels import DeliveryError
from backend.reminders.channels.email import batch_connection, send_email
from backend.reminders.channels.sms import get_sms_backend
from backend.reminders.models import Reminder
from backend.reminders.outbox import Outcome, Result
from backend.reminders.wording import ContentError

log = logging.getLogger(__name__)

# Transient failures retry until the reminder's `not_after` (then it expires); the attempt cap is
# only a safety valve against a row that fails forever inside its window.
MAX_ATTEMPTS = 25
BACKOFF_BASE_S = 15
BACKOFF_CAP_S = 30 * 60
BATCH_BUDGET_S = 35  # of the 50 s soft time limit of a send task
DATABASE_ERRORS = (OperationalError, InterfaceError)


def backoff_seconds(attempt: int) -> int:
    """Exponential backoff with jitter: about 15 s, 30 s, 60 s, ... capped at 30 min."""
    ceiling = min(BACKOFF_BASE_S * 2 ** max(attempt - 1, 0), BACKOFF_CAP_S)
    return max(1, int(random.uniform(ceiling / 2, ceiling)))


def _build(reminder: Reminder, *, now: dt.datetime):
    """Render the message and return (backend name, the call that hands it to the provider)."""
    rendered = compose.render(reminder, channel=reminder.channel)
    if reminder.channel == Reminder.Channel.SMS:
        backend = get_sms_backend()
        sms = compose.build_sms(reminder, rendered)
        return backend.__class__.__name__, lambda: backend.send(sms)
    email = compose.build_email(reminder, rendered, now=now)
    return "email", lambda: send_email(email)


def deliver_many(reminder_ids: list[int], *, now: dt.datetime | None = None) -> dict[int, Result]:
    """Send a batch, one row after the other, each recorded before the next is sent.

    One row's failure never holds up the others: any error while sending it is recorded on that
    row (permanent when the message cannot even be built). A batch stops taking rows after
    BATCH_BUDGET_S, well inside the task's time limit, and gives the rows it did not reach back
    to `scheduled`, so they go with the next tick instead of waiting out a lease. A database
    error gives back every row not yet handed to the provider, then goes up to the task.
    `now` fixes the business clock (send-time checks, `sent_at`); leases use the database's.
    """
    outcomes = {rid: Result(Outcome.NOT_TAKEN) for rid in reminder_ids}
    taken = outbox.take_batch(reminder_ids)
    started = time.monotonic()
    with batch_connection():
        _deliver_in_order(taken, outcomes, started=started, fixed_now=now)
    return outcomes


def _deliver_in_order(taken, outcomes, *, started: float, fixed_now) -> None:
    for position, reminder in enumerate(taken):
        if time.monotonic() - started > BATCH_BUDGET_S:
            outbox.release(taken[position:])
            break
        try:
            outcomes[reminder.id] = _deliver_guarded(reminder, now=fixed_now or timezone.now())
        except SoftTimeLimitExceeded:
            # Out of time mid-send: a row at the provider stays fenced until its lease ends (the
            # one duplicate window); this row, if not, and the rest were never tried.
            outbox.release(taken[position:])
            raise
        except DATABASE_ERRORS:
            # Not a lease's wait: the rows go back now, and the next tick sends them.
            log.warning("database error mid-batch; giving back %d row(s)", len(taken) - position)
            outbox.release(taken[position:])
            raise


def _deliver_guarded(reminder: Reminder, *, now: dt.datetime) -> Result:
    try:
        return _deliver_taken(reminder, now=now)
    except (SoftTimeLimitExceeded, *DATABASE_ERRORS):
        raise
    except (ContentError, ValueError) as exc:
        # The message cannot be built from this row (a template, a sender address): retrying
        # the same row cannot help, so it fails now, with the reason, for staff to fix.
        log.warning("reminder %s cannot be built: %s", reminder.id, exc)
        error = DeliveryError(f"cannot build the message: {exc}", permanent=True)
        return _failed(reminder, reminder.channel, error, now=now)
    except Exception as exc:
        log.exception("reminder %s: unexpected error while sending", reminder.id)
        return _failed(reminder, reminder.channel, DeliveryError(f"unexpected: {exc!r}"), now=now)


def deliver(reminder_id: int, *, now: dt.datetime | None = None) -> Result:
    return deliver_many([reminder_id], now=now)[reminder_id]


def _deliver_taken(reminder: Reminder, *, now: dt.datetime) -> Result:
    verdict = eligibility.check(reminder, now=now)
    if verdict.status == eligibility.Status.EXPIRED:
        return outbox.record_expired(reminder, reason=verdict.reason)
    if verdict.status == eligibility.Status.SKIP:
        return outbox.record_skipped(reminder, reason=verdict.reason)
    if verdict.status == eligibility.Status.LATER:
        return outbox.record_later(reminder, send_at=verdict.send_at, reason=verdict.reason)
    backend, hand_over = _build(reminder, now=now)
    if not outbox.begin_send(reminder):
        return Result(Outcome.NOT_TAKEN)  # cancelled, changed or taken since: not ours to send
    handed_at = time.perf_counter()
    try:
        message_id = hand_over()
    except DeliveryError as exc:
        return _failed(reminder, backend, exc, now=now)
    metrics.SEND_LATENCY.labels(reminder.channel).observe(time.perf_counter() - handed_at)
    try:
        outbox.record_sent(reminder, backend=backend, message_id=message_id, now=now)
    except DATABASE_ERRORS:
        _record_sent_later(reminder, backend=backend, message_id=message_id, now=now)
        raise
    late = (now - reminder.send_at).total_seconds()
    metrics.SEND_LATENESS.labels(reminder.channel).observe(max(late, 0.0))
    _record_notice_told(reminder)
    return Result(Outcome.SENT)


def _record_sent_later(reminder: Reminder, *, backend: str, message_id: str, now) -> None:
    """The provider has the message but the database stayed away through the record's retries:
    the acceptance (ids only) goes to the broker, and a task records it once the database is
    back, before the row's send lease ends and it could be sent again."""
    from backend.reminders.tasks import record_sent

    log.error("reminder %s sent as %s; recording it through the broker", reminder.id, message_id)
    record_sent.apply_async(
        kwargs={
            "reminder_id": reminder.id,
            "lease_token": reminder.lease_token,
            "channel": reminder.channel,
            "backend": backend,
            "message_id": message_id,
            "sent_at": now.isoformat(),
        },
        countdown=1,
    )


def _record_notice_told(reminder: Reminder) -> None:
    """A change notice that went out told the patient of its sessions as they stood when it was
    rendered; a session changed again since keeps a higher sequence and goes in the next one."""
    for item in getattr(reminder, "notice_items", ()):
        PlanItem.objects.filter(pk=item.pk, notified_sequence__lt=item.calendar_sequence).update(
            notified_sequence=item.calendar_sequence
        )


def _failed(reminder: Reminder, backend: str, exc: DeliveryError, *, now: dt.datetime) -> Result:
    attempt = outbox.attempt(backend, now=now, ok=False, error=str(exc), permanent=exc.permanent)
    if exc.permanent or reminder.attempts >= MAX_ATTEMPTS:
        reason = (
            "permanent error" if exc.permanent else f"gave up after {reminder.attempts} attempts"
        )
        return outbox.record_failed(reminder, attempt=attempt, reason=reason)
    wait = backoff_seconds(reminder.attempts)
    if wait <= MAX_CELERY_RETRY_DELAY_S:
        # Short wait: a Celery retry. The lease covers the countdown, so if the retry message is
        # lost (Redis flushed), the row simply becomes due again when the lease ends.
        return outbox.record_retry_soon(reminder, attempt=attempt, countdown=wait)
    # Long wait: never a broker message (it would outlive the visibility timeout).
    return outbox.record_later(
        reminder,
        send_at=now + dt.timedelta(seconds=wait),
        reason="retrying after an error",
        attempt=attempt,
    )
