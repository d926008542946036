"""Session invitations follow the session (RFC 5546): one UID for its whole life, a SEQUENCE that
rises when it moves, METHOD:CANCEL / STATUS:CANCELLED when it is cancelled. Plans are changed
through the real services, and the .ics is parsed with icalendar."""

from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar

from backend.plans import services
from backend.plans.models import PlanItem
from backend.reminders import compose
from backend.reminders.ics import item_uid, session_invitation
from tests.factories import (
    SHARED_CLINIC_EMAIL as CLINIC_EMAIL,
)
from tests.factories import (
    SHARED_CLINIC_NAME as CLINIC_NAME,
)
from tests.factories import (
    SHARED_PATIENT_EMAIL as PATIENT_EMAIL,
)

pytestmark = pytest.mark.django_db

ATTENDEE = PATIENT_EMAIL
ORGANIZER = CLINIC_EMAIL


def invitation(item: PlanItem, now: dt.datetime | None = None):
    item.refresh_from_db()
    raw = session_invitation(
        item,
        attendee_email=ATTENDEE,
        organizer_email=ORGANIZER,
        clinic_name=CLINIC_NAME,
        now=now or dt.datetime.now(dt.UTC),
    )
    calendar = Calendar.from_ical(raw)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


@pytest.fixture()
def dosing(plan) -> PlanItem:
    return plan.items.filter(kind=PlanItem.Kind.DOSING).order_by("start").first()


def test_invitation_describes_the_session(dosing):
    calendar, event = invitation(dosing)

    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(event["UID"]) == item_uid(dosing) == f"plan-item-{dosing.pk}@aftercare.invalid"
    assert event.decoded("SEQUENCE") == 0
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event.decoded("DTSTART") == dosing.start
    assert event.decoded("DTEND") == dosing.end
    assert str(event["ORGANIZER"]) == f"mailto:{ORGANIZER}"
    assert str(event["ATTENDEE"]) == f"mailto:{ATTENDEE}"
    # Generic summary: lock screens and shared calendars show it.
    assert "ketamine" not in str(event["SUMMARY"]).lower()


def test_reschedule_keeps_the_uid_and_raises_the_sequence(plan, dosing):
    _, before = invitation(dosing)
    new_start = dosing.start + dt.timedelta(hours=2)

    services.item_reschedule(
        item=dosing, new_start=new_start, now=dosing.start - dt.timedelta(days=5)
    )

    _, after = invitation(dosing)
    assert str(after["UID"]) == str(before["UID"])
    assert after.decoded("SEQUENCE") > before.decoded("SEQUENCE")
    assert after.decoded("DTSTART") == new_start
    assert str(after["STATUS"]) == "CONFIRMED"

    # Moved again: higher still, same UID.
    services.item_reschedule(
        item=dosing, new_start=new_start + dt.timedelta(hours=1),
        now=dosing.start - dt.timedelta(days=5),
    )  # fmt: skip
    _, again = invitation(dosing)
    assert str(again["UID"]) == str(before["UID"])
    assert again.decoded("SEQUENCE") > after.decoded("SEQUENCE")


def test_the_reminder_email_carries_the_updated_invitation(plan, dosing):
    now = dosing.start - dt.timedelta(days=5)
    new_start = dosing.start + dt.timedelta(hours=2)
    services.item_reschedule(item=dosing, new_start=new_start, now=now)
    dosing.refresh_from_db()

    reminder = dosing.reminders.filter(channel="email", audience="patient", status="scheduled")
    reminder = reminder.exclude(rule="staff change")  # a planned reminder, not the change notice
    reminder = reminder.select_related("item", "plan__patient", "plan__clinic").first()
    email = compose.build_email(reminder, compose.render(reminder), now=now)

    ((filename, raw, mimetype),) = email.attachments
    assert filename.endswith(".ics")
    assert mimetype.startswith("text/calendar")
    (event,) = Calendar.from_ical(raw).walk("VEVENT")
    assert str(event["UID"]) == item_uid(dosing)
    assert event.decoded("SEQUENCE") == dosing.calendar_sequence > 0
    assert event.decoded("DTSTART") == new_start


def test_cancel_sends_method_cancel_with_the_same_uid(plan, dosing):
    _, before = invitation(dosing)

    services.item_cancel(item=dosing, reason="patient unwell")

    calendar, after = invitation(dosing)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(after["STATUS"]) == "CANCELLED"
    assert str(after["UID"]) == str(before["UID"])
    assert after.decoded("SEQUENCE") > before.decoded("SEQUENCE")


def test_reschedule_then_cancel_keeps_rising(plan, dosing):
    services.item_reschedule(
        item=dosing, new_start=dosing.start + dt.timedelta(hours=2),
        now=dosing.start - dt.timedelta(days=5),
    )  # fmt: skip
    _, moved = invitation(dosing)

    services.item_cancel(item=dosing)

    calendar, cancelled = invitation(dosing)
    assert str(calendar["METHOD"]) == "CANCEL"
    assert cancelled.decoded("SEQUENCE") > moved.decoded("SEQUENCE")
    assert str(cancelled["UID"]) == str(moved["UID"])


def test_cancelling_the_plan_cancels_every_session_invitation(plan):
    sessions = list(plan.items.filter(kind=PlanItem.Kind.DOSING))

    services.plan_cancel(plan=plan, reason="moved away")

    for item in sessions:
        calendar, event = invitation(item)
        assert str(calendar["METHOD"]) == "CANCEL"
        assert str(event["STATUS"]) == "CANCELLED"
        assert event.decoded("SEQUENCE") == 1


def test_each_session_has_its_own_uid(plan):
    uids = {str(invitation(item)[1]["UID"]) for item in plan.items.all()}
    assert len(uids) == plan.items.count()
