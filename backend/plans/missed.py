"""What follows a missed session: a welfare call for staff and a kind message to the patient.

In depression care a no-show is a warning sign, so marking a dosing, booster or integration
session missed (plans.services.item_mark_missed, with or without re-planning) raises a
`missed_session` flag (backend.safety: on the dashboard and the plan page until a clinician
acknowledges it with the call's outcome, its provider emailed at once) and writes a
`session_missed` message to the patient, by email and by text as their consent allows. Each
protocol may turn either off (`missed_session` in its definition: `welfare_call`,
`patient_message`, `welfare_call_hours`); both are on when it says nothing.

The patient's message is written like a calendar notice (rule STAFF_RULE): the engine did not plan
it, so no re-plan withdraws it; it is due at once, and the send-time checks hold it through the
patient's quiet hours and count it in the SMS budget. Its key names the session and the time it
was missed, so marking the same miss twice writes nothing more.
"""

from __future__ import annotations

import datetime as dt

from backend.plans.calendar_notices import STAFF_RULE
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder
from scheduler.priorities import MESSAGE_PRIORITY as ENGINE_PRIORITY
from scheduler.protocol_params import MissedSession

FOLLOWED_KINDS = (PlanItem.Kind.DOSING, PlanItem.Kind.BOOSTER, PlanItem.Kind.INTEGRATION)
MESSAGE_KIND = "session_missed"
MESSAGE_PRIORITY = ENGINE_PRIORITY[MESSAGE_KIND]
MESSAGE_USEFUL_FOR = dt.timedelta(hours=48)  # long enough to wait out a night's quiet hours


KEY_PREFIX = "missed"
_KEY_TIME = "%Y%m%dT%H%M"


def _key(item_key: str, missed_start: dt.datetime, channel: str) -> str:
    stamp = missed_start.astimezone(dt.UTC).strftime(_KEY_TIME)
    return f"{KEY_PREFIX}:{item_key}:{stamp}:{channel}"


def missed_start_of(reminder: Reminder) -> dt.datetime | None:
    """When the session a `session_missed` row is about was due: its key holds it, because a
    re-plan may since have moved the item the row points at (the message is about the miss)."""
    parts = reminder.key.split(":")
    if len(parts) != 4 or parts[0] != KEY_PREFIX:
        return None
    return dt.datetime.strptime(parts[2], _KEY_TIME).replace(tzinfo=dt.UTC)


def config_of(plan: TreatmentPlan) -> MissedSession:
    """The protocol's `missed_session` settings (the engine's defaults where it says nothing)."""
    return plan.protocol.engine_protocol().missed_session


def _patient_message(plan: TreatmentPlan, item: PlanItem, missed_start: dt.datetime, now) -> int:
    patient = plan.patient
    reachable = {Reminder.Channel.EMAIL: patient.may_email, Reminder.Channel.SMS: patient.may_sms}
    channels = [channel for channel, allowed in reachable.items() if allowed]
    written = 0
    for channel in channels:
        key = _key(item.key, missed_start, channel)
        _, created = Reminder.objects.get_or_create(
            plan=plan,
            key=key,
            defaults={
                "item": item,
                "patient_id": plan.patient_id,
                "audience": Reminder.Audience.PATIENT,
                "channel": channel,
                "message_kind": MESSAGE_KIND,
                "send_at": now,
                "not_after": now + MESSAGE_USEFUL_FOR,
                "priority": MESSAGE_PRIORITY,
                "rule": STAFF_RULE,
            },
        )
        written += created
    return written


def follow_up_missed(
    *, plan: TreatmentPlan, item: PlanItem, missed_start: dt.datetime, now: dt.datetime
) -> dict:
    """Raise the welfare-call flag and write the patient's message, as the protocol allows.

    ``missed_start``: when the session was due (before a re-plan moved it). Returns what was
    written: {"flag": Flag | None, "messages": int}.
    """
    from backend.safety import services as safety

    if item.kind not in FOLLOWED_KINDS:
        return {"flag": None, "messages": 0}
    config = config_of(plan)
    flag = None
    if config.welfare_call:
        flag = safety.flag_missed_session(
            item=item,
            now=now,
            call_within_hours=config.welfare_call_hours,
            missed_start=missed_start,
        )
    written = _patient_message(plan, item, missed_start, now) if config.patient_message else 0
    return {"flag": flag, "messages": written}
