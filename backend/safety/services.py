"""Flags, their alerts and acknowledgement, and the clinic inbox: every state change of the
safety loop, one function each, one transaction each.

Alerts go through the reminder outbox like every other message (backend.reminders): a flag's
rows are due the moment it is raised, so the dispatcher's next tick (it follows for 25 s of every
30 s) sends them, and staff have no quiet hours there. The backup contact's alert is written at
the same time with its send time set escalation_minutes ahead; acknowledging the flag cancels it,
and the send-time check refuses it if the acknowledgement came while it was already queued.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import unicodedata
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from backend.clinics.models import Clinic, Provider
from backend.core.scope import Role, clinic_id_of, role_of
from backend.core.timefmt import local_label
from backend.patients.models import Patient
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders import outbox
from backend.reminders.models import Reminder
from backend.safety.models import Flag, PatientMessage

URGENT_KIND = "provider_urgent_flag"
BACKUP_KIND = "provider_urgent_flag_backup"
WORSENING_KIND = "provider_worsening_flag"
WELFARE_KIND = "provider_welfare_call"
FLAG_KINDS = (URGENT_KIND, BACKUP_KIND, WORSENING_KIND, WELFARE_KIND)
ALERT_PRIORITY = 100  # above every patient message
URGENT_USEFUL_FOR = dt.timedelta(hours=12)
WORSENING_USEFUL_FOR = dt.timedelta(days=3)
WORSENING_POINTS = 5  # a rise of this many points from the previous score
WORSENING_BAND_STEPS = 2  # or a band this many steps up
LIVE = (TreatmentPlan.Status.ACTIVE, TreatmentPlan.Status.PAUSED)


# --- words of distress -----------------------------------------------------------------------


def _fold(text: str) -> str:
    """Lower case, accents off, apostrophes straight: "Ayúdenme" and "ayudenme" match alike."""
    text = unicodedata.normalize("NFKD", text.replace("\u2019", "'").lower())
    return "".join(c for c in text if not unicodedata.combining(c))


@functools.cache
def _distress_patterns() -> tuple[tuple[str, re.Pattern], ...]:
    data = json.loads(Path(__file__).with_name("distress_words.json").read_text(encoding="utf-8"))
    words = [w for language, ws in data.items() if not language.startswith("_") for w in ws]
    return tuple((w, re.compile(rf"(?<!\w){re.escape(_fold(w))}(?!\w)")) for w in words)


def find_distress(text: str) -> list[str]:
    """The words of distress (as listed in distress_words.json) that ``text`` contains."""
    folded = _fold(text or "")
    return [word for word, pattern in _distress_patterns() if pattern.search(folded)]


# --- whose plan, whose alert -----------------------------------------------------------------


def plan_to_alert(patient: Patient) -> TreatmentPlan | None:
    """The plan whose provider hears about this patient: the newest live one, else the newest."""
    plans = TreatmentPlan.objects.filter(patient=patient).order_by("-created_at", "-id")
    return plans.filter(status__in=LIVE).first() or plans.first()


def _alert(flag: Flag, *, to: Provider, kind: str, send_at: dt.datetime, useful_for, channels, tag):
    for channel in channels:
        Reminder.objects.create(
            plan=flag.plan,
            flag=flag,
            key=f"flag-{flag.pk}:{tag}:{to.pk}:{channel}",
            audience=Reminder.Audience.PROVIDER,
            provider=to,
            channel=channel,
            message_kind=kind,
            send_at=send_at,
            not_after=send_at + useful_for,
            priority=ALERT_PRIORITY,
            rule=f"safety:{flag.kind}",
        )


def _first_responders(flag: Flag) -> list[Provider]:
    people = [flag.plan.provider, flag.clinic.on_call_contact]
    return list(dict.fromkeys(p for p in people if p is not None))


@transaction.atomic
def flag_raise(
    *,
    patient: Patient,
    plan: TreatmentPlan,
    kind: str,
    reasons: list[str],
    now: dt.datetime,
    response=None,
    message: PatientMessage | None = None,
) -> Flag:
    """Raise a flag and write its alerts to the outbox.

    Urgent: email and SMS, due now, to the patient's provider and the clinic's on-call contact;
    and, due ``escalation_minutes`` later unless acknowledged first, to the backup contact (or,
    with none named, to the same people again). Worsening: an email to the provider.
    """
    clinic = Clinic.objects.select_related("on_call_contact", "backup_contact").get(
        pk=patient.clinic_id
    )
    flag = Flag.objects.create(
        clinic=clinic,
        patient=patient,
        plan=plan,
        kind=kind,
        reasons=reasons,
        response=response,
        message=message,
        raised_at=now,
    )
    both = (Reminder.Channel.EMAIL, Reminder.Channel.SMS)
    if kind == Flag.Kind.WORSENING:
        _alert(
            flag,
            to=plan.provider,
            kind=WORSENING_KIND,
            send_at=now,
            useful_for=WORSENING_USEFUL_FOR,
            channels=(Reminder.Channel.EMAIL,),
            tag="provider",
        )
        return flag
    for person in _first_responders(flag):
        _alert(
            flag,
            to=person,
            kind=URGENT_KIND,
            send_at=now,
            useful_for=URGENT_USEFUL_FOR,
            channels=both,
            tag="first",
        )
    flag.backup_due_at = now + dt.timedelta(minutes=clinic.escalation_minutes)
    flag.save(update_fields=["backup_due_at"])
    for person in [clinic.backup_contact] if clinic.backup_contact else _first_responders(flag):
        _alert(
            flag,
            to=person,
            kind=BACKUP_KIND,
            send_at=flag.backup_due_at,
            useful_for=URGENT_USEFUL_FOR,
            channels=both,
            tag="backup",
        )
    return flag


@transaction.atomic
def flag_missed_session(
    *,
    item: PlanItem,
    now: dt.datetime,
    call_within_hours: int = 24,
    missed_start: dt.datetime | None = None,
) -> Flag | None:
    """A welfare call for staff when a session is marked missed: a flag on the dashboard and the
    plan page until a clinician acknowledges it with the call's outcome, and an email to the
    plan's provider and the clinic's on-call contact, due at once. No backup escalation: it is a
    task, not an alarm (an urgent flag is the path for a patient in danger).

    One open flag per session: marking it missed again (a double click, or the admin and the
    API at once) adds nothing while the first is open. Returns None when nothing was raised.
    ``missed_start``: when the session was due, if a re-plan has since moved ``item``.
    """
    plan = TreatmentPlan.objects.select_related("provider", "clinic").get(pk=item.plan_id)
    # Lock the session's row so two concurrent marks queue here and the second sees the flag.
    PlanItem.objects.select_for_update().filter(pk=item.pk).first()
    if Flag.objects.filter(
        kind=Flag.Kind.MISSED_SESSION, item=item, acknowledged_at__isnull=True
    ).exists():
        return None
    when = local_label(missed_start or item.start, plan.clinic.time_zone)
    flag = Flag.objects.create(
        clinic=plan.clinic,
        patient_id=plan.patient_id,
        plan=plan,
        item=item,
        session_start=missed_start or item.start,
        kind=Flag.Kind.MISSED_SESSION,
        reasons=[f"{item.title} on {when} was missed: call within {call_within_hours} hours"],
        raised_at=now,
    )
    # The clinic's on-call contact hears of it too: a Friday no-show must not wait for the
    # plan's provider to be back on Monday.
    for person in _first_responders(flag):
        _alert(
            flag,
            to=person,
            kind=WELFARE_KIND,
            send_at=now,
            useful_for=dt.timedelta(hours=call_within_hours),
            channels=(Reminder.Channel.EMAIL,),
            tag="provider",
        )
    return flag


def may_acknowledge(user, flag: Flag) -> bool:
    """A clinician of the flag's clinic (any active provider: urgent care is everyone's) or an
    admin. Coordinators see flags but do not close them: closing one is a clinical judgement."""
    role = role_of(user)
    if role is Role.ADMIN:
        return True
    return role is Role.PROVIDER and clinic_id_of(user) == flag.clinic_id


@transaction.atomic
def flag_acknowledge(*, flag: Flag, user, note: str, now: dt.datetime) -> Flag:
    """A clinician has seen the flag and says what they did; alerts not yet sent are withdrawn."""
    if not may_acknowledge(user, flag):
        raise PermissionDenied("Only a clinician of this clinic may acknowledge a flag.")
    flag = Flag.objects.select_for_update().get(pk=flag.pk)
    if flag.acknowledged_at is not None:
        who = flag.acknowledged_by.get_full_name() or flag.acknowledged_by.get_username()
        raise ValidationError({"flag": f"Already acknowledged by {who}."}, code="acknowledged")
    note = (note or "").strip()
    if not note:
        raise ValidationError(
            {"note": "Say what you did (for example: called the patient, safety plan reviewed)."},
            code="required",
        )
    flag.acknowledged_by, flag.acknowledged_at, flag.acknowledgement_note = user, now, note[:2000]
    flag.save(update_fields=["acknowledged_by", "acknowledged_at", "acknowledgement_note"])
    outbox.cancel(Reminder.objects.filter(flag=flag), reason="flag acknowledged")
    return flag


# --- what patients send ----------------------------------------------------------------------


def clinic_urgent_reasons(clinic: Clinic, instrument: str, answers: dict) -> list[str]:
    """The clinic's own urgent rules that ``answers`` ({"7": 3} or {7: 3}) meet."""
    reasons = []
    for rule in clinic.urgent_answers or []:
        if rule["instrument"] != instrument:
            continue
        value = answers.get(str(rule["question"]), answers.get(rule["question"]))
        if isinstance(value, int) and value >= rule["min_value"]:
            reasons.append(
                f"{instrument.upper()} question {rule['question']} answered {value} "
                f"(this clinic's urgent rule: {rule['min_value']} or more)"
            )
    return reasons


