"""Plans, items and reminders: the build request, the dated rows, and what a change moved."""

from __future__ import annotations

from rest_framework import serializers

from backend.api.serializers.fields import AwareDateTimeField, LocalDateTimeField
from backend.clinics.models import Provider
from backend.patients.models import Patient
from backend.plans.models import PlanItem, TreatmentPlan
from backend.protocols.models import Protocol
from backend.reminders.models import Reminder

# --- input ------------------------------------------------------------------------------------


class PlanOptionsSerializer(serializers.Serializer):
    dosing_sessions = serializers.IntegerField(min_value=1, max_value=24, required=False)
    session_counts = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=52), required=False,
        help_text="Item-spec key -> number of items, within the spec's allowed range.",
    )  # fmt: skip
    boosters = serializers.BooleanField(required=False)
    session_time = serializers.TimeField(
        required=False, format="%H:%M",
        help_text="Clinic-local time of day sessions should start (HH:MM); the provider is never "
        "double-booked.",
    )  # fmt: skip
    reminder_overrides = serializers.DictField(
        child=serializers.DictField(allow_null=True), required=False,
        help_text='Rule id -> null to switch it off, or fields to replace ({"offset": "-1 day"}).',
    )  # fmt: skip

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        if values.get("session_time") is not None:  # stored in the plan's JSON options
            values["session_time"] = values["session_time"].strftime("%H:%M")
        return values


class PlanBuildSerializer(serializers.Serializer):
    """`patient` and `provider` are looked up within the caller's scope (see the view)."""

    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.none())
    protocol = serializers.PrimaryKeyRelatedField(queryset=Protocol.objects.all())
    start_date = serializers.DateField()
    provider = serializers.PrimaryKeyRelatedField(queryset=Provider.objects.none())
    options = PlanOptionsSerializer(required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=4000)

    def __init__(self, *args, patients=None, providers=None, **kwargs):
        super().__init__(*args, **kwargs)
        if patients is not None:
            self.fields["patient"].queryset = patients
        if providers is not None:
            self.fields["provider"].queryset = providers


class RescheduleSerializer(serializers.Serializer):
    start = AwareDateTimeField(help_text="The new start, with a UTC offset.")

    def validate_start(self, value):
        item: PlanItem = self.context["item"]
        if item.status != PlanItem.Status.SCHEDULED:
            raise serializers.ValidationError(
                f"{item.title} is {item.get_status_display().lower()}; only a scheduled item "
                "can be rescheduled.",
                code="item.not_scheduled",
            )
        return value


class OutcomeSerializer(serializers.Serializer):
    outcome_notes = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class MissedSerializer(OutcomeSerializer):
    replan = serializers.BooleanField(
        required=False, default=False, help_text="Re-plan the rest of the course around the miss."
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200)


# --- output -----------------------------------------------------------------------------------


class PlanItemSerializer(serializers.ModelSerializer):
    start_local = LocalDateTimeField(source="start", help_text="Start in the item's own zone.")

    class Meta:
        model = PlanItem
        fields = [
            "id", "plan", "key", "kind", "sequence", "title", "start", "end", "start_local",
            "local_date", "local_time", "time_zone", "status", "provider_role",
            "observation_minutes", "depends_on", "location", "outcome_notes", "calendar_sequence",
        ]  # fmt: skip
        read_only_fields = fields


class ReminderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Reminder
        fields = [
            "id", "plan", "item", "key", "audience", "channel", "message_kind", "send_at",
            "not_after", "status", "status_reason", "rule", "repeat_index", "attempts", "sent_at",
            "delivery_status",
        ]  # fmt: skip
        read_only_fields = fields


class RefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="__str__")


class ProtocolRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    version = serializers.IntegerField()
    name = serializers.CharField()


class PlanSerializer(serializers.ModelSerializer):
    patient = RefSerializer()
    provider = RefSerializer()
    protocol = ProtocolRefSerializer()
    items = PlanItemSerializer(many=True)

    class Meta:
        model = TreatmentPlan
        fields = [
            "id", "patient", "clinic", "provider", "protocol", "start_date", "status", "notes",
            "options", "planning_notes", "paused_at", "created_at", "updated_at", "items",
        ]  # fmt: skip
        read_only_fields = fields


class PlanDetailSerializer(PlanSerializer):
    reminders = ReminderSerializer(many=True)

    class Meta(PlanSerializer.Meta):
        fields = [*PlanSerializer.Meta.fields, "reminders"]
        read_only_fields = fields


class MovedSerializer(serializers.Serializer):
    label = serializers.CharField()
    old = serializers.DateTimeField(allow_null=True)
    new = serializers.DateTimeField(allow_null=True)


class SyncResultSerializer(serializers.Serializer):
    """What a change did: the service's SyncResult."""

    summary = serializers.CharField(source="summary_text")
    items_created = serializers.IntegerField()
    items_moved = MovedSerializer(many=True)
    items_cancelled = serializers.ListField(child=serializers.CharField())
    reminders_created = serializers.IntegerField()
    reminders_moved = MovedSerializer(many=True)
    reminders_cancelled = serializers.IntegerField()

    def to_representation(self, instance):
        instance.summary_text = instance.summary()
        return super().to_representation(instance)


class PlanChangeSerializer(serializers.Serializer):
    plan = PlanDetailSerializer()
    changes = SyncResultSerializer(source="sync")


class ItemChangeSerializer(serializers.Serializer):
    item = PlanItemSerializer()
    changes = SyncResultSerializer()


# --- preview (engine objects, nothing saved) --------------------------------------------------


class PreviewItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    kind = serializers.CharField()
    sequence = serializers.IntegerField()
    title = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    start_local = LocalDateTimeField(source="start")
    local_date = serializers.DateField()
    local_time = serializers.TimeField()
    time_zone = serializers.CharField()
    provider_role = serializers.CharField(allow_null=True)
    observation_minutes = serializers.IntegerField()
    depends_on = serializers.CharField(allow_null=True)


class PreviewReminderSerializer(serializers.Serializer):
    key = serializers.CharField()
    item_key = serializers.CharField(allow_null=True)
    audience = serializers.CharField()
    channel = serializers.CharField()
    message_kind = serializers.CharField()
    send_at = serializers.DateTimeField()
    not_after = serializers.DateTimeField()
    rule = serializers.CharField()


class PreviewNoteSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    item_key = serializers.CharField(allow_null=True)
    reminder_key = serializers.CharField(allow_null=True)


class PlanPreviewSerializer(serializers.Serializer):
    protocol_slug = serializers.CharField()
    protocol_version = serializers.IntegerField()
    items = PreviewItemSerializer(many=True)
    reminders = PreviewReminderSerializer(many=True)
    notes = PreviewNoteSerializer(many=True)
