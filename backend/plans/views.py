"""Patient pages behind signed links (the provider dashboard is backend.plans.dashboard_views)."""

from __future__ import annotations

import functools

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.cache import never_cache

from backend.core import page_language
from backend.measures import views as measure_views
from backend.patients import services as patient_services
from backend.patients.models import ConsentMethod, Patient
from backend.plans import readiness, selectors
from backend.plans.models import PlanItem
from backend.reminders.links import LinkRefused, read_patient_token
from backend.safety import crisis


def link_refused(request: HttpRequest, refused: LinkRefused) -> HttpResponse:
    """An expired or revoked link names the clinic to ask for a new one; a forged one, nothing."""
    found = None
    if refused.patient_id is not None:
        found = Patient.objects.select_related("clinic").filter(pk=refused.patient_id).first()
    status = 404 if refused.reason == "invalid" else 410
    context = {"reason": refused.reason, "clinic": found.clinic if found else None}
    # In the patient's language when the link still names them (a forged one names nobody).
    with page_language.patient_page(request, found.language if found else None):
        return render(request, "pages/link_refused.html", context, status=status)


def patient_link(view):
    """A page behind a patient's signed link: the view gets the patient the link is for.

    Never cached anywhere (the page holds health information and the URL is the key to it).
    """

    @never_cache
    @functools.wraps(view)
    def wrapper(request: HttpRequest, token: str, *args, **kwargs) -> HttpResponse:
        found: dict[str, Patient | None] = {}

        def generation(patient_id: int) -> int | None:
            patient = Patient.objects.select_related("clinic").filter(pk=patient_id).first()
            found["patient"] = patient
            return patient.link_generation if patient else None

        try:
            read_patient_token(token, current_generation=generation)
        except LinkRefused as refused:
            return link_refused(request, refused)
        patient = found["patient"]
        with page_language.patient_page(request, patient.language):
            return view(request, patient, token, *args, **kwargs)

    return wrapper


@patient_link
def patient_schedule(request: HttpRequest, patient: Patient, token: str) -> HttpResponse:
    items = list(selectors.patient_upcoming_items(patient_id=patient.pk, now=timezone.now()))
    for item in items:
        item.patient_title = measure_views.patient_title(item)
        item.status_label = STATUS_LABELS.get(item.status, item.get_status_display())
    context = {
        "patient": patient,
        "items": items,
        "token": token,
        "crisis": crisis.for_clinic(patient.clinic.crisis_country, translation.get_language()),
    }
    return render(request, "pages/patient_schedule.html", context)


@patient_link
def patient_item(request: HttpRequest, patient: Patient, token: str, item_id: int) -> HttpResponse:
    """An item of the patient's plan: a questionnaire to answer, a note before a check-in, or
    its date (backend.measures.views)."""
    item = get_object_or_404(
        PlanItem.objects.exclude(kind=PlanItem.Kind.TASK).select_related("plan__protocol"),
        pk=item_id,
        plan__patient=patient,
    )  # provider tasks are not the patient's
    if item.kind in readiness.READINESS_KINDS:
        return _readiness_page(request, patient, token, item)
    return measure_views.item_page(request, patient, token, item)


# What patients read for an item's status (the model's labels are the staff's).
STATUS_LABELS = {
    PlanItem.Status.SCHEDULED: pgettext_lazy("plan item status", "Planned"),
    PlanItem.Status.COMPLETED: pgettext_lazy("plan item status", "Done"),
    PlanItem.Status.MISSED: pgettext_lazy("plan item status", "Missed"),
    PlanItem.Status.CANCELLED: pgettext_lazy("plan item status", "Cancelled"),
}


def _patient_title(item: PlanItem, language: str) -> str:
    """The neutral title patients see ("Session 3") in ``language`` (the session-request pages
    use it; these pages call backend.measures.views.patient_title in the page's language)."""
    with translation.override(language):
        return measure_views.patient_title(item)


