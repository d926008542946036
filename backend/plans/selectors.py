"""Reads that several callers share (pages, API, admin). No writes."""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from backend.plans.models import PlanItem, TreatmentPlan
from scheduler.model import APPOINTMENT_KINDS


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


def provider_busy(
    provider, *, now: dt.datetime, exclude_plans=()
) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
    """When the provider is already booked: their scheduled on-site items in other live plans."""
    if provider is None:
        return ()
    rows = PlanItem.objects.filter(
        provider=provider,
        kind__in=APPOINTMENT_KINDS,  # a provider is in the room (or on the call) for these
        status=PlanItem.Status.SCHEDULED,
        plan__status__in=("active", "paused", "draft"),
        end__gt=now,
    )
    if exclude_plans:
        rows = rows.exclude(plan__in=list(exclude_plans))
    return tuple(
        (start.astimezone(dt.UTC), end.astimezone(dt.UTC))
        for start, end in rows.order_by("start").values_list("start", "end")
    )
