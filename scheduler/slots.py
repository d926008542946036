"""Whether a start time suits an item: candidate slots of a day and the rules a start must keep.

``Placer`` searches with these checks and a re-plan judges an existing time with the same ones,
so "still valid" and "would be chosen" share one definition. A mixin: it reads the placer's
protocol, clinic, patient, options, ``now``, busy intervals and bans.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from .needs import Need
from .protocol import ItemSpec
from .timeutil import local_to_utc

__all__ = ["SlotRules"]


class SlotRules:
    """Search and checks shared by building and re-planning (mixed into ``Placer``)."""

    def _today(self, spec: ItemSpec) -> date:
        return self.now.astimezone(self._zone(spec)).date()

    def _zone(self, spec: ItemSpec):
        if spec.on_site or spec.local_zone == "clinic":
            return self.clinic.zone
        return self.patient.zone

    def _search(self, spec: ItemSpec, need: Need, key: str = "") -> datetime | None:
        prefix = tuple(self.trail) if self.banned else ()
        for day in need.days:
            if self.banned and (key, day, prefix) in self.banned:
                continue
            for start in self._candidates(spec, day):
                if self._violation(spec, need, start, check_day=False) is None:
                    return start
        return None

    def _candidates(self, spec: ItemSpec, day: date) -> Iterator[datetime]:
        if spec.allowed_weekdays is not None and day.weekday() not in spec.allowed_weekdays:
            return
        if spec.on_site:
            if self.patient.preferred_weekdays and day.weekday() not in (
                self.patient.preferred_weekdays
            ):
                return
            yield from self._preferred_first(spec, day)
            return
        if spec.local_zone == "clinic" and not self.clinic.is_working_day(day):
            return
        assert spec.local_time is not None
        start = local_to_utc(day, spec.local_time, self._zone(spec))
        if start < self.now and day == self._today(spec):
            # A remote item due earlier today is due now: round up to the next 5 minutes.
            start = self.now + timedelta(minutes=5 - self.now.minute % 5, seconds=-self.now.second)
            start = start.replace(microsecond=0)
        yield start

    def _preferred_first(self, spec: ItemSpec, day: date) -> Iterator[datetime]:
        """The day's slots, those at or after the preferred time of day first (in order), then
        the ones before it (latest first), so a session lands as near that time as it can."""
        slots = self.clinic.slot_starts(day, spec.minutes_needed)
        wanted = self.options.session_time or (spec.local_time if spec.on_site else None)
        if wanted is None:
            yield from slots
            return
        target = local_to_utc(day, wanted, self.clinic.zone)
        yield from (s for s in slots if s >= target)
        yield from reversed([s for s in slots if s < target])

    def _provider_busy_at(self, start: datetime, minutes: int) -> bool:
        end = start + timedelta(minutes=minutes)
        return any(b_start < end and start < b_end for b_start, b_end in self.options.provider_busy)

    def _violation(
        self, spec: ItemSpec, need: Need, start: datetime, *, check_day: bool
    ) -> str | None:
        """The first rule ``start`` breaks for this item, in plain words, or ``None``."""
        end = start + timedelta(minutes=spec.minutes_needed)
        if start < self.now:
            return "start_date.in_past: the time has already passed"
        if need.min_gap_from is not None and start - need.min_gap_from.start < need.min_gap:
            hours = need.min_gap.total_seconds() / 3600
            return f"spacing.min_gap: less than {hours:g} h after {need.min_gap_from.key}"
        if need.min_start is not None and start < need.min_start:
            return "order.after_anchor: it would start before the item it follows has ended"
        if check_day:
            local_day = start.astimezone(self._zone(spec)).date()
            if local_day not in need.days:
                return f"{need.failure_rule}: {need.failure_text}"
            if spec.on_site and not self.clinic.fits(start, spec.minutes_needed):
                return "calendar.closed: the clinic is not open for the whole session"
            if spec.on_site and not self._patient_accepts(start):
                return "preferences.time: outside the patient's preferred days or times"
        if need.max_end is not None and end > need.max_end:
            return "order.before_anchor: it would end after the item it precedes has started"
        if need.before_item is not None and end > need.before_item.start:
            return f"order.before_item: it would end after {need.before_item.key} has started"
        if spec.on_site:
            if not check_day and not self.patient.accepts_start(
                start.astimezone(self.patient.zone)
            ):
                return "preferences.time: outside the patient's earliest/latest time"
            for busy_start, busy_end in self.busy:
                if start < busy_end and busy_start < end:
                    return "overlap: it would overlap another session of this plan"
            if self._provider_busy_at(start, spec.minutes_needed):
                return "provider.double_booked: the provider has another patient's session then"
        return None

    def _patient_accepts(self, start: datetime) -> bool:
        weekday = start.astimezone(self.clinic.zone).weekday()
        if self.patient.preferred_weekdays and weekday not in self.patient.preferred_weekdays:
            return False
        return self.patient.accepts_start(start.astimezone(self.patient.zone))
