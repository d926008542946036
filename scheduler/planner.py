"""``build_plan`` and ``replan``: the two entry points the backend calls.

Both are pure: everything they need comes in as arguments (including ``now``), and they return a
new frozen ``Plan``. ``replan`` starts from the previous plan and changes as little as possible:
completed and past items stay where they are, a moved item goes where it was asked to, a missed
one goes to the next feasible time, and every other item keeps its time unless a rule would now
break -- then it moves and ``Plan.changes`` says why. Reminders of items that did not move are
carried over unchanged (same keys, same send times), so the backend's outbox rows stay put.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime

from .budget import apply_sms_budget
from .calendar import ClinicCalendar
from .errors import PlanningError
from .model import Plan, PlanChange, PlannedItem, PlannedReminder, PlanNote
from .placement import Hint, Placer
from .preferences import PatientPreferences, PlanOptions
from .protocol import Protocol, ReminderRule
from .reminders import ReminderBuilder
from .timeutil import require_aware

__all__ = ["build_plan", "effective_rules", "replan"]


def effective_rules(protocol: Protocol, options: PlanOptions) -> tuple[ReminderRule, ...]:
    """The protocol's reminder rules with this plan's overrides applied (and validated)."""
    from .protocol_parse import rule_from_dict

    known = {rule.id for rule in protocol.reminder_rules}
    unknown = sorted(set(options.reminder_overrides) - known)
    if unknown:
        raise PlanningError(
            f"Reminder override for unknown rule(s) {', '.join(unknown)}",
            rule="options.reminder_override",
            field="reminder_overrides",
        )
    rules = []
    for rule in protocol.reminder_rules:
        if rule.id not in options.reminder_overrides:
            rules.append(rule)
            continue
        override = options.reminder_overrides[rule.id]
        if override is None:
            continue  # switched off for this plan
        merged = {**rule.to_dict(), **dict(override), "id": rule.id}
        rules.append(rule_from_dict(merged, f"reminder_overrides.{rule.id}"))
    return tuple(rules)


def _check_common(clinic: ClinicCalendar, patient: PatientPreferences, now: datetime) -> datetime:
    now_utc = require_aware(now, "now")
    if patient.preferred_weekdays is not None and not (
        patient.preferred_weekdays & clinic.open_weekdays()
    ):
        raise PlanningError(
            "None of the patient's preferred weekdays is a day the clinic opens",
            rule="preferences.contradictory",
            field="preferred_weekdays",
        )
    return now_utc


def _ordered(items: Sequence[PlannedItem]) -> tuple[PlannedItem, ...]:
    """Items by start (placement order breaks ties), renumbered 1..n; an item that is the only
    one of its spec loses its number in its title ("Prescriber review", not "... review 1")."""
    indexed = sorted(enumerate(items), key=lambda pair: (pair[1].start, pair[0]))
    per_spec = Counter(item.spec_key for item in items)
    return tuple(
        replace(
            item, sequence=n, title=_alone(item) if per_spec[item.spec_key] == 1 else item.title
        )
        for n, (_, item) in enumerate(indexed, start=1)
    )


def _alone(item: PlannedItem) -> str:
    if item.key == f"{item.spec_key}-1" and item.title.endswith(" 1"):
        return item.title[:-2]
    return item.title


def _start_note(items, start_date: date, clinic: ClinicCalendar) -> PlanNote | None:
    """Say so when the course cannot begin on the start date the coordinator chose."""
    on_site = [i for i in items if i.on_site]
    if not on_site or clinic.is_working_day(start_date):
        return None
    first = min(on_site, key=lambda i: i.start)
    if first.local_date <= start_date:
        return None
    return PlanNote(
        "start.moved",
        f"{first.title} is on {first.local_date:%a %d %b}, not on the start date "
        f"{start_date:%a %d %b}: {clinic.why_closed_day(start_date)}",
        first.key,
    )


def _sorted_reminders(reminders: Sequence[PlannedReminder]) -> tuple[PlannedReminder, ...]:
    return tuple(sorted(reminders, key=lambda r: (r.send_at, r.key)))


def build_plan(
    *,
    protocol: Protocol,
    start_date: date,
    clinic: ClinicCalendar,
    patient: PatientPreferences,
    now: datetime,
    options: PlanOptions | None = None,
    fixed: Sequence[PlannedItem] = (),
) -> Plan:
    """Build a dated plan with all its reminders.

    ``start_date`` is a clinic-local date, not before today in the clinic's zone. ``fixed`` items
    (matched by key) keep their times. Raises ``PlanningError`` when a rule cannot be met.
    """
    options = options or PlanOptions()
    now_utc = _check_common(clinic, patient, now)
    if not isinstance(start_date, date) or isinstance(start_date, datetime):
        raise PlanningError("start_date must be a date", rule="start_date.type", field="start_date")
    today = now_utc.astimezone(clinic.zone).date()
    if start_date < today:
        raise PlanningError(
            f"The start date {start_date} is in the past (today is {today} at the clinic)",
            rule="start_date.in_past",
            field="start_date",
        )
    placer = Placer(
        protocol=protocol,
        clinic=clinic,
        patient=patient,
        now=now_utc,
        start_date=start_date,
        options=options,
        hints={item.key: Hint("fixed", item=item) for item in fixed},
    )
    items = _ordered(placer.run())
    unknown = sorted({item.key for item in fixed} - {item.key for item in items})
    if unknown:
        raise PlanningError(
            f"Fixed item(s) {', '.join(unknown)} are not part of this protocol's plan",
            rule="fixed.unknown_item",
            field="fixed",
        )
    builder = ReminderBuilder(effective_rules(protocol, options), clinic, patient, now_utc)
    notes = placer.notes
    if (moved_start := _start_note(items, start_date, clinic)) is not None:
        notes.insert(0, moved_start)
    reminders = apply_sms_budget(builder.build(items), patient, options, builder.notes)
    notes.extend(builder.notes)
    return Plan(
        protocol_slug=protocol.slug,
        protocol_version=protocol.version,
        items=items,
        reminders=_sorted_reminders(reminders),
        notes=tuple(notes),
    )


def _check_keys(plan: Plan, **groups: Collection[str]) -> None:
    known = {item.key for item in plan.items}
    for name, keys in groups.items():
        unknown = sorted(set(keys) - known)
        if unknown:
            raise PlanningError(
                f"{', '.join(unknown)} is not an item of this plan",
                rule="replan.unknown_item",
                field=name,
            )


def _hints(
    plan: Plan,
    now: datetime,
    moved: Mapping[str, datetime],
    missed: Collection[str],
    cancelled: Collection[str],
    completed: Collection[str],
) -> dict[str, Hint]:
    hints: dict[str, Hint] = {}
    for item in plan.items:
        key = item.key
        if key in cancelled:
            hints[key] = Hint("cancelled", start=item.start, item=item)
        elif key in completed:
            if key in moved or key in missed:
                raise PlanningError(
                    f"{key} is completed and cannot also be moved or missed",
                    rule="replan.completed",
                    field=key,
                )
            hints[key] = Hint("fixed", item=item)
        elif key in missed:
            reason = "missed: rescheduled to the next feasible time"
            hints[key] = Hint("missed", start=item.start, item=item, reason=reason)
        elif key in moved:
            new_start = require_aware(moved[key], f"moved.{key}")
            hints[key] = Hint("moved", start=new_start, item=item)
        elif item.start < now:
            hints[key] = Hint("fixed", item=item)
        else:
            hints[key] = Hint("prefer", start=item.start, item=item)
    return hints


def replan(
    *,
    plan: Plan,
    protocol: Protocol,
    clinic: ClinicCalendar,
    patient: PatientPreferences,
    now: datetime,
    moved: Mapping[str, datetime] | None = None,
    missed: Collection[str] = (),
    cancelled: Collection[str] = (),
    completed: Collection[str] = (),
    options: PlanOptions | None = None,
) -> Plan:
    """Re-plan after a reschedule, a missed or cancelled item, or completed items.

    Moves only what must move and reports each move in ``Plan.changes``; reminders of items that
    keep their time are carried over unchanged. Raises ``PlanningError`` for unknown item keys,
    a move into the past or outside opening hours, or when no feasible time remains.
    """
    moved = dict(moved or {})
    options = options or PlanOptions()
    now_utc = _check_common(clinic, patient, now)
    _check_keys(plan, moved=moved, missed=missed, cancelled=cancelled, completed=completed)
    old = {item.key: item for item in plan.items}
    first_day = min((i.local_date for i in plan.items), default=now_utc.date())
    placer = Placer(
        protocol=protocol,
        clinic=clinic,
        patient=patient,
        now=now_utc,
        start_date=first_day,
        options=options,
        hints=_hints(plan, now_utc, moved, missed, cancelled, completed),
        relax=True,
    )
    items = _ordered(placer.run())
    changes = list(placer.changes)
    new_keys = {item.key for item in items}
    for key, item in old.items():
        if key not in new_keys:
            if key in cancelled:
                reason = "cancelled by request"
            elif item.depends_on in cancelled:
                reason = f"removed: it follows {item.depends_on}, which was cancelled"
            else:
                reason = "removed: no longer part of the plan"
            changes.append(PlanChange(key, item.start, None, reason))

    unchanged = {
        item.key
        for item in items
        if item.key in old
        and item.key not in missed
        and (old[item.key].start, old[item.key].end) == (item.start, item.end)
    }
    kept = [r for r in plan.reminders if r.item_key is None or r.item_key in unchanged]
    builder = ReminderBuilder(effective_rules(protocol, options), clinic, patient, now_utc)
    fresh = builder.build((i for i in items if i.key not in unchanged), context=items)
    fresh = apply_sms_budget(fresh, patient, options, builder.notes, committed=kept)
    notes = [n for n in plan.notes if n.item_key in unchanged and not n.code.startswith("replan")]
    notes.extend(placer.notes)
    notes.extend(builder.notes)
    for change in changes:
        notes.append(PlanNote(f"replan.{_verb(change)}", _describe(change), change.item_key))
    return Plan(
        protocol_slug=plan.protocol_slug,
        protocol_version=plan.protocol_version,
        items=items,
        reminders=_sorted_reminders([*kept, *fresh]),
        notes=tuple(notes),
        changes=tuple(changes),
    )


def _verb(change: PlanChange) -> str:
    return "removed" if change.new_start is None else "moved"


def _describe(change: PlanChange) -> str:
    if change.new_start is None:
        return f"{change.item_key} {change.reason}"
    return (
        f"{change.item_key} moved from {change.old_start:%Y-%m-%d %H:%M} UTC to "
        f"{change.new_start:%Y-%m-%d %H:%M} UTC ({change.reason})"
    )
