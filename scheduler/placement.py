"""Placing a protocol's items on the calendar: the search behind ``build_plan`` and ``replan``.

Specs are placed in protocol order (a spec only refers to earlier ones). For each item the engine
works out its *needs* -- candidate local days in search order and the instants it must not start
before or end after -- then takes the first start on the first candidate day that breaks no rule.
The search is greedy and ordered, so the same inputs always give the same plan. The same needs
are used to judge an existing time during a re-plan, so "still valid" and "would be chosen" can
never disagree about the rules.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from .calendar import ClinicCalendar
from .errors import PlanningError
from .model import PlanChange, PlannedItem, PlanNote
from .needs import MAX_BACKTRACKS, AnchorConflict, Hint, Need, anchored_need, gap_need
from .preferences import PatientPreferences, PlanOptions
from .protocol import ItemSpec, Protocol, Series
from .timeutil import LocalTimeKind, local_to_utc, resolve_local

__all__ = ["Hint", "Placer"]

RELAXED_SEARCH_DAYS = 21


Ban = tuple[str, date, tuple[tuple[str, date], ...]]  # (key, local day, placements before it)

MISSING: Any = object()  # an anchor instance that was cancelled or skipped


@dataclass
class Placer:
    """Places items for one plan; holds the partial plan while searching."""

    protocol: Protocol
    clinic: ClinicCalendar
    patient: PatientPreferences
    now: datetime
    start_date: date
    options: PlanOptions
    hints: Mapping[str, Hint] = field(default_factory=dict)
    relax: bool = False  # re-plans may break spacing rather than fail; each break is noted
    placed: dict[str, PlannedItem] = field(default_factory=dict)
    by_spec: dict[str, dict[int, PlannedItem]] = field(default_factory=dict)
    busy: list[tuple[datetime, datetime]] = field(default_factory=list)
    notes: list[PlanNote] = field(default_factory=list)
    changes: list[PlanChange] = field(default_factory=list)
    banned: set[Ban] = field(default_factory=set)
    trail: list[tuple[str, date]] = field(default_factory=list)  # (key, local day) in commit order
    prefix_of: dict[str, int] = field(default_factory=dict)  # key -> len(trail) before it
    final: bool = False

    def run(self) -> list[PlannedItem]:
        """Place every enabled spec; return the items in placement order.

        The search is greedy with bounded backtracking: when an item finds no time in its window
        (an integration session after a Friday dose before a long weekend, a dose that cannot be
        within 7 days of the previous one over Easter), the day of the item it hangs on -- its
        anchor or its predecessor in the series -- is banned and the plan is searched again.

        A ban holds only under the placements that led to it: "dose 2 on 22 April leaves dose 6
        no room" is true with dose 1 on the 14th (the 21-day span) and false with dose 1 on the
        15th. So a ban is keyed by the blocker's day *and* every placement made before it, which
        makes the retries an exact depth-first search rather than a greedy one that can ban its
        way past a plan that exists. Bans accumulate, so the retries are finite and the result
        stays deterministic.
        """
        first_error: PlanningError | None = None  # the root cause, reported if all retries fail
        for _ in range(MAX_BACKTRACKS):
            try:
                return self._run_once()
            except AnchorConflict as conflict:
                first_error = first_error or conflict.error
                if conflict.ban in self.banned:
                    raise first_error from None
                self.banned.add(conflict.ban)
            except PlanningError:
                if first_error is not None:
                    raise first_error from None
                raise
        try:
            return self._run_once(final=True)
        except PlanningError:
            if first_error is not None:
                raise first_error from None
            raise

    def _run_once(self, final: bool = False) -> list[PlannedItem]:
        self.placed, self.by_spec, self.busy, self.notes, self.changes = {}, {}, [], [], []
        self.trail, self.prefix_of = [], {}
        self.final = final
        for spec in self.protocol.items:
            if spec.optional and not self.options.boosters:
                continue
            self.by_spec[spec.key] = {}
            if spec.series is not None:
                self._place_series(spec, self._series_for(spec))
            else:
                self._place_anchored(spec)
        return list(self.placed.values())

    # -- specs ----------------------------------------------------------------------------

    def _series_for(self, spec: ItemSpec) -> Series:
        series = spec.series
        assert series is not None
        wanted = self.options.count_for(spec.key)
        if wanted is None:
            return series
        if not series.min_count <= wanted <= series.max_count:
            raise PlanningError(
                f"{spec.title}: {wanted} sessions is outside the protocol's range "
                f"{series.min_count}-{series.max_count}",
                rule="options.count_range",
                field=f"session_counts.{spec.key}",
            )
        return series.with_count(wanted)

    def _anchors(self, spec: ItemSpec) -> list[Any] | None:
        if spec.after is None:
            return [None]
        instances = self.by_spec.get(spec.after.spec)
        if instances is None:
            return None  # the anchor spec is switched off for this plan
        numbers = sorted(instances)  # cancelled or skipped instances are simply absent
        if spec.after.which == "first":
            return [instances[numbers[0]]] if numbers else []
        if spec.after.which == "last":
            return [instances[numbers[-1]]] if numbers else []
        # Absent instances keep their place (as MISSING) so the items after them keep their keys.
        total = max(numbers, default=0)
        return [instances.get(n, MISSING) for n in spec.after.pick(total)]

    def _place_series(self, spec: ItemSpec, series: Series) -> None:
        anchors = self._anchors(spec)
        if not anchors:
            return
        anchor = next((a for a in anchors if a is not MISSING), None)
        if anchor is None and spec.after is not None:
            return
        first_date: date | None = None
        for index in range(series.count):
            key = self._key(spec, index + 1)
            if index == 0:
                need = anchored_need(self.start_date, spec, anchor, spec.offsets_days[0])
            else:
                done = self.by_spec[spec.key]
                if not done:
                    need = anchored_need(self.start_date, spec, anchor, spec.offsets_days[0])
                    self._place(spec, key, index + 1, need, anchor)
                    continue
                previous = done[max(done)]
                need = gap_need(spec, series, index, previous, first_date)
            item = self._place(spec, key, index + 1, need, anchor if index == 0 else None)
            if item is not None and first_date is None:
                first_date = item.local_date

    def _place_anchored(self, spec: ItemSpec) -> None:
        anchors = self._anchors(spec)
        if anchors is None:
            return
        number = 0
        for anchor in anchors:
            for offset in spec.offsets_days:
                number += 1
                if anchor is MISSING:
                    continue
                need = anchored_need(self.start_date, spec, anchor, offset)
                self._place(spec, self._key(spec, number), number, need, anchor)

    # -- needs ----------------------------------------------------------------------------

    def _place(
        self,
        spec: ItemSpec,
        key: str,
        number: int,
        need: Need,
        anchor: PlannedItem | None,
    ) -> PlannedItem | None:
        hint = self.hints.get(key)
        depends_on = anchor.key if anchor is not None else None
        if hint is not None and hint.mode == "cancelled":
            return None
        if hint is not None and hint.mode == "fixed" and hint.item is not None:
            return self._commit(hint.item, spec)
        if hint is not None and hint.mode == "moved" and hint.start is not None:
            return self._place_moved(spec, key, number, need, hint.start, depends_on)
        if hint is not None and hint.mode == "prefer" and hint.start is not None:
            broken = self._violation(spec, need, hint.start, check_day=True)
            if broken is None:
                return self._commit(self._build(spec, key, number, hint.start, depends_on), spec)
            start = self._search(spec, need, key)
            if start is None:
                start = self._relaxed(spec, key, need)
            self.changes.append(PlanChange(key, hint.start, start, broken))
        elif hint is not None and hint.mode == "missed":
            need.days = [d for d in need.days if d >= self._today(spec)]
            start = self._search(spec, need, key) or self._relaxed(spec, key, need)
            self.changes.append(PlanChange(key, hint.start, start, hint.reason))
        else:
            start = self._search(spec, need, key)
            if start is None and self.relax and self.hints:
                start = self._relaxed(spec, key, need)
        if start is None:
            if not spec.required:
                self.notes.append(
                    PlanNote("item.skipped", f"{spec.title} was left out: {need.failure_text}", key)
                )
                return None
            error = PlanningError(
                need.failure_text[0].upper() + need.failure_text[1:],
                rule=need.failure_rule,
                field=spec.key,
            )
            # Backtrack: the item this one hangs on (its anchor, or the previous item of its
            # series) tries another day, unless a re-plan pinned it.
            blocker = anchor if anchor is not None else need.min_gap_from
            if blocker is not None and blocker.key not in self.hints and not self.final:
                prefix = tuple(self.trail[: self.prefix_of[blocker.key]])
                raise AnchorConflict((blocker.key, blocker.local_date, prefix), error)
            raise error
        return self._commit(self._build(spec, key, number, start, depends_on), spec)

    def _place_moved(
        self,
        spec: ItemSpec,
        key: str,
        number: int,
        need: Need,
        start: datetime,
        depends_on: str | None,
    ) -> PlannedItem:
        if start < self.now:
            raise PlanningError(
                f"{key} cannot be moved into the past", rule="replan.moved_to_past", field=key
            )
        title = spec.title if not spec.numbered else f"{spec.title} {number}"
        when = f"{start.astimezone(self.clinic.zone):%a %d %b %H:%M}"
        busy = self.options.provider_busy
        if spec.on_site and not self.clinic.fits(start, spec.minutes_needed):
            raise PlanningError(
                f"{title} cannot move to {when}: "
                f"{self.clinic.why_closed(start, spec.minutes_needed)}"
                f"{self.clinic.next_free_text(start, spec.minutes_needed, busy=busy)}",
                rule="calendar.closed",
                field=key,
            )
        if spec.on_site and self._provider_busy_at(start, spec.minutes_needed):
            raise PlanningError(
                f"{title} cannot move to {when}: the provider has another patient's session "
                f"then{self.clinic.next_free_text(start, spec.minutes_needed, busy=busy)}",
                rule="provider.double_booked",
                field=key,
            )
        broken = self._violation(spec, need, start, check_day=True)
        if broken is not None:
            self.notes.append(PlanNote("replan.rule_broken", f"{key} as moved: {broken}", key))
        old = self.hints[key].item
        self.changes.append(PlanChange(key, old.start if old else None, start, "moved by request"))
        return self._commit(self._build(spec, key, number, start, depends_on), spec)

    def _relaxed(self, spec: ItemSpec, key: str, need: Need) -> datetime | None:
        """Re-plan fallback: keep clinic hours and minimum gaps, drop maximum gaps and spans."""
        first = max(need.days[0] if need.days else self._today(spec), self._today(spec))
        relaxed = Need(
            days=[first + timedelta(days=i) for i in range(RELAXED_SEARCH_DAYS)],
            min_start=need.min_start,
            max_end=need.max_end,
            min_gap_from=need.min_gap_from,
            min_gap=need.min_gap,
        )
        start = self._search(spec, relaxed)
        if start is not None:
            self.notes.append(
                PlanNote(
                    "replan.rule_relaxed",
                    f"{key}: {need.failure_rule} could not be kept after the change; "
                    f"{need.failure_text}",
                    key,
                )
            )
        return start

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

    # -- building -------------------------------------------------------------------------

    def _key(self, spec: ItemSpec, number: int) -> str:
        return f"{spec.key}-{number}" if spec.numbered else spec.key

    def _build(
        self, spec: ItemSpec, key: str, number: int, start: datetime, depends_on: str | None
    ) -> PlannedItem:
        zone = self._zone(spec)
        local = start.astimezone(zone)
        if not spec.on_site and spec.local_time is not None:
            _, kind = resolve_local(local.date(), spec.local_time, zone)
            if kind is LocalTimeKind.GAP:
                self.notes.append(
                    PlanNote(
                        "dst.gap",
                        f"{key}: {spec.local_time:%H:%M} does not exist on {local.date()} in "
                        f"{zone.key}; moved forward by the length of the DST gap",
                        key,
                    )
                )
        return PlannedItem(
            key=key,
            kind=spec.kind,
            sequence=0,
            title=f"{spec.title} {number}" if spec.numbered else spec.title,
            start=start,
            end=start + timedelta(minutes=spec.minutes_needed),
            local_date=local.date(),
            local_time=local.time().replace(tzinfo=None),
            time_zone=zone.key,
            provider_role=spec.provider_role,
            observation_minutes=spec.observation_minutes,
            depends_on=depends_on,
            spec_key=spec.key,
            on_site=spec.on_site,
        )

    def _commit(self, item: PlannedItem, spec: ItemSpec) -> PlannedItem:
        self.placed[item.key] = item
        self.prefix_of[item.key] = len(self.trail)
        self.trail.append((item.key, item.local_date))
        number = int(item.key.rsplit("-", 1)[1]) if spec.numbered else 1
        self.by_spec.setdefault(spec.key, {})[number] = item
        if item.on_site:
            self.busy.append((item.start, item.end))
        return item
