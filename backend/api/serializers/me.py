"""Check-ins and a patient's schedule."""

from __future__ import annotations

from rest_framework import serializers

from backend.api.serializers.plans import PlanItemSerializer, RefSerializer, ReminderSerializer


class DaysSerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=90, default=14)


class CheckInSerializer(PlanItemSerializer):
    patient = RefSerializer(source="plan.patient")

    class Meta(PlanItemSerializer.Meta):
        fields = [*PlanItemSerializer.Meta.fields, "patient"]
        read_only_fields = fields


class PatientReminderSerializer(ReminderSerializer):
    """What a patient sees of their reminders: when, how, what about; not delivery internals."""

    class Meta(ReminderSerializer.Meta):
        fields = ["id", "item", "channel", "message_kind", "send_at", "status"]
        read_only_fields = fields


class PatientItemSerializer(PlanItemSerializer):
    class Meta(PlanItemSerializer.Meta):
        fields = [
            "id", "kind", "sequence", "title", "start", "end", "start_local", "local_date",
            "local_time", "time_zone", "status", "location",
        ]  # fmt: skip
        read_only_fields = fields


class ScheduleSerializer(serializers.Serializer):
    items = PatientItemSerializer(many=True)
    reminders = PatientReminderSerializer(many=True)
