"""The patient's pages for what they tell their care team, behind their signed link.

An assessment shows its questionnaires, in the patient's language, with every answer required
and kept when something is missing. A check-in takes a note for the care team and stays a
check-in. The journal is the patient's own; an entry reaches the care team only if they say so.
Whatever the patient submits, an urgent answer or word shows the crisis lines on the same page.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from backend.measures import services
from backend.patients.models import Patient
from backend.plans.models import PlanItem, TreatmentPlan
from backend.safety import crisis
from backend.safety.services import find_distress

# The words of these pages, in the patient's language (the questionnaires bring their own).
WORDS = {
    "en": {
        "send": "Send to my care team",
        "missing": "Some answers are missing; they are marked below. Nothing has been sent yet.",
        "thanks": "Thank you. Your answers are with your care team.",
        "note_label": "Anything you would like your care team to know before your check-in?",
        "note_thanks": "Thank you. Your note is with your care team. Your check-in is still on "
        "the calendar.",
        "journal_label": "Your journal entry",
        "share": "Share this entry with my care team",
        "journal_private": "Saved. Only you can see this entry.",
        "journal_shared": "Saved and shared with your care team.",
        "crisis_title": "If you are thinking about harming yourself, please reach out now",
        "crisis_told": "We have told your care team, and someone will contact you. Do not wait "
        "for them if you are in danger:",
        "back": "Back to my schedule",
        "difficulty": "Not scored",
    },
    "es": {
        "send": "Enviar a mi equipo de atención",
        "missing": "Faltan algunas respuestas; están marcadas abajo. Todavía no se ha enviado "
        "nada.",
        "thanks": "Gracias. Sus respuestas ya están con su equipo de atención.",
        "note_label": "¿Hay algo que quiera que su equipo sepa antes de su cita de seguimiento?",
        "note_thanks": "Gracias. Su nota ya está con su equipo de atención. Su cita de "
        "seguimiento sigue en el calendario.",
        "journal_label": "Su entrada del diario",
        "share": "Compartir esta entrada con mi equipo de atención",
        "journal_private": "Guardado. Solo usted puede ver esta entrada.",
        "journal_shared": "Guardado y compartido con su equipo de atención.",
        "crisis_title": "Si está pensando en hacerse daño, pida ayuda ahora",
        "crisis_told": "Hemos avisado a su equipo de atención y alguien se comunicará con usted. "
        "Si está en peligro, no espere:",
        "back": "Volver a mi calendario",
        "difficulty": "No se puntúa",
    },
}


def _language(patient: Patient) -> str:
    return patient.language if patient.language in WORDS else "en"


def _context(patient: Patient, token: str, **extra) -> dict:
    language = _language(patient)
    return {
        "patient": patient,
        "token": token,
        "language": language,
        "words": WORDS[language],
        "crisis": crisis.for_clinic(patient.clinic.crisis_country, language),
        **extra,
    }


def _require_active(item: PlanItem) -> None:
    if item.plan.status != TreatmentPlan.Status.ACTIVE:
        raise PermissionDenied("This plan is not active; please contact your clinic.")


def item_page(request: HttpRequest, patient: Patient, token: str, item: PlanItem) -> HttpResponse:
    if item.kind == PlanItem.Kind.ASSESSMENT and services.instruments_for(item):
        return _questionnaires(request, patient, token, item)
    if item.kind == PlanItem.Kind.CHECK_IN:
        return _check_in(request, patient, token, item)
    if request.method == "POST":
        raise PermissionDenied
    return render(request, "pages/patient_item.html", _context(patient, token, item=item))


def _questionnaires(request, patient, token, item) -> HttpResponse:
    language = _language(patient)
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
                    "error": errors.get(f"{instrument.code}-q{q.number}", ""),
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
        forms=forms,
        errors=errors,
        submitted=bool(responses),
        urgent=urgent or any(r.urgent for r in responses),
        other_errors=[v for k, v in errors.items() if "-q" not in k],
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
            error = " ".join(problem.message_dict.get("text", problem.messages))
    context = _context(
        patient,
        token,
        item=item,
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
            error = " ".join(problem.message_dict.get("text", problem.messages))
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