def _urgent_reasons(response) -> list[str]:
    return list(response.urgent_reasons) + clinic_urgent_reasons(
        response.clinic, response.instrument, response.answers
    )


@transaction.atomic
def flag_unfinished_answers(
    *, patient: Patient, item: PlanItem, reasons: list[str], now: dt.datetime
) -> Flag | None:
    """An urgent answer in a submission refused as incomplete: nothing is recorded as a
    response, but a clinician hears of it all the same (once per item while the flag is open;
    the patient may try again several times)."""
    open_already = Flag.objects.filter(
        patient=patient,
        plan=item.plan,
        kind=Flag.Kind.URGENT,
        acknowledged_at__isnull=True,
        response__isnull=True,
        message__isnull=True,
    ).exists()
    if open_already:
        return None
    reasons = [f"{r}, in answers sent incomplete ({item.title})" for r in reasons]
    return flag_raise(
        patient=patient, plan=item.plan, kind=Flag.Kind.URGENT, reasons=reasons, now=now
    )


def _worsening_reasons(response) -> list[str]:
    from backend.measures import scoring
    from backend.measures.models import QuestionnaireResponse

    previous = (
        QuestionnaireResponse.objects.filter(
            patient=response.patient_id, instrument=response.instrument
        )
        .exclude(pk=response.pk)
        .filter(submitted_at__lte=response.submitted_at)
        .order_by("-submitted_at", "-id")
        .first()
    )
    if previous is None:
        return []
    name, reasons = response.instrument.upper(), []
    if response.total - previous.total >= WORSENING_POINTS:
        reasons.append(
            f"{name} rose {response.total - previous.total} points "
            f"({previous.total} to {response.total})"
        )
    instrument = scoring.get(response.instrument)
    steps = instrument.band_step(response.band) - instrument.band_step(previous.band)
    if steps >= WORSENING_BAND_STEPS:
        reasons.append(
            f"{name} moved {steps} bands up ({previous.band_label} to {response.band_label})"
        )
    return reasons


