"""Field validators shared by models and serializers; each message names the rule."""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            "%(value)s is not a known IANA time zone (for example America/New_York).",
            params={"value": value},
            code="unknown_time_zone",
        ) from exc


def validate_weekdays(value: object) -> None:
    if not isinstance(value, list) or any(
        not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6 for d in value
    ):
        raise ValidationError(
            "Weekdays must be a list of numbers 0 (Monday) to 6 (Sunday).", code="weekdays"
        )


def validate_opening_hours(value: object) -> None:
    """Opening hours: {"0": [["09:00", "17:00"]], ...} keyed by weekday, 0 = Monday."""
    import datetime as dt

    if not isinstance(value, dict):
        raise ValidationError("Opening hours must map weekday numbers to time ranges.")
    for day, ranges in value.items():
        if str(day) not in {str(d) for d in range(7)}:
            raise ValidationError(f"Opening hours: {day!r} is not a weekday number 0-6.")
        if not isinstance(ranges, list):
            raise ValidationError(f"Opening hours for weekday {day} must be a list of ranges.")
        for pair in ranges:
            try:
                start, end = (dt.time.fromisoformat(p) for p in pair)
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    f"Opening hours for weekday {day}: {pair!r} is not a pair of HH:MM times."
                ) from exc
            if start >= end:
                raise ValidationError(
                    f"Opening hours for weekday {day}: opening {start} must be before "
                    f"closing {end}."
                )
