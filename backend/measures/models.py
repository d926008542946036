"""What patients tell their care team, each as its own record.

A response never lives in a plan item's status: answering a questionnaire completes the
assessment item it was asked for (measures.services), and nothing a patient submits completes a
prescriber's check-in, which only staff mark done.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class QuestionnaireResponse(models.Model):
    class Source(models.TextChoices):
        LINK = "link", "Patient link"
        STAFF = "staff", "Entered by staff"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="questionnaire_responses"
    )
    plan = models.ForeignKey(
        "plans.TreatmentPlan",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="questionnaire_responses",
    )
    item = models.ForeignKey(
        "plans.PlanItem",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="questionnaire_responses",
        help_text="The assessment it answered, if any.",
    )
    instrument = models.CharField(max_length=32, help_text="e.g. phq9, gad7")
    instrument_version = models.CharField(max_length=16)
    language = models.CharField(max_length=8)
    answers = models.JSONField(help_text='Question number to answer value, e.g. {"9": 1}.')
    total = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=32)
    band_label = models.CharField(max_length=64)
    urgent = models.BooleanField(default=False)
    urgent_reasons = models.JSONField(default=list, blank=True)
    submitted_at = models.DateTimeField()
    source = models.CharField(max_length=8, choices=Source.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["patient", "instrument", "submitted_at"])]

    def __str__(self) -> str:
        return f"{self.instrument.upper()} {self.total} ({self.band_label})"


class JournalEntry(models.Model):
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="journal_entries"
    )
    plan = models.ForeignKey(
        "plans.TreatmentPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    shared_with_care_team = models.BooleanField(
        default=False, help_text="The patient chose to share this entry with their care team."
    )
    written_at = models.DateTimeField()

    class Meta:
        ordering = ["-written_at", "-id"]
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"Journal entry of {self.written_at:%Y-%m-%d}"
