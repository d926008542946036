"""Objects for the channel, webhook, unsubscribe and iCalendar tests, built the way the app does.

A clinic, a provider and a patient with consent on both channels, and a plan created through
`backend.plans.services.plan_create` from a built-in protocol (loaded by migration), so every
reminder and item is a real one written by the planning engine.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from backend.clinics.models import Clinic, Provider
from backend.patients.models import ConsentMethod, Patient
from backend.plans import services
from backend.plans.models import TreatmentPlan
from backend.protocols.models import Protocol

PATIENT_MOBILE = "+12025550143"
CLINIC_PHONE = "+12025550100"


def make_clinic(**overrides) -> Clinic:
    values = {
        "name": "Harbor Light Clinic",
        "time_zone": "America/New_York",
        "holiday_country": "US",
        "sender_name": "Harbor Light Clinic",
        "sender_email": "care@harborlight.example",
        "phone": CLINIC_PHONE,
        "opening_hours": {str(d): [["08:00", "18:00"]] for d in range(6)},
    }
    values.update(overrides)
    return Clinic.objects.create(**values)


def make_provider(clinic: Clinic, username: str = "provider") -> Provider:
    user = User.objects.create_user(
        username, email=f"{username}@harborlight.example", first_name="Jordan", last_name="Patel"
    )
    return Provider.objects.create(user=user, clinic=clinic, role=Provider.Role.PRESCRIBER)


def make_patient(clinic: Clinic, **overrides) -> Patient:
    now = timezone.now()
    values = {
        "clinic": clinic,
        "first_name": "Avery",
        "last_name": "Quinlan",
        "date_of_birth": dt.date(1985, 4, 12),
        "email": "avery.quinlan@example.com",
        "mobile": PATIENT_MOBILE,
        "time_zone": "America/New_York",
        "email_consent": True,
        "email_consent_at": now,
        "email_consent_method": ConsentMethod.WRITTEN,
        "sms_consent": True,
        "sms_consent_at": now,
        "sms_consent_method": ConsentMethod.WRITTEN,
    }
    values.update(overrides)
    return Patient.objects.create(**values)


def make_plan(
    patient: Patient,
    provider: Provider,
    *,
    slug: str = "iv-ketamine-induction-trd",
    now: dt.datetime | None = None,
) -> TreatmentPlan:
    now = now or timezone.now()
    protocol = Protocol.objects.filter(slug=slug).order_by("-version").first()
    assert protocol is not None, f"built-in protocol {slug} missing (migration not applied?)"
    start = now.astimezone(ZoneInfo(patient.clinic.time_zone)).date() + dt.timedelta(days=7)
    return services.plan_create(
        patient=patient, protocol=protocol, start_date=start, provider=provider, now=now
    ).plan


@pytest.fixture()
def clinic(db) -> Clinic:
    return make_clinic()


@pytest.fixture()
def provider(clinic) -> Provider:
    return make_provider(clinic)


@pytest.fixture()
def patient(clinic) -> Patient:
    return make_patient(clinic)


@pytest.fixture()
def plan(patient, provider) -> TreatmentPlan:
    return make_plan(patient, provider)
