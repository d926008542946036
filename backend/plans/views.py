"""Patient pages behind signed links, and the provider dashboard behind login."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from backend.patients import services as patient_services
from backend.patients.models import ConsentMethod, Patient
from backend.plans import selectors, services
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.links import PATIENT_LINK_MAX_AGE, read_token


def _patient_from_token(token: str) -> Patient:
    try:
        payload = read_token("patient", token, max_age=PATIENT_LINK_MAX_AGE)
    except signing.BadSignature as exc:  # includes SignatureExpired
        raise Http404("This link is not valid any more.") from exc
    return get_object_or_404(Patient.objects.select_related("clinic"), pk=payload["p"])


def patient_schedule(request: HttpRequest, token: str) -> HttpResponse:
    patient = _patient_from_token(token)
    items = selectors.patient_upcoming_items(patient_id=patient.pk, now=timezone.now())
    return render(
        request, "pages/patient_schedule.html", {"patient": patient, "items": items, "token": token}
    )


def patient_item(request: HttpRequest, token: str, item_id: int) -> HttpResponse:
    """A check-in or assessment: the patient answers, which completes the item."""
    patient = _patient_from_token(token)
    item = get_object_or_404(
        PlanItem.objects.exclude(kind=PlanItem.Kind.TASK),  # provider tasks are not the patient's
        pk=item_id,
        plan__patient=patient,
    )
    error = ""
    if request.method == "POST":
        if item.kind not in (PlanItem.Kind.CHECK_IN, PlanItem.Kind.ASSESSMENT):
            raise PermissionDenied
        if item.plan.status != TreatmentPlan.Status.ACTIVE:
            raise PermissionDenied("This plan is not active; please contact your clinic.")
        try:
            services.item_mark_completed(
                item=item, outcome_notes=request.POST.get("answer", "")[:2000]
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        item.refresh_from_db()
    return render(
        request,
        "pages/patient_item.html",
        {"patient": patient, "item": item, "token": token, "error": error},
    )


@login_required
def provider_dashboard(request: HttpRequest) -> HttpResponse:
    provider = getattr(request.user, "provider", None)
    if provider is None or not provider.active:
        raise PermissionDenied("Only active providers have a dashboard.")
    items = selectors.provider_upcoming_items(provider_id=provider.pk, now=timezone.now())
    return render(request, "pages/provider_dashboard.html", {"provider": provider, "items": items})


class PreferencesForm(forms.ModelForm):
    """What a patient may change from their signed link: how and when they are reached."""

    class Meta:
        model = Patient
        fields = ["language", "prefers_email", "prefers_sms", "quiet_start", "quiet_end",
                  "email_consent", "sms_consent"]  # fmt: skip
        labels = {
            "prefers_email": "Remind me by email",
            "prefers_sms": "Remind me by text message",
            "quiet_start": "No messages after",
            "quiet_end": "No messages before",
            "email_consent": "I agree to receive reminders by email",
            "sms_consent": "I agree to receive reminders by text message",
        }
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }


def patient_preferences(request: HttpRequest, token: str) -> HttpResponse:
    """The patient's own contact preferences and consent, saved through the patient service."""
    patient = _patient_from_token(token)
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
    return render(
        request,
        "pages/patient_preferences.html",
        {"patient": patient, "form": form, "token": token, "saved": saved},
    )
