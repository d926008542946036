"""Plans: build, preview, read, pause, resume, cancel, and the FHIR export."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Prefetch, prefetch_related_objects
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from backend.api import fhir
from backend.api.filters import PlanFilter
from backend.api.permissions import STAFF, StaffReadManagersWrite, scope
from backend.api.serializers.plans import (
    PlanBuildSerializer,
    PlanChangeSerializer,
    PlanDetailSerializer,
    PlanPreviewSerializer,
    PlanSerializer,
    ReasonSerializer,
)
from backend.api.views.base import ApiViewSetMixin
from backend.clinics.models import Provider
from backend.patients.models import Patient
from backend.plans import services
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder

ITEMS = Prefetch("items", queryset=PlanItem.objects.order_by("sequence"))
PLAN_CACHE_SECONDS = 300


class PlanViewSet(
    ApiViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Treatment plans. Coordinators see and change their clinic's; providers read the plans
    they are responsible for; admins everything."""

    permission_classes = [StaffReadManagersWrite]
    action_roles = {"fhir": STAFF}
    filterset_class = PlanFilter

    # Actions whose response carries the plan's reminders too (GET detail has items only; the
    # reminders have their own filtered, paginated endpoint).
    WITH_REMINDERS = {"create", "pause", "resume", "cancel", "fhir"}

    def get_queryset(self):
        qs = TreatmentPlan.objects.select_related("patient", "provider__user", "protocol").defer(
            "protocol__definition"
        )
        if self.action != "retrieve":  # retrieve loads items only on a cache miss
            qs = qs.prefetch_related(ITEMS)
        if self.action in self.WITH_REMINDERS:
            qs = qs.prefetch_related(
                Prefetch("reminders", queryset=Reminder.objects.order_by("send_at", "id"))
            )
        return scope(qs.order_by("-created_at", "-id"), self.request.user, clinic="clinic",
                     provider="provider")  # fmt: skip

    def filter_queryset(self, queryset):
        # Query-string filters shape lists; a detail read is scoped by get_queryset alone, and
        # building the filterset for it cost more than the rest of a cached read.
        if self.action == "retrieve":
            return queryset
        return super().filter_queryset(queryset)

    def retrieve(self, request, *args, **kwargs):
        """The plan with its items, from a per-process cache keyed on the plan's revision.

        Every change made through the plan services raises the revision (and any other save
        moves `updated_at`), so a cached body is never served for a plan that has changed since.
        The cache is local memory: plan data never leaves the process for it.
        """
        # The scope check reads only what the cache key needs; the full plan only on a miss.
        visible = scope(
            TreatmentPlan.objects.only("id", "revision", "updated_at"),
            request.user,
            clinic="clinic",
            provider="provider",
        )
        stamp = get_object_or_404(visible, pk=kwargs[self.lookup_field])
        self.check_object_permissions(request, stamp)
        key = f"api:plan:{stamp.pk}:{stamp.revision}:{stamp.updated_at.timestamp()}"
        data = cache.get(key)
        if data is None:
            plan = self.get_object()
            prefetch_related_objects([plan], ITEMS)
            data = self.get_serializer(plan).data
            cache.set(key, data, PLAN_CACHE_SECONDS)
        return Response(data)

    def get_serializer_class(self):
        return PlanDetailSerializer if self.action in self.WITH_REMINDERS else PlanSerializer

    def _build_input(self, request) -> PlanBuildSerializer:
        user = request.user
        serializer = PlanBuildSerializer(
            data=request.data,
            patients=scope(Patient.objects.select_related("clinic"), user, clinic="clinic",
                           provider=None),
            providers=scope(Provider.objects.select_related("user"), user, clinic="clinic",
                            provider=None),
        )  # fmt: skip
        serializer.is_valid(raise_exception=True)
        return serializer

    def _fresh(self, plan: TreatmentPlan) -> TreatmentPlan:
        return self.get_queryset().get(pk=plan.pk)

    @extend_schema(request=PlanBuildSerializer, responses={201: PlanDetailSerializer})
    def create(self, request):
        """Build a plan from a protocol version and save it with its items and reminders."""
        data = self._build_input(request).validated_data
        result = services.plan_create(
            patient=data["patient"], protocol=data["protocol"], start_date=data["start_date"],
            provider=data["provider"], options=data.get("options") or {},
            notes=data.get("notes", ""), created_by=request.user,
        )  # fmt: skip
        plan = self._fresh(result.plan)
        return Response(PlanDetailSerializer(plan).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PlanBuildSerializer, responses={200: PlanPreviewSerializer})
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """The plan a build would save, without saving anything."""
        data = self._build_input(request).validated_data
        engine_plan = services.plan_preview(
            patient=data["patient"], protocol=data["protocol"], start_date=data["start_date"],
            provider=data["provider"], options=data.get("options") or {},
        )  # fmt: skip
        return Response(PlanPreviewSerializer(engine_plan).data)

    def _change(self, result: services.PlanChangeResult) -> Response:
        result = services.PlanChangeResult(self._fresh(result.plan), result.sync)
        return Response(PlanChangeSerializer(result).data)

    @extend_schema(request=None, responses={200: PlanChangeSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Stop all messages; items keep their dates until the plan is resumed."""
        return self._change(services.plan_pause(plan=self.get_object()))

    @extend_schema(request=None, responses={200: PlanChangeSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        """Resume from now: sessions that fell inside the pause move forward."""
        return self._change(services.plan_resume(plan=self.get_object()))

    @extend_schema(request=ReasonSerializer, responses={200: PlanChangeSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel the course: scheduled items are cancelled, pending reminders never go out."""
        plan = self.get_object()
        reason = ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        return self._change(
            services.plan_cancel(plan=plan, reason=reason.validated_data.get("reason", ""))
        )

    @extend_schema(responses={(200, "application/fhir+json"): OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def fhir(self, request, pk=None):
        """The plan as a FHIR R4 Bundle: CarePlan, Appointments, CommunicationRequests."""
        return Response(fhir.plan_bundle(self.get_object()), content_type="application/fhir+json")
