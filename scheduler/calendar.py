"""The clinic calendar: opening hours, closed dates and public holidays in the clinic's zone.

A dosing session is only planned where the clinic is open for the whole dose-plus-observation
window, so the calendar answers two questions: "is this a working day?" and "which slot starts on
this day leave room for N minutes before closing?". Public holidays come from the ``holidays``
package; building its tables costs tens of milliseconds, so they are cached per
(country, subdivision, year) for the life of the process -- holidays do not change at runtime.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from .errors import PlanningError
from .timeutil import get_zone, local_to_utc

__all__ = ["ClinicCalendar", "holiday_dates"]

Interval = tuple[time, time]


@lru_cache(maxsize=1024)
def holiday_name(country: str, subdivision: str | None, day: date) -> str:
    """The public holiday's name ("Christmas Day"), or "" when ``day`` is not one."""
    try:
        return holidays.country_holidays(country, subdiv=subdivision, years=[day.year]).get(day, "")
    except NotImplementedError:
        return ""


@lru_cache(maxsize=256)
def holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """Public holidays of one year, cached because ``holidays.country_holidays`` is slow."""
    try:
        table = holidays.country_holidays(country, subdiv=subdivision, years=[year])
    except NotImplementedError:
        raise PlanningError(
            f"No public-holiday data for country {country!r} / subdivision {subdivision!r}",
            rule="calendar.holidays_unknown",
            field="holiday_country",
        ) from None
    return frozenset(table.keys())


def _parse_time(value: Any, field_name: str) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    raise PlanningError(
        f"{value!r} is not a time of day (HH:MM)", rule="calendar.hours", field=field_name
    )


def _normalise_hours(raw: Mapping[int, Any]) -> tuple[tuple[Interval, ...], ...]:
    """Validate opening hours and return them as a 7-tuple indexed by weekday (0 = Monday)."""
    days: list[tuple[Interval, ...]] = [() for _ in range(7)]
    for weekday, intervals in raw.items():
        if not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise PlanningError(
                f"Opening-hours weekday {weekday!r} must be 0 (Monday) to 6 (Sunday)",
                rule="calendar.hours",
                field="opening_hours",
            )
        parsed: list[Interval] = []
        for pair in intervals or ():
            start, end = (_parse_time(p, "opening_hours") for p in pair)
            if start >= end:
                raise PlanningError(
                    f"Opening hours on weekday {weekday} close ({end}) before they open ({start})",
                    rule="calendar.hours",
                    field="opening_hours",
                )
            parsed.append((start, end))
        parsed.sort()
        for (_, prev_end), (next_start, _) in itertools.pairwise(parsed):
            if next_start < prev_end:
                raise PlanningError(
                    f"Opening hours on weekday {weekday} overlap",
                    rule="calendar.hours",
                    field="opening_hours",
                )
        days[weekday] = tuple(parsed)
    return tuple(days)


