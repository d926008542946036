"""A synthetic clinic network for the scale benchmarks (bench/scale.py, bench/dispatch.py): clinics
in several time zones, their providers and coordinators, patients, treatment plans with their items
and reminders. Synthetic people only ("Patient 01234", example.com addresses, 555 numbers).

Why this shape: planning 100,000 courses through the engine would take hours, so every clinic has
a few courses planned by the real service layer (plans.services.plan_create: the engine, the
protocol library, the reminder rules), and every other course is a copy of one of them, moved by
whole weeks (so sessions keep their weekday and opening hours) with every local time kept: an
item's start is its local date and time in its own zone, a reminder's send time keeps its local
wall-clock time, so quiet hours and "the evening before" stay true across daylight-saving changes.
Copies keep every constraint (plan and key unique, recipients, clinic of plan = clinic of
patient) and the plan's responsible provider where the template had it. What copies do not get:
history rows (simple_history writes them only through save()) and holiday checks for the moved
dates. Courses start over the last WEEKS_BACK weeks and the next WEEKS_AHEAD, so most reminders
are still to come; those already due are sent, or (a few) failed, skipped or expired, as a
dispatcher would have left them; items already over are done, a few missed or still open.

Courses are copied until the reminders reach the requested number, so patients beyond that have
no plan (the network's record holds every patient, the outbox only current courses).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.db import transaction

from backend.clinics.models import Clinic, Coordinator, Provider
from backend.patients.models import ConsentMethod, Patient
from backend.plans import services
from backend.plans.models import PlanItem, TreatmentPlan
from backend.protocols.models import Protocol
from backend.reminders.models import Reminder

# US zones (and Puerto Rico), so one holiday calendar serves them all; clinic n takes ZONES[n % 10].
ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Detroit",
    "America/Boise",
    "America/Puerto_Rico",
)
# The mix of courses: the IV induction is the common one.
PROTOCOL_WEIGHTS = {
    "iv-ketamine-induction-trd": 5,
    "esketamine-nasal-spray": 2,
    "ketamine-assisted-psychotherapy": 2,
    "chronic-pain-infusion-series": 1,
}
WEEKS_BACK, WEEKS_AHEAD = 6, 4
# Every other week first, then the weeks between: a provider's courses at one time of day start
# two weeks apart before any start a week apart.
WEEK_OFFSETS = (*range(-WEEKS_BACK, WEEKS_AHEAD + 1, 2), *range(1 - WEEKS_BACK, WEEKS_AHEAD + 1, 2))
# The clinic-local times a provider's sessions start (opening hours 08:00 to 18:00).
SESSION_TIMES = ("08:00", "10:30", "13:00", "15:30")
BATCH = 5000
# The password every seeded login has (a synthetic benchmark database, never a real one).
NETWORK_PASSWORD = "aftercare-network"


@dataclass
class NetworkSize:
    clinics: int = 50
    patients: int = 100_000
    reminders: int = 1_000_000
    providers_per_clinic: int = 10  # 5 prescribers, 3 therapists, 2 nurses
    coordinators_per_clinic: int = 2
    # Courses planned by the service layer per clinic, protocol and session time.
    templates_per_protocol: int = 1
    session_times: tuple[str, ...] = SESSION_TIMES


@dataclass
class NetworkSeeded:
    clinics: int = 0
    providers: int = 0
    coordinators: int = 0
    patients: int = 0
    planned: int = 0  # by the service layer
    plans: int = 0
    items: int = 0
    reminders: int = 0
    reminder_statuses: dict[str, int] = field(default_factory=dict)


class NetworkNotEmpty(Exception):
    """The database already holds clinics: the network is seeded into an empty one only."""


ROLES = (
    (Provider.Role.PRESCRIBER,) * 3 + (Provider.Role.THERAPIST,) * 3 + (Provider.Role.NURSE,) * 2
)


def seed_network(
    size: NetworkSize, *, now: dt.datetime, report: Callable[[str], None] = lambda _: None
) -> NetworkSeeded:
    """Seed the network into an empty database (raises NetworkNotEmpty otherwise)."""
    if Clinic.objects.exists():
        raise NetworkNotEmpty(
            "the database already has clinics; seed_network fills an empty database only "
            "(create a fresh one, migrate it, and run again)"
        )
    seeded = NetworkSeeded()
    password = make_password(NETWORK_PASSWORD)  # hashed once: every seeded login shares it
    protocols = _protocols()
    clinics = _clinics(size.clinics)
    seeded.clinics = len(clinics)
    per_clinic = _split(size.patients, len(clinics))
    reminders_per_clinic = _split(size.reminders, len(clinics))
    for number, (clinic, patients, reminders) in enumerate(
        zip(clinics, per_clinic, reminders_per_clinic, strict=True)
    ):
        with transaction.atomic():
            staff = _staff(clinic, number, size, password)
            seeded.providers += len(staff.providers)
            seeded.coordinators += staff.coordinators
            people = _patients(clinic, number, patients, offset=sum(per_clinic[:number]), now=now)
            seeded.patients += len(people)
            _courses(clinic, staff, people, protocols, size, reminders, now=now, seeded=seeded)
        report(
            f"clinic {number + 1}/{len(clinics)} ({clinic.time_zone}): {seeded.patients} "
            f"patients, {seeded.plans} plans, {seeded.reminders} reminders so far"
        )
    for status in Reminder.Status.values:
        seeded.reminder_statuses[status] = Reminder.objects.filter(status=status).count()
    return seeded


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if n < total % parts else 0) for n in range(parts)]


def _protocols() -> list[Protocol]:
    """The library's newest version of each protocol in the mix, weighted by how common it is."""
    chosen = []
    for slug, weight in PROTOCOL_WEIGHTS.items():
        protocol = Protocol.objects.filter(slug=slug, clinic=None).order_by("-version").first()
        if protocol is None:
            raise LookupError(f"the protocol library has no {slug!r}: run the migrations first")
        chosen += [protocol] * weight
    return chosen


