from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from backend.core.admin_scope import ClinicScopedAdminMixin, clinic_of
from backend.patients.models import Patient


@admin.register(Patient)
class PatientAdmin(ClinicScopedAdminMixin, SimpleHistoryAdmin):
    provider_field = "plans__provider"
    list_display = ["__str__", "email", "mobile", "time_zone", "sms_consent", "email_consent"]
    search_fields = ["first_name", "last_name", "email", "mobile"]
    list_filter = ["sms_consent", "email_consent", "language"]
    readonly_fields = ["email_opted_out_at", "sms_opted_out_at"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "clinic",
                    "first_name",
                    "last_name",
                    "date_of_birth",
                    "email",
                    "mobile",
                    "time_zone",
                    "language",
                ]
            },
        ),
        (
            "Appointments",
            {"fields": ["preferred_weekdays", "earliest_appointment", "latest_appointment"]},
        ),
        ("Messages", {"fields": ["prefers_email", "prefers_sms", "quiet_start", "quiet_end"]}),
        (
            "Consent",
            {
                "fields": [
                    "email_consent",
                    "email_consent_at",
                    "email_consent_method",
                    "sms_consent",
                    "sms_consent_at",
                    "sms_consent_method",
                    "sms_written_consent",
                    "email_opted_out_at",
                    "sms_opted_out_at",
                ]
            },
        ),
    ]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if clinic_of(request.user):
            initial.setdefault("clinic", clinic_of(request.user))
        return initial

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "clinic" and not request.user.is_superuser:
            from backend.clinics.models import Clinic

            kwargs["queryset"] = Clinic.objects.filter(pk=clinic_of(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
