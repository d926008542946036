"""Calendar notices: when staff move or cancel sessions, the patient hears once per change.

Planned reminders carry the session's invitation, but a cancelled session has no reminders left
and a moved one may have none before the day. So a move or a cancellation of future sessions
adds one outbox row (`session_changed`, or `session_cancelled` when everything it reports was
cancelled) for the whole change, not one per session: a reschedule that pushed ten later
sessions, or a cancelled sixteen-session plan, is one message listing them all with one calendar
attachment.

A notice is due NOTICE_DELAY after the change; a further change of the same plan before it goes
merges into it (its due time moves again, never beyond NOTICE_MAX_WAIT after the first change).
What it lists is decided when it is sent: every session whose `calendar_sequence` is above the
`notified_sequence` the patient was last told (reminders.compose.notice_sessions), so a session
moved twice in a minute is listed once, at its latest time. It goes through the same dispatcher
and send-time checks as everything else; pausing the plan does not withdraw it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import F

from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder
from scheduler.model import SESSION_KINDS
from scheduler.priorities import MESSAGE_PRIORITY

NOTICE_KINDS = ("session_changed", "session_cancelled")
NOTICE_PRIORITY = MESSAGE_PRIORITY["session_changed"]  # one order for all (scheduler.priorities)
NOTICE_DELAY = dt.timedelta(minutes=2)
NOTICE_MAX_WAIT = dt.timedelta(minutes=10)
# The rule name of notices: re-planning leaves these rows alone (the engine did not plan them).
STAFF_RULE = "staff change"


def unnotified(plan: TreatmentPlan, *, now: dt.datetime | None = None):
    """Sessions of the plan changed since the patient was last told (future ones, given `now`)."""
    sessions = plan.items.filter(kind__in=SESSION_KINDS, calendar_sequence__gt=0).exclude(
        notified_sequence__gte=F("calendar_sequence")
    )
    return sessions.filter(start__gt=now) if now is not None else sessions


def add_calendar_notices(
    plan: TreatmentPlan, items: Iterable[PlanItem], *, message_kind: str, now: dt.datetime
) -> int:
    """Make sure one notice is pending for this change; returns 1 if a row was added, else 0.

    By email, which carries the calendar update; by SMS for a patient who cannot be emailed, so
    nobody misses that a session moved.
    """
    if not any(item.kind in SESSION_KINDS and item.start > now for item in items):
        return 0
    pending = unnotified(plan, now=now)
    kind = (
        "session_cancelled"
        if not pending.exclude(status=PlanItem.Status.CANCELLED).exists()
        else "session_changed"
    )
    waiting = (
        Reminder.objects.select_for_update()
        .filter(plan=plan, rule=STAFF_RULE, message_kind__in=NOTICE_KINDS)
        .filter(status=Reminder.Status.SCHEDULED)
        .order_by("created_at")
        .first()
    )
    if waiting is not None:
        first_change = waiting.created_at or now
        waiting.send_at = min(now + NOTICE_DELAY, max(first_change + NOTICE_MAX_WAIT, now))
        waiting.message_kind = kind
        waiting.item = pending.order_by("start").first() or waiting.item
        waiting.not_after = max(waiting.not_after, waiting.send_at + dt.timedelta(hours=1))
        waiting.save(update_fields=["send_at", "message_kind", "item", "not_after", "updated_at"])
        return 0
    patient = plan.patient
    channel = (
        Reminder.Channel.SMS
        if not patient.may_email and patient.may_sms
        else Reminder.Channel.EMAIL
    )
    first = pending.order_by("start").first()
    send_at = now + NOTICE_DELAY
    Reminder.objects.create(
        plan=plan,
        item=first,
        patient_id=plan.patient_id,
        key=f"notice:{now:%Y%m%dT%H%M%S%f}:{channel}",
        audience=Reminder.Audience.PATIENT,
        channel=channel,
        message_kind=kind,
        send_at=send_at,
        not_after=max(first.start if first else send_at, send_at + dt.timedelta(hours=1)),
        priority=NOTICE_PRIORITY,
        rule=STAFF_RULE,
    )
    return 1
