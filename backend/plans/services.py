"""Every state change of a treatment plan, one function each, one transaction each.

The admin, the API and the Celery tasks all call these; none of them changes a plan, an item or
a reminder any other way. Each function locks the plan row first (SELECT ... FOR UPDATE on
PostgreSQL; SQLite's IMMEDIATE transactions serialise writers), so two coordinators rescheduling
the same plan at once cannot lose each other's update: the second re-plans on top of the first.
Errors from the planning engine become ValidationError keyed by the field they concern.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

import scheduler
from backend.clinics.models import Provider
from backend.core.timefmt import local_label
from backend.patients import services as patient_services
from backend.patients.models import Patient
from backend.plans import engine, selectors, session_requests
from backend.plans.calendar_notices import NOTICE_KINDS, STAFF_RULE, add_calendar_notices
from backend.plans.missed import follow_up_missed
from backend.plans.models import PlanItem, TreatmentPlan
from backend.plans.sync import SyncResult, apply_engine_plan
from backend.protocols.models import Protocol
from backend.reminders import outbox
from backend.reminders.models import Reminder
from scheduler.model import SESSION_KINDS

# Engine field names -> the input field a form or serializer shows the error on.
_FIELD_MAP = {
    "start_date": "start_date",
    "patient.time_zone": "patient",
    "preferred_weekdays": "patient",
    "earliest_time": "patient",
    "quiet_start": "patient",
    "quiet_end": "patient",
    "time_zone": "patient",
    "new_start": "new_start",
}


def planning_error_to_validation_error(
    exc: scheduler.PlanningError, moved_keys: Iterable[str] = ()
) -> ValidationError:
    """The engine's error as a form/API error on the field the person actually filled in.

    When an item is being moved, the engine names the item's key; the person typed its new start.
    """
    field = "new_start" if exc.field in moved_keys else _FIELD_MAP.get(exc.field or "")
    message = str(exc)  # the engine's words, which end with "(rule: ...)" once
    return ValidationError({field: message} if field else message, code=exc.rule)


# Nothing is planned further ahead than this; it also keeps dates far from datetime's limits.
PLANNING_HORIZON = dt.timedelta(days=2 * 366)


@dataclass(frozen=True)
class PlanChangeResult:
    plan: TreatmentPlan
    sync: SyncResult

    @property
    def summary(self) -> str:
        """What changed, with times in the clinic's zone, named."""
        return self.sync.summary(self.plan.clinic.time_zone)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


def _engine_inputs(
    patient: Patient,
    clinic,
    options: dict | None,
    *,
    provider: Provider,
    now: dt.datetime,
    plan: TreatmentPlan | None = None,
    replaces: Iterable[TreatmentPlan] = (),
):
    excluded = [p.pk for p in (plan, *replaces) if p is not None]
    busy = selectors.provider_busy(provider, now=now, exclude_plans=excluded)
    return (
        engine.clinic_calendar(clinic),
        engine.patient_preferences(patient),
        engine.plan_options(options, clinic, busy=busy),
    )


def _check_people(*, patient: Patient, provider: Provider, protocol: Protocol) -> None:
    if provider.clinic_id != patient.clinic_id:
        raise ValidationError({"provider": "The provider must work at the patient's clinic."})
    if not provider.active:
        raise ValidationError({"provider": "This provider is not active."})
    if not protocol.is_active:
        raise ValidationError(
            {"protocol": "This protocol version is retired; choose a current one."}
        )
    if protocol.clinic_id is not None and protocol.clinic_id != patient.clinic_id:
        raise ValidationError(
            {"protocol": "This protocol belongs to another clinic (rule: protocol.other_clinic)."}
        )


def plan_preview(
    *,
    patient: Patient,
    protocol: Protocol,
    start_date: dt.date,
    provider: Provider,
    options: dict | None = None,
    replaces: Iterable[TreatmentPlan] = (),
    now: dt.datetime | None = None,
) -> scheduler.Plan:
    """The plan `plan_create` would save, without saving anything. The sessions of plans it
    ``replaces`` do not keep the provider busy."""
    _check_people(patient=patient, provider=provider, protocol=protocol)
    if start_date > _now(now).date() + PLANNING_HORIZON:
        raise ValidationError(
            {
                "start_date": "A course can start at most two years ahead "
                "(rule: start_date.too_far)."
            },
            code="start_date.too_far",
        )
    calendar, prefs, opts = _engine_inputs(
        patient, patient.clinic, options, provider=provider, now=_now(now), replaces=replaces
    )
    try:
        return scheduler.build_plan(
            protocol=protocol.engine_protocol(),
            start_date=start_date,
            clinic=calendar,
            patient=prefs,
            now=_now(now),
            options=opts,
        )
    except scheduler.PlanningError as exc:
        raise planning_error_to_validation_error(exc) from exc