@dataclass(frozen=True)
class ClinicCalendar:
    """Where and when a clinic sees patients.

    ``opening_hours`` maps a weekday (0 = Monday) to wall-clock intervals in ``time_zone``;
    ``slot_minutes`` is the grid on which sessions may start, measured from each opening time.
    ``closed_dates`` are local dates the clinic is shut beyond public holidays.
    """

    time_zone: str
    opening_hours: Mapping[int, Any]
    slot_minutes: int = 30
    closed_dates: frozenset[date] = frozenset()
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    _hours: tuple[tuple[Interval, ...], ...] = field(init=False, repr=False, compare=False)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _starts: dict[tuple[date, int], tuple[datetime, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", get_zone(self.time_zone, "time_zone"))
        object.__setattr__(self, "_hours", _normalise_hours(self.opening_hours))
        object.__setattr__(self, "closed_dates", frozenset(self.closed_dates))
        object.__setattr__(self, "_starts", {})
        if not isinstance(self.slot_minutes, int) or not 5 <= self.slot_minutes <= 240:
            raise PlanningError(
                "slot_minutes must be a whole number of minutes between 5 and 240",
                rule="calendar.slot",
                field="slot_minutes",
            )
        if self.holiday_country:
            holiday_dates(self.holiday_country, self.holiday_subdivision, 2000)  # validate early
        if not any(self._hours):
            raise PlanningError(
                "The clinic has no opening hours on any weekday",
                rule="calendar.no_slot",
                field="opening_hours",
            )

    def __hash__(self) -> int:
        return hash((self.time_zone, self._hours, self.slot_minutes, self.closed_dates))

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def hours_on(self, weekday: int) -> tuple[Interval, ...]:
        return self._hours[weekday]

    def open_weekdays(self) -> frozenset[int]:
        return frozenset(d for d in range(7) if self._hours[d])

    def is_holiday(self, day: date) -> bool:
        if not self.holiday_country:
            return False
        return day in holiday_dates(self.holiday_country, self.holiday_subdivision, day.year)

    def is_working_day(self, day: date) -> bool:
        """Open that weekday, not a closed date and not a public holiday."""
        return (
            bool(self._hours[day.weekday()])
            and day not in self.closed_dates
            and not self.is_holiday(day)
        )

    def shift_working_days(self, day: date, count: int) -> date:
        """The ``count``-th working day after (positive) or before (negative) ``day``.

        ``count == 0`` returns ``day`` itself if it is a working day, else the next one.
        """
        step = 1 if count >= 0 else -1
        remaining = abs(count)
        current = day
        if remaining == 0:
            for _ in range(3660):
                if self.is_working_day(current):
                    return current
                current += timedelta(days=1)
        for _ in range(3660):
            current += timedelta(days=step)
            if self.is_working_day(current):
                remaining -= 1
                if remaining == 0:
                    return current
        raise PlanningError(
            "No working day found within ten years", rule="calendar.no_slot", field=None
        )

    def slot_starts(self, day: date, minutes_needed: int) -> tuple[datetime, ...]:
        """UTC starts of slots on local ``day`` whose next ``minutes_needed`` fit before closing.

        The fit is checked on the UTC time line, so a session that crosses a DST change still
        ends before the clinic closes by the clinic's own wall clock. Results are memoised per
        calendar, because a plan asks about the same days again while searching.
        """
        cache_key = (day, minutes_needed)
        cached = self._starts.get(cache_key)
        if cached is not None:
            return cached
        result: list[datetime] = []
        if self.is_working_day(day):
            need = timedelta(minutes=minutes_needed)
            step = timedelta(minutes=self.slot_minutes)
            for open_at, close_at in self._hours[day.weekday()]:
                close_utc = local_to_utc(day, close_at, self._zone)
                cursor = datetime.combine(day, open_at)
                end_of_interval = datetime.combine(day, close_at)
                while cursor < end_of_interval:
                    start_utc = local_to_utc(day, cursor.time(), self._zone)
                    if start_utc + need > close_utc:
                        break
                    if not result or start_utc > result[-1]:
                        result.append(start_utc)
                    cursor += step
        starts = tuple(result)
        if len(self._starts) > 4096:  # a long-lived calendar must not grow without bound
            self._starts.clear()
        self._starts[cache_key] = starts
        return starts

    def why_closed(self, start: datetime, minutes_needed: int) -> str:
        """In plain words, why a session of ``minutes_needed`` cannot start at ``start``."""
        local = start.astimezone(self._zone)
        day = local.date()
        if day in self.closed_dates:
            return "the clinic is closed that day"
        if self.holiday_country and self.is_holiday(day):
            name = holiday_name(self.holiday_country, self.holiday_subdivision, day)
            return f"the clinic is closed for {name}" if name else "it is a public holiday"
        hours = self._hours[day.weekday()]
        if not hours:
            return f"the clinic is closed on {local:%A}s"
        opening = ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in hours)
        return (
            f"the clinic is open {opening} that day, and the session with its observation "
            f"takes {minutes_needed} minutes"
        )

    def why_closed_day(self, day: date) -> str:
        """Why the clinic takes no session on ``day``, in plain words."""
        noon = local_to_utc(day, time(12, 0), self._zone)
        return self.why_closed(noon, 0)

    def next_free_text(
        self, start: datetime, minutes_needed: int, count: int = 3, *, busy=()
    ) -> str:
        """The next times the clinic can take it, as a clause to append (local, from ``start``)."""
        found: list[datetime] = []
        day = start.astimezone(self._zone).date()
        for _ in range(60):
            need = timedelta(minutes=minutes_needed)
            found += [
                s
                for s in self.slot_starts(day, minutes_needed)
                if s >= start and not any(b0 < s + need and s < b1 for b0, b1 in busy)
            ]
            if len(found) >= count:
                break
            day += timedelta(days=1)
        if not found:
            return ""
        times = ", ".join(f"{s.astimezone(self._zone):%a %d %b %H:%M}" for s in found[:count])
        return f"; the next times the clinic can take it: {times}"

    def fits(self, start: datetime, minutes_needed: int) -> bool:
        """Whether a session starting at UTC ``start`` lies inside one opening interval."""
        local = start.astimezone(self._zone)
        day = local.date()
        if not self.is_working_day(day):
            return False
        end = start + timedelta(minutes=minutes_needed)
        for open_at, close_at in self._hours[day.weekday()]:
            if local_to_utc(day, open_at, self._zone) <= start and end <= local_to_utc(
                day, close_at, self._zone
            ):
                return True
        return False
