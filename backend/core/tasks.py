"""Operational tasks."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from backend.core.models import WorkerHeartbeat


@shared_task(name="core.heartbeat", queue="dispatch", ignore_result=True)
def heartbeat(hostname: str | None = None) -> None:
    from celery import current_task

    name = hostname or getattr(current_task.request, "hostname", None) or "unknown"
    WorkerHeartbeat.objects.update_or_create(hostname=name, defaults={"seen_at": timezone.now()})
