"""Admin forms for building and changing plans; validation errors come from the services."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms

from backend.clinics.models import Provider
from backend.patients.models import Patient
from backend.protocols import services as protocol_services
from backend.protocols.models import Protocol
from scheduler.timeutil import LocalTimeKind, resolve_local


class NewPlanForm(forms.Form):
    patient = forms.ModelChoiceField(queryset=Patient.objects.none())
    protocol = forms.ModelChoiceField(queryset=Protocol.objects.filter(is_active=True))
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    provider = forms.ModelChoiceField(
        queryset=Provider.objects.none(), label="Responsible provider"
    )
    existing_plans = forms.ChoiceField(
        label="The patient already has a plan under way",
        required=False,
        choices=[
            ("", "Choose…"),
            ("parallel", "Keep it: run both plans"),
            ("replace", "Cancel it: this plan replaces it"),
        ],
    )
    session_time = forms.TimeField(
        required=False,
        label="Sessions at (clinic time)",
        widget=forms.TimeInput(attrs={"type": "time", "step": 900}, format="%H:%M"),
        help_text="Each session takes the first free time at or after this, else the latest "
        "before it that day. Empty: the first free time of the day. The provider is never "
        "booked twice.",
    )
    dosing_sessions = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=12,
        help_text="Leave empty for the protocol's default number of dosing sessions.",
    )

    def __init__(self, *args, clinic_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        patients = Patient.objects.select_related("clinic")
        providers = Provider.objects.select_related("user").filter(active=True)
        if clinic_id is not None:
            patients, providers = (
                patients.filter(clinic_id=clinic_id),
                providers.filter(clinic_id=clinic_id),
            )
        self.fields["patient"].queryset = patients
        self.fields["provider"].queryset = providers
        # The built-in library and the clinic's own versions (administrators see all).
        self.fields["protocol"].queryset = protocol_services.visible_to(
            clinic_id, everything=clinic_id is None
        ).filter(is_active=True)

    def options(self) -> dict:
        options = {}
        if sessions := self.cleaned_data.get("dosing_sessions"):
            options["dosing_sessions"] = sessions
        if at := self.cleaned_data.get("session_time"):
            options["session_time"] = at.strftime("%H:%M")
        return options


class RescheduleForm(forms.Form):
    new_start = forms.DateTimeField(
        label="New start (clinic time)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args, time_zone: str, **kwargs):
        self.time_zone = time_zone
        super().__init__(*args, **kwargs)

    def clean_new_start(self) -> dt.datetime:
        """The typed clinic wall-clock time as an instant; a time that does not exist or that
        happens twice on a DST night is refused rather than silently shifted."""
        value = self.cleaned_data["new_start"]
        wall = value.replace(tzinfo=None)
        instant, kind = resolve_local(wall.date(), wall.time(), ZoneInfo(self.time_zone))
        if kind is LocalTimeKind.GAP:
            raise forms.ValidationError(
                f"{wall:%H:%M} does not exist on {wall:%d %b %Y} in {self.time_zone} (the clocks "
                "go forward that night); choose another time."
            )
        if kind is LocalTimeKind.AMBIGUOUS:
            raise forms.ValidationError(
                f"{wall:%H:%M} happens twice on {wall:%d %b %Y} in {self.time_zone} (the clocks "
                "go back that night); choose another time."
            )
        return instant


class MissedForm(forms.Form):
    replan = forms.BooleanField(
        required=False,
        initial=True,
        label="Re-plan: move this session to the next feasible time",
        help_text="Later items move only where a spacing rule would break. Untick to record the "
        "no-show and keep the course as it is.",
    )
    outcome_notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
