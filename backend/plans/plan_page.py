"""What the admin plan page shows, in the order a coordinator reads it: the timeline, the items,
then the reminders grouped by the item they belong to, and the planner's notes in plain words.

Built here, not with Django's inlines, so the page stays small (a 22-item plan with 72 reminders
was 237 KB and 13,000 px tall with one inline row and full message text per reminder) and every
time names its zone.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import defaultdict
from zoneinfo import ZoneInfo

import holidays
from django.urls import reverse

from backend.core.timefmt import local_label
from backend.plans import readiness
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder

MESSAGE_LABELS = {
    "preparation_48h": "Preparation, two days before",
    "preparation_2h": "Preparation, two hours before",
    "preparation_evening": "Preparation, the evening before",
    "what_to_expect": "What to expect, before the first dose",
    "provider_readiness_missing": "Provider: readiness not confirmed",
    "session_missed": "Missed session: message to the patient",
    "provider_welfare_call": "Missed session: welfare call alert",
    "day_after": "Day-after care",
    "integration_reminder": "Integration session reminder",
    "preparation_session_reminder": "Preparation session reminder",
    "journal_prompt": "Journal prompt",
    "check_in_invitation": "Check-in invitation",
    "assessment_prompt": "Questionnaire prompt",
    "booster_reminder": "Booster reminder",
    "provider_checkins_tomorrow": "Provider: tomorrow's check-ins",
    "provider_task_due": "Provider: task due",
    "session_changed": "Notice: sessions changed",
    "session_cancelled": "Notice: sessions cancelled",
    "provider_urgent_flag": "Urgent flag alert",
    "provider_urgent_flag_backup": "Urgent flag alert to the backup",
    "provider_worsening_flag": "Worsening flag alert",
}
CHANNEL_LABELS = {"email": "email", "sms": "text"}
NOTE_HEADINGS = {
    "quiet_hours.moved": "Moved out of quiet hours",
    "quiet_hours.dropped": "Left out: quiet hours",
    "reminder.late": "Sent at once",
    "reminder.too_late": "Left out: too late",
    "sms.merged_same_day": "Texts merged",
    "sms.weekly_limit": "Text limit",
    "sms.dropped": "Text left out",
    "channel.fallback": "Other channel used",
    "item.skipped": "Item left out",
    "dst.gap": "Daylight-saving change",
    "dst.ambiguous": "Daylight-saving change",
    "reminder.out_of_window": "Left out: outside its window",
    "start.moved": "First session moved",
}


def message_label(kind: str) -> str:
    return MESSAGE_LABELS.get(kind, kind.replace("_", " ").capitalize())


def build_timeline(items, reminders, time_zone: str, *, calendar=None, today=None) -> list[dict]:
    """Weeks (Monday first) of days, each with its items, its count of reminders, and whether
    the clinic is closed that day (with the holiday's name) or it is today."""
    if not items:
        return []
    zone = ZoneInfo(time_zone)
    by_day_items, by_day_reminders = defaultdict(list), defaultdict(int)
    for item in items:
        by_day_items[item.start.astimezone(zone).date()].append(item)
    for reminder in reminders:
        by_day_reminders[reminder.send_at.astimezone(zone).date()] += 1
    days = sorted(set(by_day_items) | set(by_day_reminders))
    monday, weeks = days[0] - dt.timedelta(days=days[0].weekday()), []
    while monday <= days[-1]:
        week = {"start": monday, "days": []}
        for offset in range(7):
            day = monday + dt.timedelta(days=offset)
            closed = calendar is not None and not calendar.is_working_day(day)
            week["days"].append(
                {
                    "date": day,
                    "items": by_day_items.get(day, []),
                    "reminders": by_day_reminders.get(day, 0),
                    "closed": closed,
                    "holiday": _holiday_name(calendar, day) if closed else "",
                    "today": day == today,
                }
            )
        weeks.append(week)
        monday += dt.timedelta(days=7)
    return weeks


@functools.lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str | None, year: int):
    return holidays.country_holidays(country, subdiv=subdivision, years=[year])


def _holiday_name(calendar, day: dt.date) -> str:
    if calendar is None or not calendar.holiday_country:
        return ""
    try:
        return _holidays(calendar.holiday_country, calendar.holiday_subdivision, day.year).get(
            day, ""
        )
    except NotImplementedError:
        return ""


def item_rows(plan: TreatmentPlan, items, *, now: dt.datetime | None = None) -> list[dict]:
    """The plan's items with their clinic time, their action link and, for a dosing or booster
    session still to come, whether the patient has confirmed being ready (red when it is within
    24 h and not confirmed)."""
    zone = plan.clinic.time_zone
    confirmed = readiness.readiness_by_item(items) if now is not None else {}
    return [
        {
            "item": item,
            "when": local_label(item.start, zone, with_year=True),
            "action_url": reverse("admin:plans_treatmentplan_item", args=[plan.pk, item.pk])
            if item.status == PlanItem.Status.SCHEDULED
            else "",
            "readiness": readiness.readiness_status(
                item, confirmed.get(item.pk), now=now, zone=zone
            )
            if now is not None
            else None,
        }
        for item in items
    ]


