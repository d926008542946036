"""Reads that several callers share (pages, API, admin). No writes."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder


def patient_upcoming_items(*, patient_id: int, now: dt.datetime) -> QuerySet[PlanItem]:
    return (
        PlanItem.objects.filter(
            plan__patient_id=patient_id,
            plan__status=TreatmentPlan.Status.ACTIVE,
            end__gte=now - dt.timedelta(days=1),
        )
        .exclude(kind=PlanItem.Kind.TASK)
        .order_by("start")
    )


def provider_upcoming_items(
    *, provider_id: int, now: dt.datetime, days: int = 14
) -> QuerySet[PlanItem]:
    return (
        PlanItem.objects.filter(
            plan__provider_id=provider_id,
            plan__status=TreatmentPlan.Status.ACTIVE,
            status=PlanItem.Status.SCHEDULED,
            start__gte=now - dt.timedelta(hours=12),
            start__lt=now + dt.timedelta(days=days),
        )
        .select_related("plan__patient")
        .order_by("start")
    )


def plan_reminders(*, plan_id: int) -> QuerySet[Reminder]:
    return Reminder.objects.filter(plan_id=plan_id).select_related("item").order_by("send_at", "id")
