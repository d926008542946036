"""Clinics, providers and patients."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from backend.api.serializers.fields import PhoneField
from backend.clinics.models import Clinic, Provider
from backend.patients import services as patient_services
from backend.patients.models import ConsentMethod, Patient

CHANNELS = ("email", "sms")


class ClinicSerializer(serializers.ModelSerializer):
    """A clinic in and out. Input is only validated here: the view saves it through
    backend.clinics.services, which also applies Clinic.clean (no drug or diagnosis word in a
    sender name), so the API and the admin refuse the same names."""

    phone = PhoneField(required=False, allow_blank=True)
    sms_from_number = PhoneField(required=False, allow_blank=True)

    class Meta:
        model = Clinic
        fields = [
            "id", "name", "time_zone", "opening_hours", "slot_minutes", "holiday_country",
            "holiday_subdivision", "sender_name", "sms_sender_name", "sender_email", "phone",
            "sms_from_number", "name_treatment_in_messages", "sms_daily_limit", "sms_weekly_limit",
        ]  # fmt: skip


class ProviderSerializer(serializers.ModelSerializer):
    """Output; also the input for changes (role, active, mobile)."""

    name = serializers.SerializerMethodField()
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    mobile = PhoneField(required=False, allow_blank=True)

    class Meta:
        model = Provider
        fields = ["id", "clinic", "name", "username", "email", "role", "active", "mobile"]
        read_only_fields = ["clinic"]

    def get_name(self, obj: Provider) -> str:
        return obj.user.get_full_name() or obj.user.get_username()


class ProviderCreateSerializer(serializers.Serializer):
    """Input: a provider with a new login account (admins only), made by
    clinics.services.provider_create; the output is a ProviderSerializer."""

    clinic = serializers.PrimaryKeyRelatedField(queryset=Clinic.objects.all())
    username = serializers.RegexField(r"^[\w.@+-]{1,150}$", max_length=150)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    first_name = serializers.CharField(max_length=150, required=False, default="")
    last_name = serializers.CharField(max_length=150, required=False, default="")
    role = serializers.ChoiceField(choices=Provider.Role.choices)
    active = serializers.BooleanField(required=False, default=True)
    mobile = PhoneField(required=False, allow_blank=True, default="")


class PatientSerializer(serializers.ModelSerializer):
    """Patients in and out. Consent fields record when and how they changed.

    Setting `email_consent` or `sms_consent` stamps `*_consent_at` with the time of the request
    and `*_consent_method` with `consent_method` (default `api`). Withdrawing consent is an
    opt-out that cancels that channel's pending reminders. Input is only validated here: the view
    saves it through backend.patients.services, which stamps and opts out.
    """

    mobile = PhoneField(required=False, allow_blank=True)
    consent_method = serializers.ChoiceField(
        choices=ConsentMethod.choices, write_only=True, required=False, default=ConsentMethod.API,
        help_text="How the consent change given in this request was obtained.",
    )  # fmt: skip

    class Meta:
        model = Patient
        fields = [
            "id", "clinic", "first_name", "last_name", "date_of_birth", "email", "mobile",
            "time_zone", "language", "prefers_email", "prefers_sms", "quiet_start", "quiet_end",
            "preferred_weekdays", "earliest_appointment", "latest_appointment",
            "email_consent", "email_consent_at", "email_consent_method",
            "sms_consent", "sms_consent_at", "sms_consent_method", "sms_written_consent",
            "email_opted_out_at", "sms_opted_out_at", "consent_method",
        ]  # fmt: skip
        read_only_fields = [
            "email_consent_at", "email_consent_method", "sms_consent_at", "sms_consent_method",
            "email_opted_out_at", "sms_opted_out_at",
        ]  # fmt: skip

    def validate(self, attrs: dict) -> dict:
        earliest = attrs.get(
            "earliest_appointment", getattr(self.instance, "earliest_appointment", None)
        )
        latest = attrs.get("latest_appointment", getattr(self.instance, "latest_appointment", None))
        if earliest and latest and earliest >= latest:
            raise serializers.ValidationError(
                {"latest_appointment": "The latest appointment time must be after the earliest."},
                code="time_range",
            )
        return attrs


class PatientSelfSerializer(PatientSerializer):
    """What a patient may change about themselves: how and when they are reached, and consent."""

    # A patient's own change is always consent given (or withdrawn) through the web.
    consent_method = serializers.ChoiceField(
        choices=[(ConsentMethod.WEB.value, ConsentMethod.WEB.label)], write_only=True,
        required=False, default=ConsentMethod.WEB,
    )  # fmt: skip

    class Meta(PatientSerializer.Meta):
        read_only_fields = [
            *PatientSerializer.Meta.read_only_fields, "clinic", "first_name", "last_name",
            "date_of_birth", "sms_written_consent",
        ]  # fmt: skip

    def update(self, instance: Patient, validated_data: dict) -> Patient:
        """Saved through the patient service (MeView saves the serializer)."""
        changes = dict(validated_data)
        method = changes.pop("consent_method", ConsentMethod.WEB)
        return patient_services.patient_update(
            patient=instance, changes=changes, consent_method=method, now=timezone.now()
        )
