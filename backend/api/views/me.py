"""Upcoming check-ins for staff, and a patient's own schedule and record."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.response import Response

from backend.api.pagination import Pagination
from backend.api.permissions import PatientOnly, Role, StaffOnly, role_of, scope
from backend.api.serializers.me import CheckInSerializer, DaysSerializer, ScheduleSerializer
from backend.api.serializers.people import PatientSelfSerializer
from backend.plans import selectors
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder

# What a check-in row shows, and nothing else: the plan and its patient are joined for the
# patient's name alone, so none of their other columns (the engine's notes, contact details,
# consent) is read for a page of check-ins.
CHECK_IN_COLUMNS = (
    *(name for name in CheckInSerializer.Meta.fields if name not in ("start_local", "patient")),
    "plan__patient__first_name",
    "plan__patient__last_name",
)


class UpcomingCheckInsView(generics.ListAPIView):
    """Scheduled check-ins in the next `days` days (default 14): a provider's own, a
    coordinator's clinic's, all for admins."""

    serializer_class = CheckInSerializer
    permission_classes = [StaffOnly]
    pagination_class = Pagination

    @extend_schema(parameters=[OpenApiParameter("days", int, description="1 to 90; default 14")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = DaysSerializer(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        days, now, user = params.validated_data["days"], timezone.now(), self.request.user
        if role_of(user) is Role.PROVIDER:
            qs = selectors.provider_upcoming_items(provider_id=user.provider.pk, now=now, days=days)
        else:
            # The provider selector's window, for every provider the caller may see.
            window = (now - dt.timedelta(hours=12), now + dt.timedelta(days=days))
            qs = PlanItem.objects.filter(
                plan__status=TreatmentPlan.Status.ACTIVE, status=PlanItem.Status.SCHEDULED,
                start__gte=window[0], start__lt=window[1],
            ).select_related("plan__patient")  # fmt: skip
            qs = scope(qs, user, clinic="plan__clinic", provider=None)
        return (
            qs.filter(kind=PlanItem.Kind.CHECK_IN).only(*CHECK_IN_COLUMNS).order_by("start", "id")
        )


class MyScheduleView(generics.GenericAPIView):
    """The signed-in patient's upcoming items and the reminders still to come."""

    permission_classes = [PatientOnly]
    serializer_class = ScheduleSerializer

    def get(self, request):
        patient, now = request.user.patient, timezone.now()
        items = selectors.patient_upcoming_items(patient_id=patient.pk, now=now)
        reminders = Reminder.objects.filter(
            patient=patient, audience=Reminder.Audience.PATIENT, status__in=Reminder.PENDING,
            send_at__gte=now, plan__status=TreatmentPlan.Status.ACTIVE,
        ).order_by("send_at", "id")  # fmt: skip
        return Response(ScheduleSerializer({"items": items, "reminders": reminders}).data)


class MeView(generics.RetrieveUpdateAPIView):
    """The signed-in patient's own record: contact preferences and consent."""

    permission_classes = [PatientOnly]
    serializer_class = PatientSelfSerializer
    http_method_names = ["get", "patch", "head", "options"]
    throttle_scope = "writes"

    def get_object(self):
        return self.request.user.patient

    # Saved through backend.patients.services by the serializer, like every patient change.
