"""What the provider dashboard reads: the provider's items of today and the next 14 days grouped by
day on the clinic's clock, each with its state, and what needs a person first (open flags, urgent
and worsening before the rest; patients' requests about their sessions; patients our reminders may
not reach; two of the provider's appointments at once).

Reads only, one query per section whatever the number of rows (the rows' readiness, answers,
requests and flags are fetched for all rows at once and matched in Python). The caller passes the
provider and ``now``; nothing here reads the clock. An item's state and the outcomes it may take
are backend.plans.item_states'; outcomes are recorded by backend.plans.services.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Case, IntegerField, Q, Value, When
from django.urls import reverse

from backend.clinics.models import Provider
from backend.measures.models import QuestionnaireResponse
from backend.patients.models import Patient
from backend.plans import readiness
from backend.plans.item_states import (
    GROUP_LABELS,
    STATE_LABELS,
    State,
    day_start,
    group_of,
    item_state,
    local_day,
    may_mark_done,
    may_mark_missed,
    when_label,
)
from backend.plans.models import PlanItem, SessionRequest, TreatmentPlan
from backend.reminders.models import Reminder
from backend.safety import selectors as safety_selectors
from backend.safety.models import Flag
from scheduler.model import APPOINTMENT_KINDS

DAYS_AHEAD = 14  # today and the next 14 days
# Items before today still without an outcome are listed first ("Earlier"), this far back.
OVERDUE_LOOKBACK = dt.timedelta(days=14)
# A patient whose reminders failed this recently is listed with those who cannot be reached.
FAILED_LOOKBACK = dt.timedelta(days=7)
RECENT_ANSWERS = dt.timedelta(days=7)
# Overlapping appointments are listed up to this many pairs (each is marked on its rows too), and
# a row names this many of the appointments it overlaps.
CONFLICTS_LISTED = 20
OVERLAPS_NAMED = 3
INBOX_LIMIT = 50

# What a row reads of its item, plan and patient (not the plan's options and notes, nor the
# patient's addresses): a provider's fortnight can be many hundred rows.
ROW_FIELDS = (
    *("plan", "key", "kind", "title", "start", "end", "status", "provider"),
    *("plan__status", "plan__patient", "plan__patient__first_name", "plan__patient__last_name"),
)
# Urgent first, then worsening, then the rest (welfare calls after a missed session).
FLAG_ORDER = (Flag.Kind.URGENT, Flag.Kind.WORSENING)


def day_heading(day: dt.date, today: dt.date) -> str:
    name = f"{day:%A} {day.day} {day:%B}"
    if day == today:
        return f"Today, {name}"
    if day == today + dt.timedelta(days=1):
        return f"Tomorrow, {name}"
    return name


def weekday_names(days) -> str:
    """Preferred weekdays (0 = Monday) as "Tue, Thu"."""
    return ", ".join(calendar.day_abbr[d] for d in days if isinstance(d, int) and 0 <= d <= 6)


# --- the page's parts ----------------------------------------------------------------------


@dataclass
class Row:
    item: PlanItem
    state: State
    when: str
    readiness: dict | None = None
    answers: list[QuestionnaireResponse] = field(default_factory=list)
    answers_are_latest: bool = False  # a check-in shows the patient's latest answers
    requests: list[SessionRequest] = field(default_factory=list)
    overlaps: list[PlanItem] = field(default_factory=list)
    flag: Flag | None = None  # the patient's most pressing open flag
    may_mark_done: bool = False
    may_mark_missed: bool = False
    # The row's links (the patient's page, and the outcome actions), made by RowLinks.
    patient_url: str = ""
    done_url: str = ""
    missed_url: str = ""

    @property
    def patient(self) -> Patient:
        return self.item.plan.patient

    @property
    def group(self) -> str:
        return group_of(self.item)

    @property
    def group_label(self) -> str:
        return GROUP_LABELS[self.group]

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def overlaps_named(self) -> list[PlanItem]:
        return self.overlaps[:OVERLAPS_NAMED]

    @property
    def overlaps_unnamed(self) -> int:
        return max(0, len(self.overlaps) - OVERLAPS_NAMED)


class RowLinks:
    """``reverse(name, args=[pk])`` of the three routes a row links to, resolved once per page and
    then filled in with each row's id: a provider's fortnight is a few hundred rows, and
    reversing a route for each of them was a good share of the page's time."""

    ROUTES = {
        "patient": "provider-patient",
        "done": "provider-item-done",
        "missed": "provider-item-missed",
    }
    MARKER = 2_147_483_647  # an id no row has, replaced by the row's

    def __init__(self) -> None:
        self.parts = {}
        for key, name in self.ROUTES.items():
            head, tail = reverse(name, args=[self.MARKER]).split(str(self.MARKER))
            self.parts[key] = (head, tail)

    def url(self, key: str, pk: int) -> str:
        head, tail = self.parts[key]
        return f"{head}{pk}{tail}"


