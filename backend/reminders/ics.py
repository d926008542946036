"""iCalendar invitations for sessions: one stable UID per item, SEQUENCE rising with each move.

Calendar clients match an update to the event they already hold by UID and accept it when its
SEQUENCE is higher (RFC 5546); METHOD:CANCEL with the same UID removes it.
"""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar, Event, vCalAddress, vText

from backend.plans.models import PlanItem

UID_DOMAIN = "aftercare.invalid"


def item_uid(item: PlanItem) -> str:
    return f"plan-item-{item.pk}@{UID_DOMAIN}"


def session_invitation(
    item: PlanItem, *, attendee_email: str, organizer_email: str, clinic_name: str, now: dt.datetime
) -> bytes:
    cancelled = item.status == PlanItem.Status.CANCELLED
    cal = Calendar()
    cal.add("prodid", "-//Aftercare//Session reminders//EN")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", item_uid(item))
    event.add("sequence", item.calendar_sequence)
    event.add("dtstamp", now)
    event.add("dtstart", item.start)
    event.add("dtend", item.end)
    # Summary stays generic: calendars show it on lock screens and shared calendars.
    event.add("summary", f"{item.get_kind_display()} at {clinic_name}")
    event.add("location", vText(item.location or clinic_name))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = vText(clinic_name)
    event["organizer"] = organizer
    attendee = vCalAddress(f"mailto:{attendee_email}")
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", attendee, encode=0)
    cal.add_component(event)
    return cal.to_ical(sorted=False)  # insertion order is a valid order, and cheaper