@transaction.atomic
def plan_create(
    *,
    patient: Patient,
    protocol: Protocol,
    start_date: dt.date,
    provider: Provider,
    options: dict | None = None,
    notes: str = "",
    created_by=None,
    replaces: Iterable[TreatmentPlan] = (),
    now: dt.datetime | None = None,
) -> PlanChangeResult:
    """Build the plan with the engine and write the plan, its items and its reminders at once.

    ``replaces``: the patient's plans this one takes over from, cancelled in the same transaction
    (after the new plan exists, so the links the patient holds stay valid).
    """
    replaces = list(replaces)
    if any(old.patient_id != patient.pk for old in replaces):
        raise ValidationError({"existing_plans": "Only the patient's own plans can be replaced."})
    engine_plan = plan_preview(
        patient=patient,
        protocol=protocol,
        start_date=start_date,
        provider=provider,
        options=options,
        replaces=replaces,
        now=now,
    )
    plan = TreatmentPlan.objects.create(
        patient=patient,
        clinic=patient.clinic,
        provider=provider,
        protocol=protocol,
        start_date=start_date,
        status=TreatmentPlan.Status.ACTIVE,
        options=options or {},
        notes=notes,
        created_by=created_by,
    )
    sync = apply_engine_plan(plan, engine_plan, now=_now(now), reason="plan created")
    plan.save(update_fields=["planning_notes"])
    for old in replaces:
        plan_cancel(plan=old, reason="replaced by a new plan", now=now)
    return PlanChangeResult(plan, sync)


def live_plans(patient: Patient) -> list[TreatmentPlan]:
    """The patient's plans still under way (active or paused): a new one would overlap them."""
    live = (TreatmentPlan.Status.ACTIVE, TreatmentPlan.Status.PAUSED)
    return list(patient.plans.filter(status__in=live).select_related("protocol"))


def _locked_plan(plan_id: int) -> TreatmentPlan:
    """Lock the plan row for this transaction and count the change in its revision.

    The UPDATE takes the same row lock SELECT ... FOR UPDATE would, so concurrent changes of one
    plan queue up here; the revision tells read-side caches that something changed.
    """
    TreatmentPlan.objects.filter(pk=plan_id).update(revision=F("revision") + 1)
    return (
        TreatmentPlan.objects.select_for_update()
        .select_related("patient", "clinic", "provider", "protocol")
        .get(pk=plan_id)
    )


def _replan(
    plan: TreatmentPlan,
    *,
    now: dt.datetime,
    reason: str,
    moved=None,
    missed=(),
    cancelled=(),
    rebuild_reminders: bool = False,
) -> SyncResult:
    """Re-plan a locked plan with the engine and write the difference.

    `rebuild_reminders` recomputes every reminder (after a pause, when none are pending);
    otherwise the engine keeps the reminders of items that did not move.
    """
    items = list(plan.items.all())
    reminders = list(
        plan.reminders.select_related("item")
        .filter(status__in=Reminder.PENDING)
        .exclude(rule=STAFF_RULE)
    )
    current = engine.engine_plan_from_rows(plan, items, reminders)
    calendar, prefs, opts = _engine_inputs(
        plan.patient, plan.clinic, plan.options, provider=plan.provider, now=now, plan=plan
    )
    # Completed and missed items stay where they were; only `missed` (just now) is re-placed.
    done = (PlanItem.Status.COMPLETED, PlanItem.Status.MISSED)
    completed = [i.key for i in items if i.status in done]
    missed = list(missed)
    protocol = plan.protocol.engine_protocol()
    try:
        new_plan = scheduler.replan(
            plan=current,
            protocol=protocol,
            clinic=calendar,
            patient=prefs,
            now=now,
            moved=moved or {},
            missed=missed,
            cancelled=cancelled,
            completed=completed,
            options=opts,
        )
        if rebuild_reminders:
            today = now.astimezone(calendar.zone).date()
            new_plan = scheduler.build_plan(
                protocol=protocol,
                start_date=today,
                clinic=calendar,
                patient=prefs,
                now=now,
                options=opts,
                fixed=new_plan.items,
            )
    except scheduler.PlanningError as exc:
        raise planning_error_to_validation_error(exc, moved_keys=moved or ()) from exc
    sync = apply_engine_plan(plan, new_plan, now=now, reason=reason)
    plan.save(update_fields=["planning_notes", "updated_at"])
    return sync