def reminder_groups(plan: TreatmentPlan, items, reminders) -> list[dict]:
    """Reminders under the item they belong to (plan-wide ones last), each group folded unless
    something in it failed."""
    by_item = defaultdict(list)
    for reminder in reminders:
        by_item[reminder.item_id].append(reminder)
    groups = []
    for item in [*items, None]:
        rows = by_item.get(item.pk if item else None, [])
        if not rows:
            continue
        counts = defaultdict(int)
        for r in rows:
            counts[r.get_status_display().lower()] += 1
        groups.append(
            {
                "title": item.title if item else "Whole plan",
                "counts": sorted(counts.items()),
                "open": any(r.status == Reminder.Status.FAILED for r in rows),
                "rows": [_reminder_row(plan, r) for r in rows],
            }
        )
    return groups


def _reminder_row(plan: TreatmentPlan, reminder: Reminder) -> dict:
    patient_zone, clinic_zone = plan.patient.time_zone, plan.clinic.time_zone
    to_patient = reminder.audience == Reminder.Audience.PATIENT
    action = ""
    if reminder.status not in (Reminder.Status.QUEUED, Reminder.Status.CANCELLED):
        action = "Send now" if reminder.status == Reminder.Status.SCHEDULED else "Resend"
    return {
        "reminder": reminder,
        "when": local_label(reminder.send_at, patient_zone if to_patient else clinic_zone),
        "whose": "patient's time" if to_patient else "clinic time",
        "what": message_label(reminder.message_kind),
        "channel": CHANNEL_LABELS.get(reminder.channel, reminder.channel),
        "to": "patient" if to_patient else str(reminder.provider or "provider"),
        "action": action,
        "action_url": reverse("admin:plans_treatmentplan_send_now", args=[plan.pk, reminder.pk]),
        "preview_url": reverse("admin:reminders_reminder_change", args=[reminder.pk]),
    }


_ITEM_KEY = re.compile(r"\b([a-z][a-z_]*(?:-[a-z_]+)*-\d+|[a-z][a-z_]*(?:-[a-z_]+)+)\b")
_KIND_IN_PARENS = re.compile(r"^\((\w+)\)\s*")
_LOCAL_TIME = re.compile(r"\b(\d{4}-\d{2}-\d{2} \d{2}:\d{2})\b")


def plain_notes(plan: TreatmentPlan, items, reminders=()) -> list[dict]:
    """The saved plan's notes in plain words (see plain_note_list)."""
    titles = {item.key: item.title for item in items}
    kinds = {r.key: r.message_kind for r in reminders}
    return plain_note_list(plan.planning_notes or [], titles, kinds)


def plain_note_list(raw_notes, titles: dict, kinds: dict) -> list[dict]:
    """The planner's notes with engine keys replaced by the names a coordinator knows:
    "dosing-1:prep_2h:sms (preparation_2h) dropped: ..." reads "Preparation, two hours before,
    by text, for Dosing session 1: dropped: ...". Takes stored dicts or the engine's PlanNotes."""
    notes = []
    for note in raw_notes:
        if hasattr(note, "code"):  # the engine's PlanNote, before it is stored
            note = {
                "code": note.code,
                "message": note.message,
                "item": note.item_key,
                "reminder": note.reminder_key,
            }
        if not isinstance(note, dict):
            notes.append({"heading": "Adjusted", "text": str(note)})
            continue
        message, key = note.get("message", ""), note.get("reminder") or ""
        item_key = note.get("item") or ""
        if key and message.startswith(key):
            rest = message[len(key) :].strip()
            found = _KIND_IN_PARENS.match(rest)
            kind = found.group(1) if found else kinds.get(key, "")
            rest = rest[found.end() :] if found else rest
            item, rule, *more = [*key.split(":"), ""]
            channel = CHANNEL_LABELS.get(more[0], "") if more else ""
            repeat = f" (reminder {more[1]})" if len(more) > 1 and more[1].isdigit() else ""
            what = message_label(kind) if kind else rule.replace("_", " ").capitalize()
            text = f"{what}{f', by {channel}' if channel else ''}, for {titles.get(item, item)}"
            text = f"{text}{repeat}: {rest}"
        elif item_key and message.startswith(item_key):
            text = titles.get(item_key, item_key) + message[len(item_key) :]
        else:
            text = _ITEM_KEY.sub(lambda m: titles.get(m.group(1), m.group(1)), message)
        if note.get("code", "").startswith("quiet_hours"):
            text = _LOCAL_TIME.sub(r"\1 (patient's time)", text)
        text = re.sub(r"\s*\(rule: [a-z_.]+\)", "", text).strip()
        notes.append({"heading": NOTE_HEADINGS.get(note.get("code", ""), "Adjusted"), "text": text})
    return notes
