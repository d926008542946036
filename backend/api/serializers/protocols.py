"""Protocol versions: read with their version; written only through the engine's validation."""

from __future__ import annotations

from django.db.models import Max
from rest_framework import serializers

import scheduler
from backend.protocols.models import Protocol


class ProtocolSerializer(serializers.ModelSerializer):
    """On input `version` is assigned: a new slug starts at 1, a known slug gets max + 1."""

    class Meta:
        model = Protocol
        fields = ["id", "slug", "version", "name", "definition", "is_active", "created_at"]
        read_only_fields = ["version", "created_at"]
        # Uniqueness of (slug, version) holds by construction: version is assigned on create.
        validators = []

    def validate_definition(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError(
                "The definition must be an object (items, spacing, reminder rules).", code="type"
            )
        return value

    def validate(self, attrs: dict) -> dict:
        if self.instance is not None and self.instance.plans.exists():
            changed = [k for k in ("slug", "definition") if k in attrs
                       and attrs[k] != getattr(self.instance, k)]  # fmt: skip
            if changed:
                raise serializers.ValidationError(
                    {changed[0]: "Plans were built from this version; create a new version "
                                 "(POST with the same slug) instead of changing it."},
                    code="protocol.in_use",
                )  # fmt: skip
        slug = attrs.get("slug", getattr(self.instance, "slug", ""))
        definition = attrs.get("definition", getattr(self.instance, "definition", None))
        version = self.instance.version if self.instance else self._next_version(slug)
        candidate = Protocol(slug=slug, version=version, name="", definition=definition)
        try:
            candidate.engine_protocol()
        except scheduler.PlanningError as exc:
            raise serializers.ValidationError(
                {"definition": serializers.ErrorDetail(str(exc), code=exc.rule)}
            ) from exc
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            # The parser names what it expected; anything it did not foresee is still bad input.
            raise serializers.ValidationError(
                {
                    "definition": serializers.ErrorDetail(
                        f"Not a valid protocol: {exc}", code="invalid"
                    )
                }
            ) from exc
        attrs["version"] = version
        return attrs

    @staticmethod
    def _next_version(slug: str) -> int:
        latest = Protocol.objects.filter(slug=slug).aggregate(v=Max("version"))["v"]
        return (latest or 0) + 1
