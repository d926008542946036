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
import time
import uuid
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from backend.celery import MAX_CELERY_RETRY_DELAY_S
from backend.plans.models import PlanItem
from backend.reminders import eligibility, messages
from backend.reminders.channels import DeliveryError
from backend.reminders.channels.email import batch_connection, send_email
from backend.reminders.channels.sms import get_sms_backend
from backend.reminders.content import ContentError
from backend.reminders.models import DeliveryAttempt, Reminder

log = logging.getLogger(__name__)


def send_lease() -> dt.timedelta:
    """How long a worker holds a row it is sending; longer than the task's time limit."""
    return dt.timedelta(seconds=settings.REMINDER_SEND_LEASE_S)


# Transient failures retry until the reminder's `not_after` (then it expires); the attempt cap is
# only a safety valve against a row that fails forever inside its window.
MAX_ATTEMPTS = 25
BACKOFF_BASE_S = 15
BACKOFF_CAP_S = 30 * 60
BATCH_BUDGET_S = 35  # of the 50 s soft time limit of a send task


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | skipped | expired | failed | retry_soon | retry_later | not_taken
    countdown: int = 0


def backoff_seconds(attempt: int) -> int:
    """Exponential backoff with jitter: about 15 s, 30 s, 60 s, ... capped at 30 min."""
    ceiling = min(BACKOFF_BASE_S * 2 ** max(attempt - 1, 0), BACKOFF_CAP_S)
    return max(1, int(random.uniform(ceiling / 2, ceiling)))


def take_many(reminder_ids: list[int], *, now: dt.datetime) -> list[Reminder]:
    """Take the queued rows of a batch for sending, in one UPDATE; return those taken, in order.

    The UPDATE stamps a fresh lease token on every row it takes; rows another worker is sending
    (a live `sending_until`) or that are no longer queued are left alone. Results are recorded
    only under the same token, so a worker whose lease ran out cannot overwrite a newer attempt.
    """
    token = uuid.uuid4().hex
    Reminder.objects.filter(id__in=reminder_ids, status=Reminder.Status.QUEUED).filter(
        Q(sending_until__isnull=True) | Q(sending_until__lte=now)
    ).update(
        sending_until=now + send_lease(),
        lease_expires_at=now + send_lease(),
        lease_token=token,
        attempts=F("attempts") + 1,
    )
    taken = (
        Reminder.objects.filter(id__in=reminder_ids, lease_token=token)  # by primary key
        .select_related(
            "plan__patient", "plan__clinic", "plan__protocol", "item", "provider__user", "flag"
        )
        # Large JSON documents a send never reads: decoding them was a tenth of a send's CPU.
        .defer("plan__protocol__definition", "plan__planning_notes", "plan__options")
    )
    order = {rid: n for n, rid in enumerate(reminder_ids)}
    return sorted(taken, key=lambda r: order[r.id])


def take(reminder_id: int, *, now: dt.datetime) -> Reminder | None:
    taken = take_many([reminder_id], now=now)
    return taken[0] if taken else None


def _finish(reminder: Reminder, *, attempt: dict | None = None, **fields) -> None:
    """Record the result (and the attempt, if any), only if this worker still holds the row (its
    lease token).

    On PostgreSQL the attempt and the result are one statement (see `_record_in_one_statement`):
    one round trip and one commit per send, and no moment where one is on file without the other.
    Elsewhere two autocommit statements, attempt first: a worker killed between them leaves the
    row queued with its attempt on file, and the row goes out again when its lease ends, which
    is the one documented duplicate window. In Celery workers on PostgreSQL these commits do not
    wait for the WAL flush (see backend.reminders.worker_db), which was most of the cost of a send.
    """
    fields.setdefault("sending_until", None)
    fields["updated_at"] = timezone.now()
    if attempt is not None and connection.vendor == "postgresql":
        _record_in_one_statement(reminder, attempt, fields)
        return
    if attempt is not None:
        DeliveryAttempt.objects.create(reminder=reminder, **attempt)
    Reminder.objects.filter(id=reminder.id, lease_token=reminder.lease_token).update(**fields)


