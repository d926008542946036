"""The reminder outbox's state machine: the one module that changes a reminder's status.

Every status change of a `Reminder` is a function here, so the rules live in one place:

    scheduled --claim--> queued --take_batch--> queued under a worker's token
    queued (lease ended, by the database's clock) --> scheduled
    queued under a token --begin_send--> at the provider --record_sent / _failed / _retry_soon /
        record_later--> sent | failed | queued (a Celery retry) | scheduled (later)
    queued under a token --record_skipped / _expired / _later, release--> skipped | expired |
        scheduled
    scheduled | queued --cancel--> cancelled (in flight included: a cancel wins)
    sent --record_receipt--> its delivery status (failed on a bounce)
    sent | failed | skipped | expired --send_now--> a scheduled copy; scheduled --send_now--> due

Rules:

- **A cancel wins.** `cancel` cancels scheduled and queued rows alike, rows a worker holds
  included. A worker re-checks its row (status still queued, its lease token) in the conditional
  UPDATE of `begin_send`, immediately before the provider call, so nothing is handed to the
  provider after a cancel committed. Every record is conditional on the row still being queued
  under the worker's token, so a result (a retry, a quiet-hours "later") never brings a cancelled
  row back; the one exception is the truth that the provider accepted a message it was handed
  before the cancel committed: that row is recorded as sent, so the database counts every
  message the provider has.
- **Leases run on the database's clock.** Every lease is written as ``Now() + interval`` and
  judged with ``Now()`` in SQL, so a worker or dispatcher whose clock is off cannot steal a row
  another process holds. Due-ness (`send_at`) and `not_after` are the plan's business times and
  are judged against the caller's ``now`` (tests fix it; the dispatcher passes its own clock): a
  process whose clock is off sends early or late by that much, never twice.
- **A record survives a database blip.** `record_*` keeps the provider's message id and retries
  on a lost connection (reconnecting between tries); a row whose acceptance is known is never
  released for another send. If the database stays away longer than the retries, the row stays
  fenced until its send lease ends, and only then may go out again: that, and a worker killed
  between the provider's acceptance and the record, are the duplicate windows left.
- **Durability by channel.** Worker processes on PostgreSQL commit asynchronously
  (backend.reminders.worker_db): a commit is acknowledged before its WAL reaches disk. A text's
  record commits synchronously (``SET LOCAL synchronous_commit TO ON``): a resent text can break
  the patient's SMS budget (TCPA). An email's record keeps the asynchronous commit: a crash or
  failover of the database server can forget the last fraction of a second of email records, and
  those emails go out again when their lease ends; a clean restart forgets nothing.
- **Copies have one name.** A copy of a row (re-armed after its session moved, or sent again by
  staff) has the key ``<engine key>@<id of the newest row of that key>``; `base_key` reads both
  this and the older ``<engine key>:resend<n>`` form.

Worker-side records write with ``.update()`` (the DeliveryAttempt log is their history); changes
people make (cancels, send now, receipts) save with django-simple-history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import (
    BooleanField,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Now
from simple_history.utils import bulk_update_with_history

from backend.core.history import update_with_history
from backend.reminders.models import DeliveryAttempt, Reminder

log = logging.getLogger(__name__)

Status = Reminder.Status
T = TypeVar("T")

# Pauses between tries of a write that met a lost connection: about 15 s in all, long enough to
# ride out a database restart, well inside the send lease and a send task's time limit.
DB_RETRY_PAUSES_S = (0.25, 0.5, 1.0, 2.0, 4.0, 7.0)


class Outcome(enum.StrEnum):
    """What became of one row a worker was asked to send."""

    SENT = "sent"
    SKIPPED = "skipped"  # consent or preferences forbid it
    EXPIRED = "expired"  # too late to matter
    FAILED = "failed"  # for good: a permanent error or the last retry
    RETRY_SOON = "retry_soon"  # a Celery retry after `countdown` seconds
    RETRY_LATER = "retry_later"  # back to scheduled with a later send_at
    NOT_TAKEN = "not_taken"  # another worker has it, or it was cancelled or changed


@dataclasses.dataclass(frozen=True)
class Result:
    status: Outcome
    countdown: int = 0


@dataclasses.dataclass(frozen=True)
class Claim:
    """Rows one dispatcher claimed, under one token (so they can be given back if enqueueing
    them fails)."""

    token: str
    ids: list[int]


def dispatch_lease() -> dt.timedelta:
    """How long a claimed row may wait in the broker before it is due again.

    Short is safe: a row claimed twice is sent once (`take_batch` moves the token to the last
    taker, `begin_send` checks it), so the lease only bounds how long a lost broker message
    (a Redis restart) delays its row."""
    return dt.timedelta(seconds=settings.REMINDER_DISPATCH_LEASE_S)


def send_lease() -> dt.timedelta:
    """How long a worker holds a row it took; longer than a send task's time limit."""
    return dt.timedelta(seconds=settings.REMINDER_SEND_LEASE_S)


