"""The per-patient SMS budget.

Without the patient's express written consent on file, healthcare reminder texts rely on the
FCC's 2015 TCPA healthcare exemption (FCC 15-72, Declaratory Ruling and Order of 10 July 2015,
https://docs.fcc.gov/public/attachments/FCC-15-72A1.pdf), which among other conditions limits
them to one message a day and three a week per patient. We count days on the
patient's own calendar and "a week" as any seven consecutive days, the stricter reading.

Texts are granted in priority order (preparation before follow-up, then earlier first), so when a
day is over budget the most important text keeps the SMS channel -- same-day texts are merged --
and the rest move to email, or are dropped when an email copy of the same message already exists
or the patient takes no email. Every such change is a plan note. With written consent, the
clinic's own limits (``PlanOptions``) or the patient's chosen limits apply, the lower one winning.

At send time the same budget is checked against what actually went out (``sms_refusal``): a text
is refused when the patient's day or the seven calendar days ending with it already hold the
limit, and a text the plan did not lay out gives way to planned texts that outrank it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from .model import PlannedReminder, PlanNote
from .preferences import PatientPreferences, PlanOptions
from .reminders import reminder_key
from .timeutil import local_to_utc

__all__ = [
    "TCPA_DAILY_LIMIT",
    "TCPA_WEEKLY_LIMIT",
    "apply_sms_budget",
    "sms_counting_from",
    "sms_limits",
    "sms_refusal",
]

TCPA_DAILY_LIMIT = 1
TCPA_WEEKLY_LIMIT = 3


def _lowest(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def sms_limits(patient: PatientPreferences, options: PlanOptions) -> tuple[int | None, int | None]:
    """(daily, weekly) SMS limits for this patient; ``None`` means no limit."""
    daily = _lowest(patient.sms_daily_limit, options.sms_daily_limit)
    weekly = _lowest(patient.sms_weekly_limit, options.sms_weekly_limit)
    if patient.sms_written_consent:
        return daily, weekly
    return _lowest(TCPA_DAILY_LIMIT, daily), _lowest(TCPA_WEEKLY_LIMIT, weekly)


def _midnight(day_offset: int, now: datetime, zone: ZoneInfo) -> datetime:
    day = now.astimezone(zone).date() + timedelta(days=day_offset)
    return local_to_utc(day, time(0, 0), zone)


def sms_counting_from(now: datetime, zone: ZoneInfo) -> datetime:
    """The earliest send time that counts against a text at ``now``: midnight, on the patient's
    calendar, of the first of the seven days ending with ``now``'s day."""
    return _midnight(-6, now, zone)


def sms_refusal(
    now: datetime,
    zone: ZoneInfo,
    limits: tuple[int | None, int | None],
    sent: Iterable[datetime],
    kept: Iterable[datetime] = (),
) -> str | None:
    """Why one more patient text at ``now`` breaks the budget, or ``None`` when it fits.

    ``limits`` is ``sms_limits(...)``; ``sent`` the send times of the patient's texts that went
    out (those from ``sms_counting_from(now, zone)`` count); ``kept`` the send times of texts
    planned in the seven days from ``now`` that outrank this one and keep their slots. Codes:
    ``sms.daily_limit`` or ``sms.weekly_limit`` (already sent that many), ``sms.kept_for_planned``.
    """
    daily, weekly = limits
    week_start, day_start = sms_counting_from(now, zone), _midnight(0, now, zone)
    in_week = [at for at in sent if at >= week_start]
    sent_today = sum(1 for at in in_week if at >= day_start)
    if daily is not None and sent_today >= daily:
        return "sms.daily_limit"
    if weekly is not None and len(in_week) >= weekly:
        return "sms.weekly_limit"
    ahead = [at for at in kept if now <= at < now + timedelta(days=7)]
    later_today = sum(1 for at in ahead if at < _midnight(1, now, zone))
    if daily is not None and sent_today + 1 + later_today > daily:
        return "sms.kept_for_planned"
    if weekly is not None and len(in_week) + 1 + len(ahead) > weekly:
        return "sms.kept_for_planned"
    return None


def apply_sms_budget(
    reminders: Sequence[PlannedReminder],
    patient: PatientPreferences,
    options: PlanOptions,
    notes: list[PlanNote],
    committed: Iterable[PlannedReminder] = (),
) -> list[PlannedReminder]:
    """Return ``reminders`` with patient texts beyond the budget merged, moved or dropped.

    ``committed`` texts (kept unchanged by a re-plan) use up budget but are never touched.
    """
    daily, weekly = sms_limits(patient, options)
    if daily is None and weekly is None:
        return list(reminders)
    zone = patient.zone
    per_day: dict[int, int] = {}
    for text in committed:
        if text.audience == "patient" and text.channel == "sms":
            day = text.send_at.astimezone(zone).date().toordinal()
            per_day[day] = per_day.get(day, 0) + 1

    def fits(day: int) -> bool:
        if daily is not None and per_day.get(day, 0) >= daily:
            return False
        if weekly is None:
            return True
        for first in range(day - 6, day + 1):
            if sum(per_day.get(d, 0) for d in range(first, first + 7)) >= weekly:
                return False
        return True

    texts = [r for r in reminders if r.audience == "patient" and r.channel == "sms"]
    texts.sort(key=lambda r: (-r.priority, r.send_at, r.key))
    emailed = {(r.item_key, r.rule, r.repeat_index) for r in reminders if r.channel == "email"}
    refused: dict[str, str] = {}
    for text in texts:
        day = text.send_at.astimezone(zone).date().toordinal()
        if fits(day):
            per_day[day] = per_day.get(day, 0) + 1
        elif daily is not None and per_day.get(day, 0) >= daily:
            refused[text.key] = "sms.merged_same_day"
        else:
            refused[text.key] = "sms.weekly_limit"
    if not refused:
        return list(reminders)
    out: list[PlannedReminder] = []
    for reminder in reminders:
        code = refused.get(reminder.key)
        if code is None:
            out.append(reminder)
            continue
        limit = (
            f"more than {_texts(daily)} that day"
            if code == "sms.merged_same_day"
            else f"more than {_texts(weekly)} in seven days"
        )
        consent = "" if patient.sms_written_consent else " without written consent (TCPA)"
        if (reminder.item_key, reminder.rule, reminder.repeat_index) in emailed:
            action = "dropped; the same message already goes by email"
        elif "email" in patient.channels:
            repeat = reminder.repeat_index if reminder.key.count(":") > 2 else None
            key = reminder_key(reminder.item_key, reminder.rule, "email", repeat)
            out.append(replace(reminder, key=key, channel="email"))
            action = "moved to email"
        else:
            action = "dropped; the patient takes no email"
            code = "sms.dropped"
        notes.append(
            PlanNote(
                code,
                f"{reminder.key}: {limit}{consent}; {action}",
                reminder.item_key,
                reminder.key,
            )
        )
    return out


def _texts(n: int) -> str:
    return f"{n} text" if n == 1 else f"{n} texts"
