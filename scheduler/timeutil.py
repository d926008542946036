"""Wall-clock to UTC conversion with one documented rule for DST changes.

Everything the engine plans is a *local intent* (a date, a wall time and a zone: "Tuesday 09:00 in
America/Denver") that is converted to a UTC instant exactly once, here. Arithmetic that means "the
next day at the same local time" is done on local dates, never by adding 24 hours.

The DST rule
------------
``zoneinfo`` does not report a wall time that does not exist (the spring-forward gap) or that
happens twice (the fall-back overlap). We detect both by a round trip through UTC and always
resolve them the same way, which is what ``fold=0`` gives:

* **Gap** (e.g. 02:30 on the night New York springs forward): the time is *shifted forward by the
  length of the gap* -- 02:30 becomes 03:30 local. Nothing is planned inside a gap, and the
  shifted instant keeps its distance from the hours around it.
* **Overlap** (e.g. 01:30 on the night London falls back): the *earlier* of the two instants is
  used (``fold=0``, the one still on summer time). A reminder then goes out an hour early rather
  than an hour late, which matters more for announcements than for follow-ups.

``resolve_local`` returns which case applied so callers can record a plan note.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import PlanningError

__all__ = [
    "UTC",
    "LocalTimeKind",
    "get_zone",
    "local_to_utc",
    "require_aware",
    "resolve_local",
    "to_local",
]


class LocalTimeKind(Enum):
    """How a wall time mapped onto the time line."""

    NORMAL = "normal"
    GAP = "gap"  # did not exist; shifted forward by the gap length
    AMBIGUOUS = "ambiguous"  # happened twice; the earlier instant was used


@lru_cache(maxsize=512)
def get_zone(name: str, field: str = "time_zone") -> ZoneInfo:
    """Return the IANA zone ``name`` or raise ``PlanningError(rule="time_zone.unknown")``."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise PlanningError(
            f"{name!r} is not a time zone name", rule="time_zone.unknown", field=field
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise PlanningError(
            f"Unknown time zone {name!r}; use an IANA name such as 'America/New_York'",
            rule="time_zone.unknown",
            field=field,
        ) from None


def resolve_local(day: date, wall: time, zone: ZoneInfo) -> tuple[datetime, LocalTimeKind]:
    """Map a local date and wall time in ``zone`` to a UTC instant, applying the module's DST rule.

    Returns the aware UTC datetime and whether the wall time was normal, in a gap or ambiguous.
    """
    naive = datetime.combine(day, wall.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=zone)
    instant = first.astimezone(UTC)
    back = instant.astimezone(zone).replace(tzinfo=None)
    if back != naive:
        # fold=0 on a gap uses the offset before the change: the result is the wall time moved
        # forward by the gap length, which is the rule documented above.
        return instant, LocalTimeKind.GAP
    if first.replace(fold=1).utcoffset() != first.utcoffset():
        return instant, LocalTimeKind.AMBIGUOUS
    return instant, LocalTimeKind.NORMAL


def local_to_utc(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """``resolve_local`` without the diagnosis: the UTC instant for a local intent."""
    naive = datetime.combine(day, wall.replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=zone).astimezone(UTC)


def to_local(instant: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock reading of an aware instant in ``zone``."""
    return instant.astimezone(zone)


def require_aware(value: datetime, field: str) -> datetime:
    """Reject naive datetimes: the engine never guesses which zone a bare time meant."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise PlanningError(
            f"{field} must be a timezone-aware datetime", rule="time.naive", field=field
        )
    return value.astimezone(UTC)


def days_between(first: date, second: date) -> int:
    """Whole calendar days from ``first`` to ``second`` (negative when ``second`` is earlier)."""
    return second.toordinal() - first.toordinal()


ONE_MINUTE = timedelta(minutes=1)
