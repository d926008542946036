"""The provider dashboard, behind login, and its two actions: record that an item took place, or
that the patient missed it.

Only active providers have a dashboard (a deactivated one has no role, backend.core.scope). An
action finds the item through the scope rule, so another provider's or another clinic's item is
a 404; it records the outcome through plans.services (one transaction, the plan row locked), and
takes it only when the dashboard offers it (backend.plans.item_states: once the item's time
has come). It answers with a redirect back to the item's row and a message saying what was done.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from backend.clinics.models import Provider
from backend.core.scope import Role, role_of, scope
from backend.measures.models import QuestionnaireResponse
from backend.plans import dashboard, item_states, services
from backend.plans.models import PlanItem
from backend.safety import selectors as safety_selectors


def _provider(request: HttpRequest) -> Provider:
    if role_of(request.user) is not Role.PROVIDER:  # deactivated providers have no role
        raise PermissionDenied("Only active providers have a dashboard.")
    return request.user.provider


@login_required
@never_cache
def provider_dashboard(request: HttpRequest) -> HttpResponse:
    provider = _provider(request)
    now = timezone.now()
    # The patients whose answers the clinician may read (safety.selectors), as ids: the recent
    # answers are then found through the patient's index, not by reading every answer.
    patients = list(safety_selectors.patients_for(request.user).values_list("pk", flat=True))
    context = {
        "provider": provider,
        "board": dashboard.build(provider=provider, now=now),
        "inbox": safety_selectors.messages_for(request.user).filter(read_at__isnull=True)[
            : dashboard.INBOX_LIMIT
        ],
        "recent_answers": QuestionnaireResponse.objects.filter(
            patient_id__in=patients, submitted_at__gte=now - dashboard.RECENT_ANSWERS
        ).select_related("patient")[:100],
    }
    return render(request, "pages/provider_dashboard.html", context)


def _item(request: HttpRequest, item_id: int) -> tuple[Provider, PlanItem]:
    """The item, if it is in one of this provider's plans (404 otherwise)."""
    provider = _provider(request)
    items = scope(
        PlanItem.objects.select_related("plan__patient"),
        request.user,
        clinic="plan__clinic",
        provider="plan__provider",
    )
    return provider, get_object_or_404(items, pk=item_id)


def _back_to(item: PlanItem) -> HttpResponse:
    return redirect(f"{reverse('provider-dashboard')}#item-{item.pk}")


def _record(request: HttpRequest, item: PlanItem, allowed: bool, outcome: str, record) -> None:
    what = f"{item.title} ({item.plan.patient})"
    if not allowed:
        messages.error(
            request,
            f"{what} was not marked {outcome}: only a scheduled item of an active plan can be, "
            "once its time has come.",
        )
        return
    try:
        record()
    except ValidationError as refused:
        messages.error(request, f"{what}: {' '.join(refused.messages)}")
    else:
        messages.success(request, f"{what} marked {outcome}.")


@login_required
@require_POST
def item_done(request: HttpRequest, item_id: int) -> HttpResponse:
    provider, item = _item(request, item_id)
    now = timezone.now()
    allowed = item_states.may_mark_done(item, now=now, zone=provider.clinic.time_zone)
    _record(
        request, item, allowed, "done", lambda: services.item_mark_completed(item=item, now=now)
    )
    return _back_to(item)


@login_required
@require_POST
def item_missed(request: HttpRequest, item_id: int) -> HttpResponse:
    _, item = _item(request, item_id)
    now = timezone.now()
    allowed = item_states.may_mark_missed(item, now=now)
    _record(request, item, allowed, "missed", lambda: services.item_mark_missed(item=item, now=now))
    return _back_to(item)
