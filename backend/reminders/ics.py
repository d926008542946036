"""iCalendar invitations for sessions: one stable UID per item, SEQUENCE rising with each move.

Calendar clients match an update to the event they already hold by UID and accept it when its
SEQUENCE is higher (RFC 5546); METHOD:CANCEL with the same UID removes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from backend.plans.models import PlanItem

UID_DOMAIN = "aftercare.invalid"


def item_uid(item: PlanItem) -> str:
    return f"plan-item-{item.pk}@{UID_DOMAIN}"


def session_invitation(
    item: PlanItem,
    *,
    attendee_email: str,
    organizer_email: str,
    clinic_name: str,
    now: dt.datetime,
    title: str = "",
) -> bytes:
    """One session's invitation (REQUEST), or its cancellation (CANCEL)."""
    [(_, ics)] = session_invitations(
        [item],
        attendee_email=attendee_email,
        organizer_email=organizer_email,
        clinic_name=clinic_name,
        titles={item.pk: title} if title else None,
        now=now,
    )
    return ics


def session_invitations(
    items: list[PlanItem],
    *,
    attendee_email: str,
    organizer_email: str,
    clinic_name: str,
    now: dt.datetime,
    titles: Mapping[int, str] | None = None,
) -> list[tuple[str, bytes]]:
    """[(method, ics)]: one calendar object per iTIP method the sessions need, each holding
    every session it applies to (RFC 5546 allows one METHOD per object, so a change that moved
    some sessions and cancelled others is a REQUEST and a CANCEL).

    ``titles`` maps an item's id to its neutral patient title ("Session 3"); an item without one
    is called "Appointment". The staff title never goes into a calendar: calendars are shared
    and show on lock screens."""
    out = []
    for method in ("REQUEST", "CANCEL"):
        chosen = [
            i for i in items if (i.status == PlanItem.Status.CANCELLED) == (method == "CANCEL")
        ]
        if not chosen:
            continue
        cal = Calendar()
        cal.add("prodid", "-//Aftercare//Session reminders//EN")
        cal.add("version", "2.0")
        cal.add("method", method)
        for item in chosen:
            cal.add_component(
                _event(
                    item,
                    title=(titles or {}).get(item.pk) or "Appointment",
                    attendee_email=attendee_email,
                    organizer_email=organizer_email,
                    clinic_name=clinic_name,
                    now=now,
                )
            )
        out.append((method, cal.to_ical(sorted=False)))  # insertion order is valid and cheaper
    return out


def item_event(
    item: PlanItem,
    *,
    summary: str,
    location: str,
    now: dt.datetime,
    zone: ZoneInfo | None = None,
) -> Event:
    """The event every calendar object here is made of (patients' invitations, providers'
    feeds): the item's stable UID and SEQUENCE, its start and end (UTC, or wall time with the
    TZID of ``zone``), a neutral summary and its status.

    The caller chooses the summary: calendars show it on lock screens and shared views, so it
    never names a drug or diagnosis."""
    cancelled = item.status == PlanItem.Status.CANCELLED
    event = Event()
    event.add("uid", item_uid(item))
    event.add("sequence", item.calendar_sequence)
    event.add("dtstamp", now)
    event.add("dtstart", item.start if zone is None else item.start.astimezone(zone))
    event.add("dtend", item.end if zone is None else item.end.astimezone(zone))
    event.add("summary", summary)
    event.add("location", vText(location))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    return event


def _event(
    item: PlanItem, *, title: str, attendee_email, organizer_email, clinic_name, now
) -> Event:
    event = item_event(
        item, summary=f"{title} · {clinic_name}", location=item.location or clinic_name, now=now
    )
    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = vText(clinic_name)
    event["organizer"] = organizer
    attendee = vCalAddress(f"mailto:{attendee_email}")
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", attendee, encode=0)
    return event