def _record_in_one_statement(reminder: Reminder, attempt: dict, fields: dict) -> None:
    """INSERT the attempt and UPDATE the row under its lease token in a single statement.

    A data-modifying WITH clause always runs to completion, whether or not the UPDATE matches
    (https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING), so the
    attempt is on file even when the lease was lost: the message did go out. The SQL is built
    from the models' own fields and their database preparation, so a renamed column or a
    changed field type cannot drift from the ORM's.
    """
    quote = connection.ops.quote_name

    def columns_and_values(model, values: dict) -> tuple[list[str], list]:
        names, params = [], []
        for name, value in values.items():
            field = model._meta.get_field(name)
            names.append(quote(field.column))
            params.append(field.get_db_prep_save(value, connection))
        return names, params

    attempt_columns, attempt_params = columns_and_values(
        DeliveryAttempt, {"reminder": reminder.id, **attempt}
    )
    set_columns, set_params = columns_and_values(Reminder, fields)
    # Identifiers come from model metadata, values are parameters.
    insert = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(DeliveryAttempt._meta.db_table),
        ", ".join(attempt_columns),
        ", ".join(["%s"] * len(attempt_columns)),
    )
    assignments = ", ".join(f"{column} = %s" for column in set_columns)
    table = quote(Reminder._meta.db_table)
    sql = f"WITH attempt AS ({insert}) UPDATE {table} SET {assignments} WHERE id = %s AND lease_token = %s"  # noqa: S608, E501
    with connection.cursor() as cursor:
        cursor.execute(sql, [*attempt_params, *set_params, reminder.id, reminder.lease_token])


def _attempt(backend: str, *, now, ok, message_id="", error="", permanent=False) -> dict:
    return {
        "attempted_at": now,
        "backend": backend,
        "success": ok,
        "provider_message_id": message_id,
        "error": error[:2000],
        "permanent": permanent,
    }


def _send(reminder: Reminder, *, now: dt.datetime) -> tuple[str, str]:
    rendered = messages.render(reminder, channel=reminder.channel)
    if reminder.channel == Reminder.Channel.SMS:
        backend = get_sms_backend()
        return backend.__class__.__name__, backend.send(messages.build_sms(reminder, rendered))
    return "email", send_email(messages.build_email(reminder, rendered, now=now))


def deliver_many(reminder_ids: list[int], *, now: dt.datetime | None = None) -> dict[int, Outcome]:
    """Send a batch, one row after the other, each recorded before the next is sent.

    One row's failure never holds up the others: any error while sending it is recorded on that
    row (permanent when the message cannot even be built). A batch stops taking rows after
    BATCH_BUDGET_S, well inside the task's time limit, and gives the rows it did not reach back
    to `scheduled`, so they go with the next tick instead of waiting out a lease.
    """
    fixed_now = now
    outcomes = {rid: Outcome("not_taken") for rid in reminder_ids}
    taken = take_many(reminder_ids, now=now or timezone.now())
    started = time.monotonic()
    with batch_connection():
        _deliver_in_order(taken, outcomes, started=started, fixed_now=fixed_now)
    return outcomes


def _deliver_in_order(taken, outcomes, *, started: float, fixed_now) -> None:
    for position, reminder in enumerate(taken):
        if time.monotonic() - started > BATCH_BUDGET_S:
            _release(taken[position:])
            break
        try:
            outcomes[reminder.id] = _deliver_guarded(reminder, now=fixed_now or timezone.now())
        except SoftTimeLimitExceeded:
            # Out of time mid-send: this row's outcome is unknown and it stays fenced until its
            # lease ends (the one duplicate window); the rest were never tried.
            _release(taken[position + 1 :])
            raise


