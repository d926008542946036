"""Fields shared by the API's serializers."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from phonenumber_field.serializerfields import PhoneNumberField
from rest_framework import serializers


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time with a UTC offset: a naive time is ambiguous across zones."""

    default_error_messages = {
        "naive": "Give the time with a UTC offset or Z, for example 2026-03-04T09:00:00-05:00.",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                parsed = None
            if parsed is not None and timezone.is_naive(parsed):
                self.fail("naive")
        return super().to_internal_value(value)


class PhoneField(PhoneNumberField):
    default_error_messages = {
        "invalid_phone_number": "Enter a valid phone number in international format, "
        "for example +12025550123."
    }

    def to_internal_value(self, data):
        if data in ("", None):
            return ""
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError:
            self.fail("invalid_phone_number")
        return value

    def to_representation(self, value):
        return str(value) if value else ""


@extend_schema_field(OpenApiTypes.DATETIME)
class LocalDateTimeField(serializers.Field):
    """A UTC instant shown in the zone named by the object's `time_zone` (read only)."""

    def __init__(self, zone_attr: str = "time_zone", **kwargs):
        self.zone_attr = zone_attr
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return (super().get_attribute(instance), getattr(instance, self.zone_attr))

    def to_representation(self, value):
        instant, zone = value
        return instant.astimezone(ZoneInfo(zone)).isoformat()