def _readiness_page(
    request: HttpRequest, patient: Patient, token: str, item: PlanItem
) -> HttpResponse:
    """A dosing or booster session: its date, and from 72 h before it the four statements to
    confirm (backend.plans.readiness)."""
    language = translation.get_language()  # the page's (backend.core.page_language)
    now = timezone.now()
    protocol = readiness.engine_protocol_of(item)
    current = readiness.readiness_by_item([item]).get(item.pk)
    if current is not None and current.session_start != item.start:
        current = None  # answers given for the session's earlier time are asked again
    ticked = {f: bool(current and getattr(current, f)) for f in readiness.FIELDS}
    note, errors, result = "", {}, None
    if request.method == "POST":
        ticked = {f: request.POST.get(f) == "on" for f in readiness.FIELDS}
        note = request.POST.get("note", "")
        try:
            result = readiness.readiness_confirm(
                item=item, answers={**ticked, "note": note}, via="link", now=now
            )
            current, note = result.readiness, ""
        except ValidationError as problem:
            errors = {k: " ".join(v) for k, v in problem.message_dict.items()}
    try:
        readiness.check_open(item, now)
        is_open = True
    except ValidationError:
        is_open = False
    too_early = not is_open and now < item.start - readiness.OPENS_BEFORE
    confirmed = bool(current and current.confirmed_at)
    answered = result is not None
    texts = readiness.statements(protocol, language)
    context = {
        "patient": patient,
        "token": token,
        "item": item,
        "title": measure_views.patient_title(item),
        "crisis": crisis.for_clinic(patient.clinic.crisis_country, language),
        "statements": [{"field": f, "text": text, "checked": ticked[f]} for f, text in texts],
        "open": is_open,
        "too_early": too_early and item.status == PlanItem.Status.SCHEDULED,
        "confirmed": confirmed,
        "answered": answered,
        "unticked": [text for f, text in texts if answered and not ticked[f]],
        "note_sent": bool(result and result.message and result.readiness.note),
        "note": note,
        "errors": errors,
        "urgent": bool(result and result.message and result.message.distress_words),
    }
    return render(request, "pages/patient_readiness.html", context, status=400 if errors else 200)


@patient_link
def patient_journal(request: HttpRequest, patient: Patient, token: str) -> HttpResponse:
    return measure_views.journal(request, patient, token)


class PreferencesForm(forms.ModelForm):
    """What a patient may change from their signed link: how and when they are reached."""

    class Meta:
        model = Patient
        fields = ["language", "prefers_email", "prefers_sms", "quiet_start", "quiet_end",
                  "email_consent", "sms_consent"]  # fmt: skip
        labels = {
            "language": gettext_lazy("Language of messages and pages"),
            "prefers_email": gettext_lazy("Remind me by email"),
            "prefers_sms": gettext_lazy("Remind me by text message"),
            "quiet_start": gettext_lazy("No messages after"),
            "quiet_end": gettext_lazy("No messages before"),
            "email_consent": gettext_lazy("I agree to receive reminders by email"),
            "sms_consent": gettext_lazy("I agree to receive reminders by text message"),
        }
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }


@patient_link
def patient_preferences(request: HttpRequest, patient: Patient, token: str) -> HttpResponse:
    """The patient's own contact preferences and consent, saved through the patient service."""
    form = PreferencesForm(request.POST or None, instance=patient)
    saved = False
    if request.method == "POST" and form.is_valid():
        changes = {f: form.cleaned_data[f] for f in form.changed_data}
        try:
            patient = patient_services.patient_update(
                patient=patient, changes=changes, consent_method=ConsentMethod.WEB
            )
            saved = True
            form = PreferencesForm(instance=patient)
        except ValidationError as exc:
            form.add_error(None, exc)
    # A patient who has just chosen another language reads the answer in it (unless the switch
    # on the page chose for them).
    with page_language.patient_page(request, patient.language):
        context = {"patient": patient, "form": form, "token": token, "saved": saved}
        return render(request, "pages/patient_preferences.html", context)
