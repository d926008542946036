"""A provider's private calendar feed: one iCalendar URL per provider that Google Calendar,
Outlook and Apple Calendar subscribe to (they fetch it again every few hours; nothing is pushed).

- **The URL is the credential.** It holds a random secret (``secrets.token_urlsafe(32)``); the
  database keeps only its SHA-256 (Provider.calendar_feed_key_hash). A request is answered by
  looking the hash up, so no secret is ever compared byte by byte in Python (nothing to time),
  and a copy of the database opens no feed. Issuing a new URL replaces the hash, which revokes
  the old URL; a revoked, unknown or deactivated provider's key answers the same 404.
- **What it holds:** the provider's items (those assigned to them, else those of plans they are
  responsible for) in active plans, from 30 days back to 180 days ahead: sessions, check-ins,
  assessments and tasks, completed and missed ones included. Cancelled items and items of plans
  that are paused, completed or cancelled are *dropped*, not sent as STATUS:CANCELLED:
  subscribed calendars replace their copy with each fetch, so a dropped event disappears, while
  several clients show a cancelled one struck through or not at all.
- **Stable identity:** each event's UID is the item's (reminders/ics.py, the same UID as the
  patient's invitation) and its SEQUENCE is PlanItem.calendar_sequence, so a moved session is
  updated in place, never duplicated.
- **DST-correct:** DTSTART/DTEND carry the clinic's TZID and the calendar its VTIMEZONE, so a
  client in any zone shows the instant stored in the database, on either side of a change.
- **Privacy:** calendars sync to phones, lock screens and shared views. A summary names the
  item's title only when it holds no drug or diagnosis word (else the kind of item), and the
  patient by initials unless the clinic turns on Clinic.calendar_shows_names. Responses are
  ``Cache-Control: private, no-store``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, QuerySet
from django.urls import reverse
from icalendar import Calendar

from backend.clinics.models import Provider
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.ics import item_event
from scheduler.privacy import private_words_in

DAYS_BACK = 30
DAYS_AHEAD = 180
REFRESH = "PT1H"  # how often clients are asked to fetch again (most choose their own)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def feed_url(secret: str) -> str:
    """The absolute URL a calendar app subscribes to (PUBLIC_BASE_URL: the address patients and
    providers reach the service at)."""
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return base + reverse("provider-calendar-feed", kwargs={"key": secret})


def provider_for_key(secret: str) -> Provider | None:
    """The active provider whose feed ``secret`` opens, with their clinic; None for a revoked,
    unknown or malformed key and for a provider who has left (one query)."""
    if not secret or len(secret) > 128:
        return None
    return (
        Provider.objects.select_related("clinic", "user")
        .exclude(calendar_feed_key_hash="")
        .filter(calendar_feed_key_hash=key_hash(secret), active=True)
        .first()
    )


def feed_items(provider: Provider, *, now: dt.datetime) -> QuerySet[PlanItem]:
    """What the provider's calendar shows (see the module docstring), with each item's patient
    in the same query."""
    return (
        PlanItem.objects.filter(
            Q(provider=provider) | Q(provider__isnull=True, plan__provider=provider),
            plan__status=TreatmentPlan.Status.ACTIVE,
            start__gte=now - dt.timedelta(days=DAYS_BACK),
            start__lt=now + dt.timedelta(days=DAYS_AHEAD),
        )
        .exclude(status=PlanItem.Status.CANCELLED)
        .select_related("plan__patient")
        .order_by("start", "pk")
    )


def patient_label(patient, *, full_names: bool) -> str:
    """ "Jo Doe" when the clinic shows names in calendars, else "J.D."."""
    if full_names:
        return f"{patient.first_name} {patient.last_name}".strip()
    return "".join(
        f"{part[:1].upper()}." for part in (patient.first_name, patient.last_name) if part
    )


def summary(item: PlanItem, *, full_names: bool) -> str:
    """What the calendar shows: the item's title when it names no drug or diagnosis, else its
    kind ("Dosing session"), and whom it is with."""
    what = item.title.strip()
    if not what or private_words_in(what):
        what = item.get_kind_display()
    return f"{what} · {patient_label(item.plan.patient, full_names=full_names)}"


def render(provider: Provider, items, *, now: dt.datetime) -> bytes:
    """The feed's body: one VEVENT per item, times in the clinic's zone with its VTIMEZONE."""
    clinic = provider.clinic
    zone = ZoneInfo(clinic.time_zone)
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    cal = Calendar()
    cal.add("prodid", "-//Aftercare//Provider calendar feed//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "Aftercare schedule")
    cal.add("x-wr-timezone", clinic.time_zone)
    cal.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", REFRESH)
    for item in items:
        event = item_event(
            item,
            summary=summary(item, full_names=clinic.calendar_shows_names),
            location=item.location or clinic.email_sender_name(),
            now=now,
            zone=zone,
        )
        # Behind the provider's login: the link opens the patient's page, it shows nothing itself.
        event.add("url", base + reverse("provider-patient", args=[item.plan.patient_id]))
        cal.add_component(event)
    # Only the transitions the feed's window needs, not fifty years of them.
    cal.add_missing_timezones(
        first_date=(now - dt.timedelta(days=DAYS_BACK + 366)).date(),
        last_date=(now + dt.timedelta(days=DAYS_AHEAD + 366)).date(),
    )
    return cal.to_ical(sorted=False)


def provider_feed(provider: Provider, *, now: dt.datetime) -> bytes:
    """The provider's whole feed, read in one query."""
    return render(provider, feed_items(provider, now=now), now=now)
