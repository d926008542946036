"""The patient's pages for what they tell their care team, behind their signed link.

The pages are in the page's language (backend.core.page_language: the switch, else the
patient's); their words are gettext's (locale/), the questionnaires' their instruments'.
An assessment shows its questionnaires with every answer required
and kept when something is missing. A check-in takes a note for the care team and stays a
check-in. The journal is the patient's own; an entry reaches the care team only if they say so.
Whatever the patient submits, an urgent answer or word shows the crisis lines on the same page.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone, translation
from django.utils.translation import gettext

import scheduler
from backend.measures import scoring, services
from backend.patients.models import Patient
from backend.plans.models import PlanItem, TreatmentPlan
from backend.safety import crisis
from backend.safety.services import find_distress


def _context(patient: Patient, token: str, **extra) -> dict:
    """What every page here shows: the page's language is already active
    (backend.core.page_language), so the crisis lines follow it, the switch included."""
    return {
        "patient": patient,
        "token": token,
        "crisis": crisis.for_clinic(patient.clinic.crisis_country, translation.get_language()),
        **extra,
    }


def patient_title(item: PlanItem) -> str:
    """The neutral title patients see ("Session 3") in the page's language; else the item's."""
    try:
        return scheduler.patient_title(item.kind, item.key, translation.get_language())
    except Exception:  # a title the engine cannot make is no reason to hide the page
        return item.title


def _answer_error(message: str) -> str:
    """A question's error (backend.measures.scoring words it in English for the API), in the
    page's language."""
    known = {
        scoring.MISSING_MESSAGE: gettext("Please answer this question."),
        scoring.INVALID_MESSAGE: gettext("Choose one of the answers shown."),
    }
    return known.get(message, message)


def _text_error(text: str, message: str) -> str:
    """The note's or entry's error in the page's language: the service refuses an empty text
    or one over its limit, and says which in English."""
    given = (text or "").strip()
    if not given:
        return gettext("Please write something before sending.")
    if len(given) > services.TEXT_LIMIT:
        return gettext("Please keep it under %(limit)d characters (%(count)d now).") % {
            "limit": services.TEXT_LIMIT,
            "count": len(given),
        }
    return message


def _require_active(item: PlanItem) -> None:
    if item.plan.status != TreatmentPlan.Status.ACTIVE:
        raise PermissionDenied(gettext("This plan is not active; please contact your clinic."))


def item_page(request: HttpRequest, patient: Patient, token: str, item: PlanItem) -> HttpResponse:
    if item.kind == PlanItem.Kind.ASSESSMENT and services.instruments_for(item):
        return _questionnaires(request, patient, token, item)
    if item.kind == PlanItem.Kind.CHECK_IN:
        return _check_in(request, patient, token, item)
    if request.method == "POST":
        raise PermissionDenied
    context = _context(patient, token, item=item, title=patient_title(item))
    return render(request, "pages/patient_item.html", context)


def _questionnaires(request, patient, token, item) -> HttpResponse:
    # The questionnaires come in the page's language (the switch's choice, else the patient's).
    language = translation.get_language()
    instruments = services.instruments_for(item)
    given = {i.code: {} for i in instruments}
    errors: dict[str, str] = {}
    responses, urgent = [], False
    if request.method == "POST":
        _require_active(item)
        for instrument in instruments:
            for question in instrument.questions(language):
                field = f"{instrument.code}-q{question.number}"
                given[instrument.code][f"q{question.number}"] = request.POST.get(field, "")
        try:
            responses = services.questionnaires_submit(
                patient=patient, item=item, answers=given, language=language, now=timezone.now()
            )
        except ValidationError as problem:
            errors = {k: " ".join(v) for k, v in problem.message_dict.items()}
            urgent = getattr(problem, "urgent", False)
        item.refresh_from_db()
    forms = [
        {
            "instrument": instrument,
            "intro": instrument.intro(language),
            "questions": [
                {
                    "question": q,
                    "field": f"{instrument.code}-q{q.number}",
                    "given": given[instrument.code].get(f"q{q.number}", ""),
                    "error": _answer_error(errors.get(f"{instrument.code}-q{q.number}", "")),
                }
                for q in instrument.questions(language)
            ],
        }
        for instrument in instruments
    ]
    context = _context(
        patient,
        token,
        item=item,
        title=patient_title(item),
        forms=forms,
        errors=errors,
        submitted=bool(responses),
        urgent=urgent or any(r.urgent for r in responses),
        # The item's own refusals (closed, or asking no questionnaire) say the same to a patient.
        other_errors=[gettext("This questionnaire takes no more answers.")]
        if any("-q" not in k for k in errors)
        else [],
    )
    return render(request, "pages/questionnaire.html", context, status=400 if errors else 200)


def _check_in(request, patient, token, item) -> HttpResponse:
    text, error, message = "", "", None
    if request.method == "POST":
        _require_active(item)
        text = request.POST.get("text", "")
        try:
            message = services.check_in_note_leave(
                patient=patient, item=item, text=text, now=timezone.now()
            )
        except ValidationError as problem:
            error = _text_error(text, " ".join(problem.message_dict.get("text", problem.messages)))
    context = _context(
        patient,
        token,
        item=item,
        title=patient_title(item),
        text=text,
        error=error,
        sent=message is not None,
        urgent=bool(message and message.distress_words),
    )
    return render(request, "pages/check_in_note.html", context, status=400 if error else 200)


def journal(request: HttpRequest, patient: Patient, token: str) -> HttpResponse:
    item = None
    if request.GET.get("item", "").isdigit():
        item = get_object_or_404(
            PlanItem.objects.select_related("plan"), pk=request.GET["item"], plan__patient=patient
        )
    text, shared, error, entry = "", False, "", None
    if request.method == "POST":
        text, shared = request.POST.get("text", ""), request.POST.get("shared") == "on"
        try:
            entry = services.journal_write(
                patient=patient, text=text, shared=shared, now=timezone.now(), item=item
            )
        except ValidationError as problem:
            error = _text_error(text, " ".join(problem.message_dict.get("text", problem.messages)))
    context = _context(
        patient,
        token,
        item=item,
        text="" if entry else text,
        shared=shared,
        error=error,
        entry=entry,
        # Words of distress show the crisis lines even in a private entry: nobody else reads it.
        urgent=bool(entry and find_distress(entry.text)),
        entries=patient.journal_entries.all()[:20],
    )
    return render(request, "pages/journal.html", context, status=400 if error else 200)