def _clinics(count: int) -> list[Clinic]:
    return Clinic.objects.bulk_create(
        Clinic(
            name=f"Network Clinic {n + 1:02d}",
            time_zone=ZONES[n % len(ZONES)],
            holiday_country="US",
            sender_email=f"care{n + 1:02d}@clinic.example",
            phone=f"+1202555{n:04d}",
            opening_hours={str(d): [["08:00", "18:00"]] for d in range(6)},
        )
        for n in range(count)
    )


@dataclass
class _Staff:
    providers: list[Provider]
    prescribers: list[Provider]
    coordinators: int


def _staff(clinic: Clinic, number: int, size: NetworkSize, password: str) -> _Staff:
    """The clinic's providers and coordinators, each a login in their role's group."""
    prefix = f"net-c{number + 1:02d}"
    roles = [ROLES[n % len(ROLES)] for n in range(size.providers_per_clinic)]
    users = User.objects.bulk_create(
        [
            User(
                username=f"{prefix}-provider-{n + 1}",
                email=f"{prefix}-provider-{n + 1}@clinic.example",
                first_name="Provider",
                last_name=f"{number + 1:02d}-{n + 1}",
                is_staff=True,
                password=password,
            )
            for n in range(len(roles))
        ]
        + [
            User(
                username=f"{prefix}-coordinator-{n + 1}",
                email=f"{prefix}-coordinator-{n + 1}@clinic.example",
                first_name="Coordinator",
                last_name=f"{number + 1:02d}-{n + 1}",
                is_staff=True,
                password=password,
            )
            for n in range(size.coordinators_per_clinic)
        ]
    )
    provider_users, coordinator_users = users[: len(roles)], users[len(roles) :]
    providers = Provider.objects.bulk_create(
        Provider(user=user, clinic=clinic, role=role, mobile=f"+1202556{n:04d}")
        for n, (user, role) in enumerate(zip(provider_users, roles, strict=True))
    )
    Coordinator.objects.bulk_create(
        Coordinator(user=user, clinic=clinic) for user in coordinator_users
    )
    groups = {
        group.name: group for group in Group.objects.filter(name__in=("Providers", "Coordinators"))
    }
    User.groups.through.objects.bulk_create(
        [User.groups.through(user=user, group=groups["Providers"]) for user in provider_users]
        + [
            User.groups.through(user=user, group=groups["Coordinators"])
            for user in coordinator_users
        ]
    )
    prescribers = [p for p in providers if p.role == Provider.Role.PRESCRIBER] or providers
    clinic.on_call_contact = prescribers[0]
    clinic.backup_contact = providers[1] if len(providers) > 1 else prescribers[0]
    clinic.save(update_fields=["on_call_contact", "backup_contact"])
    return _Staff(providers, prescribers, len(coordinator_users))


