"""Protocol versions: read with their version and owner; written through protocols.services."""

from __future__ import annotations

from rest_framework import serializers

import scheduler
from backend.protocols.models import Protocol


class ProtocolSerializer(serializers.ModelSerializer):
    """On input `version` and `clinic` are assigned: the caller's clinic owns the new version,
    numbered after every version of its slug in the library and in that clinic."""

    class Meta:
        model = Protocol
        fields = [
            "id",
            "clinic",
            "slug",
            "version",
            "name",
            "definition",
            "is_active",
            "created_at",
        ]
        read_only_fields = ["clinic", "version", "created_at"]
        # Uniqueness of (slug, version) holds by construction: version is assigned on create.
        validators = []

    def validate_definition(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError(
                "The definition must be an object (items, spacing, reminder rules).", code="type"
            )
        return value

    def validate(self, attrs: dict) -> dict:
        slug = attrs.get("slug", getattr(self.instance, "slug", ""))
        definition = attrs.get("definition", getattr(self.instance, "definition", None))
        version = self.instance.version if self.instance else 1
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
        return attrs