def _db_now_plus(delta: dt.timedelta):
    """The database's clock plus `delta`, as an SQL expression (never the app server's clock).

    The interval is typed up front (a DurationField value): the ORM then has no output type to
    infer for it, which was a visible part of the Python cost of each worker-side UPDATE (the
    SQL is the same)."""
    return ExpressionWrapper(
        Now() + Value(delta, output_field=DurationField()), output_field=DateTimeField()
    )


def at_provider() -> Q:
    """Rows a worker has handed to the provider (or is about to), by the database's clock."""
    return Q(status=Status.QUEUED, sending_until__gt=Now())


def at_provider_annotation() -> ExpressionWrapper:
    """`at_provider()` as a boolean column, for callers that decide row by row (plans.sync)."""
    return ExpressionWrapper(at_provider(), output_field=BooleanField())


# --- transient database errors ------------------------------------------------------------------


def with_db_retries(write: Callable[[], T], *, what: str) -> T:
    """Run `write`; on a lost connection, reconnect and run it again (DB_RETRY_PAUSES_S).

    Inside a caller's transaction a retry cannot help (the transaction is gone), so the error
    goes up at once."""
    for pause in (*DB_RETRY_PAUSES_S, None):
        try:
            return write()
        except (OperationalError, InterfaceError) as exc:
            if pause is None or connection.in_atomic_block:
                raise
            log.warning("%s: database error (%s); reconnecting in %.2f s", what, exc, pause)
            connection.close()  # the next query opens a fresh connection
            time.sleep(pause)
    raise AssertionError("unreachable")


# --- dispatcher side ----------------------------------------------------------------------------


def release_expired_leases() -> int:
    """Queued rows whose lease ended (database clock) and that no worker has at the provider go
    back to `scheduled`."""
    return (
        Reminder.objects.filter(status=Status.QUEUED, lease_expires_at__lt=Now())
        .filter(Q(sending_until__isnull=True) | Q(sending_until__lt=Now()))
        .update(
            status=Status.SCHEDULED,
            lease_expires_at=None,
            sending_until=None,
            lease_token="",
            status_reason="lease expired; due again",
        )
    )


def expire_stale(*, now: dt.datetime) -> int:
    """Due rows past their `not_after`: too late to matter, so they never go out."""
    return Reminder.objects.filter(
        status=Status.SCHEDULED, send_at__lte=now, not_after__lt=now
    ).update(status=Status.EXPIRED, status_reason="too late to be useful")


