"""Operational endpoints."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from backend.celery import app as celery_app

log = logging.getLogger(__name__)


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not answering"
        log.warning("health: database check failed: %s", exc)
        return f"database: {exc.__class__.__name__}"
    return None


def _check_broker() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            # ensure_connection opens the socket lazily on Redis; ask the server itself.
            client = getattr(conn.default_channel, "client", None)
            if client is not None:
                client.ping()
    except Exception as exc:
        log.warning("health: broker check failed: %s", exc)
        return f"broker: {exc.__class__.__name__}"
    return None


@never_cache
@require_GET
def health(request):
    """200 when the database and the broker both answer, 503 naming what failed otherwise.

    No authentication: load balancers and compose healthchecks call it. It reveals only which
    dependency is down, never configuration or data.
    """
    failures = [f for f in (_check_database(), _check_broker()) if f]
    if failures:
        return JsonResponse({"status": "unavailable", "failed": failures}, status=503)
    return JsonResponse({"status": "ok", "database": "ok", "broker": "ok"})