def _require_active(plan: TreatmentPlan, action: str) -> None:
    if plan.status not in (TreatmentPlan.Status.ACTIVE, TreatmentPlan.Status.DRAFT):
        raise ValidationError(
            {"status": f"Cannot {action}: the plan is {plan.get_status_display().lower()}."}
        )


@transaction.atomic
def item_reschedule(
    *,
    item: PlanItem,
    new_start: dt.datetime,
    now: dt.datetime | None = None,
    answered_by=None,
) -> PlanChangeResult:
    """Move one item; its reminders move with it, later items only where a rule would break.
    The patient's open requests for it are answered (``answered_by``: the staff user who moved
    it, backend.plans.session_requests)."""
    now = _now(now)
    plan = _locked_plan(item.plan_id)
    item = plan.items.get(pk=item.pk)
    _require_active(plan, "reschedule")
    if item.status != PlanItem.Status.SCHEDULED:
        raise ValidationError(
            {
                "new_start": f"{item.title} is {item.get_status_display().lower()}; only a "
                "scheduled "
                "item can be rescheduled."
            }
        )
    if timezone.is_naive(new_start):
        raise ValidationError({"new_start": "The new start needs a time zone or UTC offset."})
    if new_start <= now:
        raise ValidationError({"new_start": "The new start must be in the future."})
    if new_start > now + PLANNING_HORIZON:
        raise ValidationError({"new_start": "The new start can be at most two years ahead."})
    sync = _replan(
        plan,
        now=now,
        reason=f"{item.title} rescheduled",
        moved={item.key: new_start.astimezone(dt.UTC)},
    )
    moved = plan.items.filter(key__in=[m.key for m in sync.items_moved])
    add_calendar_notices(plan, moved, message_kind="session_changed", now=now)
    when = local_label(new_start, plan.clinic.time_zone)
    session_requests.close_for_items(
        item_ids=[item.pk], answer=f"Moved to {when}.", by=answered_by, now=now
    )
    return PlanChangeResult(plan, sync)


def _withdraw_dependent_reminders(item: PlanItem, reason: str) -> int:
    """A session that did not happen takes its day-after and follow-up messages with it."""
    return outbox.cancel(Reminder.objects.filter(item=item, requires_attended=True), reason=reason)


def _refuse_outcome_before_start(item: PlanItem, now: dt.datetime) -> None:
    """A session has an outcome only once its time has come: marking next week's session missed
    would withdraw its reminders, and re-planning it could move it earlier."""
    if item.kind in SESSION_KINDS and item.start > now:
        raise ValidationError(
            {
                "status": f"{item.title} has not started yet; record how it went once it has "
                "(rule: outcome.before_start)."
            },
            code="outcome.before_start",
        )


def _set_item_status(
    item: PlanItem, status: str, outcome_notes: str, *, now: dt.datetime | None = None
) -> tuple[TreatmentPlan, PlanItem]:
    plan = _locked_plan(item.plan_id)
    item = plan.items.get(pk=item.pk)
    if item.status in (PlanItem.Status.COMPLETED, PlanItem.Status.CANCELLED):
        raise ValidationError(
            {"status": f"{item.title} is already {item.get_status_display().lower()}."}
        )
    if status in (PlanItem.Status.COMPLETED, PlanItem.Status.MISSED):
        _refuse_outcome_before_start(item, _now(now))
    item.status = status
    if outcome_notes:
        item.outcome_notes = outcome_notes
    item.save(update_fields=["status", "outcome_notes"])
    return plan, item


@transaction.atomic
def item_mark_completed(
    *, item: PlanItem, outcome_notes: str = "", now: dt.datetime | None = None
) -> PlanItem:
    """Record that the item took place (or, for an assessment, that it was answered)."""
    _, item = _set_item_status(item, PlanItem.Status.COMPLETED, outcome_notes, now=now)
    if item.kind in (PlanItem.Kind.ASSESSMENT, PlanItem.Kind.CHECK_IN):
        # Answered: the remaining repeats of its prompt stop.
        outbox.cancel(
            Reminder.objects.filter(item=item, audience=Reminder.Audience.PATIENT),
            reason="answered",
        )
    return item


