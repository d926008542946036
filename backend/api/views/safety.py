"""Questionnaire responses and safety flags: staff read them within their scope (the same rule
as the provider pages, backend.safety.selectors); staff enter answers given on paper or by
phone; clinicians acknowledge flags."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from backend.api.filters import FlagFilter, ResponseFilter
from backend.api.permissions import StaffOnly
from backend.api.serializers.safety import (
    AcknowledgeSerializer,
    FlagSerializer,
    QuestionnaireResponseSerializer,
    ResponseEntrySerializer,
)
from backend.api.views.base import ApiReadOnlyViewSet
from backend.measures import services as measures
from backend.measures.models import QuestionnaireResponse
from backend.plans.models import PlanItem
from backend.safety import selectors, services


class QuestionnaireResponseViewSet(ApiReadOnlyViewSet):
    serializer_class = QuestionnaireResponseSerializer
    permission_classes = [StaffOnly]
    filterset_class = ResponseFilter

    def get_queryset(self):
        patients = selectors.patients_for(self.request.user)
        return QuestionnaireResponse.objects.filter(patient__in=patients).order_by(
            "-submitted_at", "-id"
        )

    @extend_schema(
        request=ResponseEntrySerializer, responses={201: QuestionnaireResponseSerializer(many=True)}
    )
    def create(self, request):
        """Enter the answers a patient gave on paper or by phone; scored and flagged as if the
        patient had sent them, and recorded as entered by the caller."""
        entry = ResponseEntrySerializer(data=request.data)
        entry.is_valid(raise_exception=True)
        data = entry.validated_data
        item = get_object_or_404(
            PlanItem.objects.select_related("plan__protocol", "plan__patient"),
            pk=data["item"],
            plan__patient__in=selectors.patients_for(request.user),
        )
        responses = measures.questionnaires_submit(
            patient=item.plan.patient,
            item=item,
            answers=data["answers"],
            language=data["language"],
            now=timezone.now(),
            entered_by=request.user,
        )
        body = QuestionnaireResponseSerializer(responses, many=True).data
        return Response(body, status=status.HTTP_201_CREATED)


class FlagViewSet(ApiReadOnlyViewSet):
    serializer_class = FlagSerializer
    permission_classes = [StaffOnly]
    filterset_class = FlagFilter

    def get_queryset(self):
        return selectors.flags_for(self.request.user).order_by("-raised_at", "-id")

    @extend_schema(request=AcknowledgeSerializer, responses={200: FlagSerializer})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """A clinician of the clinic acknowledges the flag with what they did; alerts not yet
        sent are withdrawn. Coordinators may read flags but not close them (403)."""
        flag = self.get_object()
        note = AcknowledgeSerializer(data=request.data)
        note.is_valid(raise_exception=True)
        flag = services.flag_acknowledge(
            flag=flag, user=request.user, note=note.validated_data["note"], now=timezone.now()
        )
        return Response(FlagSerializer(flag).data)
