"""The clinician's pages of the safety loop: a flag (and acknowledging it), a patient's scores and
course (every item of their plans, with its state), and marking an inbox message read. Login
required; an active provider (or an admin) only; every object is looked up through
safety.selectors, so a row outside the user's scope is a 404."""

from __future__ import annotations

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from backend.core.scope import Role, role_of
from backend.measures import outcomes, scoring
from backend.measures.models import JournalEntry, QuestionnaireResponse
from backend.plans import dashboard
from backend.safety import chart, selectors, services
from backend.safety.models import Flag


def clinician_page(view):
    @login_required
    @never_cache
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if role_of(request.user) not in (Role.PROVIDER, Role.ADMIN):
            raise PermissionDenied("Only active clinicians see these pages.")
        return view(request, *args, **kwargs)

    return wrapper


def _answers(response: QuestionnaireResponse) -> list[dict]:
    instrument = scoring.get(response.instrument)
    rows = []
    for question in instrument.questions("en"):
        value = response.answers.get(str(question.number))
        label = next((o.label for o in question.options if o.value == value), "")
        rows.append({"question": question, "value": value, "label": label})
    return rows


@clinician_page
def flag_detail(request: HttpRequest, flag_id: int) -> HttpResponse:
    flag = get_object_or_404(
        selectors.flags_for(request.user).select_related("response", "message"), pk=flag_id
    )
    note, error = "", ""
    if request.method == "POST":
        note = request.POST.get("note", "")
        try:
            services.flag_acknowledge(flag=flag, user=request.user, note=note, now=timezone.now())
        except ValidationError as problem:
            error = " ".join(problem.messages)
        else:
            messages.success(request, "Flag acknowledged.")
            return redirect("provider-flag", flag_id=flag.pk)
    context = {
        "flag": flag,
        "answers": _answers(flag.response) if flag.response_id else [],
        "alerts": flag.alerts.select_related("provider__user").order_by("send_at", "id"),
        "note": note,
        "error": error,
        "zone": flag.clinic.time_zone,
        "may_acknowledge": services.may_acknowledge(request.user, flag),
    }
    return render(request, "pages/provider_flag.html", context, status=400 if error else 200)


@clinician_page
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_object_or_404(selectors.patients_for(request.user), pk=patient_id)
    responses = list(QuestionnaireResponse.objects.filter(patient=patient))
    context = {
        "patient": patient,
        "zone": patient.clinic.time_zone,
        "chart": chart.scores_chart(responses, zone=patient.clinic.time_zone),
        "outcomes": [
            {"outcome": o, "name": scoring.get(o.instrument).name}
            for o in outcomes.outcomes(responses)
        ],
        "responses": responses,
        "flags": Flag.objects.filter(patient=patient).select_related("acknowledged_by"),
        "journal": JournalEntry.objects.filter(patient=patient, shared_with_care_team=True),
        "course": dashboard.patient_course(patient, now=timezone.now()),
    }
    return render(request, "pages/provider_patient.html", context)


@clinician_page
@require_POST
def message_read(request: HttpRequest, message_id: int) -> HttpResponse:
    message = get_object_or_404(selectors.messages_for(request.user), pk=message_id)
    try:
        services.message_mark_read(message=message, user=request.user, now=timezone.now())
    except ValidationError as problem:
        messages.error(request, " ".join(problem.messages))
    return redirect("provider-dashboard")
