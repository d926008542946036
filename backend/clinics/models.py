"""Clinics, their calendars, and the staff who work there."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from backend.core.validators import validate_opening_hours, validate_time_zone
from backend.safety.validators import validate_crisis_country, validate_urgent_answers

WEEKDAY_HOURS = [["08:00", "18:00"]]
DEFAULT_OPENING_HOURS = {str(d): WEEKDAY_HOURS for d in range(5)}


def default_opening_hours() -> dict:
    return {k: [list(r) for r in v] for k, v in DEFAULT_OPENING_HOURS.items()}


class Clinic(models.Model):
    name = models.CharField(max_length=120)
    time_zone = models.CharField(
        max_length=64, default="America/New_York", validators=[validate_time_zone]
    )
    opening_hours = models.JSONField(
        default=default_opening_hours,
        validators=[validate_opening_hours],
        help_text='Per weekday (0 = Monday): {"0": [["08:00", "18:00"]], ...}',
    )
    slot_minutes = models.PositiveSmallIntegerField(default=30)
    holiday_country = models.CharField(
        max_length=2, blank=True, default="US", help_text="ISO country code for public holidays."
    )
    holiday_subdivision = models.CharField(max_length=8, blank=True, default="")
    sender_name = models.CharField(max_length=80, blank=True, default="")
    sender_email = models.EmailField(blank=True, default="")
    phone = PhoneNumberField(blank=True, default="")
    sms_from_number = PhoneNumberField(blank=True, default="")
    name_treatment_in_messages = models.BooleanField(
        "name the treatment in email bodies",
        default=False,
        help_text="Off by default: SMS texts and email subjects never name a drug or diagnosis.",
    )
    sms_daily_limit = models.PositiveSmallIntegerField(
        default=2, help_text="Clinic's own SMS limit per patient per day, with written consent."
    )
    sms_weekly_limit = models.PositiveSmallIntegerField(default=6)
    # The safety loop (backend/safety): who hears of an urgent answer, and what patients are told.
    on_call_contact = models.ForeignKey(
        "clinics.Provider",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Alerted with the patient's provider, by email and SMS, of every urgent flag.",
    )
    backup_contact = models.ForeignKey(
        "clinics.Provider",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Alerted when nobody acknowledges an urgent flag in time.",
    )
    escalation_minutes = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(240)],
        help_text="Minutes an urgent flag may wait for acknowledgement before the backup hears.",
    )
    crisis_country = models.CharField(
        max_length=2,
        default="US",
        validators=[validate_crisis_country],
        help_text="Whose crisis lines patients are shown (backend/safety/crisis_resources.json).",
    )
    urgent_answers = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_urgent_answers],
        help_text="Answers this clinic treats as urgent, besides PHQ-9 item 9: "
        '[{"instrument": "gad7", "question": 7, "min_value": 3}]',
    )
    history = HistoricalRecords()

    def __str__(self) -> str:
        return self.name


class ClosedDate(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="closed_dates")
    date = models.DateField()
    reason = models.CharField(max_length=120, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "date"], name="closed_date_unique_per_clinic")
        ]
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.reason}".strip()


class Coordinator(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coordinator"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="coordinators")

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


class Provider(models.Model):
    class Role(models.TextChoices):
        PRESCRIBER = "prescriber", "Prescriber"
        THERAPIST = "therapist", "Therapist"
        NURSE = "nurse", "Nurse"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="providers")
    role = models.CharField(max_length=16, choices=Role.choices)
    active = models.BooleanField(default=True)
    mobile = PhoneNumberField(blank=True, default="")
    history = HistoricalRecords()

    def __str__(self) -> str:
        name = self.user.get_full_name() or self.user.get_username()
        return f"{name} ({self.get_role_display()})"
