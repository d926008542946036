"""What the patient asks for, and what a coordinator overrides for one plan.

Patient preferences live in the patient's zone: appointment windows are checked against the
patient's wall clock (a patient in Phoenix booking a Denver clinic says "not before 10:00" in
Phoenix time), and quiet hours are the patient's night, wherever the clinic is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .errors import PlanningError
from .timeutil import get_zone, local_to_utc

__all__ = ["CHANNELS", "PatientPreferences", "PlanOptions"]

CHANNELS = ("email", "sms")


@dataclass(frozen=True)
class PatientPreferences:
    """A patient's zone, appointment preferences, quiet hours and message channels.

    ``quiet_start``/``quiet_end`` bound the half-open interval ``[quiet_start, quiet_end)`` in the
    patient's zone and may wrap midnight (21:00-08:00). ``channels`` lists the channels the patient
    accepts. ``sms_written_consent`` is the patient's express written consent to more texts than
    the TCPA healthcare exemption allows; only then do ``sms_daily_limit``/``sms_weekly_limit``
    (or the clinic's limits in ``PlanOptions``) replace the 1-a-day, 3-a-week default.
    """

    time_zone: str
    preferred_weekdays: frozenset[int] | None = None
    earliest_time: time | None = None
    latest_time: time | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    channels: tuple[str, ...] = CHANNELS
    sms_written_consent: bool = False
    sms_daily_limit: int | None = None
    sms_weekly_limit: int | None = None
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", get_zone(self.time_zone, "patient.time_zone"))
        if self.preferred_weekdays is not None:
            days = frozenset(self.preferred_weekdays)
            if not days or any(not isinstance(d, int) or not 0 <= d <= 6 for d in days):
                raise PlanningError(
                    "Preferred weekdays must be a non-empty set of 0 (Monday) to 6 (Sunday)",
                    rule="preferences.contradictory",
                    field="preferred_weekdays",
                )
            object.__setattr__(self, "preferred_weekdays", days)
        if self.earliest_time and self.latest_time and self.earliest_time > self.latest_time:
            raise PlanningError(
                f"Earliest appointment time {self.earliest_time:%H:%M} is after the latest "
                f"{self.latest_time:%H:%M}",
                rule="preferences.contradictory",
                field="earliest_time",
            )
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise PlanningError(
                "Quiet hours need both a start and an end",
                rule="preferences.contradictory",
                field="quiet_start" if self.quiet_start is None else "quiet_end",
            )
        bad = [c for c in self.channels if c not in CHANNELS]
        if bad or not self.channels:
            raise PlanningError(
                f"Channels must be a non-empty choice of {', '.join(CHANNELS)}; got {bad or '[]'}",
                rule="preferences.channels",
                field="channels",
            )
        object.__setattr__(self, "channels", tuple(self.channels))
        for name in ("sms_daily_limit", "sms_weekly_limit"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise PlanningError(
                    f"{name} must be a whole number of zero or more",
                    rule="preferences.sms_limit",
                    field=name,
                )

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def has_quiet_hours(self) -> bool:
        return (
            self.quiet_start is not None
            and self.quiet_end is not None
            and self.quiet_start != self.quiet_end
        )

    def is_quiet(self, instant: datetime) -> bool:
        """Whether ``instant`` falls in the patient's quiet hours, read on the patient's clock."""
        if not self.has_quiet_hours():
            return False
        wall = instant.astimezone(self._zone).time().replace(tzinfo=None)
        start, end = self.quiet_start, self.quiet_end
        assert start is not None and end is not None
        if start < end:
            return start <= wall < end
        return wall >= start or wall < end

    def quiet_ends(self, instant: datetime) -> datetime | None:
        """The UTC instant the quiet hours holding ``instant`` end (``quiet_end`` on the patient's
        clock, that day or the next when they wrap midnight); ``None`` outside quiet hours."""
        if not self.is_quiet(instant):
            return None
        assert self.quiet_end is not None
        local = instant.astimezone(self._zone)
        day = local.date()
        if local.time().replace(tzinfo=None) >= self.quiet_end:  # wrapped: they end tomorrow
            day += timedelta(days=1)
        return local_to_utc(day, self.quiet_end, self._zone)

    def accepts_start(self, local_patient: datetime) -> bool:
        """Whether an appointment starting at this patient-local wall time suits the patient."""
        wall = local_patient.time().replace(tzinfo=None)
        if self.earliest_time is not None and wall < self.earliest_time:
            return False
        return not (self.latest_time is not None and wall > self.latest_time)


@dataclass(frozen=True)
class PlanOptions:
    """Per-plan overrides a coordinator may choose.

    * ``session_counts``: item-spec key -> number of items, within the spec's allowed range
      (``dosing_sessions`` is a shortcut for the ``dosing`` spec).
    * ``boosters``: plan the protocol's optional booster items (``None`` = protocol default, off).
    * ``reminder_overrides``: rule id -> ``None`` to switch the rule off for this plan, or a
      mapping of rule fields to replace (``{"offset": "+1 day at 10:00 patient"}``).
    * ``sms_daily_limit``/``sms_weekly_limit``: the clinic's own limits, used only when the patient
      has given written consent (``None`` = no clinic limit).
    * ``session_time``: the clinic-local time of day on-site sessions should start (the first
      free slot at or after it that day, else the latest before it); ``None`` = the protocol's
      ``local_time`` for the spec, else the first slot of the day.
    * ``provider_busy``: not a choice but a fact the caller supplies: (start, end) UTC intervals
      the responsible provider is already booked in other plans. No on-site session is placed
      or moved into one (rule ``provider.double_booked``).
    """

    dosing_sessions: int | None = None
    session_counts: Mapping[str, int] = field(default_factory=dict)
    boosters: bool | None = None
    reminder_overrides: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    sms_daily_limit: int | None = None
    sms_weekly_limit: int | None = None
    session_time: time | None = None
    provider_busy: tuple[tuple[datetime, datetime], ...] = ()

    def count_for(self, spec_key: str) -> int | None:
        if spec_key in self.session_counts:
            return self.session_counts[spec_key]
        if spec_key == "dosing":
            return self.dosing_sessions
        return None