@dataclass(frozen=True)
class Day:
    date: dt.date | None  # None: the earlier days' items still without an outcome
    heading: str
    rows: list[Row]


@dataclass(frozen=True)
class Conflict:
    first: Row
    second: Row


@dataclass(frozen=True)
class Unreachable:
    """A patient our reminders may not reach: recent failures, or no channel left."""

    patient: Patient
    failed: int = 0
    last_failed_at: dt.datetime | None = None
    last_error: str = ""
    no_channel: list[str] = field(default_factory=list)  # why each channel is closed


@dataclass(frozen=True)
class Dashboard:
    provider: Provider
    zone: str
    today: dt.date
    days: list[Day]
    flags: list[Flag]
    requests: list[SessionRequest]
    conflicts: list[Conflict]
    unreachable: list[Unreachable]
    patients: list[Patient]  # with a course under way

    @property
    def row_count(self) -> int:
        return sum(len(day.rows) for day in self.days)

    @property
    def conflicts_listed(self) -> list[Conflict]:
        return self.conflicts[:CONFLICTS_LISTED]

    @property
    def conflicts_unlisted(self) -> int:
        return max(0, len(self.conflicts) - CONFLICTS_LISTED)


# --- one query per section -----------------------------------------------------------------


@dataclass(frozen=True)
class Caseload:
    """The provider's plans under way, read first: the sections then ask for the rows of these
    plans by id, which the database finds through the plan's index (a provider's share), instead
    of joining to the plans and reading every clinic's items or reminders to find them."""

    plans: list[int]  # active plans
    patients: list[int]  # their patients
    under_way: list[int]  # patients with an active or paused plan


def caseload(provider: Provider) -> Caseload:
    live = (TreatmentPlan.Status.ACTIVE, TreatmentPlan.Status.PAUSED)
    plans = TreatmentPlan.objects.filter(provider=provider, status__in=live)
    rows = list(plans.values_list("pk", "patient_id", "status"))
    active = [(plan, patient) for plan, patient, status in rows if status == "active"]
    return Caseload(
        plans=[plan for plan, _ in active],
        patients=sorted({patient for _, patient in active}),
        under_way=sorted({patient for _, patient, _ in rows}),
    )


def provider_items(cases: Caseload, *, now: dt.datetime, zone: str) -> list[PlanItem]:
    """The items of the provider's active plans from today to DAYS_AHEAD days on, cancelled ones
    left out, and those of the OVERDUE_LOOKBACK days before still without an outcome."""
    today = local_day(now, zone)
    start = day_start(today, zone)
    end = day_start(today + dt.timedelta(days=DAYS_AHEAD + 1), zone)
    return list(
        PlanItem.objects.filter(
            plan_id__in=cases.plans,
            start__gte=start - OVERDUE_LOOKBACK,
            start__lt=end,
        )
        .exclude(status=PlanItem.Status.CANCELLED)
        .filter(Q(start__gte=start) | Q(status=PlanItem.Status.SCHEDULED))
        .select_related("plan__patient")
        .only(*ROW_FIELDS)
        .order_by("start", "plan__patient__last_name", "plan__patient__first_name", "id")
    )


def open_flags(provider: Provider) -> list[Flag]:
    """Flags no clinician has acknowledged yet (every clinician of the clinic sees them,
    safety.selectors), urgent first, then worsening, newest first within each kind."""
    rank = Case(
        *(When(kind=kind, then=Value(n)) for n, kind in enumerate(FLAG_ORDER)),
        default=Value(len(FLAG_ORDER)),
        output_field=IntegerField(),
    )
    return list(
        safety_selectors.flags_for(provider.user)
        .filter(acknowledged_at__isnull=True)
        .order_by(rank, "-raised_at", "-id")
    )


