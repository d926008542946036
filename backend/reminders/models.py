"""The reminder outbox: one row per message to one recipient on one channel at one time.

Its status changes only through backend.reminders.outbox (the state machine and its rules).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


class Reminder(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"

    class Audience(models.TextChoices):
        PATIENT = "patient", "Patient"
        PROVIDER = "provider", "Provider"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    PENDING = (Status.SCHEDULED, Status.QUEUED)

    # Empty only for a provider's daily digest (backend.reminders.digest): it lists the day of
    # every plan the provider has, so it belongs to none; its clinic is the provider's.
    plan = models.ForeignKey(
        "plans.TreatmentPlan",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reminders",
    )
    item = models.ForeignKey(
        "plans.PlanItem", null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    key = models.CharField(
        max_length=120,
        help_text="Engine key, unique within the plan; a digest's is digest:<date>, unique per "
        "provider.",
    )
    audience = models.CharField(max_length=10, choices=Audience.choices)
    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reminders",
    )
    provider = models.ForeignKey(
        "clinics.Provider",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reminders",
    )
    flag = models.ForeignKey(
        "safety.Flag",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="alerts",
        help_text="The safety flag this alert is about (safety.services).",
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    message_kind = models.CharField(max_length=48)
    send_at = models.DateTimeField()
    not_after = models.DateTimeField()
    requires_attended = models.BooleanField(default=False)
    priority = models.SmallIntegerField(default=0)
    repeat_index = models.PositiveSmallIntegerField(default=0)
    rule = models.CharField(max_length=80, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    status_reason = models.CharField(max_length=200, blank=True, default="")
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="A queued row whose lease ends becomes due again."
    )
    sending_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set right before the provider call (database clock): the row is at the "
        "provider, and no other worker takes it or dispatcher releases it until then.",
    )
    lease_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    provider_message_id = models.CharField(max_length=80, blank=True, default="")
    delivery_status = models.CharField(
        max_length=24, blank=True, default="", help_text="Last status the provider reported."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(
        excluded_fields=["lease_expires_at", "sending_until", "lease_token", "updated_at"]
    )

    class Meta:
        ordering = ["send_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "key"], name="reminder_key_unique_per_plan"),
            # A digest has no plan: one per provider and day, whoever creates it (two beats).
            models.UniqueConstraint(
                fields=["provider", "key"],
                condition=Q(plan__isnull=True),
                name="reminder_key_unique_per_provider_without_plan",
            ),
            # Only a provider's message may belong to no plan.
            models.CheckConstraint(
                condition=Q(plan__isnull=False) | Q(audience="provider"),
                name="reminder_planless_only_for_provider",
            ),
            models.CheckConstraint(
                condition=Q(audience="patient", patient__isnull=False)
                | Q(audience="provider", provider__isnull=False),
                name="reminder_has_recipient",
            ),
        ]
        indexes = [
            # The dispatcher's two scans touch only pending rows, whatever the table holds.
            models.Index(
                fields=["send_at", "id"], name="reminder_due_idx", condition=Q(status="scheduled")
            ),
            models.Index(
                fields=["lease_expires_at"], name="reminder_lease_idx", condition=Q(status="queued")
            ),
            models.Index(fields=["provider_message_id"], name="reminder_provider_msg_idx"),
        ]

    def __str__(self) -> str:
        when = f"{self.send_at:%Y-%m-%d %H:%M}Z"
        return f"{self.message_kind} → {self.audience} by {self.channel} at {when}"


class DeliveryAttempt(models.Model):
    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="attempts_log")
    attempted_at = models.DateTimeField()
    backend = models.CharField(max_length=120)
    success = models.BooleanField()
    permanent = models.BooleanField(default=False)
    provider_message_id = models.CharField(max_length=80, blank=True, default="")
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{'ok' if self.success else 'error'} at {self.attempted_at:%Y-%m-%d %H:%M:%S}"


class ShortLink(models.Model):
    """A short code for a patient's signed link, so an SMS carrying it fits its segment budget.

    ``/l/<code>`` redirects to ``target``, the signed link's path on this site; the code is only
    as good as the signed link behind it, and is itself revocable (with the patient's links,
    patients.services.patient_revoke_links) and expiring (with the signed link). The code is
    derived from the target (links.short_url), so rendering the same SMS twice gives the same
    code and one row.
    """

    code = models.CharField(max_length=16, unique=True)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="short_links"
    )
    target = models.CharField(max_length=500, help_text="The signed link's path on this site.")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["patient", "revoked_at"], name="shortlink_patient_idx")]

    def __str__(self) -> str:
        return f"/l/{self.code}"
