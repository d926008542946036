"""Finding and repairing stuck states, for `manage.py repair` (and an operator at 3 a.m.).

Each check reports what it found and, unless asked only to look, repairs it through the same
code the running service uses (the outbox's release and expiry, the plans' service layer), so a
repair never does anything the dispatcher would not. Every repair is conditional on the stuck
state still holding when it writes, so running twice, or beside a live dispatcher, repairs
nothing twice: the second run finds nothing.

What is only reported, because no program can decide it: a worker host whose heartbeat stopped,
and a dispatcher that has not ticked (a beat or dispatcher process to restart).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q
from django.db.models.functions import Now

from backend.core import health
from backend.plans import services as plan_services
from backend.reminders import outbox
from backend.reminders.models import Reminder


@dataclass
class Finding:
    check: str
    found: int
    repaired: int
    action: str


def _queued_past_lease():
    """Rows a dispatcher claimed whose lease ended with no worker at the provider for them."""
    return Reminder.objects.filter(
        status=Reminder.Status.QUEUED, lease_expires_at__lt=Now()
    ).filter(Q(sending_until__isnull=True) | Q(sending_until__lt=Now()))


def _due_past_not_after(now: dt.datetime):
    return Reminder.objects.filter(
        status=Reminder.Status.SCHEDULED, send_at__lte=now, not_after__lt=now
    )


def run(*, now: dt.datetime, apply: bool) -> list[Finding]:
    findings = []

    stuck = _queued_past_lease().count()
    released = outbox.release_expired_leases() if apply and stuck else 0
    findings.append(Finding("reminders queued past their lease", stuck, released, "made due again"))

    stale = _due_past_not_after(now).count()
    expired = outbox.expire_stale(now=now) if apply and stale else 0
    findings.append(
        Finding("reminders due past their not-after time", stale, expired, "expired, never sent")
    )

    finished = list(plan_services.finished_plans().order_by("pk"))
    completed = 0
    if apply:
        for plan in finished:
            plan_services.plan_complete(plan=plan, now=now)
            completed += 1
    findings.append(
        Finding("active plans whose items all have their outcome", len(finished), completed,
                "completed")
    )  # fmt: skip

    tick = health.PeriodicTick.age(health.DISPATCH_TASK)
    silent = tick is None or tick > health.DISPATCH_STALE_AFTER
    findings.append(
        Finding("dispatcher not ticking (restart beat and the dispatcher)", int(silent), 0,
                "reported only")
    )  # fmt: skip
    stopped = [name for name, age in health.heartbeat_ages() if age > health.HEARTBEAT_STALE_AFTER]
    findings.append(
        Finding("worker hosts with no heartbeat (restart them)", len(stopped), 0, "reported only")
    )
    return findings
