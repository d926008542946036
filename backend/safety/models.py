"""Flags that put a patient in front of a clinician, and the inbox of what patients write.

A flag is raised by a scored answer (PHQ-9 item 9 above 0, a clinic's urgent answer, a marked
worsening), by words of distress in a text message, or by a session marked missed (a welfare call
for staff to make: in depression care a no-show is a warning sign). An urgent flag is alerted
through the reminder outbox at once and re-alerted to the clinic's backup contact when nobody
acknowledges it in time (safety.services); every flag stays on the provider dashboard and the plan
page until a clinician acknowledges it, with a note.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from phonenumber_field.modelfields import PhoneNumberField


class PatientMessage(models.Model):
    """Something a patient wrote to the clinic: a text message reply, a note before a check-in,
    a journal entry shared with the care team. Each stays unread in the clinic inbox until a
    member of staff marks it read."""

    class Source(models.TextChoices):
        SMS = "sms", "Text message"
        CHECK_IN_NOTE = "check_in_note", "Note before a check-in"
        JOURNAL = "journal", "Shared journal entry"
        READINESS = "readiness", "Answer before a session"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
        help_text="Empty when the number is not a patient of this clinic.",
    )
    plan = models.ForeignKey(
        "plans.TreatmentPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    item = models.ForeignKey(
        "plans.PlanItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    journal_entry = models.OneToOneField(
        "measures.JournalEntry",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="inbox_message",
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    body = models.TextField()
    from_number = PhoneNumberField(blank=True, default="")
    distress_words = models.JSONField(
        default=list, blank=True, help_text="Words of distress found in the message."
    )
    received_at = models.DateTimeField()
    read_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["clinic", "read_at"])]

    def __str__(self) -> str:
        return f"{self.get_source_display()} of {self.received_at:%Y-%m-%d %H:%M}Z"


class Flag(models.Model):
    class Kind(models.TextChoices):
        URGENT = "urgent", "Urgent"
        WORSENING = "worsening", "Worsening"
        # A task for staff, not an alarm: call the patient who did not come (no escalation).
        MISSED_SESSION = "missed_session", "Missed session: welfare call"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="flags")
    plan = models.ForeignKey(
        "plans.TreatmentPlan", on_delete=models.PROTECT, related_name="flags",
        help_text="The plan whose provider is alerted.",
    )  # fmt: skip
    kind = models.CharField(max_length=16, choices=Kind.choices)
    reasons = models.JSONField(default=list)
    response = models.ForeignKey(
        "measures.QuestionnaireResponse",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="flags",
    )
    message = models.ForeignKey(
        PatientMessage, null=True, blank=True, on_delete=models.PROTECT, related_name="flags"
    )
    item = models.ForeignKey(
        "plans.PlanItem",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="flags",
        help_text="The session a missed-session flag is about.",
    )
    session_start = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the missed session was due (a re-plan may since have moved it).",
    )
    raised_at = models.DateTimeField()
    backup_due_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the backup contact is alerted if nobody has acknowledged.",
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["acknowledged_at", "-raised_at", "-id"]
        indexes = [models.Index(fields=["clinic", "acknowledged_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(acknowledged_at__isnull=True)
                | (models.Q(acknowledged_by__isnull=False) & ~models.Q(acknowledgement_note="")),
                name="flag_acknowledged_by_someone_with_a_note",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} flag for {self.patient}"

    @property
    def open(self) -> bool:
        return self.acknowledged_at is None
