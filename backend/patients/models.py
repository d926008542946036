"""Patients, their preferences for messages and appointments, and their consent."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from phonenumber_field.modelfields import PhoneNumberField
from simple_history.models import HistoricalRecords

from backend.core.validators import (
    validate_date_of_birth,
    validate_time_zone,
    validate_weekdays,
)


class ConsentMethod(models.TextChoices):
    WRITTEN = "written", "Signed form on file"
    VERBAL = "verbal", "Verbal, recorded by staff"
    WEB = "web", "Patient link"
    SMS_KEYWORD = "sms_keyword", "SMS keyword (START/STOP)"
    EMAIL_LINK = "email_link", "Email unsubscribe link"
    API = "api", "API"


class Patient(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="patients")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="patient",
    )
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    date_of_birth = models.DateField(validators=[validate_date_of_birth])
    email = models.EmailField(blank=True, default="")
    mobile = PhoneNumberField(blank=True, default="", help_text="E.164, e.g. +15551234567")
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="en")
    prefers_email = models.BooleanField(default=True)
    prefers_sms = models.BooleanField(default=True)
    quiet_start = models.TimeField(null=True, blank=True, default=datetime.time(21, 0))
    quiet_end = models.TimeField(null=True, blank=True, default=datetime.time(8, 0))
    preferred_weekdays = models.JSONField(
        default=list, blank=True, validators=[validate_weekdays], help_text="0 = Monday"
    )
    earliest_appointment = models.TimeField(null=True, blank=True)
    latest_appointment = models.TimeField(null=True, blank=True)

    email_consent = models.BooleanField("agreed to email", default=False)
    email_consent_at = models.DateTimeField(null=True, blank=True)
    email_consent_method = models.CharField(
        max_length=16, choices=ConsentMethod.choices, blank=True, default=""
    )
    sms_consent = models.BooleanField("agreed to text messages", default=False)
    sms_consent_at = models.DateTimeField(null=True, blank=True)
    sms_consent_method = models.CharField(
        max_length=16, choices=ConsentMethod.choices, blank=True, default=""
    )
    sms_written_consent = models.BooleanField(
        default=False,
        help_text="Express written consent on file; lifts the 1/day, 3/week SMS limit to the "
        "clinic's own limits.",
    )
    email_opted_out_at = models.DateTimeField(null=True, blank=True)
    sms_opted_out_at = models.DateTimeField(null=True, blank=True)
    link_generation = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Part of every link sent to the patient; raising it revokes all of them.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [models.Index(fields=["clinic", "last_name"])]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def may_email(self) -> bool:
        return bool(self.email) and self.email_consent and self.email_opted_out_at is None

    @property
    def may_sms(self) -> bool:
        return bool(self.mobile) and self.sms_consent and self.sms_opted_out_at is None
