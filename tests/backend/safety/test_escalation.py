"""Escalation through the production path: the beat's dispatch task, the broker and a real
worker (celery.contrib.pytest, the project's own app). The worker runs in this process, on the
test's clock, so moving the clock past escalation_minutes is what a real half hour would do."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from backend.reminders.models import Reminder
from backend.reminders.tasks import dispatch_due
from backend.safety import services as safety
from tests.backend.safety.helpers import flag_path, raise_urgent_flag
from tests.support.clock import wait_until

URGENT, BACKUP = safety.URGENT_KIND, safety.BACKUP_KIND
NOTE = "Reached the patient by phone; safe, safety plan reviewed."


def all_sent(flag, kind: str) -> bool:
    rows = Reminder.objects.filter(flag=flag, message_kind=kind)
    return rows.exists() and not rows.exclude(status="sent").exists()


def first_alerts_go_out_at_once(flag, team, mailoutbox, sms_outbox) -> None:
    dispatch_due.delay()
    wait_until(lambda: all_sent(flag, URGENT), timeout=30, what="the first alerts to be sent")
    first = {team.provider.user.email, team.on_call.user.email}
    assert {m.to[0] for m in mailoutbox} == first
    assert {m.subject for m in mailoutbox} == {"URGENT: a patient needs a clinician now"}
    assert {m.to for m in sms_outbox} == {str(team.provider.mobile), str(team.on_call.mobile)}
    assert all(flag_path(flag) in m.body and "patient AQ" in m.body for m in sms_outbox)
    assert set(
        Reminder.objects.filter(flag=flag, message_kind=BACKUP).values_list("status", flat=True)
    ) == {"scheduled"}


def a_patient_reminder_due_at(plan, when: dt.datetime) -> Reminder:
    """A sentinel: one of the patient's own emails, due at ``when``. Rows are claimed together and
    sent oldest first, so once it is sent every alert due before it has had its turn."""
    row = (
        plan.reminders.filter(audience="patient", channel="email", item__kind="dosing")
        .order_by("send_at")
        .first()
    )
    Reminder.objects.filter(pk=row.pk).update(send_at=when, not_after=when + dt.timedelta(hours=6))
    return row


@pytest.mark.django_db(transaction=True)
def test_an_unacknowledged_flag_reaches_the_backup_contact_after_escalation_minutes(
    plan, team, clinic, sms_outbox, mailoutbox, celery_app_clean, celery_worker
):
    raised = timezone.now()
    flag = raise_urgent_flag(plan, now=raised)
    first_alerts_go_out_at_once(flag, team, mailoutbox, sms_outbox)
    assert team.backup.user.email not in {m.to[0] for m in mailoutbox}

    past_deadline = raised + dt.timedelta(minutes=clinic.escalation_minutes, seconds=30)
    with time_machine.travel(past_deadline, tick=True):
        dispatch_due.delay()
        wait_until(lambda: all_sent(flag, BACKUP), timeout=30, what="the backup alerts")

    to_backup = [m for m in mailoutbox if m.to == [team.backup.user.email]]
    assert [m.subject for m in to_backup] == [
        "URGENT, not yet acknowledged: a patient needs a clinician"
    ]
    [text] = [m for m in sms_outbox if m.to == str(team.backup.mobile)]
    assert f"unanswered {clinic.escalation_minutes} min" in text.body
    assert flag_path(flag) in text.body
    flag.refresh_from_db()
    assert flag.open


@pytest.mark.django_db(transaction=True)
def test_a_flag_acknowledged_before_the_deadline_never_reaches_the_backup_contact(
    plan, team, clinic, sms_outbox, mailoutbox, celery_app_clean, celery_worker
):
    raised = timezone.now()
    flag = raise_urgent_flag(plan, now=raised)
    first_alerts_go_out_at_once(flag, team, mailoutbox, sms_outbox)
    safety.flag_acknowledge(
        flag=flag, user=team.provider.user, note=NOTE, now=raised + dt.timedelta(minutes=10)
    )

    past_deadline = raised + dt.timedelta(minutes=clinic.escalation_minutes, seconds=30)
    sentinel = a_patient_reminder_due_at(plan, past_deadline - dt.timedelta(seconds=1))
    with time_machine.travel(past_deadline, tick=True):
        dispatch_due.delay()
        wait_until(
            lambda: Reminder.objects.get(pk=sentinel.pk).status not in ("scheduled", "queued"),
            timeout=30,
            what="the tick after the deadline to run",
        )

    assert Reminder.objects.get(pk=sentinel.pk).status == "sent"
    assert set(
        Reminder.objects.filter(flag=flag, message_kind=BACKUP).values_list("status", flat=True)
    ) == {"cancelled"}
    assert team.backup.user.email not in {a for m in mailoutbox for a in m.to}
    assert str(team.backup.mobile) not in {m.to for m in sms_outbox}
