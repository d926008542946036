"""Reminders (the outbox rows): read with filters; coordinators cancel or send one now."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from backend.api.filters import ReminderFilter
from backend.api.permissions import StaffReadManagersWrite, scope
from backend.api.serializers.plans import ReasonSerializer, ReminderSerializer
from backend.api.views.base import ApiReadOnlyViewSet
from backend.reminders import services
from backend.reminders.models import Reminder


class ReminderViewSet(ApiReadOnlyViewSet):
    serializer_class = ReminderSerializer
    permission_classes = [StaffReadManagersWrite]
    filterset_class = ReminderFilter

    def get_queryset(self):
        qs = Reminder.objects.order_by("send_at", "id")
        # A provider's daily digest has no plan: its provider's clinic is its own (core.scope).
        return scope(
            qs,
            self.request.user,
            clinic=("plan__clinic", "provider__clinic"),
            provider=("plan__provider", "provider"),
        )

    @extend_schema(request=ReasonSerializer, responses={200: ReminderSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel a scheduled reminder."""
        reminder = self.get_object()
        reason = ReasonSerializer(data=request.data)
        reason.is_valid(raise_exception=True)
        reminder = services.reminder_cancel(
            reminder=reminder, reason=reason.validated_data.get("reason") or "cancelled by staff"
        )
        return Response(ReminderSerializer(reminder).data)

    @extend_schema(request=None, responses={200: ReminderSerializer})
    @action(detail=True, methods=["post"], url_path="send-now")
    def send_now(self, request, pk=None):
        """Make the reminder due now (a sent one is sent again as a new row); the next
        dispatcher tick, within 30 s, sends it."""
        return Response(
            ReminderSerializer(services.reminder_send_now(reminder=self.get_object())).data
        )
