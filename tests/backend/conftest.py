"""Shared fixtures for backend tests: a clinic with staff and a consenting patient."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from backend.clinics.models import Clinic, Provider
from backend.patients.models import Patient
from backend.plans import services
from backend.protocols.library import install_builtin_protocols
from backend.protocols.models import Protocol
from backend.reminders.channels.sms import MemoryBackend

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)  # Monday 10:00 in New York, before DST


@pytest.fixture()
def clinic(db) -> Clinic:
    return Clinic.objects.create(
        name="Northside Clinic",
        time_zone="America/New_York",
        holiday_country="US",
        phone="+12025550100",
        sender_email="care@northside.example",
        opening_hours={str(d): [["08:00", "18:00"]] for d in range(6)},
    )


@pytest.fixture()
def provider(clinic) -> Provider:
    user = User.objects.create_user("dr-lee", email="lee@northside.example", first_name="Sam")
    return Provider.objects.create(user=user, clinic=clinic, role=Provider.Role.PRESCRIBER)


@pytest.fixture()
def patient(clinic) -> Patient:
    now = timezone.now()
    return Patient.objects.create(
        clinic=clinic,
        first_name="Robin",
        last_name="Hale",
        date_of_birth=dt.date(1980, 1, 2),
        email="robin.hale@example.com",
        mobile="+12025550123",
        time_zone="America/New_York",
        email_consent=True,
        email_consent_at=now,
        email_consent_method="written",
        sms_consent=True,
        sms_consent_at=now,
        sms_consent_method="written",
    )


@pytest.fixture()
def iv_protocol(db) -> Protocol:
    # Transactional tests flush the tables the data migration filled; put the library back.
    install_builtin_protocols(Protocol)
    return Protocol.objects.get(slug="iv-ketamine-induction-trd")


@pytest.fixture()
def make_plan(patient, provider, iv_protocol):
    def make(*, now=NOW, start_date=None, protocol=None, **kwargs):
        return services.plan_create(
            patient=kwargs.pop("patient", patient),
            provider=provider,
            protocol=protocol or iv_protocol,
            start_date=start_date or (now + dt.timedelta(days=2)).date(),
            now=now,
            **kwargs,
        ).plan

    return make


@pytest.fixture()
def sms_outbox(settings):
    settings.SMS_BACKEND = "backend.reminders.channels.sms.MemoryBackend"
    MemoryBackend.outbox.clear()
    yield MemoryBackend.outbox
    MemoryBackend.outbox.clear()
