"""Calendar notices: when staff move or cancel a session, the patient's calendar must follow.

Planned reminders carry the session's invitation, but a cancelled session has no reminders left
and a moved one may have none before the day. So a move or a cancellation of a future session
adds one outbox row (`session_changed` / `session_cancelled`, email, due now) whose invitation
has the same UID and a higher SEQUENCE, or METHOD:CANCEL. It goes through the same dispatcher
and send-time checks as everything else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder

SESSION_KINDS = {
    PlanItem.Kind.DOSING,
    PlanItem.Kind.INTEGRATION,
    PlanItem.Kind.PREPARATION,
    PlanItem.Kind.BOOSTER,
}
NOTICE_PRIORITY = 100
# The rule name of notices: re-planning leaves these rows alone (the engine did not plan them).
STAFF_RULE = "staff change"


def add_calendar_notices(
    plan: TreatmentPlan, items: Iterable[PlanItem], *, message_kind: str, now: dt.datetime
) -> int:
    """One notice per future session in `items`; returns how many rows were added.

    By email, which carries the calendar update; by SMS for a patient who cannot be emailed, so
    nobody misses that a session moved.
    """
    patient = plan.patient
    channel = (
        Reminder.Channel.SMS
        if not patient.may_email and patient.may_sms
        else Reminder.Channel.EMAIL
    )
    rows = [
        Reminder(
            plan=plan,
            item=item,
            patient_id=plan.patient_id,
            key=f"{item.key}:{message_kind}:{item.calendar_sequence}:{channel}",
            audience=Reminder.Audience.PATIENT,
            channel=channel,
            message_kind=message_kind,
            send_at=now,
            not_after=max(item.start, now + dt.timedelta(hours=1)),
            priority=NOTICE_PRIORITY,
            rule=STAFF_RULE,
        )
        for item in items
        if item.kind in SESSION_KINDS and item.start > now
    ]
    Reminder.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
