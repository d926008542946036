"""Questionnaire responses and safety flags as the API shows them."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from backend.measures.models import QuestionnaireResponse
from backend.safety.models import Flag


class QuestionnaireResponseSerializer(serializers.ModelSerializer):
    class Meta:
        model = QuestionnaireResponse
        fields = [
            "id",
            "patient",
            "plan",
            "item",
            "instrument",
            "instrument_version",
            "language",
            "answers",
            "total",
            "band",
            "band_label",
            "urgent",
            "urgent_reasons",
            "submitted_at",
            "source",
            "entered_by",
        ]
        read_only_fields = fields


class ResponseEntrySerializer(serializers.Serializer):
    """Staff entering a patient's answers (given on paper or by phone) for an assessment."""

    item = serializers.IntegerField(min_value=1, max_value=10**18)
    language = serializers.ChoiceField(choices=settings.LANGUAGES, default="en")
    answers = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField(min_value=0, max_value=99)),
        help_text='Per questionnaire, each question\'s answer: {"phq9": {"q1": 0, ..., "q10": 1}}.',
    )


class FlagSerializer(serializers.ModelSerializer):
    acknowledged_by = serializers.SerializerMethodField()

    class Meta:
        model = Flag
        fields = [
            "id",
            "patient",
            "plan",
            "kind",
            "reasons",
            "response",
            "message",
            "raised_at",
            "backup_due_at",
            "acknowledged_by",
            "acknowledged_at",
            "acknowledgement_note",
        ]
        read_only_fields = fields

    def get_acknowledged_by(self, flag) -> str | None:
        user = flag.acknowledged_by
        return (user.get_full_name() or user.get_username()) if user else None


class AcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, help_text="What the clinician did.")