def claim(*, now: dt.datetime, limit: int) -> Claim:
    """Claim up to `limit` rows due at `now`, oldest first. One transaction.

    A conditional UPDATE (`scheduled` -> `queued`, with a lease on the database's clock and this
    claim's token) of rows selected with FOR UPDATE SKIP LOCKED where the database has it, so two
    dispatchers split the due rows between them. On SQLite the IMMEDIATE transaction serialises
    claimers. Nothing here talks to the network while holding a lock.
    """
    token = uuid.uuid4().hex
    with transaction.atomic():
        release_expired_leases()
        expire_stale(now=now)
        due = Reminder.objects.filter(status=Status.SCHEDULED, send_at__lte=now).order_by(
            "send_at", "id"
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return Claim(token, [])
        claimed = Reminder.objects.filter(id__in=ids, status=Status.SCHEDULED).update(
            status=Status.QUEUED,
            lease_expires_at=_db_now_plus(dispatch_lease()),
            lease_token=token,
            sending_until=None,
            status_reason="",
        )
        if claimed != len(ids):
            # Only possible without row locks; roll back rather than enqueue rows we do not own.
            raise transaction.TransactionManagementError(
                f"claimed {claimed} of {len(ids)} rows; another dispatcher raced this one"
            )
        return Claim(token, ids)


def release_claim(token: str, ids: Iterable[int]) -> int:
    """Rows of a claim that never reached the broker (it was down) are due again at once.

    Only rows still under the claim's token: a row a worker has taken since carries its token."""
    ids = list(ids)

    def write() -> int:
        return Reminder.objects.filter(id__in=ids, status=Status.QUEUED, lease_token=token).update(
            status=Status.SCHEDULED, lease_expires_at=None, lease_token="", status_reason=""
        )

    return with_db_retries(write, what="release a claim") if ids else 0


# --- worker side --------------------------------------------------------------------------------


def take_batch(reminder_ids: list[int]) -> list[Reminder]:
    """Take the queued rows of a batch for this worker, in one UPDATE; return them, in order.

    The UPDATE moves every row that is queued and not at the provider to a fresh token, with a
    send lease on the database's clock. A duplicate broker message or a second claim of the same
    row makes the last taker the owner; `begin_send` lets only the owner go on. If the database
    fails between the UPDATE and the read, the rows are given back under that token.
    """
    token = uuid.uuid4().hex
    try:
        Reminder.objects.filter(id__in=reminder_ids, status=Status.QUEUED).filter(
            Q(sending_until__isnull=True) | Q(sending_until__lte=Now())
        ).update(sending_until=None, lease_expires_at=_db_now_plus(send_lease()), lease_token=token)
        taken = list(
            Reminder.objects.filter(id__in=reminder_ids, lease_token=token)  # by primary key
            .select_related(
                "plan__patient", "plan__clinic", "plan__protocol", "item", "provider__user", "flag"
            )
            # Large JSON documents a send never reads: decoding them was a tenth of a send's CPU.
            .defer("plan__protocol__definition", "plan__planning_notes", "plan__options")
        )
    except (OperationalError, InterfaceError):
        _release_token(token)
        raise
    order = {rid: n for n, rid in enumerate(reminder_ids)}
    return sorted(taken, key=lambda r: order[r.id])


def begin_send(reminder: Reminder) -> bool:
    """The last check before the provider call: still queued, still this worker's token.

    One conditional UPDATE that also counts the attempt and fences the row with `sending_until`
    (database clock): from its commit on, the row is at the provider, and no other worker or
    dispatcher takes or releases it. False means a cancel, a plan change or another worker got
    there first: do not send.
    """
    fence = _db_now_plus(send_lease())
    started = Reminder.objects.filter(
        id=reminder.id, lease_token=reminder.lease_token, status=Status.QUEUED
    ).update(sending_until=fence, lease_expires_at=fence, attempts=F("attempts") + 1)
    if started:
        reminder.attempts += 1
    return bool(started)


def release(rows: Iterable[Reminder]) -> int:
    """Rows of a batch this worker took but never handed to the provider go back to
    `scheduled` at once (the batch ran out of time, or met a database error); retried after a
    lost connection, so they do not wait out a lease."""
    rows = list(rows)
    if not rows:
        return 0

    def write() -> int:
        return sum(_release_one(r.id, r.lease_token) for r in rows)

    return with_db_retries(write, what="release untried rows")


def _release_one(reminder_id: int, token: str) -> int:
    return Reminder.objects.filter(
        id=reminder_id, lease_token=token, status=Status.QUEUED, sending_until__isnull=True
    ).update(status=Status.SCHEDULED, lease_expires_at=None, lease_token="")


def _release_token(token: str) -> int:
    def write() -> int:
        return Reminder.objects.filter(
            lease_token=token, status=Status.QUEUED, sending_until__isnull=True
        ).update(status=Status.SCHEDULED, lease_expires_at=None, lease_token="")

    return with_db_retries(write, what="release a batch")


def attempt(
    backend: str,
    *,
    now: dt.datetime,
    ok: bool,
    message_id: str = "",
    error: str = "",
    permanent: bool = False,
) -> dict:
    """The fields of one DeliveryAttempt row."""
    return {
        "attempted_at": now,
        "backend": backend,
        "success": ok,
        "provider_message_id": message_id,
        "error": error[:2000],
        "permanent": permanent,
    }


def _commit_synchronously() -> None:
    """This transaction's commit waits for its WAL to reach disk, whatever the session says."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO ON")


def _record(
    reminder: Reminder, *, attempt: dict | None = None, accepted: bool = False, **fields
) -> bool:
    """Write one attempt's result, only where this worker still holds the row; True if it did.

    One transaction: the attempt (even when the row was lost: the message did go out) and the
    row's new state. The row must still be queued under this worker's token; an `accepted`
    message (the provider took it) is recorded also on a row cancelled while at the provider.
    Retried after a lost connection; a retry first looks for the attempt the lost commit may
    have written, so the log counts each send once.
    """
    fields.setdefault("sending_until", None)
    holds = Q(status=Status.QUEUED)
    if accepted:
        holds |= Q(status=Status.CANCELLED, sending_until__isnull=False)
    tries = 0

    def write() -> bool:
        nonlocal tries
        tries += 1
        with transaction.atomic():
            if reminder.channel == Reminder.Channel.SMS:
                _commit_synchronously()
            if attempt is not None and not (tries > 1 and _attempt_on_file(reminder, attempt)):
                DeliveryAttempt.objects.create(reminder_id=reminder.id, **attempt)
            return bool(
                Reminder.objects.filter(
                    holds, id=reminder.id, lease_token=reminder.lease_token
                ).update(**fields)
            )

    return with_db_retries(write, what=f"record reminder {reminder.id}")


def _attempt_on_file(reminder: Reminder, attempt: dict) -> bool:
    return DeliveryAttempt.objects.filter(
        reminder_id=reminder.id,
        attempted_at=attempt["attempted_at"],
        backend=attempt["backend"],
        success=attempt["success"],
    ).exists()


def record_sent(reminder: Reminder, *, backend: str, message_id: str, now: dt.datetime) -> bool:
    """The provider accepted the message: on record, with its id, whatever else happened."""
    return _record(
        reminder,
        attempt=attempt(backend, now=now, ok=True, message_id=message_id),
        accepted=True,
        status=Status.SENT,
        sent_at=now,
        provider_message_id=message_id,
        last_error="",
        lease_expires_at=None,
    )


def record_skipped(reminder: Reminder, *, reason: str) -> Result:
    _record(reminder, status=Status.SKIPPED, status_reason=reason[:200])
    return Result(Outcome.SKIPPED)


def record_expired(reminder: Reminder, *, reason: str) -> Result:
    _record(reminder, status=Status.EXPIRED, status_reason=reason[:200])
    return Result(Outcome.EXPIRED)


def record_later(
    reminder: Reminder, *, send_at: dt.datetime, reason: str, attempt: dict | None = None
) -> Result:
    """Not now: back to `scheduled` at `send_at` (quiet hours, the SMS budget, a long backoff)."""
    extra = {"last_error": attempt["error"]} if attempt else {}
    _record(
        reminder,
        attempt=attempt,
        status=Status.SCHEDULED,
        send_at=send_at,
        status_reason=reason[:200],
        lease_expires_at=None,
        lease_token="",
        **extra,
    )
    return Result(Outcome.RETRY_LATER)


def record_retry_soon(reminder: Reminder, *, attempt: dict, countdown: int) -> Result:
    """A short wait: a Celery retry in `countdown` seconds. The row stays queued under a lease
    that covers the countdown, so a lost retry message only delays it."""
    _record(
        reminder,
        attempt=attempt,
        last_error=attempt["error"],
        lease_expires_at=_db_now_plus(dt.timedelta(seconds=countdown) + send_lease()),
    )
    return Result(Outcome.RETRY_SOON, countdown=countdown)


def record_failed(reminder: Reminder, *, attempt: dict, reason: str) -> Result:
    _record(
        reminder,
        attempt=attempt,
        status=Status.FAILED,
        last_error=attempt["error"],
        status_reason=reason[:200],
    )
    return Result(Outcome.FAILED)


# --- people's changes: cancels, send now, receipts ----------------------------------------------


def cancel(reminders: QuerySet, *, reason: str) -> int:
    """Cancel the pending rows of `reminders`, in flight included; return how many.

    A worker that holds one of them finds it cancelled at `begin_send` and does not send it; one
    that already handed it to the provider records it as sent. Saved with history. Call inside
    the caller's transaction.
    """
    return update_with_history(
        reminders.filter(status__in=Reminder.PENDING),
        status=Status.CANCELLED,
        status_reason=reason[:200],
        lease_expires_at=None,
    )


def cancel_rows(rows: list[Reminder], *, reason: str) -> None:
    """`cancel` for rows the caller has locked and read (plans.sync)."""
    for row in rows:
        row.status, row.status_reason, row.lease_expires_at = Status.CANCELLED, reason[:200], None
    if rows:
        bulk_update_with_history(rows, Reminder, ["status", "status_reason", "lease_expires_at"])


def reschedule_rows(rows: list[Reminder], *, fields: list[str]) -> None:
    """Pending rows the caller has locked and given new values (`fields`: a re-plan moved them)
    are scheduled again; a row a worker had taken is no longer its to send (`begin_send`)."""
    for row in rows:
        row.status, row.lease_expires_at, row.lease_token, row.status_reason = (
            Status.SCHEDULED,
            None,
            "",
            "",
        )
    if rows:
        bulk_update_with_history(
            rows,
            Reminder,
            [*fields, "status", "status_reason", "lease_expires_at", "lease_token"],
        )


RESENDABLE = {Status.SENT, Status.FAILED, Status.SKIPPED, Status.EXPIRED}
_OLD_RESEND_SUFFIX = re.compile(r":resend\d+$")


def base_key(key: str) -> str:
    """The engine key of a row: copies are "<engine key>@<id>" (older ones "<key>:resend<n>")."""
    return _OLD_RESEND_SUFFIX.sub("", key.split("@", 1)[0])


def copy_key(plan_id: int | None, key: str, *, provider_id: int | None = None) -> str:
    """The key of a new copy of a row of `key`: "<engine key>@<id of the newest row of that
    engine key>". Unique: each row is followed by at most one copy, the newest never yet. Locks
    the engine key's rows, so two copies made at once queue up rather than collide. A row of no
    plan (a provider's daily digest) is keyed within its provider."""
    base = base_key(key)
    owner = (
        {"plan_id": plan_id} if plan_id is not None else {"plan": None, "provider_id": provider_id}
    )
    rows = Reminder.objects.select_for_update().filter(
        Q(key=base) | Q(key__startswith=f"{base}@") | Q(key__startswith=f"{base}:resend"),
        **owner,
    )
    newest = max(rows.values_list("id", flat=True))
    return f"{base}@{newest}"


def send_now(*, reminder: Reminder, now: dt.datetime) -> Reminder:
    """Make a reminder due now (staff "send now"); a finished one is sent again as a copy.

    The dispatcher's next tick sends it, on the one path every send takes (its send-time checks
    and its record). A copy keeps the first row's history as it was. Call inside a transaction.
    """
    from django.core.exceptions import ValidationError

    reminder = Reminder.objects.select_for_update().get(pk=reminder.pk)
    if reminder.status == Status.QUEUED:
        raise ValidationError({"status": "This reminder is being sent right now."})
    if reminder.status == Status.CANCELLED:
        raise ValidationError({"status": "This reminder was cancelled; it cannot be sent."})
    not_after = max(reminder.not_after, now + dt.timedelta(hours=1))
    if reminder.status in RESENDABLE:
        reminder.key = copy_key(reminder.plan_id, reminder.key, provider_id=reminder.provider_id)
        reminder.pk = None
        reminder.attempts, reminder.provider_message_id, reminder.delivery_status = 0, "", ""
        reminder.last_error, reminder.sent_at, reminder.lease_token = "", None, ""
    reminder.status, reminder.send_at, reminder.not_after = Status.SCHEDULED, now, not_after
    reminder.status_reason, reminder.lease_expires_at, reminder.sending_until = (
        "sent now by staff",
        None,
        None,
    )
    reminder.save()
    return reminder


def cancel_one(*, reminder: Reminder, reason: str) -> bool:
    """Staff cancel one pending reminder (in flight included); False if it was not pending."""
    return bool(cancel(Reminder.objects.filter(pk=reminder.pk), reason=reason))


def record_receipt(
    *,
    channel: str,
    provider_message_id: str,
    delivery_status: str,
    failure: str | None = None,
    only_over: Iterable[str] | None = None,
) -> int:
    """A provider's delivery receipt for the message it accepted as `provider_message_id`.

    Sets `delivery_status`; a `failure` (a hard bounce, an undelivered text) also fails the row
    for good, with the reason, so staff see the address or number needs fixing. `only_over`
    limits the change to rows whose delivery status is one of those (receipts that arrive out of
    order never move a status back). Saved with history; returns how many rows changed.
    """
    if not provider_message_id:
        return 0
    rows = Reminder.objects.filter(
        provider_message_id=provider_message_id,
        channel=channel,
        status__in=(Status.SENT, Status.FAILED),
    )
    if only_over is not None:
        rows = rows.filter(delivery_status__in=list(only_over))
    fields: dict = {"delivery_status": delivery_status[:24]}
    if failure is not None:
        fields.update(status=Status.FAILED, last_error=failure[:2000])
    with transaction.atomic():
        return update_with_history(rows, **fields)
