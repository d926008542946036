"""Clinics, providers and patients. Serializers validate the input; every change is made by a
service (backend.clinics.services, backend.patients.services); the output serializer renders
what the service saved."""

from __future__ import annotations

from django.utils import timezone
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
from backend.clinics import services as clinic_services
from backend.clinics.models import Clinic, Provider
from backend.patients import services as patient_services
from backend.patients.models import ConsentMethod, Patient


class ServiceWritesMixin:
    """Create, PATCH and DELETE call the view's ``create_with``, ``update_with`` and
    ``delete_with`` (services) with the validated input; the response renders the saved row with
    the view's ``serializer_class``."""

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        saved = self.create_with(dict(serializer.validated_data))
        return Response(self.serializer_class(saved).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        saved = self.update_with(instance, dict(serializer.validated_data))
        return Response(self.serializer_class(saved).data)

    def perform_destroy(self, instance):
        self.delete_with(instance)


class ClinicViewSet(ServiceWritesMixin, ApiModelViewSet):
    """Clinics: staff read their own clinic; admins manage all (deleting a clinic that still has
    providers, patients or plans is refused with 409)."""

    serializer_class = ClinicSerializer
    permission_classes = [AdminWrite]

    def get_queryset(self):
        return scope(
            Clinic.objects.order_by("name", "id"), self.request.user, clinic="pk", provider=None
        )

    def create_with(self, data: dict) -> Clinic:
        return clinic_services.clinic_create(values=data)

    def update_with(self, clinic: Clinic, data: dict) -> Clinic:
        return clinic_services.clinic_update(clinic=clinic, changes=data)

    def delete_with(self, clinic: Clinic) -> None:
        clinic_services.clinic_delete(clinic=clinic)


class ProviderViewSet(ServiceWritesMixin, ApiModelViewSet):
    """Providers of the caller's clinic; admins create accounts and change them. `active: false`
    deactivates a provider who has left (refused while they are a clinic's on-call or backup
    contact); DELETE removes one no plan names (409 otherwise)."""

    serializer_class = ProviderSerializer
    permission_classes = [AdminWrite]
    filterset_fields = ["clinic", "role", "active"]

    def get_queryset(self):
        qs = Provider.objects.select_related("user").order_by("user__last_name", "id")
        return scope(qs, self.request.user, clinic="clinic", provider=None)

    def get_serializer_class(self):
        return ProviderCreateSerializer if self.action == "create" else ProviderSerializer

    @extend_schema(request=ProviderCreateSerializer, responses={201: ProviderSerializer})
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)

    def create_with(self, data: dict) -> Provider:
        return clinic_services.provider_create(**data)

    def update_with(self, provider: Provider, data: dict) -> Provider:
        return clinic_services.provider_update(provider=provider, changes=data)

    def delete_with(self, provider: Provider) -> None:
        clinic_services.provider_delete(provider=provider)


class PatientViewSet(ServiceWritesMixin, ApiModelViewSet):
    """Patients: coordinators manage their clinic's, providers read their own patients', admins
    everything (deleting a patient with plans is refused with 409).

    Consent changes are stamped by the patient service with when and how; withdrawn consent is
    an opt-out that cancels that channel's pending reminders."""

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

    def create_with(self, data: dict) -> Patient:
        method = data.pop("consent_method", ConsentMethod.API)
        if data.get("clinic") is None:
            if role_of(self.request.user) is not Role.COORDINATOR:
                raise serializers.ValidationError(
                    {"clinic": "This field is required."}, code="required"
                )
            data["clinic"] = self.request.user.coordinator.clinic
        return patient_services.patient_create(
            values=data, consent_method=method, now=timezone.now()
        )

    def update_with(self, patient: Patient, data: dict) -> Patient:
        method = data.pop("consent_method", ConsentMethod.API)  # no defaults on PATCH
        return patient_services.patient_update(
            patient=patient, changes=data, consent_method=method, now=timezone.now()
        )

    def delete_with(self, patient: Patient) -> None:
        patient_services.patient_delete(patient=patient)
