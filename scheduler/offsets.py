"""A small language for reminder times: composable offsets from an item.

Grammar (whitespace-separated terms, applied left to right, starting at the item's start)::

    offset := term+
    term   := sign amount unit [ "at" HH:MM zone ]
    sign   := "+" | "-"
    unit   := "m" | "min" | "h" | "day" | "days" | "week" | "weeks"
            | "working day" | "working days"
    zone   := "patient" | "clinic"

Examples: ``-48h``, ``-2h``, ``-24h``, ``+1 day at 09:00 patient``, ``+0 day at 10:00 patient``,
``-1 working day at 08:00 clinic``, ``-2 days at 18:00 patient +30m``.

Why two kinds of unit: minutes and hours are *elapsed* time (48 h before a session is 48 real
hours, even across a DST change), while days, weeks and working days are *calendar* steps taken on
local dates. "+1 day" therefore means "the next day at the same local time", never "+24 h". A day
term with ``at`` reads the date in the named zone and sets that wall time there; without ``at`` it
keeps the wall time in the item's own zone. Working days are the clinic's open, non-holiday days.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from .errors import PlanningError
from .timeutil import local_to_utc

if TYPE_CHECKING:
    from .calendar import ClinicCalendar

__all__ = ["Offset", "OffsetTerm", "parse_offset"]

Unit = Literal["minutes", "days", "working_days"]

_TERM = re.compile(
    r"""\s*(?P<sign>[+-])\s*(?P<amount>\d{1,4})\s*
        (?P<unit>working\s+days?|days?|weeks?|min|m|h)
        (?:\s+at\s+(?P<hh>\d{1,2}):(?P<mm>\d{2})\s+(?P<zone>patient|clinic))?\s*""",
    re.VERBOSE | re.IGNORECASE,
)


@dataclass(frozen=True)
class OffsetTerm:
    sign: int
    amount: int
    unit: Unit
    at: time | None = None
    zone: str | None = None


@dataclass(frozen=True)
class Offset:
    """A parsed offset; ``text`` is kept verbatim so protocols round-trip exactly."""

    text: str
    terms: tuple[OffsetTerm, ...]

    def apply(
        self,
        base: datetime,
        *,
        item_zone: ZoneInfo,
        patient_zone: ZoneInfo,
        clinic: ClinicCalendar,
    ) -> datetime:
        """Apply every term to the aware ``base`` instant and return an aware UTC instant."""
        current = base
        for term in self.terms:
            if term.unit == "minutes":
                current = current + timedelta(minutes=term.sign * term.amount)
                continue
            if term.zone == "patient":
                zone = patient_zone
            elif term.zone == "clinic":
                zone = clinic.zone
            else:
                zone = item_zone
            local = current.astimezone(zone)
            if term.unit == "days":
                day = local.date() + timedelta(days=term.sign * term.amount)
            else:
                day = clinic.shift_working_days(local.date(), term.sign * term.amount)
            wall = term.at if term.at is not None else local.time().replace(tzinfo=None)
            current = local_to_utc(day, wall, zone)
        return current

    def is_elapsed_only(self) -> bool:
        return all(t.unit == "minutes" for t in self.terms)


@lru_cache(maxsize=1024)
def parse_offset(text: str, field: str = "offset") -> Offset:
    """Parse ``text`` or raise ``PlanningError(rule="rule.syntax")`` naming the bad part."""
    if not isinstance(text, str) or not text.strip():
        raise PlanningError(
            f"{field}: an offset must be a non-empty string", rule="rule.syntax", field=field
        )
    terms: list[OffsetTerm] = []
    position = 0
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None or match.end() == position:
            raise PlanningError(
                f"{field}: cannot read offset {text!r} at {text[position:]!r}; expected "
                "something like '-48h', '+1 day at 09:00 patient' or "
                "'-1 working day at 08:00 clinic'",
                rule="rule.syntax",
                field=field,
            )
        terms.append(_term_from_match(match, text, field))
        position = match.end()
    return Offset(text=text, terms=tuple(terms))


def _term_from_match(match: re.Match[str], text: str, field: str) -> OffsetTerm:
    sign = 1 if match["sign"] == "+" else -1
    amount = int(match["amount"])
    raw_unit = match["unit"].lower()
    unit: Unit
    if raw_unit in ("m", "min"):
        unit = "minutes"
    elif raw_unit == "h":
        unit, amount = "minutes", amount * 60
    elif raw_unit.startswith("working"):
        unit = "working_days"
    elif raw_unit.startswith("week"):
        unit, amount = "days", amount * 7
    else:
        unit = "days"
    at: time | None = None
    if match["hh"] is not None:
        if unit == "minutes":
            raise PlanningError(
                f"{field}: in {text!r}, 'at HH:MM' only follows a day, week or working-day step",
                rule="rule.syntax",
                field=field,
            )
        hour, minute = int(match["hh"]), int(match["mm"])
        if hour > 23 or minute > 59:
            raise PlanningError(
                f"{field}: in {text!r}, {hour}:{minute:02d} is not a time of day",
                rule="rule.syntax",
                field=field,
            )
        at = time(hour, minute)
    zone = match["zone"].lower() if match["zone"] else None
    return OffsetTerm(sign=sign, amount=amount, unit=unit, at=at, zone=zone)
