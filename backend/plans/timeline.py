"""The course at a glance: items and reminders laid out by week, for the admin plan page."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo


def build_timeline(items, reminders, time_zone: str) -> list[dict]:
    """Weeks (Monday first) of days, each day with its items and the count of its reminders."""
    if not items:
        return []
    zone = ZoneInfo(time_zone)
    by_day_items, by_day_reminders = defaultdict(list), defaultdict(int)
    for item in items:
        by_day_items[item.start.astimezone(zone).date()].append(item)
    for reminder in reminders:
        by_day_reminders[reminder.send_at.astimezone(zone).date()] += 1
    days = sorted(set(by_day_items) | set(by_day_reminders))
    first = days[0] - dt.timedelta(days=days[0].weekday())
    last = days[-1]
    weeks = []
    monday = first
    while monday <= last:
        week = {"start": monday, "days": []}
        for offset in range(7):
            day = monday + dt.timedelta(days=offset)
            week["days"].append(
                {
                    "date": day,
                    "items": by_day_items.get(day, []),
                    "reminders": by_day_reminders.get(day, 0),
                }
            )
        weeks.append(week)
        monday += dt.timedelta(days=7)
    return weeks