@transaction.atomic
def item_mark_missed(
    *, item: PlanItem, outcome_notes: str = "", replan: bool = False, now: dt.datetime | None = None
) -> PlanChangeResult:
    """A no-show.

    Without `replan` the item is recorded as missed and what depended on it (the day-after
    messages, follow-ups) is withdrawn; later re-plans keep it where it was. With `replan` the
    session is still owed: the engine moves it to the next feasible time, later items only where
    a rule would break, and its reminders move with it; the outcome notes say it was missed.
    Either way the miss is followed up as the protocol says (backend.plans.missed: a welfare call
    for staff, a message to the patient).
    """
    now = _now(now)
    if not replan:
        already = PlanItem.objects.filter(pk=item.pk, status=PlanItem.Status.MISSED).exists()
        plan, item = _set_item_status(item, PlanItem.Status.MISSED, outcome_notes, now=now)
        withdrawn = _withdraw_dependent_reminders(item, f"{item.title} was missed")
        if not already:  # a second mark of the same miss follows nothing up again
            follow_up_missed(plan=plan, item=item, missed_start=item.start, now=now)
        return PlanChangeResult(plan, SyncResult(reminders_cancelled=withdrawn))
    plan = _locked_plan(item.plan_id)
    item = plan.items.get(pk=item.pk)
    if item.status != PlanItem.Status.SCHEDULED:
        raise ValidationError(
            {
                "status": f"{item.title} is {item.get_status_display().lower()}; only a scheduled "
                "session can be re-planned."
            }
        )
    _refuse_outcome_before_start(item, now)
    missed_on = local_label(item.start, plan.clinic.time_zone, with_year=True)
    note = f"Missed on {missed_on}; re-planned. {outcome_notes}".strip()
    item.outcome_notes = note
    item.save(update_fields=["outcome_notes"])
    missed_start = item.start
    sync = _replan(plan, now=now, reason=f"{item.title} missed", missed=[item.key])
    follow_up_missed(plan=plan, item=plan.items.get(pk=item.pk), missed_start=missed_start, now=now)
    return PlanChangeResult(plan, sync)


@transaction.atomic
def item_cancel(
    *, item: PlanItem, reason: str = "", now: dt.datetime | None = None, answered_by=None
) -> PlanItem:
    _, item = _set_item_status(item, PlanItem.Status.CANCELLED, reason)
    session_requests.close_for_items(
        item_ids=[item.pk], answer="Session cancelled.", by=answered_by, now=_now(now)
    )
    item.calendar_sequence += 1
    item.save(update_fields=["calendar_sequence"])
    outbox.cancel(Reminder.objects.filter(item=item), reason=f"{item.title} cancelled")
    add_calendar_notices(item.plan, [item], message_kind="session_cancelled", now=_now(now))
    return item


def _cancel_pending(plan: TreatmentPlan, reason: str, now: dt.datetime) -> int:
    """Withdraw the plan's pending reminders. A notice of what staff changed still goes out, and
    so do the alerts of a safety flag: only a clinician's acknowledgement stops those. A kind
    word after a missed session does not: "call us to rebook" is wrong for a course that ended.
    Rows being sent are cancelled too (backend.reminders.outbox: a cancel wins)."""
    return outbox.cancel(
        Reminder.objects.filter(plan=plan)
        .exclude(rule=STAFF_RULE, message_kind__in=NOTICE_KINDS)
        .exclude(flag__isnull=False),
        reason=reason,
    )


@transaction.atomic
def plan_pause(*, plan: TreatmentPlan, now: dt.datetime | None = None) -> PlanChangeResult:
    """Stop all messages; items keep their dates until the plan is resumed and re-planned."""
    now = _now(now)
    plan = _locked_plan(plan.pk)
    _require_active(plan, "pause")
    plan.status, plan.paused_at = TreatmentPlan.Status.PAUSED, now
    plan.save(update_fields=["status", "paused_at", "updated_at"])
    return PlanChangeResult(
        plan, SyncResult(reminders_cancelled=_cancel_pending(plan, "plan paused", now))
    )