def open_requests(cases: Caseload) -> list[SessionRequest]:
    """Patients' requests about the sessions of the provider's active plans that nobody has
    answered yet, oldest first (a coordinator answers them; the provider sees what was asked).
    Each carries ``preferred_days``, its preferred weekdays in words."""
    requests = list(
        SessionRequest.objects.filter(
            status=SessionRequest.Status.OPEN, item__plan_id__in=cases.plans
        )
        .select_related("item__plan__patient")
        .order_by("created_at", "id")
    )
    for request in requests:
        request.preferred_days = weekday_names(request.preferred_weekdays)
    return requests


def answers_for(items: list[PlanItem], *, now: dt.datetime) -> list[QuestionnaireResponse]:
    """Responses that answered these assessments, and every response so far of the patients who
    have a check-in among them (a check-in shows the latest of each questionnaire)."""
    assessments = [i.pk for i in items if i.kind == PlanItem.Kind.ASSESSMENT]
    checking_in = {i.plan.patient_id for i in items if i.kind == PlanItem.Kind.CHECK_IN}
    if not assessments and not checking_in:
        return []
    return list(
        QuestionnaireResponse.objects.filter(
            Q(item_id__in=assessments) | Q(patient_id__in=checking_in, submitted_at__lte=now)
        )
        .only("patient", "item", "instrument", "total", "band_label", "urgent", "submitted_at")
        .order_by("-submitted_at", "-id")
    )


_EMAIL_OPEN = ~Q(email="") & Q(email_consent=True, email_opted_out_at__isnull=True)
_SMS_OPEN = ~Q(mobile="") & Q(sms_consent=True, sms_opted_out_at__isnull=True)


def unreachable_patients(cases: Caseload, *, now: dt.datetime) -> list[Unreachable]:
    """The patients of the provider's active plans whose reminders failed in the last
    FAILED_LOOKBACK, or whom no channel reaches (no address, no consent, or opted out, for email
    and text alike), by name."""
    failures = (
        Reminder.objects.filter(
            plan_id__in=cases.plans,
            audience=Reminder.Audience.PATIENT,
            status=Reminder.Status.FAILED,
            send_at__gte=now - FAILED_LOOKBACK,
            send_at__lte=now,
        )
        .select_related("patient")
        .only("send_at", "last_error", "patient")
        .order_by("-send_at")
    )
    closed = Patient.objects.filter(pk__in=cases.patients).exclude(_EMAIL_OPEN | _SMS_OPEN)
    found: dict[int, dict] = {}
    for reminder in failures:
        entry = found.setdefault(reminder.patient_id, {"patient": reminder.patient, "failed": 0})
        if not entry["failed"]:
            entry["last_failed_at"], entry["last_error"] = reminder.send_at, reminder.last_error
        entry["failed"] += 1
    for patient in closed:
        entry = found.setdefault(patient.pk, {"patient": patient})
        entry["no_channel"] = _closed_channels(patient)
    rows = [Unreachable(**entry) for entry in found.values()]
    return sorted(rows, key=lambda r: (r.patient.last_name, r.patient.first_name, r.patient.pk))


def patients_under_way(cases: Caseload) -> list[Patient]:
    """The provider's patients with a course under way (active or paused), by name."""
    return list(
        Patient.objects.filter(pk__in=cases.under_way)
        .only("first_name", "last_name")
        .order_by("last_name", "first_name", "pk")
    )


def _closed_channels(patient: Patient) -> list[str]:
    """Why neither email nor text reaches the patient, one reason per channel."""
    reasons = []
    for name, address, consent, opted_out in (
        ("email", patient.email, patient.email_consent, patient.email_opted_out_at),
        ("texts", patient.mobile, patient.sms_consent, patient.sms_opted_out_at),
    ):
        if opted_out:
            reasons.append(f"opted out of {name} on {opted_out:%d %b %Y}")
        elif not consent:
            reasons.append(f"no consent to {name}")
        elif not address:
            reasons.append(f"no {'email address' if name == 'email' else 'mobile number'}")
    return reasons


# --- putting it together -------------------------------------------------------------------


def find_conflicts(rows: list[Row], provider: Provider, *, now: dt.datetime) -> list[Conflict]:
    """Pairs of the provider's own scheduled appointments still to end that overlap in time
    (one sweep in order of start)."""
    appointments = sorted(
        (
            r
            for r in rows
            if r.item.kind in APPOINTMENT_KINDS
            and r.item.provider_id == provider.pk
            and r.item.status == PlanItem.Status.SCHEDULED
            and r.item.end > now
        ),
        key=lambda r: (r.item.start, r.item.pk),
    )
    conflicts, running = [], []
    for row in appointments:
        running = [other for other in running if other.item.end > row.item.start]
        for other in running:
            conflicts.append(Conflict(other, row))
            other.overlaps.append(row.item)
            row.overlaps.append(other.item)
        running.append(row)
    return conflicts