def _release(rows: list[Reminder]) -> None:
    """Untried rows of a batch go back to `scheduled`, as if never taken."""
    for reminder in rows:
        Reminder.objects.filter(id=reminder.id, lease_token=reminder.lease_token).update(
            status=Reminder.Status.SCHEDULED,
            sending_until=None,
            lease_expires_at=None,
            lease_token="",
            attempts=F("attempts") - 1,
        )


def _deliver_guarded(reminder: Reminder, *, now: dt.datetime) -> Outcome:
    try:
        return _deliver_taken(reminder, now=now)
    except SoftTimeLimitExceeded:
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


def deliver(reminder_id: int, *, now: dt.datetime | None = None) -> Outcome:
    return deliver_many([reminder_id], now=now)[reminder_id]


def _deliver_taken(reminder: Reminder, *, now: dt.datetime) -> Outcome:
    verdict = eligibility.check(reminder, now=now)
    if verdict.status == "expired":
        _finish(reminder, status=Reminder.Status.EXPIRED, status_reason=verdict.reason)
        return Outcome("expired")
    if verdict.status == "skip":
        _finish(reminder, status=Reminder.Status.SKIPPED, status_reason=verdict.reason)
        return Outcome("skipped")
    if verdict.status == "later":
        _finish(
            reminder,
            status=Reminder.Status.SCHEDULED,
            send_at=verdict.send_at,
            status_reason=verdict.reason,
            lease_expires_at=None,
            attempts=reminder.attempts - 1,
        )
        return Outcome("retry_later")
    backend = reminder.channel
    try:
        backend, message_id = _send(reminder, now=now)
    except DeliveryError as exc:
        return _failed(reminder, backend, exc, now=now)
    _finish(
        reminder,
        attempt=_attempt(backend, now=now, ok=True, message_id=message_id),
        status=Reminder.Status.SENT,
        sent_at=now,
        provider_message_id=message_id,
        last_error="",
        lease_expires_at=None,
    )
    _record_notice_told(reminder)
    return Outcome("sent")


def _record_notice_told(reminder: Reminder) -> None:
    """A change notice that went out told the patient of its sessions as they stood when it was
    rendered; a session changed again since keeps a higher sequence and goes in the next one."""
    for item in getattr(reminder, "notice_items", ()):
        PlanItem.objects.filter(pk=item.pk, notified_sequence__lt=item.calendar_sequence).update(
            notified_sequence=item.calendar_sequence
        )


def _failed(reminder: Reminder, backend: str, exc: DeliveryError, *, now: dt.datetime) -> Outcome:
    error = str(exc)[:2000]
    attempt = _attempt(backend, now=now, ok=False, error=error, permanent=exc.permanent)
    if exc.permanent or reminder.attempts >= MAX_ATTEMPTS:
        reason = (
            "permanent error" if exc.permanent else f"gave up after {reminder.attempts} attempts"
        )
        _finish(
            reminder,
            attempt=attempt,
            status=Reminder.Status.FAILED,
            last_error=error,
            status_reason=reason,
        )
        return Outcome("failed")
    wait = backoff_seconds(reminder.attempts)
    if wait <= MAX_CELERY_RETRY_DELAY_S:
        # Short wait: a Celery retry. The lease covers the countdown, so if the retry message is
        # lost (Redis flushed), the row simply becomes due again when the lease ends.
        _finish(
            reminder,
            attempt=attempt,
            last_error=error,
            lease_expires_at=now + dt.timedelta(seconds=wait) + send_lease(),
        )
        return Outcome("retry_soon", countdown=wait)
    # Long wait: never a broker message (it would outlive the visibility timeout).
    _finish(
        reminder,
        attempt=attempt,
        status=Reminder.Status.SCHEDULED,
        send_at=now + dt.timedelta(seconds=wait),
        last_error=error,
        lease_expires_at=None,
        status_reason="retrying after an error",
    )
    return Outcome("retry_later")
