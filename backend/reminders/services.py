"""Coordinator actions on single reminders: one function, one transaction, as everywhere."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from backend.reminders.models import Reminder

RESENDABLE = {
    Reminder.Status.SENT,
    Reminder.Status.FAILED,
    Reminder.Status.SKIPPED,
    Reminder.Status.EXPIRED,
}


@transaction.atomic
def reminder_send_now(*, reminder: Reminder, now: dt.datetime | None = None) -> Reminder:
    """Make a reminder due now; the next dispatcher tick (within 30 s) sends it.

    Going through the outbox rather than calling the backend from the request keeps every send
    on one path, with its send-time checks and its exactly-once record. A sent, failed, skipped
    or expired reminder is sent again as a new row, so the history of the first one stays.
    """
    now = now or timezone.now()
    reminder = Reminder.objects.select_for_update().get(pk=reminder.pk)
    if reminder.status == Reminder.Status.QUEUED:
        raise ValidationError({"status": "This reminder is being sent right now."})
    if reminder.status == Reminder.Status.CANCELLED:
        raise ValidationError({"status": "This reminder was cancelled; it cannot be sent."})
    not_after = max(reminder.not_after, now + dt.timedelta(hours=1))
    if reminder.status in RESENDABLE:
        copies = Reminder.objects.filter(
            plan=reminder.plan_id, key__startswith=f"{reminder.key}:resend"
        ).count()
        reminder.pk = None
        reminder.key = f"{reminder.key}:resend{copies + 1}"
        reminder.attempts, reminder.provider_message_id, reminder.delivery_status = 0, "", ""
        reminder.last_error, reminder.sent_at = "", None
    reminder.status, reminder.send_at, reminder.not_after = (
        Reminder.Status.SCHEDULED,
        now,
        not_after,
    )
    reminder.status_reason, reminder.lease_expires_at, reminder.sending_until = (
        "sent now by staff",
        None,
        None,
    )
    reminder.save()
    return reminder


@transaction.atomic
def reminder_cancel(*, reminder: Reminder, reason: str = "cancelled by staff") -> Reminder:
    updated = Reminder.objects.filter(pk=reminder.pk, status=Reminder.Status.SCHEDULED).update(
        status=Reminder.Status.CANCELLED, status_reason=reason[:200]
    )
    if not updated:
        raise ValidationError({"status": "Only a scheduled reminder can be cancelled."})
    reminder.refresh_from_db()
    return reminder
