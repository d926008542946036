"""Shared builders for the scheduler tests (plain functions, so no conftest is needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from scheduler import ClinicCalendar, PatientPreferences, Plan, Protocol, load_library

WEEKDAYS = range(5)


@cache
def library() -> dict[str, Protocol]:
    return load_library()


def iv() -> Protocol:
    return library()["iv-ketamine-induction-trd"]


def clinic(
    zone: str = "America/New_York",
    *,
    days=WEEKDAYS,
    opens: time = time(8, 0),
    closes: time = time(17, 0),
    closed=frozenset(),
    country: str | None = None,
    subdivision: str | None = None,
    slot: int = 30,
) -> ClinicCalendar:
    return ClinicCalendar(
        time_zone=zone,
        opening_hours={d: [(opens, closes)] for d in days},
        slot_minutes=slot,
        closed_dates=frozenset(closed),
        holiday_country=country,
        holiday_subdivision=subdivision,
    )


def patient(zone: str = "America/New_York", **kwargs) -> PatientPreferences:
    return PatientPreferences(time_zone=zone, **kwargs)


def aware(year: int, month: int, day: int, hour: int = 12, zone: str = "UTC") -> datetime:
    tz = UTC if zone == "UTC" else ZoneInfo(zone)
    return datetime(year, month, day, hour, tzinfo=tz)


def local(instant: datetime, zone: str) -> datetime:
    return instant.astimezone(ZoneInfo(zone))


def assert_items_inside_opening_hours(plan: Plan, cal: ClinicCalendar) -> None:
    """Independent check (wall clock, not the engine's helpers) of the calendar invariant."""
    zone = ZoneInfo(cal.time_zone)
    for item in plan.items:
        if not item.on_site:
            continue
        start, end = item.start.astimezone(zone), item.end.astimezone(zone)
        assert start.date() == end.date(), item
        assert start.date() not in cal.closed_dates, item
        assert not cal.is_holiday(start.date()), item
        hours = cal.opening_hours.get(start.weekday(), [])
        assert any(
            o <= start.time().replace(tzinfo=None) and end.time().replace(tzinfo=None) <= c
            for o, c in hours
        ), item
        assert item.end - item.start >= timedelta(minutes=item.observation_minutes)


def assert_reminder_invariants(plan: Plan, pref: PatientPreferences, now: datetime) -> None:
    keys = [r.key for r in plan.reminders]
    assert len(keys) == len(set(keys))
    assert list(plan.reminders) == sorted(plan.reminders, key=lambda r: (r.send_at, r.key))
    item_keys = {i.key for i in plan.items}
    texts_per_day: dict[date, int] = {}
    for reminder in plan.reminders:
        assert reminder.send_at.tzinfo is not None
        assert reminder.send_at <= reminder.not_after, reminder
        assert reminder.send_at >= now, reminder
        assert reminder.item_key is None or reminder.item_key in item_keys
        if reminder.audience == "patient":
            assert not pref.is_quiet(reminder.send_at), reminder
            if reminder.channel == "sms":
                day = reminder.send_at.astimezone(pref.zone).date()
                texts_per_day[day] = texts_per_day.get(day, 0) + 1
    if not pref.sms_written_consent:
        assert all(count <= 1 for count in texts_per_day.values())
        for day in texts_per_day:
            week = sum(n for d, n in texts_per_day.items() if day <= d < day + timedelta(days=7))
            assert week <= 3
