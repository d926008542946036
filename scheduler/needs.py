"""What an item needs: candidate days in search order and the instants it must respect.

``placement`` asks these functions for an item's needs, then searches (or, in a re-plan, checks
an existing time) against them, so "still valid" and "would be chosen" share one definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .errors import PlanningError
from .model import PlannedItem
from .protocol import ItemSpec, Series

__all__ = [
    "MAX_BACKTRACKS",
    "AnchorConflict",
    "Hint",
    "Need",
    "anchored_need",
    "gap_need",
    "outward",
]

DEFAULT_SEARCH_DAYS = 14


@dataclass(frozen=True)
class Hint:
    """What a re-plan (or ``fixed``) knows about an item before placing it.

    ``fixed``: keep the given item untouched (completed, past, or pinned by the caller).
    ``moved``: the caller chose ``start``; keep it if the clinic is open then.
    ``prefer``: keep ``start`` unless a rule now breaks. ``missed``: find a new time after now.
    ``cancelled``: leave the item out (items anchored to it disappear with it).
    """

    mode: str
    start: datetime | None = None
    item: PlannedItem | None = None
    reason: str = ""


# Retries before the search gives up and reports the first conflict. An exact search over a
# six-dose course around Easter needed 47 (Sydney 2025); refusing an impossible one costs about
# 200 placements of the plan, a fraction of a second.
MAX_BACKTRACKS = 200


class AnchorConflict(Exception):
    """Internal: an anchored item found no time; ``ban`` is the anchor's (key, day, placements
    before it) to avoid."""

    def __init__(self, ban: tuple[str, date, tuple], error: PlanningError) -> None:
        super().__init__(str(error))
        self.ban = ban
        self.error = error


@dataclass
class Need:
    """Candidate local days (in search order) plus the bounds a start must respect.

    ``failure_rule``/``failure_text`` say, in the error's terms, what cannot be met when no day
    works. ``before_item`` is an item this one must end before (``ItemSpec.before``).
    """

    days: list[date]
    min_start: datetime | None = None
    max_end: datetime | None = None
    min_gap_from: PlannedItem | None = None
    min_gap: timedelta = timedelta(0)
    failure_rule: str = "calendar.no_slot"
    failure_text: str = ""
    before_item: PlannedItem | None = None


def anchored_need(
    start_date: date, spec: ItemSpec, anchor: PlannedItem | None, offset: int
) -> Need:
    """Needs of an item placed ``offset`` days (plus the spec's window) from ``anchor``.

    Without an anchor the offset counts from the plan's start date. Items whose whole window
    lies after the anchor must start after it ends; items wholly before must end before it.
    """
    base = anchor.local_date if anchor is not None else start_date
    target = base + timedelta(days=offset)
    low, high = spec.window_days
    need = Need(days=outward(target, low, high))
    if anchor is not None:
        if offset + low >= 0:
            need.min_start = anchor.end
        elif offset + high <= 0:
            need.max_end = anchor.start
        what = f"between {offset + low} and {offset + high} days from {anchor.title}"
    else:
        what = f"between {offset + low} and {offset + high} days from the start date {base}"
    need.failure_text = f"no feasible time for {spec.title} {what}"
    return need


def gap_need(
    spec: ItemSpec,
    series: Series,
    index: int,
    previous: PlannedItem,
    first_date: date | None,
) -> Need:
    """Needs of item ``index`` (0-based) of a series, spaced from the ``previous`` one.

    The target day is the phase's gap after the previous item; the search then goes later up
    to the phase's maximum gap, then earlier. The minimum gap is elapsed hours; the maximum gap
    and the series span are calendar days.
    """
    phase = series.phase_for(index)
    start_of_phase = 0
    for earlier in series.phases:
        if start_of_phase + earlier.count > index:
            break
        start_of_phase += earlier.count
    position = index - start_of_phase - (1 if start_of_phase == 0 else 0)
    gap = phase.gap_days[position % len(phase.gap_days)]
    longest = phase.max_gap_days if phase.max_gap_days is not None else gap + DEFAULT_SEARCH_DAYS
    target = previous.local_date + timedelta(days=gap)
    days = outward(target, 1 - gap, longest - gap)
    rule = "spacing.max_gap"
    if series.max_span_days is not None and first_date is not None:
        limit = first_date + timedelta(days=series.max_span_days)
        if any(d > limit for d in days):
            days = [d for d in days if d <= limit]
            rule = "spacing.window"
    return Need(
        days=days,
        min_start=previous.end,
        min_gap_from=previous,
        min_gap=timedelta(hours=phase.min_gap_hours),
        failure_rule=rule,
        failure_text=(
            f"no feasible time for {spec.title} {index + 1} within {longest} days of "
            f"{previous.title}"
            + (f" ({phase.min_gap_hours:g} h apart at least)" if phase.min_gap_hours else "")
            + (
                f" and within {series.max_span_days} days of the first one"
                if series.max_span_days
                else ""
            )
        ),
    )


# -- placing one item -----------------------------------------------------------------


def outward(target: date, low: int, high: int) -> list[date]:
    """Days ``target+low .. target+high`` in search order: the target, later days, earlier days."""
    later = [target + timedelta(days=i) for i in range(max(low, 0), high + 1)]
    earlier = [target + timedelta(days=i) for i in range(min(-1, high), low - 1, -1)]
    return later + earlier
