"""Clinics, their calendars, and the staff who work there."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from backend.core.validators import validate_opening_hours, validate_time_zone
from backend.safety.validators import validate_crisis_country, validate_urgent_answers
from scheduler.privacy import private_words_in

# Every SMS opens with the sender name: 20 characters keep the longest one inside a segment.
SMS_SENDER_MAX_LENGTH = 20
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
    sender_name = models.CharField(
        max_length=80,
        blank=True,
        default="",
        help_text="The name emails come from. Never a drug or diagnosis word: it shows in inboxes "
        "and on lock screens. Empty: the clinic's name, if it names neither.",
    )
    sms_sender_name = models.CharField(
        "text sender name",
        max_length=SMS_SENDER_MAX_LENGTH,
        blank=True,
        default="",
        help_text="The short name every text message opens with (at most 20 characters), e.g. "
        '"Harbor Light". Never a drug or diagnosis word.',
    )
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
    calendar_shows_names = models.BooleanField(
        "show patients' full names in calendar feeds",
        default=False,
        help_text="Off by default: providers' calendar feeds name patients by their initials, "
        "since calendars sync to phones, lock screens and shared views.",
    )
    history = HistoricalRecords()

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse a sender name that names a drug or diagnosis (rule sender.private_word), and a
        blank email sender name when the clinic's own name would name one in its place."""
        errors = {}
        for field in ("sender_name", "sms_sender_name"):
            value = getattr(self, field)
            found = private_words_in(value)
            if found:
                errors[field] = ValidationError(
                    f"{field}: {value!r} names {found[0]!r}, which must never reach an inbox or "
                    "a lock screen; choose a name without drug or diagnosis words "
                    "(rule: sender.private_word).",
                    code="sender.private_word",
                )
        found = private_words_in(self.name)
        if not self.sender_name.strip() and found and "sender_name" not in errors:
            errors["sender_name"] = ValidationError(
                f"sender_name: required, because the clinic's name {self.name!r} names "
                f"{found[0]!r} and would otherwise be the sender; give a name without drug or "
                "diagnosis words (rule: sender.private_word).",
                code="sender.private_word",
            )
        if errors:
            raise ValidationError(errors)

    def email_sender_name(self) -> str:
        """The name emails come from: the sender name, else the clinic's name when it names no
        drug or diagnosis; "" when neither may be used (messages then use a neutral name)."""
        for name in (self.sender_name, self.name):
            if name.strip() and not private_words_in(name):
                return name.strip()
        return ""

    def sms_sender(self) -> str:
        """The name every SMS opens with: the text sender name, else the email sender name when
        it is short enough; "" when neither fits (messages then use a neutral name)."""
        if self.sms_sender_name.strip() and not private_words_in(self.sms_sender_name):
            return self.sms_sender_name.strip()
        fallback = self.email_sender_name()
        return fallback if len(fallback) <= SMS_SENDER_MAX_LENGTH else ""


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
    # The provider's private calendar feed (backend/clinics/calendar_feed.py): the URL holds a
    # random secret, the database only its SHA-256, so a copy of the database (or of its history)
    # opens no feed. Empty: no feed. Issuing a new one replaces (revokes) the old.
    calendar_feed_key_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    calendar_feed_issued_at = models.DateTimeField(null=True, blank=True, editable=False)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["calendar_feed_key_hash"],
                condition=~models.Q(calendar_feed_key_hash=""),
                name="provider_calendar_feed_key_unique",
            )
        ]

    def __str__(self) -> str:
        name = self.user.get_full_name() or self.user.get_username()
        return f"{name} ({self.get_role_display()})"
