"""Protocol versions: read with their version and owner; written through protocols.services."""

from __future__ import annotations

from rest_framework import serializers

import scheduler
from backend.protocols.models import Protocol


class ProtocolSerializer(serializers.ModelSerializer):
    """Output: a version as stored, with the clinic that owns it (null: the built-in library)."""

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
        read_only_fields = fields


class ProtocolInputSerializer(serializers.Serializer):
    """Input for a new version (POST) or a change (PATCH). `version` and `clinic` are not input:
    the caller's clinic owns the new version, numbered by protocols.services after every version
    of its slug in the library and in that clinic. The definition must parse as a protocol."""

    slug = serializers.SlugField(max_length=80)
    name = serializers.CharField(max_length=160)
    definition = serializers.JSONField()
    is_active = serializers.BooleanField(required=False)

    def validate_definition(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError(
                "The definition must be an object (items, spacing, reminder rules).", code="type"
            )
        return value

    def validate(self, attrs: dict) -> dict:
        current: Protocol | None = self.context.get("protocol")
        slug = attrs.get("slug", getattr(current, "slug", ""))
        definition = attrs.get("definition", getattr(current, "definition", None))
        version = current.version if current else 1
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
