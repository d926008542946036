"""Operational endpoints: health for anyone who probes, detail and metrics for operators."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from backend.core import health as health_checks
from backend.core import metrics
from backend.core.scope import Role, role_of


@never_cache
@require_GET
def health(request):
    """200 when the service is up and reminders are going out; 503 naming what is wrong otherwise.

    No authentication: load balancers, compose healthchecks and external uptime checks call it.
    It names the failed check and two ages (the dispatcher's last tick, the oldest due reminder),
    never configuration or data. What makes it 503 is in backend.core.health.
    """
    result = health_checks.report()
    return JsonResponse(result.public(), status=200 if result.healthy else 503)


@never_cache
@require_GET
def live(request):
    """For load balancers and container health checks: this web process answers and reaches the
    database. It does not judge the dispatcher, so a stopped sender never takes the patients'
    pages out of rotation; /health/ is the check that pages a person about that."""
    failure = health_checks.check_database()
    if failure:
        return JsonResponse({"status": "unavailable", "failed": [failure]}, status=503)
    return JsonResponse({"status": "ok"})


def operator_only(view):
    """Readable by an administrator's session, or by a monitoring system presenting
    `Authorization: Bearer <MONITORING_TOKEN>` (Prometheus's `authorization` scrape setting).

    Coordinators and providers are refused: worker names and queue depths are the operator's
    business. With no MONITORING_TOKEN set, only administrators get in.
    """

    def wrapped(request, *args, **kwargs):
        token = settings.MONITORING_TOKEN
        header = request.headers.get("Authorization", "")
        if token and header.startswith("Bearer "):
            if hmac.compare_digest(header.removeprefix("Bearer ").encode(), token.encode()):
                return view(request, *args, **kwargs)
            return _unauthorized()
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if user.is_active and role_of(user) is Role.ADMIN:
                return view(request, *args, **kwargs)
            return HttpResponse("Operators only.\n", status=403, content_type="text/plain")
        return _unauthorized()

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _unauthorized() -> HttpResponse:
    response = HttpResponse("Authentication required.\n", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = 'Bearer realm="aftercare-operations"'
    return response


@never_cache
@require_GET
@operator_only
def health_detail(request):
    """The public report plus ticks, worker heartbeats and queue depths (backend.core.health)."""
    body = health_checks.detail()
    return JsonResponse(body, status=503 if body.get("failed") else 200)


@never_cache
@require_GET
@operator_only
def metrics_view(request):
    """Prometheus text exposition (backend.core.metrics)."""
    payload, content_type = metrics.exposition()
    return HttpResponse(payload, content_type=content_type)
