"""Versioned protocols. A plan points at the exact version row it was built from."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class Protocol(models.Model):
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
            models.UniqueConstraint(fields=["slug", "version"], name="protocol_slug_version_unique")
        ]
        ordering = ["slug", "-version"]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"

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
