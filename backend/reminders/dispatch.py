"""Claiming due reminders: the only way a row leaves `scheduled` for the broker.

A claim is a conditional UPDATE (`scheduled` and due -> `queued` with a lease) of a bounded,
ordered batch, selected with FOR UPDATE SKIP LOCKED on PostgreSQL, so two dispatchers (two beats,
a retried tick) split the due rows between them instead of both taking the same ones. On SQLite
the IMMEDIATE transaction serialises claimers. Rows whose lease ran out (the worker died, the
message was lost with a flushed Redis) become due again; rows past `not_after` expire instead
of arriving late. Nothing here talks to the network while holding a lock.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from backend.reminders.models import Reminder

CLAIM_BATCH = 1000


def dispatch_lease() -> dt.timedelta:
    """How long a claimed row may wait in the broker before it is due again."""
    return dt.timedelta(seconds=settings.REMINDER_DISPATCH_LEASE_S)


def release_expired_leases(*, now: dt.datetime) -> int:
    """Queued rows whose lease ended and that no worker is sending go back to `scheduled`."""
    return (
        Reminder.objects.filter(status=Reminder.Status.QUEUED, lease_expires_at__lt=now)
        .filter(Q(sending_until__isnull=True) | Q(sending_until__lt=now))
        .update(
            status=Reminder.Status.SCHEDULED,
            lease_expires_at=None,
            sending_until=None,
            status_reason="lease expired; due again",
        )
    )


def expire_stale(*, now: dt.datetime) -> int:
    """Due rows past their `not_after`: too late to matter, so they never go out."""
    return Reminder.objects.filter(
        status=Reminder.Status.SCHEDULED, send_at__lte=now, not_after__lt=now
    ).update(status=Reminder.Status.EXPIRED, status_reason="too late to be useful")


def claim_due(*, now: dt.datetime, limit: int = CLAIM_BATCH) -> list[int]:
    """Claim up to `limit` due rows, oldest first; return their ids. One transaction."""
    with transaction.atomic():
        release_expired_leases(now=now)
        expire_stale(now=now)
        due = Reminder.objects.filter(status=Reminder.Status.SCHEDULED, send_at__lte=now).order_by(
            "send_at", "id"
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        claimed = Reminder.objects.filter(id__in=ids, status=Reminder.Status.SCHEDULED).update(
            status=Reminder.Status.QUEUED, lease_expires_at=now + dispatch_lease(), status_reason=""
        )
        if claimed != len(ids):
            # Only possible without row locks; roll back rather than enqueue rows we do not own.
            raise transaction.TransactionManagementError(
                f"claimed {claimed} of {len(ids)} rows; another dispatcher raced this one"
            )
        return ids
