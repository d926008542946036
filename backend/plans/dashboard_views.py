"""The provider dashboard, behind login."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from backend.core.scope import Role, role_of
from backend.measures.models import QuestionnaireResponse
from backend.plans import readiness, selectors
from backend.safety import selectors as safety_selectors


@login_required
@never_cache
def provider_dashboard(request: HttpRequest) -> HttpResponse:
    if role_of(request.user) is not Role.PROVIDER:  # deactivated providers have no role
        raise PermissionDenied("Only active providers have a dashboard.")
    provider = request.user.provider
    now = timezone.now()
    items = list(selectors.provider_upcoming_items(provider_id=provider.pk, now=now))
    answers = readiness.readiness_by_item(items)
    for item in items:
        item.readiness_row = readiness.readiness_status(
            item, answers.get(item.pk), now=now, zone=provider.clinic.time_zone
        )
    context = {
        "provider": provider,
        "items": items,
        "flags": safety_selectors.flags_for(request.user).filter(acknowledged_at__isnull=True),
        "inbox": safety_selectors.messages_for(request.user).filter(read_at__isnull=True)[:50],
        "patients": safety_selectors.patients_for(request.user).order_by("last_name"),
        "recent_answers": QuestionnaireResponse.objects.filter(
            patient__in=safety_selectors.patients_for(request.user),
            submitted_at__gte=timezone.now() - dt.timedelta(days=7),
        ).select_related("patient")[:100],
    }
    return render(request, "pages/provider_dashboard.html", context)
