"""Placing a protocol's items on the calendar: the search behind ``build_plan`` and ``replan``.

Specs are placed in protocol order (a spec only refers to earlier ones). For each item the engine
works out its *needs* -- candidate local days in search order and the instants it must not start
before or end after -- then takes the first start on the first candidate day that breaks no rule.
The search is greedy and ordered, so the same inputs always give the same plan. The same needs
are used to judge an existing time during a re-plan, so "still valid" and "would be chosen" can
never disagree about the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from .calendar import ClinicCalendar
from .errors import PlanningError
from .model import PlanChange, PlannedItem, PlanNote
from .needs import MAX_BACKTRACKS, AnchorConflict, Hint, Need, anchored_need, gap_need
from .preferences import PatientPreferences, PlanOptions
from .protocol import ItemSpec, Protocol, Series
from .slots import SlotRules
from .timeutil import LocalTimeKind, resolve_local

__all__ = ["Hint", "Placer"]

RELAXED_SEARCH_DAYS = 21


Ban = tuple[str, date, tuple[tuple[str, date], ...]]  # (key, local day, placements before it)

MISSING: Any = object()  # an anchor instance that was cancelled or skipped


@dataclass
class Placer(SlotRules):
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
        if spec.with_anchor:
            for number, anchor in enumerate(anchors, start=1):
                if anchor is not MISSING:
                    self._place_with_anchor(spec, self._key(spec, number), number, anchor)
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
        need.before_item = self._before_target(spec)
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
        if start is None and (conflict := self._before_conflict(spec, key, need)) is not None:
            # Backtrack on the item this one must precede (dose 4 moves later), not the anchor.
            error, target = conflict
            if target.key not in self.hints and not self.final:
                prefix = tuple(self.trail[: self.prefix_of[target.key]])
                raise AnchorConflict((target.key, target.local_date, prefix), error)
            raise error
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

    def _place_with_anchor(
        self, spec: ItemSpec, key: str, number: int, anchor: PlannedItem
    ) -> PlannedItem | None:
        """Vital signs, observation: the anchor's start and span, no search, never busy time.

        A re-plan moves it with its session (also when it is marked missed); it cannot be moved
        on its own (rule ``replan.with_anchor``).
        """
        hint = self.hints.get(key)
        if hint is not None and hint.mode == "cancelled":
            return None
        if hint is not None and hint.mode == "fixed" and hint.item is not None:
            return self._commit(hint.item, spec)
        # A missed one follows its session (re-placed or not); a move of its own is refused.
        if hint is not None and hint.mode == "moved" and hint.start != anchor.start:
            raise PlanningError(
                f"{key} goes with {anchor.key}: move or mark {anchor.key} instead",
                rule="replan.with_anchor",
                field=key,
            )
        item = replace(
            self._build(spec, key, number, anchor.start, anchor.key),
            end=anchor.end,
            observation_minutes=anchor.observation_minutes,
        )
        if hint is not None and hint.start is not None and hint.start != item.start:
            self.changes.append(PlanChange(key, hint.start, item.start, f"moves with {anchor.key}"))
        return self._commit(item, spec)

    def _before_target(self, spec: ItemSpec) -> PlannedItem | None:
        """The placed item ``spec.before`` names (the earliest, if it names several)."""
        if spec.before is None:
            return None
        instances = self.by_spec.get(spec.before.spec) or {}
        numbers = sorted(instances)
        wanted = [n for n in numbers if spec.before.includes(n, tuple(numbers))]
        return instances[wanted[0]] if wanted else None

    def _before_conflict(
        self, spec: ItemSpec, key: str, need: Need
    ) -> tuple[PlanningError, PlannedItem] | None:
        """When only ``before:`` stops the item, the error to raise and the item to move."""
        target = need.before_item
        if target is None or self._search(spec, replace(need, before_item=None), key) is None:
            return None
        when = target.start.astimezone(self.clinic.zone)
        where = need.failure_text.removeprefix(f"no feasible time for {spec.title} ")
        error = PlanningError(
            f"{spec.title} must be finished before {target.title} starts "
            f"({when:%a %d %b %H:%M %Z}), and no time {where} ends before then",
            rule="order.before_item",
            field=spec.key,
        )
        return error, target

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
        if broken is not None and broken.startswith("order.before_item"):
            target = need.before_item
            assert target is not None
            raise PlanningError(
                f"{title} cannot move to {when}: it must be finished before {target.title} starts",
                rule="order.before_item",
                field=key,
            )
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
            before_item=need.before_item,
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
        if item.on_site and not spec.with_anchor:  # a vital-signs task is the session's own time
            self.busy.append((item.start, item.end))
        return item