def _patients(
    clinic: Clinic, number: int, count: int, *, offset: int, now: dt.datetime
) -> list[Patient]:
    """``count`` patients: both consents (one in 100 opted out of texts), the clinic's zone."""
    patients = []
    for n in range(offset, offset + count):
        patients.append(
            Patient(
                clinic=clinic,
                first_name="Patient",
                last_name=f"{n:05d}",
                date_of_birth=dt.date(1950, 1, 1) + dt.timedelta(days=(n * 37) % 18000),
                email=f"patient{n:05d}@patients.example",
                mobile=f"+1{202 + number % 700:03d}555{n % 10000:04d}",
                time_zone=clinic.time_zone,
                email_consent=True,
                email_consent_at=now,
                email_consent_method=ConsentMethod.WRITTEN,
                sms_consent=True,
                sms_consent_at=now,
                sms_consent_method=ConsentMethod.WRITTEN,
                sms_opted_out_at=now if n % 100 == 99 else None,
            )
        )
    return Patient.objects.bulk_create(patients, batch_size=BATCH)


def _courses(
    clinic: Clinic,
    staff: _Staff,
    patients: list[Patient],
    protocols: list[Protocol],
    size: NetworkSize,
    reminder_target: int,
    *,
    now: dt.datetime,
    seeded: NetworkSeeded,
) -> None:
    """Plan the clinic's templates through the service layer, then copy them, a course per
    patient, until the clinic's share of reminders is reached.

    A template is planned for each protocol at each of the session times (the engine's
    ``session_time`` option, so its reminders follow from that time as they would for a real
    course). A provider's j-th copy takes session time j mod T (of T) and week j // T of
    WEEK_OFFSETS, so a provider's courses start at different times or in different weeks."""
    zone = ZoneInfo(clinic.time_zone)
    today = now.astimezone(zone).date()
    patient_iter = iter(patients)
    templates: dict[tuple[int, int], list[_Template]] = {}
    made = 0
    planned = 0
    for protocol in dict.fromkeys(protocols):
        for slot, at in enumerate(size.session_times):
            for _variant in range(size.templates_per_protocol):
                patient = next(patient_iter, None)
                if patient is None:
                    return
                plan = services.plan_create(
                    patient=patient,
                    protocol=protocol,
                    provider=staff.providers[planned % len(staff.providers)],
                    start_date=today + dt.timedelta(days=2 + planned % 7),
                    options={"session_time": at},
                    now=now,
                ).plan
                planned += 1
                template = _Template.of(plan)
                templates.setdefault((protocol.pk, slot), []).append(template)
                made += len(template.reminders)
                seeded.planned += 1
                seeded.plans += 1
                seeded.items += len(template.items)
                seeded.reminders += len(template.reminders)
    mix = itertools.cycle(protocols)
    copies: list[tuple[Patient, _Template, Provider, int]] = []
    for n, patient in enumerate(patient_iter):
        if made >= reminder_target:
            break
        provider = staff.providers[n % len(staff.providers)]
        j = n // len(staff.providers)  # the provider's j-th copied course
        slot = j % len(size.session_times)
        choices = templates[(next(mix).pk, slot)]
        template = choices[j % len(choices)]
        week = WEEK_OFFSETS[(j // len(size.session_times)) % len(WEEK_OFFSETS)]
        copies.append((patient, template, provider, week))
        made += len(template.reminders)
    for chunk in _chunks(copies, 100):
        _copy(chunk, clinic, now, seeded)


def _chunks(rows: list, n: int) -> Iterator[list]:
    for start in range(0, len(rows), n):
        yield rows[start : start + n]


@dataclass
class _Template:
    plan: TreatmentPlan
    items: list[PlanItem]
    reminders: list[Reminder]

    @classmethod
    def of(cls, plan: TreatmentPlan) -> _Template:
        return cls(
            plan,
            list(plan.items.order_by("sequence")),
            list(Reminder.objects.filter(plan=plan).order_by("id")),
        )


def _fields(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if not f.primary_key]


def _clone(row, names: list[str], **changes):
    values = {name: getattr(row, name) for name in names}
    values.update(changes)
    return type(row)(**values)


def _moved(instant: dt.datetime | None, weeks: int, zone: ZoneInfo) -> dt.datetime | None:
    """``instant`` moved by whole weeks at the same wall-clock time in ``zone``."""
    if instant is None:
        return None
    local = instant.astimezone(zone).replace(tzinfo=None) + dt.timedelta(weeks=weeks)
    return local.replace(tzinfo=zone).astimezone(dt.UTC)


def _copy(chunk: list[tuple[Patient, _Template, Provider, int]], clinic, now, seeded) -> None:
    zone = ZoneInfo(clinic.time_zone)
    plan_names, item_names, reminder_names = (
        _fields(TreatmentPlan),
        _fields(PlanItem),
        _fields(Reminder),
    )
    plans = []
    for patient, template, provider, weeks in chunk:
        last_end = max(_moved(item.end, weeks, ZoneInfo(item.time_zone)) for item in template.items)
        plans.append(
            _clone(
                template.plan,
                plan_names,
                patient_id=patient.pk,
                provider_id=provider.pk,
                start_date=template.plan.start_date + dt.timedelta(weeks=weeks),
                status=TreatmentPlan.Status.COMPLETED
                if last_end < now
                else TreatmentPlan.Status.ACTIVE,
                revision=1,
                created_at=now,
                updated_at=now,
            )
        )
    plans = TreatmentPlan.objects.bulk_create(plans, batch_size=BATCH)
    items, item_owner = [], []
    for plan, (_patient, template, _provider, weeks) in zip(plans, chunk, strict=True):
        for item in template.items:
            item_zone = ZoneInfo(item.time_zone)
            start, end = _moved(item.start, weeks, item_zone), _moved(item.end, weeks, item_zone)
            local = start.astimezone(item_zone)
            items.append(
                _clone(
                    item,
                    item_names,
                    plan_id=plan.pk,
                    start=start,
                    end=end,
                    local_date=local.date(),
                    local_time=local.time().replace(tzinfo=None),
                    provider_id=(
                        plan.provider_id
                        if item.provider_id == template.plan.provider_id
                        else item.provider_id
                    ),
                    status=_item_status(plan.pk + item.sequence, end, now),
                )
            )
            item_owner.append(item.pk)
    items = PlanItem.objects.bulk_create(items, batch_size=BATCH)
    new_item = {}
    position = 0
    for plan, (_patient, template, _provider, _weeks) in zip(plans, chunk, strict=True):
        for item in template.items:
            new_item[(plan.pk, item.pk)] = items[position]
            position += 1
    reminders = []
    for plan, (patient, template, _provider, weeks) in zip(plans, chunk, strict=True):
        for n, reminder in enumerate(template.reminders):
            send_at = _moved(reminder.send_at, weeks, zone)
            reminders.append(
                _clone(
                    reminder,
                    reminder_names,
                    plan_id=plan.pk,
                    item_id=new_item[(plan.pk, reminder.item_id)].pk if reminder.item_id else None,
                    patient_id=patient.pk if reminder.patient_id else None,
                    provider_id=(
                        plan.provider_id
                        if reminder.provider_id == template.plan.provider_id
                        else reminder.provider_id
                    ),
                    send_at=send_at,
                    not_after=_moved(reminder.not_after, weeks, zone),
                    created_at=now,
                    updated_at=now,
                    **_outcome(plan.pk * 131 + n, send_at, now),
                )
            )
    Reminder.objects.bulk_create(reminders, batch_size=BATCH)
    seeded.plans += len(plans)
    seeded.items += len(items)
    seeded.reminders += len(reminders)


def _item_status(n: int, end: dt.datetime, now: dt.datetime) -> str:
    """Over: done, one in 50 missed, one in 10 of the last week's not yet recorded."""
    if end >= now:
        return PlanItem.Status.SCHEDULED
    if n % 50 == 0:
        return PlanItem.Status.MISSED
    if end >= now - dt.timedelta(days=7) and n % 10 == 1:
        return PlanItem.Status.SCHEDULED
    return PlanItem.Status.COMPLETED


def _outcome(n: int, send_at: dt.datetime, now: dt.datetime) -> dict:
    """What the dispatcher left on a reminder due before ``now``: sent, or one in 200 failed,
    one in 100 skipped, one in 300 expired; later ones are still scheduled."""
    if send_at >= now:
        return {"status": Reminder.Status.SCHEDULED}
    if n % 200 == 0:
        return {
            "status": Reminder.Status.FAILED,
            "attempts": 3,
            "last_error": "30003: unreachable handset",
        }
    if n % 100 == 1:
        return {"status": Reminder.Status.SKIPPED, "status_reason": "patient opted out"}
    if n % 300 == 2:
        return {"status": Reminder.Status.EXPIRED, "status_reason": "not sent before not_after"}
    return {
        "status": Reminder.Status.SENT,
        "attempts": 1,
        "sent_at": send_at + dt.timedelta(seconds=5 + n % 30),
        "provider_message_id": f"net-{n}",
        "delivery_status": "delivered",
    }
