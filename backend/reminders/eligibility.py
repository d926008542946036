"""May this reminder still go out, now? Checked at send time, not only when planning.

Consent and opt-out can change after a plan is built, a session can be missed or cancelled, a
plan paused, an assessment answered; and quiet hours and the SMS budget depend on what actually
went out. Quiet hours and the SMS budget are the engine's rules (scheduler.preferences,
scheduler.budget), asked here with what the database knows. Each "no" carries its reason, which
the row keeps.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

import scheduler
from backend.plans import readiness
from backend.plans.calendar_notices import NOTICE_KINDS, STAFF_RULE
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders import digest
from backend.reminders.models import Reminder

ANSWERED_KINDS = {PlanItem.Kind.ASSESSMENT, PlanItem.Kind.CHECK_IN}
READINESS_ALERT_KIND = "provider_readiness_missing"
# One notice per check-in, replaced by the provider's daily digest (#15). Plans built from an
# older protocol version keep their version, and a re-plan of one still writes these rows: so
# they are held back here, at send time, where every row passes, rather than cancelled once.
REPLACED_KINDS = {"provider_checkins_tomorrow": "replaced by the daily digest"}


class Status(enum.StrEnum):
    SEND = "send"
    SKIP = "skip"  # never, for the reason given
    EXPIRED = "expired"  # too late to be useful
    LATER = "later"  # not now: at ``send_at``


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str = ""
    send_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))


SEND = Verdict(Status.SEND)


def _replaced(reminder: Reminder) -> Verdict | None:
    reason = REPLACED_KINDS.get(reminder.message_kind)
    return Verdict(Status.SKIP, reason) if reason else None


def _digest(reminder: Reminder) -> Verdict | None:
    """A digest belongs to no plan: it goes out while the provider's day still lists something
    (its words are built from the items as they stand at send time)."""
    if not digest.is_digest(reminder):
        return None
    if not digest.day_items(provider=reminder.provider, day=digest.day_of(reminder)):
        return Verdict(Status.SKIP, "nothing on the provider's list for the day any more")
    return None


def _plan_and_item(reminder: Reminder) -> Verdict | None:
    plan, item = reminder.plan, reminder.item
    if plan is None:
        return _digest(reminder)
    if reminder.flag_id is not None:
        # A safety alert does not wait on the plan (a paused or finished course is no reason to
        # keep a clinician uninformed); it stops only once a clinician has acknowledged the flag.
        if reminder.flag.acknowledged_at is not None:
            return Verdict(Status.SKIP, "flag acknowledged")
        return None
    if reminder.message_kind in NOTICE_KINDS:
        # A notice of what staff changed: its point is that sessions moved or are off, so
        # neither a paused nor a cancelled plan holds it back.
        return None
    if plan.status != TreatmentPlan.Status.ACTIVE:
        return Verdict(Status.SKIP, f"plan is {plan.status}")
    if item is None:
        return None
    if item.status == PlanItem.Status.CANCELLED:
        return Verdict(Status.SKIP, f"{item.title} was cancelled")
    if reminder.requires_attended and item.status == PlanItem.Status.MISSED:
        return Verdict(Status.SKIP, f"{item.title} did not take place")
    if (
        item.kind in ANSWERED_KINDS
        and item.status == PlanItem.Status.COMPLETED
        and reminder.audience == Reminder.Audience.PATIENT
    ):
        return Verdict(Status.SKIP, "already answered")
    if reminder.message_kind == READINESS_ALERT_KIND and readiness.is_confirmed(item):
        # The coordinator's T-24 h alert is for a patient who has not confirmed being ready.
        return Verdict(Status.SKIP, "readiness confirmed")
    return None


def _consent(reminder: Reminder) -> Verdict | None:
    if reminder.audience == Reminder.Audience.PROVIDER:
        provider = reminder.provider
        if not provider.active:
            return Verdict(Status.SKIP, "provider is inactive")
        if reminder.channel == Reminder.Channel.EMAIL and not provider.user.email:
            return Verdict(Status.SKIP, "provider has no email address")
        if reminder.channel == Reminder.Channel.SMS and not provider.mobile:
            return Verdict(Status.SKIP, "provider has no mobile number")
        return None
    patient = reminder.plan.patient
    if reminder.channel == Reminder.Channel.EMAIL and not patient.may_email:
        return Verdict(Status.SKIP, "no email consent, opted out, or no address")
    if reminder.channel == Reminder.Channel.SMS and not patient.may_sms:
        return Verdict(Status.SKIP, "no SMS consent, opted out (STOP), or no number")
    return None


def _preferences(patient) -> scheduler.PatientPreferences:
    """What the engine needs of the patient to judge quiet hours and the SMS budget."""
    quiet = patient.quiet_start is not None and patient.quiet_end is not None
    return scheduler.PatientPreferences(
        time_zone=patient.time_zone,
        quiet_start=patient.quiet_start if quiet else None,
        quiet_end=patient.quiet_end if quiet else None,
        sms_written_consent=patient.sms_written_consent,
    )


def _quiet_hours(reminder: Reminder, now: dt.datetime) -> Verdict | None:
    if reminder.audience != Reminder.Audience.PATIENT:
        return None
    resume = _preferences(reminder.plan.patient).quiet_ends(now)
    if resume is None:
        return None
    if resume > reminder.not_after:
        return Verdict(Status.SKIP, "quiet hours last past the point where it is useful")
    return Verdict(Status.LATER, "quiet hours; moved to their end", send_at=resume)


def _sms_budget(reminder: Reminder, now: dt.datetime) -> Verdict | None:
    """The engine's SMS budget (scheduler.budget), counted on what went out. A text the engine
    did not plan (a change notice, a missed-session message: written by staff actions after the
    plan's budget was laid out) also never takes a slot the plan kept for a text that outranks
    it (scheduler.priorities: the day-after safety text, the day-of preparation); it then goes
    by email only, which every such message also has."""
    if reminder.channel != Reminder.Channel.SMS or reminder.audience != Reminder.Audience.PATIENT:
        return None
    patient, clinic = reminder.plan.patient, reminder.plan.clinic
    preferences = _preferences(patient)
    limits = scheduler.sms_limits(
        preferences,
        scheduler.PlanOptions(
            sms_daily_limit=clinic.sms_daily_limit, sms_weekly_limit=clinic.sms_weekly_limit
        ),
    )
    sent = Reminder.objects.filter(
        patient=patient,
        channel=Reminder.Channel.SMS,
        status=Reminder.Status.SENT,
        sent_at__gte=scheduler.sms_counting_from(now, preferences.zone),
    ).values_list("sent_at", flat=True)
    kept = ()
    if reminder.rule == STAFF_RULE:
        kept = (
            Reminder.objects.filter(
                patient=reminder.patient_id,
                channel=Reminder.Channel.SMS,
                audience=Reminder.Audience.PATIENT,
                status__in=Reminder.PENDING,
                priority__gt=reminder.priority,
                send_at__gte=now,
                send_at__lt=now + dt.timedelta(days=7),
            )
            .exclude(rule=STAFF_RULE)
            .values_list("send_at", flat=True)
        )
    refusal = scheduler.sms_refusal(now, preferences.zone, limits, list(sent), list(kept))
    if refusal == "sms.daily_limit":
        return Verdict(Status.SKIP, f"SMS budget: {limits[0]} a day already sent")
    if refusal == "sms.weekly_limit":
        return Verdict(Status.SKIP, f"SMS budget: {limits[1]} in 7 days already sent")
    if refusal == "sms.kept_for_planned":
        return Verdict(Status.SKIP, "SMS budget: kept for a more important text planned this week")
    return None


def check(reminder: Reminder, *, now: dt.datetime) -> Verdict:
    if now > reminder.not_after:
        return Verdict(Status.EXPIRED, "too late to be useful")
    for rule in (_replaced, _plan_and_item, _consent):
        verdict = rule(reminder)
        if verdict:
            return verdict
    for timed_rule in (_quiet_hours, _sms_budget):
        verdict = timed_rule(reminder, now)
        if verdict:
            return verdict
    return SEND
