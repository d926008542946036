"""Sending one claimed reminder: re-check, render, send, record. The one place retries are decided.

The row is taken with a compare-and-set on `sending_until` (queued and no live send), so a
duplicated broker message or a second worker cannot send it again while the first is busy. The
only duplicate window left is "provider accepted, record not yet written": a worker killed
exactly there sends that one message again after its lease ends. Workers handle one row at a
time (prefetch 1, rows of a batch in sequence), so that is at most one message per killed worker.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from backend.celery import MAX_CELERY_RETRY_DELAY_S
from backend.reminders import eligibility, messages
from backend.reminders.channels import DeliveryError
from backend.reminders.channels.email import send_email
from backend.reminders.channels.sms import get_sms_backend
from backend.reminders.models import DeliveryAttempt, Reminder

log = logging.getLogger(__name__)



def send_lease() -> dt.timedelta:
    """How long a worker holds a row it is sending; longer than the task's time limit."""
    return dt.timedelta(seconds=settings.REMINDER_SEND_LEASE_S)

MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 15


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | skipped | expired | failed | retry_soon | retry_later | not_taken
    countdown: int = 0


def backoff_seconds(attempt: int) -> int:
    """Exponential backoff with full jitter: 15 s, 30 s, 60 s, ... capped at 6 h."""
    ceiling = min(BACKOFF_BASE_S * 2 ** max(attempt - 1, 0), 6 * 3600)
    return max(1, int(random.uniform(ceiling / 2, ceiling)))


def take(reminder_id: int, *, now: dt.datetime) -> Reminder | None:
    taken = (
        Reminder.objects.filter(id=reminder_id, status=Reminder.Status.QUEUED)
        .filter(Q(sending_until__isnull=True) | Q(sending_until__lte=now))
        .update(
            sending_until=now + send_lease(),
            lease_expires_at=now + send_lease(),
            attempts=F("attempts") + 1,
        )
    )
    if taken != 1:
        return None
    return Reminder.objects.select_related(
        "plan__patient", "plan__clinic", "plan__protocol", "item", "provider__user"
    ).get(id=reminder_id)


def _finish(reminder: Reminder, **fields) -> None:
    """Record the result only if this worker still holds the row (its attempt number)."""
    fields.setdefault("sending_until", None)
    Reminder.objects.filter(id=reminder.id, attempts=reminder.attempts).update(
        **fields, updated_at=timezone.now()
    )


def _record_attempt(reminder: Reminder, backend: str, *, now, ok, message_id="", error="", permanent=False):
    DeliveryAttempt.objects.create(
        reminder=reminder, attempted_at=now, backend=backend, success=ok,
        provider_message_id=message_id, error=error[:2000], permanent=permanent,
    )  # fmt: skip


def _send(reminder: Reminder, *, now: dt.datetime) -> tuple[str, str]:
    rendered = messages.render(reminder)
    if reminder.channel == Reminder.Channel.SMS:
        backend = get_sms_backend()
        return backend.__class__.__name__, backend.send(messages.build_sms(reminder, rendered))
    return "email", send_email(messages.build_email(reminder, rendered, now=now))


def deliver(reminder_id: int, *, now: dt.datetime | None = None) -> Outcome:
    now = now or timezone.now()
    reminder = take(reminder_id, now=now)
    if reminder is None:
        return Outcome("not_taken")
    verdict = eligibility.check(reminder, now=now)
    if verdict.status == "expired":
        _finish(reminder, status=Reminder.Status.EXPIRED, status_reason=verdict.reason)
        return Outcome("expired")
    if verdict.status == "skip":
        _finish(reminder, status=Reminder.Status.SKIPPED, status_reason=verdict.reason)
        return Outcome("skipped")
    if verdict.status == "later":
        _finish(
            reminder, status=Reminder.Status.SCHEDULED, send_at=verdict.send_at,
            status_reason=verdict.reason, lease_expires_at=None, attempts=reminder.attempts - 1,
        )  # fmt: skip
        return Outcome("retry_later")
    backend = reminder.channel
    try:
        backend, message_id = _send(reminder, now=now)
    except DeliveryError as exc:
        return _failed(reminder, backend, exc, now=now)
    with transaction.atomic():
        _record_attempt(reminder, backend, now=now, ok=True, message_id=message_id)
        _finish(
            reminder, status=Reminder.Status.SENT, sent_at=timezone.now(), provider_message_id=message_id,
            last_error="", lease_expires_at=None,
        )  # fmt: skip
    return Outcome("sent")


def _failed(reminder: Reminder, backend: str, exc: DeliveryError, *, now: dt.datetime) -> Outcome:
    _record_attempt(reminder, backend, now=now, ok=False, error=str(exc), permanent=exc.permanent)
    if exc.permanent or reminder.attempts >= MAX_ATTEMPTS:
        reason = "permanent error" if exc.permanent else f"gave up after {reminder.attempts} attempts"
        _finish(reminder, status=Reminder.Status.FAILED, last_error=str(exc)[:2000], status_reason=reason)
        return Outcome("failed")
    wait = backoff_seconds(reminder.attempts)
    if wait <= MAX_CELERY_RETRY_DELAY_S:
        # Short wait: a Celery retry. The lease covers the countdown, so if the retry message is
        # lost (Redis flushed), the row simply becomes due again when the lease ends.
        _finish(
            reminder, last_error=str(exc)[:2000],
            lease_expires_at=now + dt.timedelta(seconds=wait) + send_lease(),
        )  # fmt: skip
        return Outcome("retry_soon", countdown=wait)
    # Long wait: never a broker message (it would outlive the visibility timeout).
    _finish(
        reminder, status=Reminder.Status.SCHEDULED, send_at=now + dt.timedelta(seconds=wait),
        last_error=str(exc)[:2000], lease_expires_at=None, status_reason="retrying after an error",
    )  # fmt: skip
    return Outcome("retry_later")
