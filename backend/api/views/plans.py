"""Plans: build, preview, read, pause, resume, cancel, and the FHIR export."""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.middleware.http import ConditionalGetMiddleware
from django.utils import timezone, translation
from django.utils.decorators import decorator_from_middleware, method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
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
# What PlanSerializer shows of a plan and the rows it names (a patient's and a provider's name,
# the protocol's), and nothing else: every column selected is compiled, sent and converted on
# every read of a page or a plan.
PLAN_COLUMNS = (
    "patient__first_name", "patient__last_name", "provider__role", "provider__user__username",
    "provider__user__first_name", "provider__user__last_name", "protocol__slug",
    "protocol__version", "protocol__name",
    *(name for name in PlanSerializer.Meta.fields if name != "items"),
)  # fmt: skip
# What a plan's JSON body shows besides its own columns (which `updated_at` and `revision` stand
# for): the ids and names of the rows it names. A cached body is keyed on all of them, read in the
# one query that also applies the caller's scope, so renaming a patient, a provider or a protocol
# gives a new key at once.
PLAN_IDS = ("clinic_id", "patient_id", "provider_id", "protocol_id")
BODY_VALIDATOR = (*PLAN_IDS, "revision", "updated_at", *(n for n in PLAN_COLUMNS if "__" in n))
# Built once (resolving the related names is a good part of the query's cost); each read narrows a
# copy to one plan and the caller's scope.
VALIDATOR_ROWS = TreatmentPlan.objects.order_by().values_list(*BODY_VALIDATOR)
BODY_SECONDS = 300
# An ETag from the rendered body, and a 304 when If-None-Match names it: Django's conditional GET
# middleware applied to one view. It keeps an ETag the view has set (the cached JSON body's) and
# computes one from the body otherwise (the browsable API, indented JSON).
conditional_get = decorator_from_middleware(ConditionalGetMiddleware)

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER,
    description="An ETag from an earlier read: 304 with no body if the plan reads the same.",
)  # fmt: skip
ETAG = OpenApiParameter(
    "ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200, 304],
    description="Identifies this JSON body; send it back as If-None-Match.",
)  # fmt: skip
NOT_MODIFIED = "The plan reads as the ETag in If-None-Match says: no body."


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
        qs = TreatmentPlan.objects.select_related(
            "patient", "provider__user", "protocol"
        ).prefetch_related(ITEMS)
        if self.action in ("list", "retrieve"):
            qs = qs.only(*PLAN_COLUMNS)
        else:  # the services and the FHIR export read the whole plan and patient
            qs = qs.defer("protocol__definition")
        if self.action in self.WITH_REMINDERS:
            qs = qs.prefetch_related(
                Prefetch("reminders", queryset=Reminder.objects.order_by("send_at", "id"))
            )
        return self._scoped(qs.order_by("-created_at", "-id"))

    def _scoped(self, qs):
        return scope(qs, self.request.user, clinic="clinic", provider="provider")

    @staticmethod
    def _plain_json(request) -> bool:
        """Only DRF's JSON with no media type parameters is served from cached bytes: the
        browsable API renders HTML around the data, and `indent=` changes the bytes."""
        return (
            type(request.accepted_renderer) is JSONRenderer
            and request.accepted_media_type == JSONRenderer.media_type
        )

    def filter_queryset(self, queryset):
        # Query-string filters shape lists; one plan is found by its id within scope alone.
        if self.detail:
            return queryset
        return super().filter_queryset(queryset)

    @extend_schema(
        parameters=[IF_NONE_MATCH, ETAG],
        responses={200: PlanSerializer, 304: OpenApiResponse(description=NOT_MODIFIED)},
    )
    @method_decorator(conditional_get)
    def retrieve(self, request, *args, **kwargs):
        """The plan with its items, with an ETag; 304 with no body when If-None-Match names it.

        Plain JSON is served from a per-process cache (local memory: plan data never leaves the
        process) of rendered bodies, keyed on what the database says now: one query, within the
        caller's scope, reads the plan's revision and `updated_at` and every related id and name
        the body shows (BODY_VALIDATOR). Every change of the plan or its items goes through
        plans.services, which raises the revision, and any other save of the plan moves
        `updated_at`; so a key found in the cache was computed from the same data as its body
        (or older: a change committed between the key's query and a miss's read is in the body),
        and a changed plan, item, patient, provider or protocol misses and is read afresh. The
        scope and object checks come first, so neither a body nor an ETag reaches a caller who
        may not read the plan (404). Other representations (the browsable API, `indent=`) are
        serialized and rendered by DRF on every request.
        """
        if not self._plain_json(request):
            return super().retrieve(request, *args, **kwargs)
        pk = kwargs[self.lookup_field]
        found = list(self._scoped(VALIDATOR_ROWS.filter(pk=pk)))  # the primary key: 0 or 1 row
        if not found:
            raise Http404
        validator = found[0]
        ids = dict(zip(PLAN_IDS, validator, strict=False))  # the plan's own rows, for the check
        self.check_object_permissions(request, TreatmentPlan(pk=int(pk), **ids))
        # The body is the same for every caller who may read the plan; DRF renders datetimes in
        # the current time zone and choice labels in the current language, so both are in the key.
        digest = hashlib.blake2b(
            repr((validator, timezone.get_current_timezone_name(), translation.get_language()))
            .encode(), digest_size=16,
        ).hexdigest()  # fmt: skip
        key = f"api:plan-json:{pk}:{digest}"
        body = cache.get(key)
        if body is None:
            plan = self.get_object()
            content = request.accepted_renderer.render(
                self.get_serializer(plan).data, request.accepted_media_type,
                self.get_renderer_context(),
            )  # fmt: skip
            body = (content, f'"{hashlib.blake2b(content, digest_size=16).hexdigest()}"')
            cache.set(key, body, BODY_SECONDS)
        content, etag = body
        response = HttpResponse(content, content_type=JSONRenderer.media_type)
        response["ETag"] = etag
        return response

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
