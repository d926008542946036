"""Treatment plans and their dated items."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class TreatmentPlan(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="plans")
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="plans")
    provider = models.ForeignKey(
        "clinics.Provider",
        on_delete=models.PROTECT,
        related_name="plans",
        help_text="Responsible provider.",
    )
    protocol = models.ForeignKey(
        "protocols.Protocol", on_delete=models.PROTECT, related_name="plans"
    )
    start_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    notes = models.TextField(blank=True, default="")
    options = models.JSONField(default=dict, blank=True)
    planning_notes = models.JSONField(
        default=list, blank=True, help_text="What the planning engine changed or dropped, and why."
    )
    paused_at = models.DateTimeField(null=True, blank=True)
    revision = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Rises with every change made through the plan services (items included); "
        "read-side caches key on it.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["clinic", "status"])]

    def __str__(self) -> str:
        return f"{self.patient} — {self.protocol.name}"


class PlanItem(models.Model):
    class Kind(models.TextChoices):
        DOSING = "dosing", "Dosing session"
        INTEGRATION = "integration", "Integration session"
        CHECK_IN = "check_in", "Check-in"
        ASSESSMENT = "assessment", "Assessment"
        PREPARATION = "preparation", "Preparation session"
        BOOSTER = "booster", "Booster"
        TASK = "task", "Provider task"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        COMPLETED = "completed", "Completed"
        MISSED = "missed", "Missed"
        CANCELLED = "cancelled", "Cancelled"

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.CASCADE, related_name="items")
    key = models.CharField(max_length=64, help_text="Stable engine key, e.g. dosing-3.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    sequence = models.PositiveIntegerField()
    title = models.CharField(max_length=120)
    start = models.DateTimeField()
    end = models.DateTimeField()
    local_date = models.DateField()
    local_time = models.TimeField()
    time_zone = models.CharField(max_length=64)
    provider_role = models.CharField(max_length=16, blank=True, default="")
    observation_minutes = models.PositiveIntegerField(default=0)
    depends_on = models.CharField(max_length=64, blank=True, default="")
    provider = models.ForeignKey(
        "clinics.Provider", null=True, blank=True, on_delete=models.SET_NULL, related_name="items"
    )
    location = models.CharField(max_length=80, blank=True, default="")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    outcome_notes = models.TextField(blank=True, default="")
    calendar_sequence = models.PositiveIntegerField(
        default=0,
        help_text="iCalendar SEQUENCE: rises every time the session moves or is cancelled.",
    )
    notified_sequence = models.PositiveIntegerField(
        default=0,
        help_text="The calendar_sequence the patient was last sent a change notice for.",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "sequence"]
        constraints = [models.UniqueConstraint(fields=["plan", "key"], name="plan_item_key_unique")]
        indexes = [models.Index(fields=["kind", "start"])]

    def __str__(self) -> str:
        return self.title


class SessionReadiness(models.Model):
    """The patient's attestation before a dosing or booster session: the four statements they
    confirmed, by link or by text reply, and when (backend.plans.readiness writes it).

    A row with ``confirmed_at`` empty is a submission that left a statement unticked: the
    session is not confirmed, and what the patient said went to the clinic inbox. A confirmation
    holds for the session's start it was given for (``session_start``), not for a later time.
    """

    class Via(models.TextChoices):
        LINK = "link", "the link"
        SMS = "sms", "text"

    item = models.OneToOneField(PlanItem, on_delete=models.CASCADE, related_name="readiness")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    via = models.CharField(max_length=8, choices=Via.choices)
    fasting = models.BooleanField(default=False, help_text="Will fast as instructed.")
    ride_home = models.BooleanField(default=False, help_text="Has a ride home arranged.")
    no_alcohol = models.BooleanField(
        default=False,
        help_text="No alcohol before; sedatives and other medicines only as prescribed.",
    )
    no_new_medicines = models.BooleanField(
        default=False, help_text="No new medicines since the last visit."
    )
    note = models.TextField(blank=True, default="", help_text="Anything we should know.")
    answered_at = models.DateTimeField(help_text="When the patient last answered.")
    session_start = models.DateTimeField(
        null=True,
        help_text="The session's start the patient answered for: once the session moves (a "
        "reschedule, a re-plan after a miss) the answers no longer hold and are asked again.",
    )
    history = HistoricalRecords()

    def __str__(self) -> str:
        state = "confirmed" if self.confirmed_at else "not confirmed"
        return f"Readiness for {self.item}: {state}"

    def holds_for(self, item: PlanItem) -> bool:
        """Confirmed, for the session at the time it now has."""
        return self.confirmed_at is not None and self.session_start == item.start


class SessionRequest(models.Model):
    """A patient's answer to an upcoming session: "I'll be there" or "please move it".

    The patient writes it (by their signed link or a text reply); a coordinator answers a
    reschedule request through the normal reschedule flow (``plans.services``), which closes it.
    A request is a record of what the patient asked, never a change to the plan by itself: the
    session only moves when a person moves it (backend.plans.session_requests).
    """

    class Kind(models.TextChoices):
        CONFIRM = "confirm", "Confirmed attendance"
        RESCHEDULE = "reschedule", "Asked to reschedule"

    class Via(models.TextChoices):
        LINK = "link", "the link"
        SMS = "sms", "text"

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for the clinic"
        ANSWERED = "answered", "Answered"
        WITHDRAWN = "withdrawn", "No longer needed"

    item = models.ForeignKey(PlanItem, on_delete=models.CASCADE, related_name="requests")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    via = models.CharField(max_length=8, choices=Via.choices)
    preferred_weekdays = models.JSONField(
        default=list,
        blank=True,
        help_text="Days the patient prefers, Monday = 0 … Sunday = 6 (reschedule requests).",
    )
    note = models.TextField(blank=True, default="", help_text="The patient's own words.")
    session_start = models.DateTimeField(help_text="The session's start the patient answered for.")
    created_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    answer = models.CharField(max_length=200, blank=True, default="")
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["status", "created_at"],
                name="session_request_open_idx",
                condition=models.Q(status="open"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.item}"
