"""Clinics, providers and patients."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from backend.api.filters import PatientFilter
from backend.api.permissions import AdminWrite, Role, StaffReadManagersWrite, role_of, scope
from backend.api.serializers.people import (
    ClinicSerializer,
    PatientSerializer,
    ProviderCreateSerializer,
    ProviderSerializer,
)
from backend.api.views.base import ApiModelViewSet
from backend.clinics.models import Clinic, Provider
from backend.patients.models import Patient


class ClinicViewSet(ApiModelViewSet):
    """Clinics: staff read their own clinic; admins manage all."""

    serializer_class = ClinicSerializer
    permission_classes = [AdminWrite]

    def get_queryset(self):
        return scope(
            Clinic.objects.order_by("name", "id"), self.request.user, clinic="pk", provider=None
        )


class ProviderViewSet(ApiModelViewSet):
    """Providers of the caller's clinic; admins create accounts and change them."""

    permission_classes = [AdminWrite]
    filterset_fields = ["clinic", "role", "active"]

    def get_queryset(self):
        qs = Provider.objects.select_related("user").order_by("user__last_name", "id")
        return scope(qs, self.request.user, clinic="clinic", provider=None)

    def get_serializer_class(self):
        return ProviderCreateSerializer if self.action == "create" else ProviderSerializer

    @extend_schema(request=ProviderCreateSerializer, responses={201: ProviderSerializer})
    def create(self, request, *args, **kwargs):
        serializer = ProviderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        provider = serializer.save()
        return Response(ProviderSerializer(provider).data, status=status.HTTP_201_CREATED)


class PatientViewSet(ApiModelViewSet):
    """Patients: coordinators manage their clinic's, providers read their own patients', admins
    everything (deleting a patient with plans is refused with 409)."""

    serializer_class = PatientSerializer
    permission_classes = [StaffReadManagersWrite]
    action_roles = {"destroy": {Role.ADMIN}}
    filterset_class = PatientFilter

    def get_queryset(self):
        qs = Patient.objects.order_by("last_name", "first_name", "id")
        return scope(
            qs, self.request.user, clinic="clinic", provider="plans__provider", distinct=True
        )

    def get_serializer(self, *args, **kwargs):
        serializer = super().get_serializer(*args, **kwargs)
        clinic_field = serializer.fields.get("clinic") if hasattr(serializer, "fields") else None
        if clinic_field is not None and not clinic_field.read_only:
            clinic_field.queryset = scope(
                Clinic.objects.all(), self.request.user, clinic="pk", provider=None
            )
            clinic_field.required = role_of(self.request.user) is Role.ADMIN
        return serializer

    def perform_create(self, serializer):
        clinic = serializer.validated_data.get("clinic")
        if clinic is None:
            if role_of(self.request.user) is not Role.COORDINATOR:
                raise serializers.ValidationError(
                    {"clinic": "This field is required."}, code="required"
                )
            clinic = self.request.user.coordinator.clinic
        serializer.save(clinic=clinic)

    # Updates go through backend.patients.services (via the serializer): consent changes are
    # stamped there, and withdrawn consent is an opt-out that cancels pending reminders.
