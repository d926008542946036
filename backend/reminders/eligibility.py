"""May this reminder still go out, now? Checked at send time, not only when planning.

Consent and opt-out can change after a plan is built, a session can be missed or cancelled, a
plan paused, an assessment answered; and quiet hours and the SMS budget depend on what actually
went out. Each "no" carries its reason, which the row keeps.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from backend.plans import readiness
from backend.plans.calendar_notices import STAFF_RULE
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder

# The FCC's 2015 healthcare exemption under the TCPA allows, without express written consent,
# at most one healthcare text a day and three a week (FCC 15-72, para. 147).
TCPA_DAILY, TCPA_WEEKLY = 1, 3
ANSWERED_KINDS = {PlanItem.Kind.ASSESSMENT, PlanItem.Kind.CHECK_IN}
# Notices of what staff changed: their point is that sessions moved or are off, so neither a
# paused nor a cancelled plan holds them back.
NOTICE_KINDS = {"session_changed", "session_cancelled"}
READINESS_ALERT_KIND = "provider_readiness_missing"


@dataclass(frozen=True)
class Verdict:
    status: str  # send | skip | expired | later
    reason: str = ""
    send_at: dt.datetime | None = None


SEND = Verdict("send")


def _plan_and_item(reminder: Reminder) -> Verdict | None:
    plan, item = reminder.plan, reminder.item
    if reminder.flag_id is not None:
        # A safety alert does not wait on the plan (a paused or finished course is no reason to
        # keep a clinician uninformed); it stops only once a clinician has acknowledged the flag.
        if reminder.flag.acknowledged_at is not None:
            return Verdict("skip", "flag acknowledged")
        return None
    if reminder.message_kind in NOTICE_KINDS:
        return None
    if plan.status != TreatmentPlan.Status.ACTIVE:
        return Verdict("skip", f"plan is {plan.status}")
    if item is None:
        return None
    if item.status == PlanItem.Status.CANCELLED:
        return Verdict("skip", f"{item.title} was cancelled")
    if reminder.requires_attended and item.status == PlanItem.Status.MISSED:
        return Verdict("skip", f"{item.title} did not take place")
    if (
        item.kind in ANSWERED_KINDS
        and item.status == PlanItem.Status.COMPLETED
        and reminder.audience == Reminder.Audience.PATIENT
    ):
        return Verdict("skip", "already answered")
    if reminder.message_kind == READINESS_ALERT_KIND and readiness.is_confirmed(item):
        # The coordinator's T-24 h alert is for a patient who has not confirmed being ready.
        return Verdict("skip", "readiness confirmed")
    return None


def _consent(reminder: Reminder) -> Verdict | None:
    if reminder.audience == Reminder.Audience.PROVIDER:
        provider = reminder.provider
        if not provider.active:
            return Verdict("skip", "provider is inactive")
        if reminder.channel == Reminder.Channel.EMAIL and not provider.user.email:
            return Verdict("skip", "provider has no email address")
        if reminder.channel == Reminder.Channel.SMS and not provider.mobile:
            return Verdict("skip", "provider has no mobile number")
        return None
    patient = reminder.plan.patient
    if reminder.channel == Reminder.Channel.EMAIL and not patient.may_email:
        return Verdict("skip", "no email consent, opted out, or no address")
    if reminder.channel == Reminder.Channel.SMS and not patient.may_sms:
        return Verdict("skip", "no SMS consent, opted out (STOP), or no number")
    return None


def _quiet_hours(reminder: Reminder, now: dt.datetime) -> Verdict | None:
    patient = reminder.plan.patient
    if (
        reminder.audience != Reminder.Audience.PATIENT
        or not patient.quiet_start
        or not patient.quiet_end
    ):
        return None
    start, end = patient.quiet_start, patient.quiet_end
    if start == end:
        return None
    local = now.astimezone(ZoneInfo(patient.time_zone))
    wall = local.time()
    quiet = (start <= wall < end) if start < end else (wall >= start or wall < end)
    if not quiet:
        return None
    resume_day = local.date() if wall < end else local.date() + dt.timedelta(days=1)
    resume = dt.datetime.combine(resume_day, end, tzinfo=local.tzinfo).astimezone(dt.UTC)
    if resume > reminder.not_after:
        return Verdict("skip", "quiet hours last past the point where it is useful")
    return Verdict("later", "quiet hours; moved to their end", send_at=resume)


def _sms_budget(reminder: Reminder, now: dt.datetime) -> Verdict | None:
    if reminder.channel != Reminder.Channel.SMS or reminder.audience != Reminder.Audience.PATIENT:
        return None
    patient, clinic = reminder.plan.patient, reminder.plan.clinic
    daily, weekly = (
        (clinic.sms_daily_limit, clinic.sms_weekly_limit)
        if patient.sms_written_consent
        else (TCPA_DAILY, TCPA_WEEKLY)
    )
    local = now.astimezone(ZoneInfo(patient.time_zone))
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    sent = Reminder.objects.filter(
        patient=patient,
        channel=Reminder.Channel.SMS,
        status=Reminder.Status.SENT,
        sent_at__gte=day_start - dt.timedelta(days=6),
    ).values_list("sent_at", flat=True)
    sent = list(sent)
    sent_today = sum(1 for at in sent if at >= day_start)
    if sent_today >= daily:
        return Verdict("skip", f"SMS budget: {daily} a day already sent")
    if len(sent) >= weekly:
        return Verdict("skip", f"SMS budget: {weekly} in 7 days already sent")
    if reminder.rule == STAFF_RULE:
        return _keep_slots_for_planned(
            reminder, now, (sent_today, len(sent)), (daily, weekly), day_start
        )
    return None


def _keep_slots_for_planned(reminder, now, sent, limits, day_start):
    """A text the engine did not plan (a change notice, a missed-session message: written by
    staff actions after the plan's budget was laid out) never takes a slot the plan kept for a
    text that outranks it (scheduler.priorities: the day-after safety text, the day-of
    preparation). It then goes by email only, which every such message also has."""
    planned = list(
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
    (sent_today, sent_in_week), (daily, weekly) = sent, limits
    later_today = sum(1 for at in planned if at < day_start + dt.timedelta(days=1))
    if sent_today + 1 + later_today > daily or sent_in_week + 1 + len(planned) > weekly:
        return Verdict("skip", "SMS budget: kept for a more important text planned this week")
    return None


def check(reminder: Reminder, *, now: dt.datetime) -> Verdict:
    if now > reminder.not_after:
        return Verdict("expired", "too late to be useful")
    for rule in (_plan_and_item, _consent):
        verdict = rule(reminder)
        if verdict:
            return verdict
    for timed_rule in (_quiet_hours, _sms_budget):
        verdict = timed_rule(reminder, now)
        if verdict:
            return verdict
    return SEND
