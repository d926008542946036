"""Translation between the Django models and the pure planning engine (scheduler/), both ways:
rows into the engine's inputs, and the engine's planned items and reminders into row values
(which plans.sync writes).

Everything here is a plain function of model instances: no queries beyond what the instances
already hold (callers prefetch `clinic.closed_dates`), no writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import scheduler
from backend.clinics.models import Clinic
from backend.patients.models import Patient
from backend.plans.models import PlanItem, TreatmentPlan


def clinic_calendar(clinic: Clinic) -> scheduler.ClinicCalendar:
    return scheduler.ClinicCalendar(
        time_zone=clinic.time_zone,
        opening_hours={int(day): ranges for day, ranges in clinic.opening_hours.items()},
        slot_minutes=clinic.slot_minutes,
        closed_dates=frozenset(c.date for c in clinic.closed_dates.all()),
        holiday_country=clinic.holiday_country or None,
        holiday_subdivision=clinic.holiday_subdivision or None,
    )


def patient_preferences(patient: Patient) -> scheduler.PatientPreferences:
    channels = tuple(
        c
        for c, wanted in (("email", patient.prefers_email), ("sms", patient.prefers_sms))
        if wanted
    )
    return scheduler.PatientPreferences(
        time_zone=patient.time_zone,
        preferred_weekdays=frozenset(patient.preferred_weekdays) or None,
        earliest_time=patient.earliest_appointment,
        latest_time=patient.latest_appointment,
        quiet_start=patient.quiet_start,
        quiet_end=patient.quiet_end,
        channels=channels or ("email",),
        sms_written_consent=patient.sms_written_consent,
    )


def plan_options(options: dict | None, clinic: Clinic, *, busy=()) -> scheduler.PlanOptions:
    options = dict(options or {})
    session_time = options.get("session_time")
    return scheduler.PlanOptions(
        session_time=dt.time.fromisoformat(session_time) if session_time else None,
        provider_busy=tuple(busy),
        dosing_sessions=options.get("dosing_sessions"),
        session_counts=options.get("session_counts", {}),
        boosters=options.get("boosters"),
        reminder_overrides=options.get("reminder_overrides", {}),
        sms_daily_limit=clinic.sms_daily_limit,
        sms_weekly_limit=clinic.sms_weekly_limit,
    )


def planned_item_from_row(row: PlanItem) -> scheduler.PlannedItem:
    return scheduler.PlannedItem(
        key=row.key,
        kind=row.kind,
        sequence=row.sequence,
        title=row.title,
        start=row.start.astimezone(dt.UTC),
        end=row.end.astimezone(dt.UTC),
        local_date=row.local_date,
        local_time=row.local_time,
        time_zone=row.time_zone,
        provider_role=row.provider_role or None,
        observation_minutes=row.observation_minutes,
        depends_on=row.depends_on or None,
    )


def engine_plan_from_rows(
    plan: TreatmentPlan, items: Iterable[PlanItem], reminders: Iterable
) -> scheduler.Plan:
    """The plan as it stands in the database, in the engine's terms, for re-planning."""
    return scheduler.Plan(
        protocol_slug=plan.protocol.slug,
        protocol_version=plan.protocol.version,
        items=tuple(
            planned_item_from_row(i) for i in items if i.status != PlanItem.Status.CANCELLED
        ),
        reminders=tuple(
            scheduler.PlannedReminder(
                key=r.key,
                item_key=r.item.key if r.item_id else None,
                audience=r.audience,
                channel=r.channel,
                message_kind=r.message_kind,
                send_at=r.send_at.astimezone(dt.UTC),
                not_after=r.not_after.astimezone(dt.UTC),
                requires_attended=r.requires_attended,
                priority=r.priority,
                repeat_index=r.repeat_index,
                rule=r.rule,
            )
            for r in reminders
        ),
    )


# --- engine -> rows -------------------------------------------------------------------------

REMINDER_FIELDS = (
    "audience",
    "channel",
    "message_kind",
    "send_at",
    "not_after",
    "requires_attended",
    "priority",
    "repeat_index",
    "rule",
)
ITEM_FIELDS = ("kind", "sequence", "title", "start", "end", "local_date", "local_time", "time_zone")


def item_row_values(p: scheduler.PlannedItem) -> dict:
    return {
        "kind": p.kind,
        "sequence": p.sequence,
        "title": p.title,
        "start": p.start,
        "end": p.end,
        "local_date": p.local_date,
        "local_time": p.local_time,
        "time_zone": p.time_zone,
        "provider_role": p.provider_role or "",
        "observation_minutes": p.observation_minutes,
        "depends_on": p.depends_on or "",
    }


def reminder_row_values(r: scheduler.PlannedReminder) -> dict:
    return {
        "audience": r.audience,
        "channel": r.channel,
        "message_kind": r.message_kind,
        "send_at": r.send_at,
        "not_after": r.not_after,
        "requires_attended": r.requires_attended,
        "priority": r.priority,
        "repeat_index": r.repeat_index,
        "rule": r.rule,
    }