def _latest_per_instrument(responses) -> list[QuestionnaireResponse]:
    seen, latest = set(), []
    for response in responses:  # newest first
        if response.instrument not in seen:
            seen.add(response.instrument)
            latest.append(response)
    return latest


def _attach(rows: list[Row], responses, requests, flags) -> None:
    by_item, by_patient = defaultdict(list), defaultdict(list)
    for response in responses:
        by_patient[response.patient_id].append(response)
        if response.item_id is not None:
            by_item[response.item_id].append(response)
    asked = defaultdict(list)
    for request in requests:
        asked[request.item_id].append(request)
    worst: dict[int, Flag] = {}
    for flag in flags:  # most pressing first
        worst.setdefault(flag.patient_id, flag)
    for row in rows:
        item = row.item
        if item.kind == PlanItem.Kind.ASSESSMENT:
            row.answers = by_item.get(item.pk, [])
        elif item.kind == PlanItem.Kind.CHECK_IN:
            row.answers = _latest_per_instrument(by_patient.get(item.plan.patient_id, []))
            row.answers_are_latest = True
        row.requests = asked.get(item.pk, [])
        row.flag = worst.get(item.plan.patient_id)


def group_by_day(rows: list[Row], *, today: dt.date, zone: str) -> list[Day]:
    """Earlier (overdue) first, then today and tomorrow (listed even when empty), then each
    later day that has items."""
    earlier = [r for r in rows if local_day(r.item.start, zone) < today]
    by_day = defaultdict(list)
    for row in rows:
        day = local_day(row.item.start, zone)
        if day >= today:
            by_day[day].append(row)
    days = [Day(None, "Earlier, no outcome recorded yet", earlier)] if earlier else []
    tomorrow = today + dt.timedelta(days=1)
    for day in sorted(set(by_day) | {today, tomorrow}):
        days.append(Day(day, day_heading(day, today), by_day.get(day, [])))
    return days


def build(*, provider: Provider, now: dt.datetime) -> Dashboard:
    """The dashboard of ``provider`` at ``now``, in their clinic's time zone."""
    zone = provider.clinic.time_zone
    today = local_day(now, zone)
    cases = caseload(provider)
    items = provider_items(cases, now=now, zone=zone)
    confirmed = readiness.readiness_by_item(items)
    links = RowLinks()
    rows = []
    for item in items:
        day = local_day(item.start, zone)
        rows.append(
            Row(
                item=item,
                state=item_state(item, now=now, zone=zone),
                when=when_label(item, zone, with_date=day < today),
                readiness=readiness.readiness_status(
                    item, confirmed.get(item.pk), now=now, zone=zone
                ),
                may_mark_done=may_mark_done(item, now=now, zone=zone),
                may_mark_missed=may_mark_missed(item, now=now),
                patient_url=links.url("patient", item.plan.patient_id),
                done_url=links.url("done", item.pk),
                missed_url=links.url("missed", item.pk),
            )
        )
    flags = open_flags(provider)
    requests = open_requests(cases)
    _attach(rows, answers_for(items, now=now), requests, flags)
    return Dashboard(
        provider=provider,
        zone=zone,
        today=today,
        days=group_by_day(rows, today=today, zone=zone),
        flags=flags,
        requests=requests,
        conflicts=find_conflicts(rows, provider, now=now),
        unreachable=unreachable_patients(cases, now=now),
        patients=patients_under_way(cases),
    )


def patient_course(patient: Patient, *, now: dt.datetime) -> list[dict]:
    """The patient's plans, newest first, each with all its items in order and their states on
    the clinic's clock (cancelled ones too): what the provider's patient page shows."""
    zone = patient.clinic.time_zone
    plans = list(patient.plans.select_related("protocol", "provider__user"))
    by_plan = defaultdict(list)
    for item in PlanItem.objects.filter(plan__patient=patient).order_by("start", "sequence", "id"):
        by_plan[item.plan_id].append(item)
    course = []
    for plan in plans:
        rows = []
        for item in by_plan.get(plan.pk, []):
            state = item_state(item, now=now, zone=zone)
            rows.append(Row(item=item, state=state, when=when_label(item, zone, with_date=True)))
        course.append({"plan": plan, "rows": rows})
    return course
