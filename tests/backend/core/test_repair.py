"""`manage.py repair`: reports stuck states, repairs them through the service's own code, and a
second run finds nothing (safe to run twice)."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models.functions import Now

from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder
from tests.factories import make_plan
from tests.support.clock import SUITE_NOW


def _repair(*args) -> str:
    out = StringIO()
    call_command("repair", *args, stdout=out)
    return out.getvalue()


def _found(output: str, check: str) -> int:
    [line] = [line for line in output.splitlines() if line.startswith(check)]
    return int(line.split("found")[1].split()[0])


@pytest.fixture()
def stuck(db):
    """One of each stuck state, and the healthy neighbours a repair must not touch."""
    live = make_plan(now=SUITE_NOW).plan
    rows = list(live.reminders.filter(status="scheduled").order_by("id")[:4])
    past_lease, at_provider, stale, healthy = rows
    Reminder.objects.filter(pk=past_lease.pk).update(
        status="queued", lease_expires_at=Now() - dt.timedelta(minutes=3), lease_token="t1"
    )
    # A worker is at the provider with this one: its lease ended but the send is under way.
    Reminder.objects.filter(pk=at_provider.pk).update(
        status="queued",
        lease_expires_at=Now() - dt.timedelta(minutes=3),
        sending_until=Now() + dt.timedelta(minutes=1),
        lease_token="t2",
    )
    Reminder.objects.filter(pk=stale.pk).update(
        send_at=SUITE_NOW - dt.timedelta(days=2), not_after=SUITE_NOW - dt.timedelta(days=1)
    )
    finished = make_plan(now=SUITE_NOW).plan
    finished.items.update(status=PlanItem.Status.COMPLETED)
    finished.reminders.update(status=Reminder.Status.SENT)
    return live, finished, past_lease, at_provider, stale, healthy


def test_a_dry_run_reports_and_changes_nothing(stuck):
    _live, finished, past_lease, _at_provider, stale, _healthy = stuck
    output = _repair("--dry-run")
    assert _found(output, "reminders queued past their lease") == 1
    assert _found(output, "reminders due past their not-after time") == 1
    assert _found(output, "active plans whose items all have their outcome") == 1
    assert Reminder.objects.get(pk=past_lease.pk).status == "queued"
    assert Reminder.objects.get(pk=stale.pk).status == "scheduled"
    assert TreatmentPlan.objects.get(pk=finished.pk).status == "active"


def test_repair_fixes_each_stuck_state_once_and_leaves_the_rest(stuck):
    live, finished, past_lease, at_provider, stale, healthy = stuck
    first = _repair()
    assert "1 made due again" in first and "1 expired" in first and "1 completed" in first
    assert Reminder.objects.get(pk=past_lease.pk).status == "scheduled"
    assert Reminder.objects.get(pk=at_provider.pk).status == "queued"  # never a second send
    assert Reminder.objects.get(pk=stale.pk).status == "expired"
    assert Reminder.objects.get(pk=healthy.pk).status == "scheduled"
    assert TreatmentPlan.objects.get(pk=finished.pk).status == "completed"
    assert TreatmentPlan.objects.get(pk=live.pk).status == "active"

    second = _repair()
    for check in (
        "reminders queued past their lease",
        "reminders due past their not-after time",
        "active plans whose items all have their outcome",
    ):
        assert _found(second, check) == 0, second


def test_a_plan_with_a_reminder_still_waiting_is_not_completed(db):
    plan = make_plan(now=SUITE_NOW).plan
    plan.items.update(status=PlanItem.Status.COMPLETED)
    plan.reminders.exclude(pk=plan.reminders.order_by("id").first().pk).update(status="sent")
    assert _found(_repair(), "active plans whose items all have their outcome") == 0
    assert TreatmentPlan.objects.get(pk=plan.pk).status == "active"


def test_the_service_refuses_to_complete_a_plan_with_scheduled_items(db):
    from django.core.exceptions import ValidationError

    from backend.plans.services import plan_complete

    plan = make_plan(now=SUITE_NOW).plan
    with pytest.raises(ValidationError) as refused:
        plan_complete(plan=plan, now=SUITE_NOW)
    assert refused.value.message_dict == {"status": ["The plan still has scheduled items."]}
