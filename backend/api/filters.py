"""django-filter filter sets for the list endpoints."""

from __future__ import annotations

import django_filters as filters
from django.db.models import Q

from backend.patients.models import Patient
from backend.plans.models import PlanItem, TreatmentPlan
from backend.protocols.models import Protocol
from backend.reminders.models import Reminder

MAX_ID = 2**62


def _id(field: str) -> filters.NumberFilter:
    # Plain ids, not model choices: an id outside the caller's scope filters to nothing rather
    # than failing validation, which would confirm that it exists.
    return filters.NumberFilter(
        field_name=f"{field}_id", min_value=1, max_value=MAX_ID, decimal_places=0
    )


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
    start_after = filters.IsoDateTimeFilter(field_name="start", lookup_expr="gte")
    start_before = filters.IsoDateTimeFilter(field_name="start", lookup_expr="lt")

    class Meta:
        model = PlanItem
        fields = ["kind", "status"]


class ReminderFilter(filters.FilterSet):
    plan = _id("plan")
    item = _id("item")
    due_after = filters.IsoDateTimeFilter(
        field_name="send_at", lookup_expr="gte", help_text="send_at at or after (ISO 8601)."
    )
    due_before = filters.IsoDateTimeFilter(
        field_name="send_at", lookup_expr="lt", help_text="send_at before (ISO 8601)."
    )

    class Meta:
        model = Reminder
        fields = ["status", "channel", "audience", "message_kind"]
