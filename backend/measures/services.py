"""Recording what patients submit: questionnaires, journal entries, notes before a check-in.

One function per submission, one transaction each, called by the patient pages, the admin and
the API alike. Each record is its own row; the only plan change a patient's submission makes is
completing the *assessment* it answered. A prescriber's check-in is completed by staff only.
Every submission passes through backend.safety.services, which raises a flag when the words or
answers call for a person at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction

from backend.measures import scoring
from backend.measures.models import JournalEntry, QuestionnaireResponse
from backend.patients.models import Patient
from backend.plans import services as plan_services
from backend.plans.models import PlanItem
from backend.safety import services as safety

TEXT_LIMIT = 4000


def _spec_of(item: PlanItem) -> dict:
    """The protocol item spec an item was planned from (keys are ``spec`` or ``spec-N``)."""
    specs = {s["key"]: s for s in item.plan.protocol.definition.get("items", [])}
    if item.key in specs:
        return specs[item.key]
    base, _, number = item.key.rpartition("-")
    return specs.get(base, {}) if number.isdigit() else {}


def instruments_for(item: PlanItem) -> tuple[scoring.Instrument, ...]:
    """The questionnaires an assessment asks, from its protocol's ``instruments:`` list."""
    if item.kind != PlanItem.Kind.ASSESSMENT:
        return ()
    return tuple(scoring.get(code) for code in _spec_of(item).get("instruments", []))


def _required_text(text: str, field: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError({field: "Please write something before sending."}, code="required")
    if len(text) > TEXT_LIMIT:
        raise ValidationError(
            {field: f"Please keep it under {TEXT_LIMIT} characters ({len(text)} now)."},
            code="max_length",
        )
    return text


def _urgent_in_partial(instrument: scoring.Instrument, given: Mapping[str, object], clinic):
    """Urgent answers among those given in a refused submission."""
    values = {}
    for question in instrument.questions("en"):
        raw = given.get(f"q{question.number}", given.get(str(question.number)))
        try:
            values[question.number] = int(str(raw).strip())
        except (TypeError, ValueError):
            continue
    reasons = [
        rule.reason
        for rule in instrument.urgent_rules
        if values.get(rule.question, -1) >= rule.min_value
    ]
    return reasons + safety.clinic_urgent_reasons(clinic, instrument.code, values)


def questionnaires_submit(
    *,
    patient: Patient,
    item: PlanItem,
    answers: Mapping[str, Mapping[str, object]],
    language: str,
    now: dt.datetime,
    entered_by=None,
) -> list[QuestionnaireResponse]:
    """Score and record the answers to every questionnaire ``item`` asks, then complete it.

    ``answers`` maps instrument code to its answers ({"phq9": {"q1": "0", ...}}). All of them
    are checked before anything is stored: one missing answer refuses the whole submission with
    every problem named by field (``phq9-q9``), so nothing is half-recorded. An urgent answer
    in a refused submission still raises an urgent flag (the ValidationError then has
    ``urgent = True``, so the page can show the crisis lines).
    """
    instruments = instruments_for(item)
    if not instruments:
        raise ValidationError(
            {"item": f"{item.title} asks no questionnaire."}, code="no_instrument"
        )
    if item.status != PlanItem.Status.SCHEDULED:
        raise ValidationError(
            {"item": f"{item.title} is {item.get_status_display().lower()}; it takes no answers."},
            code="item_closed",
        )
    scores, errors = {}, {}
    for instrument in instruments:
        try:
            scores[instrument.code] = instrument.score(answers.get(instrument.code, {}))
        except scoring.AnswerError as problem:
            errors.update({f"{instrument.code}-{k}": v for k, v in problem.errors.items()})
    if errors:
        reasons = [
            reason
            for instrument in instruments
            for reason in _urgent_in_partial(
                instrument, answers.get(instrument.code, {}), patient.clinic
            )
        ]
        if reasons:
            safety.flag_unfinished_answers(patient=patient, item=item, reasons=reasons, now=now)
        refused = ValidationError(errors, code="incomplete")
        refused.urgent = bool(reasons)
        raise refused
    with transaction.atomic():
        return _record(patient, item, instruments, scores, language, now, entered_by)


def _record(patient, item, instruments, scores, language, now, entered_by):
    responses = []
    for instrument in instruments:
        score = scores[instrument.code]
        response = QuestionnaireResponse.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            plan=item.plan,
            item=item,
            instrument=instrument.code,
            instrument_version=instrument.version,
            language=language,
            answers={str(k): v for k, v in sorted(score.answers.items())},
            total=score.total,
            band=score.band.code,
            band_label=score.band.label,
            urgent=score.urgent,
            urgent_reasons=list(score.urgent_reasons),
            submitted_at=now,
            source=QuestionnaireResponse.Source.STAFF
            if entered_by
            else QuestionnaireResponse.Source.LINK,
            entered_by=entered_by,
        )
        responses.append(response)
        safety.assess_response(response, now=now)
    plan_services.item_mark_completed(item=item, now=now)
    return responses


@transaction.atomic
def journal_write(
    *, patient: Patient, text: str, shared: bool, now: dt.datetime, item: PlanItem | None = None
) -> JournalEntry:
    """A journal entry; shared ones reach the clinic inbox (and a flag, if the words call for
    one). An entry the patient keeps private is read by no one but the patient."""
    entry = JournalEntry.objects.create(
        clinic_id=patient.clinic_id,
        patient=patient,
        plan=item.plan if item else safety.plan_to_alert(patient),
        text=_required_text(text, "text"),
        shared_with_care_team=shared,
        written_at=now,
    )
    if shared:
        safety.receive_message(
            clinic=patient.clinic,
            patient=patient,
            source="journal",
            body=entry.text,
            now=now,
            item=item,
            journal_entry=entry,
        )
    return entry


@transaction.atomic
def check_in_note_leave(*, patient: Patient, item: PlanItem, text: str, now: dt.datetime):
    """A note to the care team before a check-in. It reaches the inbox; the check-in itself
    stays on the prescriber's list until staff record that it took place."""
    if item.kind != PlanItem.Kind.CHECK_IN:
        raise ValidationError({"item": f"{item.title} is not a check-in."}, code="not_check_in")
    return safety.receive_message(
        clinic=patient.clinic,
        patient=patient,
        source="check_in_note",
        body=_required_text(text, "text"),
        now=now,
        item=item,
    )
