"""Plan items: read, reschedule (PATCH start), record outcomes, cancel."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from backend.api.filters import ItemFilter
from backend.api.permissions import MANAGERS, STAFF, StaffReadManagersWrite, scope
from backend.api.serializers.plans import (
    ItemChangeSerializer,
    MissedSerializer,
    OutcomeSerializer,
    PlanItemSerializer,
    ReasonSerializer,
    RescheduleSerializer,
)
from backend.api.views.base import ApiViewSetMixin
from backend.plans import services
from backend.plans.models import PlanItem
from backend.plans.sync import SyncResult


class ItemViewSet(
    ApiViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Items of the plans the caller may see. Providers record outcomes (complete, missed) of
    their plans' items; coordinators also reschedule and cancel."""

    serializer_class = PlanItemSerializer
    permission_classes = [StaffReadManagersWrite]
    action_roles = {"complete": STAFF, "missed": STAFF, "partial_update": MANAGERS}
    filterset_class = ItemFilter
    http_method_names = ["get", "post", "patch", "head", "options"]
    # The service names the new time `new_start`; the API calls it `start`.
    field_aliases = {"new_start": "start"}

    def get_queryset(self):
        qs = PlanItem.objects.order_by("start", "id")
        return scope(qs, self.request.user, clinic="plan__clinic", provider="plan__provider")

    @extend_schema(request=RescheduleSerializer, responses={200: ItemChangeSerializer})
    def partial_update(self, request, pk=None):
        """Reschedule: move the item's start; the response lists everything that moved."""
        item = self.get_object()
        serializer = RescheduleSerializer(data=request.data, context={"item": item})
        serializer.is_valid(raise_exception=True)
        result = services.item_reschedule(item=item, new_start=serializer.validated_data["start"])
        return self._changed(item, result.sync)

    def _changed(self, item: PlanItem, sync: SyncResult) -> Response:
        item = PlanItem.objects.get(pk=item.pk)
        return Response(ItemChangeSerializer({"item": item, "changes": sync}).data)

    @extend_schema(request=OutcomeSerializer, responses={200: ItemChangeSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """Record that the item took place (or that an assessment was answered)."""
        item = self.get_object()
        data = self._valid(OutcomeSerializer, request)
        item = services.item_mark_completed(item=item, outcome_notes=data.get("outcome_notes", ""))
        return self._changed(item, SyncResult())

    @extend_schema(request=MissedSerializer, responses={200: ItemChangeSerializer})
    @action(detail=True, methods=["post"])
    def missed(self, request, pk=None):
        """A no-show: reminders that depended on it are withdrawn; optionally re-plan the rest."""
        item = self.get_object()
        data = self._valid(MissedSerializer, request)
        result = services.item_mark_missed(
            item=item, outcome_notes=data.get("outcome_notes", ""), replan=data["replan"]
        )
        return self._changed(item, result.sync)

    @extend_schema(request=ReasonSerializer, responses={200: ItemChangeSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel one item; its pending reminders never go out."""
        item = self.get_object()
        data = self._valid(ReasonSerializer, request)
        item = services.item_cancel(item=item, reason=data.get("reason", ""))
        return self._changed(item, SyncResult())

    @staticmethod
    def _valid(serializer_class, request) -> dict:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
