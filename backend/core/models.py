"""Operational state that is not about patients."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import F
from django.db.models.functions import Now


class WorkerHeartbeat(models.Model):
    """Last time a Celery worker ran the heartbeat task, per worker host name.

    Beat schedules the heartbeat every minute, so an operator (or a query) can tell "the broker
    answers but no worker consumes it" from the outside.
    """

    hostname = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


class PeriodicTick(models.Model):
    """Last time a periodic task ran, by the database's clock (never a worker's).

    The dispatcher records every tick; /health/ reports how long ago the last one was, so a
    dispatcher that stopped ticking, or whose ticks are dropped, is seen from the outside.
    """

    task = models.CharField(max_length=100, unique=True)
    ran_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.task} at {self.ran_at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def record(cls, task: str) -> None:
        if not cls.objects.filter(task=task).update(ran_at=Now()):
            cls.objects.get_or_create(task=task, defaults={"ran_at": Now()})

    @classmethod
    def age(cls, task: str) -> dt.timedelta | None:
        """How long ago `task` last ran, by the database's clock; None if it never did."""
        row = (
            cls.objects.filter(task=task)
            .annotate(age=models.ExpressionWrapper(Now() - F("ran_at"), models.DurationField()))
            .values_list("age", flat=True)
            .first()
        )
        return row
