"""An item as staff read it: its state on the clinic's clock (due, overdue, done, missed,
upcoming), the outcomes it may take now, what kind of thing it is, and its time in words.

The provider dashboard and the patient's course page read items through these rules, and the
dashboard's outcome buttons are refused by the same ones (backend.plans.dashboard_views), so a
page and the view that takes its POST agree. Days are the clinic's: a day begins at local
midnight and lasts 23 to 25 hours. Nothing here reads the clock; the caller passes ``now``.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from zoneinfo import ZoneInfo

from backend.plans.models import PlanItem, TreatmentPlan
from scheduler.model import SESSION_KINDS


class State(StrEnum):
    DUE = "due"  # today, not done
    OVERDUE = "overdue"  # its time has passed and it is still scheduled
    DONE = "done"
    MISSED = "missed"
    UPCOMING = "upcoming"
    CANCELLED = "cancelled"  # only on the patient's course page: the dashboard leaves them out


STATE_LABELS = {
    State.DUE: "Due today",
    State.OVERDUE: "Overdue",
    State.DONE: "Done",
    State.MISSED: "Missed",
    State.UPCOMING: "Upcoming",
    State.CANCELLED: "Cancelled",
}

# What a row is, in the words the page groups by: a session the patient comes to, a check-in,
# questionnaires the patient answers, or a task of the care team's own.
GROUP_LABELS = {"session": "Session", "check_in": "Check-in", "questionnaire": "Questionnaires",
                "task": "Task"}  # fmt: skip


def group_of(item: PlanItem) -> str:
    if item.kind in SESSION_KINDS:
        return "session"
    if item.kind == PlanItem.Kind.ASSESSMENT:
        return "questionnaire"
    return "check_in" if item.kind == PlanItem.Kind.CHECK_IN else "task"


def local_day(instant: dt.datetime, zone: str) -> dt.date:
    return instant.astimezone(ZoneInfo(zone)).date()


def day_start(day: dt.date, zone: str) -> dt.datetime:
    """The first instant of ``day`` on the clock of ``zone``, in UTC.

    Local midnight, found with fold=0: where a DST change skips midnight (America/Santiago in
    September: 00:00 becomes 01:00) that is the offset before the change, which puts the skipped
    midnight at the change itself, the day's first instant; where clocks go back at midnight the
    repeated hour belongs to the day before, and midnight happens once. Days are 23 to 25 hours
    long, so a day's end is the next day's start, never start + 24 h.
    """
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


def item_state(item: PlanItem, *, now: dt.datetime, zone: str) -> State:
    """Done, missed and cancelled as recorded; a scheduled item is overdue once it has ended (an
    item without a duration, like questionnaires the patient may answer all day, once its day
    has ended), due on its day until then, upcoming before."""
    recorded = {
        PlanItem.Status.COMPLETED: State.DONE,
        PlanItem.Status.MISSED: State.MISSED,
        PlanItem.Status.CANCELLED: State.CANCELLED,
    }
    if item.status in recorded:
        return recorded[item.status]
    today, day = local_day(now, zone), local_day(item.start, zone)
    ended = item.end <= now if item.end > item.start else day < today
    if ended:
        return State.OVERDUE
    return State.DUE if day <= today else State.UPCOMING


def _open_for_outcome(item: PlanItem) -> bool:
    return (
        item.status == PlanItem.Status.SCHEDULED and item.plan.status == TreatmentPlan.Status.ACTIVE
    )


def may_mark_done(item: PlanItem, *, now: dt.datetime, zone: str) -> bool:
    """Once its start has passed; a task (the care team's own) from the start of its day."""
    if not _open_for_outcome(item):
        return False
    if item.kind == PlanItem.Kind.TASK:
        return local_day(item.start, zone) <= local_day(now, zone)
    return item.start <= now


def may_mark_missed(item: PlanItem, *, now: dt.datetime) -> bool:
    """Once its start has passed; never a task (a task not done is still to do)."""
    return _open_for_outcome(item) and item.kind != PlanItem.Kind.TASK and item.start <= now


def when_label(item: PlanItem, zone: str, *, with_date: bool = False) -> str:
    """'08:00 to 09:40 EST', with the date before it for another day ('Fri 27 Feb, 08:00 EST'),
    and the zone named after each time where a DST change falls in between."""
    tz = ZoneInfo(zone)
    start, end = item.start.astimezone(tz), item.end.astimezone(tz)
    head = f"{start:%a %d %b}, " if with_date else ""
    if end <= start:
        return f"{head}{start:%H:%M %Z}"
    if start.tzname() == end.tzname():
        return f"{head}{start:%H:%M} to {end:%H:%M %Z}"
    return f"{head}{start:%H:%M %Z} to {end:%H:%M %Z}"
