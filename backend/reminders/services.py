"""Coordinator actions on single reminders: one function, one transaction, as everywhere. The
status changes themselves are the outbox's (backend.reminders.outbox)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from backend.reminders import outbox
from backend.reminders.models import Reminder

RESENDABLE = outbox.RESENDABLE


@transaction.atomic
def reminder_send_now(*, reminder: Reminder, now: dt.datetime | None = None) -> Reminder:
    """Make a reminder due now; the next dispatcher tick (within 30 s) sends it.

    Going through the outbox rather than calling the backend from the request keeps every send
    on one path, with its send-time checks and its exactly-once record. A sent, failed, skipped
    or expired reminder is sent again as a new row, so the history of the first one stays.
    """
    return outbox.send_now(reminder=reminder, now=now or timezone.now())


@transaction.atomic
def reminder_cancel(*, reminder: Reminder, reason: str = "cancelled by staff") -> Reminder:
    """Cancel a pending reminder, one being sent included: a cancel wins over a send in flight
    unless the provider already has the message (then it is recorded as sent)."""
    if not outbox.cancel_one(reminder=reminder, reason=reason):
        raise ValidationError({"status": "Only a pending reminder can be cancelled."})
    reminder.refresh_from_db()
    return reminder