@transaction.atomic
def assess_response(response, *, now: dt.datetime) -> Flag | None:
    """Raise the flag a scored response calls for: urgent first, else worsening."""
    reasons = _urgent_reasons(response)
    plan = response.plan or plan_to_alert(response.patient)
    if reasons:
        if reasons != list(response.urgent_reasons) or not response.urgent:
            response.urgent, response.urgent_reasons = True, reasons
            response.save(update_fields=["urgent", "urgent_reasons"])
        return flag_raise(
            patient=response.patient,
            plan=plan,
            kind=Flag.Kind.URGENT,
            reasons=reasons,
            now=now,
            response=response,
        )
    worse = _worsening_reasons(response)
    if worse:
        return flag_raise(
            patient=response.patient,
            plan=plan,
            kind=Flag.Kind.WORSENING,
            reasons=worse,
            now=now,
            response=response,
        )
    return None


@transaction.atomic
def receive_message(
    *,
    clinic: Clinic,
    patient: Patient | None,
    source: str,
    body: str,
    now: dt.datetime,
    item: PlanItem | None = None,
    journal_entry=None,
    from_number: str = "",
) -> PatientMessage:
    """File what a patient wrote in the clinic inbox; words of distress raise an urgent flag."""
    plan = plan_to_alert(patient) if patient is not None else None
    words = find_distress(body)
    message = PatientMessage.objects.create(
        clinic=clinic,
        patient=patient,
        plan=item.plan if item else plan,
        item=item,
        journal_entry=journal_entry,
        source=source,
        body=body[:4000],
        from_number=from_number,
        distress_words=words,
        received_at=now,
    )
    if words and patient is not None and plan is not None:
        label = PatientMessage.Source(source).label.lower()
        flag_raise(
            patient=patient,
            plan=plan,
            kind=Flag.Kind.URGENT,
            now=now,
            message=message,
            reasons=[f"Words of distress in a {label}: {', '.join(words)}"],
        )
    return message


@transaction.atomic
def message_mark_read(*, message: PatientMessage, user, now: dt.datetime) -> PatientMessage:
    updated = PatientMessage.objects.filter(pk=message.pk, read_at__isnull=True).update(
        read_by=user, read_at=now
    )
    message.refresh_from_db()
    if not updated and message.read_by_id != getattr(user, "pk", None):
        raise ValidationError({"message": "Already marked read by someone else."}, code="read")
    return message
