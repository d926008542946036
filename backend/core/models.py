"""Operational state that is not about patients."""

from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """Last time a Celery worker ran the heartbeat task, per worker host name.

    Beat schedules the heartbeat every minute; /health/ shows the newest one, so an operator
    can tell "the broker answers but no worker consumes it" from the outside.
    """

    hostname = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
