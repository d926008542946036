"""The provider's daily digest: one email a working day listing the day's sessions, check-ins and
tasks, in place of one "check-ins tomorrow" notice per check-in.

Two halves, both on the outbox's one path:

- **Creating** (`create_due_digests`, called by the beat task every 15 minutes): for each clinic
  whose 07:00 (clinic time) has come today, on a working day of the clinic's calendar (the
  engine's rule, `ClinicCalendar.is_working_day`: opening weekday, not a closed date, not a public
  holiday), one scheduled Reminder per active provider with something on that day's list. The
  row belongs to no plan (it spans the provider's plans); its key is ``digest:<date>``, unique per
  provider where the plan is empty, so a late, doubled or concurrent tick never makes two, and a
  missed tick is caught up by the next one the same day. A provider with an empty day gets no row.
- **Sending**: the dispatcher sends the row like any other. Its words are built at send time from
  the items as they are then (`digest_entries`), so a session moved or cancelled after 07:00 shows
  as it is; if the list has become empty the row is recorded as skipped (eligibility), not sent.

The day a row is about is read from its key, never from `send_at` (a retry may move `send_at`).
Patients appear by initials: the email passes through mail servers the clinic does not control.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction

from backend.clinics.models import Clinic, Provider
from backend.plans.engine import clinic_calendar
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder
from scheduler.model import SESSION_KINDS
from scheduler.timeutil import local_to_utc

DIGEST_KIND = "provider_daily_digest"
DIGEST_RULE = "daily_digest"
KEY_PREFIX = "digest:"
SEND_TIME = dt.time(7, 0)  # clinic time
# The kinds a provider acts on during the day; assessments are the patient's own questionnaires.
DIGEST_ITEM_KINDS = frozenset(SESSION_KINDS | {PlanItem.Kind.CHECK_IN, PlanItem.Kind.TASK})
KIND_LABELS = {
    PlanItem.Kind.DOSING: "Session",
    PlanItem.Kind.INTEGRATION: "Session",
    PlanItem.Kind.PREPARATION: "Session",
    PlanItem.Kind.BOOSTER: "Session",
    PlanItem.Kind.CHECK_IN: "Check-in",
    PlanItem.Kind.TASK: "Task",
}


def digest_key(day: dt.date) -> str:
    return f"{KEY_PREFIX}{day.isoformat()}"


def day_of(reminder: Reminder) -> dt.date:
    """The clinic-local day a digest row lists (from its key: ``digest:<YYYY-MM-DD>``)."""
    return dt.date.fromisoformat(reminder.key.split("@", 1)[0].removeprefix(KEY_PREFIX))


def is_digest(reminder: Reminder) -> bool:
    return reminder.message_kind == DIGEST_KIND


def _day_bounds(day: dt.date, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants of the local day's first and next day's first moment (23 or 25 hours
    long on a DST change)."""
    return (
        local_to_utc(day, dt.time(0, 0), zone),
        local_to_utc(day + dt.timedelta(days=1), dt.time(0, 0), zone),
    )


def _day_items(day: dt.date, zone: ZoneInfo):
    start, end = _day_bounds(day, zone)
    return PlanItem.objects.filter(
        plan__status=TreatmentPlan.Status.ACTIVE,
        status=PlanItem.Status.SCHEDULED,
        kind__in=DIGEST_ITEM_KINDS,
        start__gte=start,
        start__lt=end,
    )


def day_items(*, provider: Provider, day: dt.date) -> list[PlanItem]:
    """The provider's scheduled items of their active plans starting on the clinic-local `day`."""
    zone = ZoneInfo(provider.clinic.time_zone)
    return list(
        _day_items(day, zone)
        .filter(plan__provider=provider)
        .select_related("plan__patient")
        .order_by("start", "id")
    )


def initials(patient) -> str:
    return f"{patient.first_name[:1]}{patient.last_name[:1]}".upper()


def digest_entries(*, provider: Provider, day: dt.date) -> list[dict]:
    """The lines of the digest: time in the clinic's zone, kind, staff title, patient initials."""
    zone = ZoneInfo(provider.clinic.time_zone)
    entries = []
    for item in day_items(provider=provider, day=day):
        local = item.start.astimezone(zone)
        entries.append(
            {
                "time": f"{local:%I:%M %p}".lstrip("0"),
                "kind": KIND_LABELS.get(item.kind, item.get_kind_display()),
                "title": item.title,
                "patient_initials": initials(item.plan.patient),
            }
        )
    return entries


def send_window(clinic: Clinic, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """(send_at, not_after) of the clinic's digest on `day`: 07:00 clinic time, and worth
    sending until the clinic closes that day (the end of the day where it has no hours)."""
    zone = ZoneInfo(clinic.time_zone)
    hours = clinic_calendar(clinic).hours_on(day.weekday())
    closing = hours[-1][1] if hours else None
    not_after = local_to_utc(day, closing, zone) if closing else _day_bounds(day, zone)[1]
    return local_to_utc(day, SEND_TIME, zone), not_after


def create_due_digests(*, now: dt.datetime) -> int:
    """Create every digest whose 07:00 has come today and that does not exist yet; return how
    many were created. Idempotent: safe to call late, twice, or from two beats at once."""
    created = 0
    for clinic in Clinic.objects.prefetch_related("closed_dates").order_by("id"):
        created += _create_for_clinic(clinic, now=now)
    return created


def _create_for_clinic(clinic: Clinic, *, now: dt.datetime) -> int:
    zone = ZoneInfo(clinic.time_zone)
    day = now.astimezone(zone).date()
    if not clinic_calendar(clinic).is_working_day(day):
        return 0
    send_at, not_after = send_window(clinic, day)
    if not send_at <= now < not_after:
        return 0
    key = digest_key(day)
    busy = set(
        _day_items(day, zone)
        .filter(plan__provider__clinic=clinic)
        .values_list("plan__provider_id", flat=True)
        .distinct()
    )
    done = set(
        Reminder.objects.filter(plan__isnull=True, key=key, provider_id__in=busy).values_list(
            "provider_id", flat=True
        )
    )
    providers = Provider.objects.filter(
        clinic=clinic, active=True, user__is_active=True, pk__in=busy - done
    ).order_by("id")
    created = 0
    for provider in providers:
        try:
            with transaction.atomic():  # a savepoint: another tick may have created it since
                Reminder.objects.create(
                    plan=None,
                    key=key,
                    audience=Reminder.Audience.PROVIDER,
                    provider=provider,
                    channel=Reminder.Channel.EMAIL,
                    message_kind=DIGEST_KIND,
                    rule=DIGEST_RULE,
                    send_at=send_at,
                    not_after=not_after,
                )
        except IntegrityError:
            continue
        created += 1
    return created
