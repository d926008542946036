"""What a send builds once: a patient email's unsubscribe link is made once per message (the words
and the List-Unsubscribe header carry the same one), and a session's local time is worded once
per process (compose._when), whichever message names it."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.reminders import compose, delivery, dispatch, links
from backend.reminders.models import Reminder
from backend.reminders.outbox import Outcome
from tests.backend.conftest import NOW


@pytest.mark.django_db
def test_a_patient_email_makes_its_unsubscribe_link_once(make_plan, mailoutbox, monkeypatch):
    plan = make_plan()
    row = plan.reminders.filter(audience="patient", channel="email").order_by("send_at").first()
    Reminder.objects.filter(id=row.id).update(send_at=NOW, not_after=NOW + dt.timedelta(hours=6))
    made = []
    real = links.unsubscribe_url

    def counted(patient_id, *args, **kwargs):
        made.append(patient_id)
        return real(patient_id, *args, **kwargs)

    monkeypatch.setattr(links, "unsubscribe_url", counted)
    assert row.id in dispatch.claim_due(now=NOW)
    assert delivery.deliver(row.id, now=NOW).status == Outcome.SENT
    [message] = mailoutbox
    header = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert made == [plan.patient_id]
    assert header in message.body


def test_a_sessions_time_is_worded_once_per_process():
    compose._when.cache_clear()
    start = dt.datetime(2026, 3, 3, 14, 0, tzinfo=dt.UTC)
    first = compose._when(start, "America/New_York", "es")
    again = compose._when(start, "America/New_York", "es")
    assert first == again == ("mar 3 de Mar, 9:00", "mar 3 de Mar", "9:00")
    assert compose._when.cache_info().hits == 1
