"""The new-plan preview: what it shows, what it warns of, and that Confirm creates exactly it.

The preview page carries a signed digest of its inputs and of every item and reminder it showed.
Confirm plans again and compares: after a changed protocol or date (or a calendar that changed in
between) the coordinator sees the new preview and confirms that one instead.
"""

from __future__ import annotations

import hashlib
from zoneinfo import ZoneInfo

from django.core import signing
from django.utils import timezone

from backend.core.timefmt import local_label
from backend.plans.plan_page import CHANNEL_LABELS, message_label, plain_note_list

PREVIEW_SALT = "aftercare.plan-preview"
PREVIEW_MAX_AGE_S = 3600


def _preview_fingerprint(inputs: dict, engine_plan) -> str:
    """A digest of what a preview showed: its inputs and every item and reminder it planned.

    A reminder whose time had passed goes out "now", which is a different instant at preview and
    at confirmation; the coordinator saw "now" both times, so that is what the digest holds.
    """
    due_now = {n.reminder_key for n in engine_plan.notes if n.code == "reminder.late"}
    shown = (
        sorted((name, str(getattr(value, "pk", value))) for name, value in inputs.items()),
        [(i.key, i.start.isoformat()) for i in engine_plan.items],
        [
            (r.key, "now" if r.key in due_now else r.send_at.isoformat(), r.channel)
            for r in engine_plan.reminders
        ],
    )
    return hashlib.sha256(repr(shown).encode()).hexdigest()


def preview_token(inputs: dict, engine_plan) -> str:
    return signing.dumps(_preview_fingerprint(inputs, engine_plan), salt=PREVIEW_SALT)


def preview_matches(token: str, inputs: dict, engine_plan) -> bool:
    """Did the coordinator see exactly this plan? (A token from a preview within the hour.)"""
    try:
        seen = signing.loads(token, salt=PREVIEW_SALT, max_age=PREVIEW_MAX_AGE_S)
    except signing.BadSignature:
        return False
    return seen == _preview_fingerprint(inputs, engine_plan)


def plan_warnings(patient, overlapping) -> list[str]:
    """What a coordinator should know before confirming, in plain words."""
    warnings = [
        f"{patient} already has a plan under way: {plan.protocol.name}, from "
        f"{plan.start_date:%a %d %b %Y} ({plan.get_status_display().lower()}). Two plans at once "
        "means two sets of sessions and reminders."
        for plan in overlapping
    ]
    if not (patient.may_email or patient.may_sms):
        warnings.append(
            f"{patient} cannot be reached: there is no email address or mobile number with "
            "consent on file, so none of the patient's reminders below will go out."
        )
    return warnings


def preview_rows(engine_plan, patient):
    patient_zone = ZoneInfo(patient.time_zone)
    clinic_zone = ZoneInfo(patient.clinic.time_zone)
    items = [
        {
            "sequence": i.sequence,
            "title": i.title,
            "kind": i.kind,
            "local": local_label(i.start, clinic_zone.key, with_year=True),
        }
        for i in engine_plan.items
    ]
    titles = {i.key: i.title for i in engine_plan.items}
    reminders = [
        {
            "kind": message_label(r.message_kind),
            "audience": r.audience,
            "channel": CHANNEL_LABELS.get(r.channel, r.channel),
            "item": titles.get(r.item_key, "Whole plan"),
            "local": local_label(
                r.send_at, (patient_zone if r.audience == "patient" else clinic_zone).key
            ),
        }
        for r in engine_plan.reminders
    ]
    kinds = {r.key: r.message_kind for r in engine_plan.reminders}
    notes = plain_note_list(engine_plan.notes, titles, kinds)
    return {"items": items, "reminders": reminders, "notes": notes, "now": timezone.now()}
