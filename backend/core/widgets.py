"""Form fields and widgets the admin forms share, so staff pick values instead of typing them.

A coordinator should not have to type JSON, an IANA zone name or a 24-hour time: each of these
fields offers the values the model's validators accept, and reads and writes the model's own
representation (a list of weekday numbers, a zone name, a time), so nothing else changes.
"""

from __future__ import annotations

import functools
import zoneinfo

from django import forms

from backend.core.validators import iana_zones

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class WeekdaysField(forms.TypedMultipleChoiceField):
    """Weekday checkboxes for a JSON list of weekday numbers (0 = Monday), the form the scheduler
    reads. Nothing ticked is an empty list: no preference. The list comes back sorted, without
    repeats, so an unchanged choice saves the same value it read."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        kwargs.setdefault("choices", WEEKDAYS)
        kwargs.setdefault("required", False)
        super().__init__(coerce=int, empty_value=[], **kwargs)

    def clean(self, value):
        return sorted(set(super().clean(value)))


# Where most of the clinics' patients live; offered before the full list so nobody scrolls
# through 600 names for them.
COMMON_US_ZONES = [
    ("America/New_York", "Eastern"),
    ("America/Chicago", "Central"),
    ("America/Denver", "Mountain"),
    ("America/Phoenix", "Arizona, no daylight saving"),
    ("America/Los_Angeles", "Pacific"),
    ("America/Anchorage", "Alaska"),
    ("Pacific/Honolulu", "Hawaii"),
]


@functools.cache
def time_zones() -> tuple[str, ...]:
    """The zones ``zoneinfo`` can open that the model's validator (tzdata's zone list) also
    accepts, sorted. The intersection leaves out names such as "localtime" that the system's
    zoneinfo folder adds, which would be offered and then refused."""
    return tuple(sorted(zoneinfo.available_timezones() & iana_zones()))


def time_zone_choices() -> list:
    """Grouped choices for a <select>: the common US zones, then every zone alphabetically (the
    common ones again included, for whoever looks for them there)."""
    offered = set(time_zones())
    common = [(zone, f"{label} ({zone})") for zone, label in COMMON_US_ZONES if zone in offered]
    return [
        ("", "Choose a time zone"),
        ("Common in the United States", common),
        ("All time zones", [(zone, zone) for zone in time_zones()]),
    ]


class TimeZoneField(forms.ChoiceField):
    """An IANA time zone chosen from a list, in place of a free-text name that the model's
    validator would refuse when mistyped ("America/NewYork", "EST")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("choices", time_zone_choices)
        kwargs.setdefault("label", "Time zone")
        super().__init__(**kwargs)


class TimeOfDayInput(forms.TimeInput):
    """The browser's own time picker (<input type="time">), which submits HH:MM whatever the
    user's locale shows (12-hour clock included); Django's TimeField parses that format."""

    input_type = "time"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%H:%M")
