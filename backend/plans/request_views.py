"""The patient's "Confirm" and "Ask to move" pages for one session, behind their signed link
(``/p/<token>/sessions/<id>/confirm/`` and ``.../move/``; the service is
backend.plans.session_requests).

A dosing or booster session whose readiness form is open (from 72 h before,
backend.plans.readiness) is confirmed there: "Confirm" leads to the four statements, because a
confirmed dosing session means a ready patient. Before then, and for every other session, the
confirmation here records that the patient will attend.

Every word on these pages goes through Django's i18n (the catalogue is
backend/plans/locale/<lang>/LC_MESSAGES/django.po); ``patient_link`` renders them in the page's
language.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from backend.patients.models import Patient
from backend.plans import readiness, session_requests
from backend.plans.models import PlanItem, SessionRequest
from backend.plans.views import _patient_title, patient_link
from backend.safety import crisis


class ConfirmForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Anything we should know? (optional)"),
        required=False,
        max_length=session_requests.NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class MoveForm(forms.Form):
    preferred_weekdays = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Days that suit you better (optional)"),
        choices=[(day, name) for day, name in WEEKDAYS.items()],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    note = forms.CharField(
        label=gettext_lazy("Anything we should know, such as times that suit you? (optional)"),
        required=False,
        max_length=session_requests.NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def _session(patient: Patient, item_id: int) -> PlanItem:
    """One of the patient's own items (anyone else's is 404, like a missing one)."""
    return get_object_or_404(
        PlanItem.objects.select_related("plan__clinic", "plan__patient"),
        pk=item_id,
        plan__patient=patient,
    )


def _page(request, patient, token, item, *, kind, form, result=None, refused=None, status=200):
    now = timezone.now()
    context = {
        "patient": patient,
        "token": token,
        "item": item,
        "kind": kind,
        "title": _patient_title(item, request.LANGUAGE_CODE),
        "form": form,
        "result": result,
        "days": [WEEKDAYS[d] for d in (result.request.preferred_weekdays if result else [])],
        "refused": refused,
        "urgent": bool(result and result.urgent),
        "crisis": crisis.for_clinic(patient.clinic.crisis_country, request.LANGUAGE_CODE),
        "readiness_open": item.kind in readiness.READINESS_KINDS and _readiness_open(item, now),
    }
    return render(request, "pages/session_request.html", context, status=status)


def _readiness_open(item: PlanItem, now) -> bool:
    try:
        readiness.check_open(item, now)
    except ValidationError:
        return False
    return True


def _handle(request, patient, token, item, *, kind: str, form_class, service):
    now = timezone.now()
    try:
        session_requests.check_requestable(item, patient=patient, now=now)
    except ValidationError:
        # The rule's words are for staff; the patient reads why in their language.
        refused = _("This session cannot be changed here any more. Please call your clinic.")
        return _page(request, patient, token, item, kind=kind, form=None, refused=refused)
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = service(
                patient=patient, item=item, via=SessionRequest.Via.LINK, now=now,
                **form.cleaned_data,
            )  # fmt: skip
        except ValidationError as problem:
            for field, errors in problem.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            return _page(request, patient, token, item, kind=kind, form=None, result=result)
    status = 400 if form.errors else 200
    return _page(request, patient, token, item, kind=kind, form=form, status=status)


@patient_link
def session_confirm(request: HttpRequest, patient: Patient, token: str, item_id: int):
    item = _session(patient, item_id)
    now = timezone.now()
    readiness_form = item.kind in readiness.READINESS_KINDS and _readiness_open(item, now)
    if request.method == "GET" and readiness_form:
        return redirect("patient-item", token, item.pk)  # the four statements
    return _handle(
        request, patient, token, item, kind=SessionRequest.Kind.CONFIRM, form_class=ConfirmForm,
        service=session_requests.request_confirm,
    )  # fmt: skip


@patient_link
def session_move(request: HttpRequest, patient: Patient, token: str, item_id: int):
    item = _session(patient, item_id)
    return _handle(
        request, patient, token, item, kind=SessionRequest.Kind.RESCHEDULE, form_class=MoveForm,
        service=session_requests.request_reschedule,
    )  # fmt: skip
