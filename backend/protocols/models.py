"""Versioned protocols. A plan points at the exact version row it was built from.

A protocol with no clinic belongs to the built-in library: every clinic may build plans from it
and no coordinator may change it. A clinic's own versions (duplicated from the library or from
its own) belong to that clinic alone. A version that plans were built from never changes.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class Protocol(models.Model):
    clinic = models.ForeignKey(
        "clinics.Clinic",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="protocols",
        help_text="The clinic whose version this is; empty for the built-in library.",
    )
    slug = models.SlugField(max_length=80)
    version = models.PositiveIntegerField(default=1)
    name = models.CharField(max_length=160)
    definition = models.JSONField(
        help_text="The protocol as the planning engine reads it (items, spacing, reminder rules)."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["slug", "version"],
                condition=models.Q(clinic__isnull=True),
                name="protocol_library_slug_version_unique",
            ),
            models.UniqueConstraint(
                fields=["clinic", "slug", "version"],
                condition=models.Q(clinic__isnull=False),
                name="protocol_clinic_slug_version_unique",
            ),
        ]
        ordering = ["slug", "-version"]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"

    @property
    def is_builtin(self) -> bool:
        return self.clinic_id is None

    @property
    def in_use(self) -> bool:
        return self.pk is not None and self.plans.exists()

    def engine_protocol(self):
        """The scheduler's Protocol for this row; raises PlanningError on an invalid definition."""
        from scheduler import protocol_from_dict

        return protocol_from_dict({**self.definition, "slug": self.slug, "version": self.version})

    def clean(self) -> None:
        from scheduler import PlanningError

        try:
            self.engine_protocol()
        except PlanningError as exc:
            raise ValidationError({"definition": str(exc)}) from exc
