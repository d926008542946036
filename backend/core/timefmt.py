"""Times as a person reads them: in a named zone, with the zone's name ("Mon 07 Dec 08:00 MST").

Times are stored in UTC and shown in the zone of whoever reads them: a coordinator reads clinic
time, a patient their own. A time without its zone is a time someone will misread.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def local_label(instant: dt.datetime, zone: str, *, with_year: bool = False) -> str:
    """``instant`` on the clock of ``zone``, naming the zone by its abbreviation there and then
    (so a date after a DST change says MDT, not MST)."""
    local = instant.astimezone(ZoneInfo(zone))
    return local.strftime("%a %d %b %Y %H:%M %Z" if with_year else "%a %d %b %H:%M %Z")
