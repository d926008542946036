"""Questionnaire responses and shared journal entries, read-only: what a patient submitted is
never edited afterwards. A journal entry the patient kept private is not listed for anyone."""

from django.contrib import admin

from backend.core.admin_scope import ClinicScopedAdminMixin, ReadOnlyAdminMixin
from backend.measures.models import JournalEntry, QuestionnaireResponse


class ReadOnlyAdmin(ReadOnlyAdminMixin, ClinicScopedAdminMixin, admin.ModelAdmin):
    clinic_field = "clinic"
    provider_field = "patient__plans__provider"


@admin.register(QuestionnaireResponse)
class QuestionnaireResponseAdmin(ReadOnlyAdmin):
    list_display = [
        "submitted_at",
        "patient",
        "instrument",
        "total",
        "band_label",
        "urgent",
        "source",
    ]
    list_filter = ["instrument", "band", "urgent", "source"]
    search_fields = ["patient__first_name", "patient__last_name"]
    list_select_related = ["patient"]
    date_hierarchy = "submitted_at"


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ["written_at", "patient", "text"]
    search_fields = ["patient__first_name", "patient__last_name"]
    list_select_related = ["patient"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(shared_with_care_team=True)
