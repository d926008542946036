"""django-filter filter sets for the list endpoints."""

from __future__ import annotations

import datetime as dt

import django_filters as filters
from django import forms
from django.db.models import Q
from django_filters.fields import IsoDateTimeField

from backend.measures.models import QuestionnaireResponse
from backend.patients.models import Patient
from backend.plans.models import PlanItem, TreatmentPlan
from backend.protocols.models import Protocol
from backend.reminders.models import Reminder
from backend.safety.models import Flag

MAX_ID = 2**62


def _id(field: str) -> filters.NumberFilter:
    # Plain ids, not model choices: an id outside the caller's scope filters to nothing rather
    # than failing validation, which would confirm that it exists.
    return filters.NumberFilter(
        field_name=f"{field}_id", min_value=1, max_value=MAX_ID, decimal_places=0
    )


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant, normalised to UTC before it reaches the database.

    Python accepts UTC offsets up to ±23:59, PostgreSQL only up to ±15:59, so an offset such
    as -17:11 passed through unchanged is a database error (a 500) instead of a plain filter.
    """

    default_error_messages = {
        "out_of_range": "The time is outside the range this service can store "
        "(years 1 to 9999 in UTC).",
    }

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None or parsed.tzinfo is None:
            return parsed
        try:
            return parsed.astimezone(dt.UTC)
        except OverflowError as exc:
            raise forms.ValidationError(
                self.error_messages["out_of_range"], code="out_of_range"
            ) from exc


class UtcIsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class PatientFilter(filters.FilterSet):
    clinic = _id("clinic")
    name = filters.CharFilter(method="filter_name", help_text="Part of the first or last name.")

    class Meta:
        model = Patient
        fields = ["email", "language"]

    def filter_name(self, qs, name, value):
        return qs.filter(Q(first_name__icontains=value) | Q(last_name__icontains=value))


class ProtocolFilter(filters.FilterSet):
    class Meta:
        model = Protocol
        fields = ["slug", "version", "is_active"]


class PlanFilter(filters.FilterSet):
    patient = _id("patient")
    provider = _id("provider")
    protocol = _id("protocol")
    clinic = _id("clinic")

    class Meta:
        model = TreatmentPlan
        fields = ["status"]


class ItemFilter(filters.FilterSet):
    plan = _id("plan")
    start_after = UtcIsoDateTimeFilter(field_name="start", lookup_expr="gte")
    start_before = UtcIsoDateTimeFilter(field_name="start", lookup_expr="lt")

    class Meta:
        model = PlanItem
        fields = ["kind", "status"]


class ReminderFilter(filters.FilterSet):
    plan = _id("plan")
    item = _id("item")
    due_after = UtcIsoDateTimeFilter(
        field_name="send_at", lookup_expr="gte", help_text="send_at at or after (ISO 8601)."
    )
    due_before = UtcIsoDateTimeFilter(
        field_name="send_at", lookup_expr="lt", help_text="send_at before (ISO 8601)."
    )

    class Meta:
        model = Reminder
        fields = ["status", "channel", "audience", "message_kind"]


class ResponseFilter(filters.FilterSet):
    patient = _id("patient")
    item = _id("item")

    class Meta:
        model = QuestionnaireResponse
        fields = ["instrument", "urgent"]


class FlagFilter(filters.FilterSet):
    patient = _id("patient")
    open = filters.BooleanFilter(
        field_name="acknowledged_at", lookup_expr="isnull", help_text="Not yet acknowledged."
    )

    class Meta:
        model = Flag
        fields = ["kind"]
