"""Write an engine plan onto the database rows of a treatment plan, moving only what changed.

Reminder rows are keyed by the engine's stable keys, so re-planning is an UPDATE of the rows
that moved, an INSERT of new ones and a cancellation of those the new plan no longer has;
nothing is ever queued in Celery that would need revoking. Rows already sent, failed, skipped
or expired are history and stay as they are; a row a worker has handed to the provider is not
moved, and a cancel reaches every pending row (backend.reminders.outbox owns those changes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from simple_history.utils import bulk_create_with_history, bulk_update_with_history

import scheduler
from backend.core.timefmt import local_label
from backend.plans import engine
from backend.plans.calendar_notices import STAFF_RULE
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders import outbox
from backend.reminders.models import Reminder


@dataclass
class Moved:
    label: str
    old: dt.datetime | None
    new: dt.datetime | None
    key: str = ""


@dataclass
class SyncResult:
    items_created: int = 0
    items_moved: list[Moved] = field(default_factory=list)
    items_cancelled: list[str] = field(default_factory=list)
    item_keys_cancelled: list[str] = field(default_factory=list)
    reminders_created: int = 0
    reminders_moved: list[Moved] = field(default_factory=list)
    reminders_cancelled: int = 0

    def summary(self, zone: str = "UTC") -> str:
        """What changed, in plain words; times in ``zone`` (the clinic's), named."""
        parts = []
        if self.items_moved:
            parts.append(
                "moved "
                + ", ".join(f"{m.label} to {local_label(m.new, zone)}" for m in self.items_moved)
            )
        if self.reminders_moved:
            parts.append(f"{_count(len(self.reminders_moved), 'reminder')} moved with them")
        if self.items_cancelled:
            parts.append("withdrew " + ", ".join(self.items_cancelled))
        if self.reminders_cancelled:
            parts.append(f"{_count(self.reminders_cancelled, 'pending reminder')} cancelled")
        if self.reminders_created:
            parts.append(f"{_count(self.reminders_created, 'reminder')} added")
        return "; ".join(parts) or "nothing changed"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _sync_items(plan: TreatmentPlan, engine_plan: scheduler.Plan, result: SyncResult) -> dict:
    rows = {row.key: row for row in plan.items.all()}
    new, changed = [], []
    for planned in engine_plan.items:
        row = rows.get(planned.key)
        if row is None:
            row = PlanItem(plan=plan, key=planned.key, **engine.item_row_values(planned))
            if planned.kind != PlanItem.Kind.TASK:
                row.provider = plan.provider
            new.append(row)
            rows[planned.key] = row
            continue
        if row.status != PlanItem.Status.SCHEDULED:
            continue
        values = engine.item_row_values(planned)
        if any(getattr(row, k) != v for k, v in values.items()):
            if row.start != planned.start:
                result.items_moved.append(Moved(row.title, row.start, planned.start, row.key))
                row.calendar_sequence += 1
            for k, v in values.items():
                setattr(row, k, v)
            changed.append(row)
    planned_keys = {p.key for p in engine_plan.items}
    for key, row in rows.items():
        if key not in planned_keys and row.status == PlanItem.Status.SCHEDULED and row.pk:
            row.status = PlanItem.Status.CANCELLED
            row.calendar_sequence += 1
            result.items_cancelled.append(row.title)
            result.item_keys_cancelled.append(key)
            changed.append(row)
    bulk_create_with_history(new, PlanItem)
    if changed:
        bulk_update_with_history(
            changed,
            PlanItem,
            [
                *engine.ITEM_FIELDS,
                "provider_role",
                "observation_minutes",
                "depends_on",
                "status",
                "calendar_sequence",
            ],
        )
    result.items_created = len(new)
    return rows


def _sync_reminders(
    plan: TreatmentPlan,
    engine_plan: scheduler.Plan,
    items: dict,
    now: dt.datetime,
    reason: str,
    result: SyncResult,
) -> None:
    # Locked, so a worker cannot take a row between this read and the write below: it either
    # handed it to the provider before (`at_provider`, by the database's clock) or finds it
    # changed after (backend.reminders.outbox.begin_send).
    rows = {}
    locked = (
        plan.reminders.exclude(rule=STAFF_RULE)
        .order_by("id")
        .select_for_update()
        .annotate(at_provider=outbox.at_provider_annotation())
    )
    for r in locked:
        rows[base_key(r.key)] = r  # the latest row of each engine key
    new, moved, cancelled = [], [], []
    for planned in engine_plan.reminders:
        item = items.get(planned.item_key) if planned.item_key else None
        row = rows.get(base_key(planned.key))
        values = engine.reminder_row_values(planned)
        if row is None:
            recipient = (
                {"patient": plan.patient}
                if planned.audience == Reminder.Audience.PATIENT
                else {"provider": (item.provider if item and item.provider_id else plan.provider)}
            )
            new.append(Reminder(plan=plan, item=item, key=planned.key, **values, **recipient))
            continue
        if row.status not in Reminder.PENDING and _rearm(row, planned, now):
            # Its session moved after it went out: the patient needs it again for the new date.
            key = outbox.copy_key(plan.pk, row.key)
            new.append(_copy_for(row, key=key, values=values, item=item))
            result.reminders_moved.append(Moved(planned.key, row.send_at, planned.send_at))
            continue
        if row.status not in Reminder.PENDING or row.at_provider:
            continue
        if any(getattr(row, k) != v for k, v in values.items()):
            if row.send_at != planned.send_at:
                result.reminders_moved.append(Moved(row.key, row.send_at, planned.send_at))
            for k, v in values.items():
                setattr(row, k, v)
            moved.append(row)
    planned_keys = {base_key(r.key) for r in engine_plan.reminders}
    for key, row in rows.items():  # keys here are engine keys (base_key)
        if key not in planned_keys and row.status in Reminder.PENDING:
            cancelled.append(row)  # a cancel wins, in flight too (backend.reminders.outbox)
            result.reminders_cancelled += 1
    bulk_create_with_history(new, Reminder)
    outbox.reschedule_rows(moved, fields=engine.REMINDER_FIELDS)
    outbox.cancel_rows(cancelled, reason=reason)
    result.reminders_created = len(new)


base_key = outbox.base_key  # copies are named by one rule (backend.reminders.outbox.copy_key)


def _rearm(row: Reminder, planned: scheduler.PlannedReminder, now: dt.datetime) -> bool:
    return (
        row.status != Reminder.Status.CANCELLED
        and planned.send_at != row.send_at
        and planned.send_at > now
    )


def _copy_for(row: Reminder, *, key: str, values: dict, item) -> Reminder:
    return Reminder(
        plan_id=row.plan_id,
        item=item,
        key=key,
        patient_id=row.patient_id,
        provider_id=row.provider_id,
        **values,
    )


def apply_engine_plan(
    plan: TreatmentPlan, engine_plan: scheduler.Plan, *, now: dt.datetime, reason: str
) -> SyncResult:
    """Make the plan's rows say what `engine_plan` says. Call inside the caller's transaction."""
    result = SyncResult()
    items = _sync_items(plan, engine_plan, result)
    _sync_reminders(plan, engine_plan, items, now, reason, result)
    plan.planning_notes = [
        {"code": n.code, "message": n.message, "item": n.item_key, "reminder": n.reminder_key}
        for n in engine_plan.notes
    ]
    return result