@transaction.atomic
def plan_resume(*, plan: TreatmentPlan, now: dt.datetime | None = None) -> PlanChangeResult:
    """Resume from today: items that fell in the pause move forward, reminders are re-planned."""
    now = _now(now)
    plan = _locked_plan(plan.pk)
    if plan.status != TreatmentPlan.Status.PAUSED:
        raise ValidationError({"status": "Only a paused plan can be resumed."})
    plan.status, plan.paused_at = TreatmentPlan.Status.ACTIVE, None
    plan.save(update_fields=["status", "paused_at", "updated_at"])
    # Reminders cancelled by the pause come back through the re-plan as new pending rows.
    Reminder.objects.filter(
        plan=plan, status=Reminder.Status.CANCELLED, status_reason="plan paused"
    ).delete()
    # Sessions that fell inside the pause move to the next feasible time, like a missed dose.
    overdue = [
        i.key for i in plan.items.all() if i.status == PlanItem.Status.SCHEDULED and i.start <= now
    ]
    sync = _replan(plan, now=now, reason="plan resumed", missed=overdue, rebuild_reminders=True)
    return PlanChangeResult(plan, sync)


@transaction.atomic
def plan_cancel(
    *, plan: TreatmentPlan, reason: str = "", now: dt.datetime | None = None
) -> PlanChangeResult:
    """Cancel the course: scheduled items are cancelled, pending reminders never go out."""
    now = _now(now)
    plan = _locked_plan(plan.pk)
    if plan.status in (TreatmentPlan.Status.CANCELLED, TreatmentPlan.Status.COMPLETED):
        raise ValidationError({"status": f"The plan is already {plan.status}."})
    plan.status = TreatmentPlan.Status.CANCELLED
    if reason:
        plan.notes = f"{plan.notes}\nCancelled: {reason}".strip()
    plan.save(update_fields=["status", "notes", "updated_at"])
    items = list(plan.items.filter(status=PlanItem.Status.SCHEDULED))
    for item in items:
        item.status = PlanItem.Status.CANCELLED
        item.calendar_sequence += 1  # calendars drop the session (METHOD:CANCEL, higher SEQUENCE)
    bulk_update_with_history(items, PlanItem, ["status", "calendar_sequence"])
    cancelled_ids = [item.id for item in items]
    session_requests.close_for_items(item_ids=cancelled_ids, answer="Course cancelled.", now=now)
    cancelled_titles = [item.title for item in items]
    sync = SyncResult(
        items_cancelled=cancelled_titles,
        reminders_cancelled=_cancel_pending(plan, "plan cancelled", now),
    )
    cancelled_items = plan.items.filter(id__in=cancelled_ids)
    add_calendar_notices(plan, cancelled_items, message_kind="session_cancelled", now=now)
    live = (TreatmentPlan.Status.ACTIVE, TreatmentPlan.Status.PAUSED, TreatmentPlan.Status.DRAFT)
    if not plan.patient.plans.filter(status__in=live).exists():
        # The patient's care here has ended: the links already sent stop working. The notice
        # above is rendered when it is sent, so it carries a fresh one.
        patient_services.patient_revoke_links(patient=plan.patient)
    return PlanChangeResult(plan, sync)


def finished_plans():
    """Active plans with nothing left to happen: every item has its outcome (done, missed or
    cancelled) and no reminder is waiting. Staff normally close these; backend.core.repair does
    it for the ones left open."""
    scheduled_items = PlanItem.objects.filter(plan=OuterRef("pk"), status=PlanItem.Status.SCHEDULED)
    pending = Reminder.objects.filter(plan=OuterRef("pk"), status__in=Reminder.PENDING)
    return TreatmentPlan.objects.filter(
        Exists(PlanItem.objects.filter(plan=OuterRef("pk"))),
        ~Exists(scheduled_items),
        ~Exists(pending),
        status=TreatmentPlan.Status.ACTIVE,
    )


@transaction.atomic
def plan_complete(*, plan: TreatmentPlan, now: dt.datetime | None = None) -> PlanChangeResult:
    """Close a course whose every item has its outcome. Refused, naming why, while an item is
    still scheduled or a reminder still waits: completing would silently drop them."""
    now = _now(now)
    plan = _locked_plan(plan.pk)
    _require_active(plan, "complete")
    if plan.items.filter(status=PlanItem.Status.SCHEDULED).exists():
        raise ValidationError({"status": "The plan still has scheduled items."})
    if Reminder.objects.filter(plan=plan, status__in=Reminder.PENDING).exists():
        raise ValidationError({"status": "The plan still has reminders waiting to go out."})
    plan.status = TreatmentPlan.Status.COMPLETED
    plan.notes = f"{plan.notes}\nCompleted {now:%Y-%m-%d}: every item has its outcome.".strip()
    plan.save(update_fields=["status", "notes", "updated_at"])
    return PlanChangeResult(plan, SyncResult())
