"""Operational endpoints."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from backend.celery import app as celery_app
from backend.core.models import PeriodicTick

# The dispatcher ticks every 30 s; three missed ticks in a row is worth a look.
DISPATCH_TASK = "reminders.dispatch_due"
DISPATCH_LATE_AFTER_S = 90

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


def _dispatcher() -> tuple[dict, str | None]:
    """How long ago the dispatcher last ticked, by the database's clock, and a warning if that is
    too long (beat stopped, or every tick is being dropped)."""
    age = PeriodicTick.age(DISPATCH_TASK)
    if age is None:
        return {"last_tick_s": None}, "dispatcher: no tick recorded"
    seconds = round(max(age.total_seconds(), 0.0), 1)
    if seconds > DISPATCH_LATE_AFTER_S:
        log.warning("health: the dispatcher last ticked %.0f s ago", seconds)
        return {"last_tick_s": seconds}, f"dispatcher: last tick {seconds:.0f} s ago"
    return {"last_tick_s": seconds}, None


@never_cache
@require_GET
def health(request):
    """200 when the database and the broker both answer, 503 naming what failed otherwise.

    The dispatcher's last tick is reported too; a late one is a warning (status "degraded",
    still 200): web requests are fine without it, but reminders are not going out. No
    authentication: load balancers and compose healthchecks call it. It reveals only which
    dependency is down and how long ago the last tick was, never configuration or data.
    """
    failures = [f for f in (_check_database(), _check_broker()) if f]
    if failures:
        return JsonResponse({"status": "unavailable", "failed": failures}, status=503)
    dispatcher, warning = _dispatcher()
    body = {"status": "ok", "database": "ok", "broker": "ok", "dispatcher": dispatcher}
    if warning:
        body.update(status="degraded", warnings=[warning])
    return JsonResponse(body)
