from django import forms
from django.contrib import admin
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from backend.core.admin_scope import ClinicScopedAdminMixin, clinic_of
from backend.patients import services
from backend.patients.models import ConsentMethod, Patient

# How staff can have taken consent; the other methods belong to the patient's own actions.
STAFF_CONSENT_METHODS = [
    (ConsentMethod.WRITTEN.value, ConsentMethod.WRITTEN.label),
    (ConsentMethod.VERBAL.value, ConsentMethod.VERBAL.label),
]
CONSENT_STAMPS = [
    "email_consent_at",
    "email_consent_method",
    "sms_consent_at",
    "sms_consent_method",
]


class PatientForm(forms.ModelForm):
    consent_method = forms.ChoiceField(
        choices=STAFF_CONSENT_METHODS,
        initial=ConsentMethod.WRITTEN,
        help_text="How the patient gave or withdrew consent, if you change it here. "
        "When and how are recorded for you.",
    )

    class Meta:
        model = Patient
        fields = ["email_consent", "sms_consent"]  # the admin's fieldsets add the rest


@admin.register(Patient)
class PatientAdmin(ClinicScopedAdminMixin, SimpleHistoryAdmin):
    """Patients are saved through the patient service, so consent is stamped (when, how) and a
    withdrawal opts the patient out and cancels that channel's pending reminders, as it does from
    the API and the patient's own page. The stamps themselves are read-only."""

    form = PatientForm
    provider_field = "plans__provider"
    actions = ["revoke_links"]
    list_display = ["__str__", "email", "mobile", "time_zone", "sms_consent", "email_consent"]
    search_fields = ["first_name", "last_name", "email", "mobile"]
    list_filter = ["sms_consent", "email_consent", "language"]
    readonly_fields = [*CONSENT_STAMPS, "email_opted_out_at", "sms_opted_out_at"]
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
                    "consent_method",
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

    @admin.action(
        description="Revoke the links sent to the selected patients", permissions=["change"]
    )
    def revoke_links(self, request, queryset):
        for patient in queryset:
            services.patient_revoke_links(patient=patient)
        self.message_user(
            request,
            f"Links revoked for {queryset.count()} patient(s). Their next message brings new ones.",
        )

    def save_model(self, request, obj, form, change):
        method = form.cleaned_data["consent_method"]
        values = {f: v for f, v in form.cleaned_data.items() if f != "consent_method"}
        if change:
            changed = {f: values[f] for f in form.changed_data if f in values}
            saved = services.patient_update(
                patient=obj, changes=changed, consent_method=method, now=timezone.now()
            )
        else:
            saved = services.patient_create(
                values=values, consent_method=method, now=timezone.now()
            )
        obj.pk = saved.pk
        obj.refresh_from_db()
