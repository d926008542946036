from django import forms
from django.contrib import admin
from django.template.defaultfilters import pluralize
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from backend.core.admin_scope import ClinicScopedAdminMixin
from backend.core.scope import clinic_id_of
from backend.core.widgets import TimeOfDayInput, TimeZoneField, WeekdaysField
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
    time_zone = TimeZoneField(
        help_text="Where the patient lives: reminders and quiet hours follow this zone."
    )
    preferred_weekdays = WeekdaysField(
        label="Preferred days for sessions",
        help_text="Leave all unticked if any day suits the patient.",
    )

    class Meta:
        model = Patient
        fields = ["email_consent", "sms_consent"]  # the admin's fieldsets add the rest
        # Meta is inherited by the form the admin builds from its fieldsets, so these reach
        # every field listed there; the admin also labels read-only fields from Meta.labels
        # (the consent stamps, and every field for a user who may only view).
        widgets = {
            "quiet_start": TimeOfDayInput,
            "quiet_end": TimeOfDayInput,
            "earliest_appointment": TimeOfDayInput,
            "latest_appointment": TimeOfDayInput,
        }
        labels = {
            "mobile": "Mobile number (E.164, e.g. +12025550143)",
            "prefers_email": "Remind by email",
            "prefers_sms": "Remind by text message",
            "quiet_start": "No messages after",
            "quiet_end": "No messages before",
            "earliest_appointment": "Earliest appointment time",
            "latest_appointment": "Latest appointment time",
            "email_consent": "Agreed to email",
            "sms_consent": "Agreed to text messages",
            "sms_written_consent": "Express written consent to texts on file",
            "email_consent_at": "When email consent last changed",
            "email_consent_method": "How email consent was given or withdrawn",
            "sms_consent_at": "When text message consent last changed",
            "sms_consent_method": "How text message consent was given or withdrawn",
            "email_opted_out_at": "Opted out of email at",
            "sms_opted_out_at": "Opted out of text messages at",
            # Declared above; repeated for the read-only view.
            "time_zone": "Time zone",
            "preferred_weekdays": "Preferred days for sessions",
        }
        help_texts = {
            "mobile": "Needed for text message reminders.",
            "quiet_start": "Quiet hours start, on the patient's clock: a reminder due in them "
            "waits until they end.",
            "quiet_end": "Quiet hours end. Leave both empty for no quiet hours.",
            "earliest_appointment": "Sessions start no earlier than this, on the patient's "
            "clock. Empty: any time the clinic is open.",
            "latest_appointment": "Sessions start no later than this. Empty: any time the "
            "clinic is open.",
        }


@admin.register(Patient)
class PatientAdmin(ClinicScopedAdminMixin, SimpleHistoryAdmin):
    """Patients are saved through the patient service, so consent is stamped (when, how) and a
    withdrawal opts the patient out and cancels that channel's pending reminders, as it does from
    the API and the patient's own page. The stamps themselves are read-only. Deleting goes
    through the service too (a patient with plans is protected: the page lists their plans)."""

    form = PatientForm
    provider_field = "plans__provider"
    actions = ["revoke_links"]
    list_display = ["__str__", "email", "mobile", "time_zone", "sms_consent", "email_consent"]
    search_fields = ["first_name", "last_name", "email", "mobile"]
    # A clinic network holds 100,000 patients: the changelist counts the rows it filters (for its
    # paginator) but not the whole table again for "n total".
    show_full_result_count = False
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
        if clinic_id_of(request.user):
            from backend.clinics.models import Clinic

            clinic = Clinic.objects.filter(pk=clinic_id_of(request.user)).first()
            initial.setdefault("clinic", clinic_id_of(request.user))
            if clinic is not None:
                initial.setdefault("time_zone", clinic.time_zone)  # most patients live nearby
        return initial

    @admin.action(
        description="Revoke the links sent to the selected patients", permissions=["change"]
    )
    def revoke_links(self, request, queryset):
        for patient in queryset:
            services.patient_revoke_links(patient=patient)
        self.message_user(
            request,
            f"Links revoked for {queryset.count()} patient{pluralize(queryset.count())}. "
            "Their next message brings new ones.",
        )

    def save_model(self, request, obj, form, change):
        method = form.cleaned_data["consent_method"]
        values = {f: v for f, v in form.cleaned_data.items() if f != "consent_method"}
        if change:
            # Every field of the form, not just form.changed_data: a history "revert" form is
            # compared with the old version, not with the row as it is now. The service stamps
            # only the consent that differs from the row it locked.
            saved = services.patient_update(
                patient=obj, changes=values, consent_method=method, now=timezone.now()
            )
        else:
            saved = services.patient_create(
                values=values, consent_method=method, now=timezone.now()
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.patient_delete(patient=obj)

    def delete_queryset(self, request, queryset):
        for patient in queryset:
            services.patient_delete(patient=patient)
