"""Shared fixtures for backend tests: one clinic with a provider and a consenting patient, and plans
built the one way the product builds them (services.plan_create, through tests/factories.py).

The fixtures compose the factories; the names and numbers they give are in tests/factories.py
(``SHARED_*``) so assertions can look for them. Time stands at ``NOW`` (the root conftest's clock).
"""

from __future__ import annotations

import datetime as dt

import pytest

from backend.clinics.models import Clinic, Provider
from backend.patients.models import Patient
from backend.plans.models import TreatmentPlan
from backend.protocols.library import install_builtin_protocols
from backend.protocols.models import Protocol
from backend.reminders.channels.sms import MemoryBackend
from tests import factories
from tests.support.clock import SUITE_NOW

NOW = SUITE_NOW  # Monday 10:00 in New York, before DST


@pytest.fixture()
def clinic(db) -> Clinic:
    return factories.ClinicFactory(
        name=factories.SHARED_CLINIC_NAME,
        sender_name=factories.SHARED_CLINIC_NAME,
        sender_email=factories.SHARED_CLINIC_EMAIL,
        phone=factories.SHARED_CLINIC_PHONE,
    )


@pytest.fixture()
def provider(clinic) -> Provider:
    return factories.ProviderFactory(clinic=clinic)


@pytest.fixture()
def patient(clinic) -> Patient:
    return factories.PatientFactory(
        clinic=clinic,
        first_name="Avery",
        last_name="Quinlan",
        email=factories.SHARED_PATIENT_EMAIL,
        mobile=factories.SHARED_PATIENT_MOBILE,
        time_zone="America/New_York",
        date_of_birth=dt.date(1985, 4, 12),
    )


@pytest.fixture()
def iv_protocol(db) -> Protocol:
    # Transactional tests flush the tables the data migration filled; put the library back.
    install_builtin_protocols(Protocol)
    return Protocol.objects.get(slug=factories.IV_INDUCTION)


@pytest.fixture()
def make_plan(patient, provider, iv_protocol):
    """``make_plan(now=..., start_date=..., **plan_create options)``: a plan for the shared patient
    (or ``patient=``), starting two days after ``now`` unless told otherwise."""

    def make(*, now: dt.datetime = NOW, start_date: dt.date | None = None, **kwargs):
        return factories.make_plan(
            patient=kwargs.pop("patient", patient),
            provider=provider,
            protocol_version=kwargs.pop("protocol", None) or iv_protocol,
            start_date=start_date or (now + dt.timedelta(days=2)).date(),
            now=now,
            **kwargs,
        ).plan

    return make


@pytest.fixture()
def plan(patient, provider, iv_protocol) -> TreatmentPlan:
    """A plan starting a week from now, so its preparation reminders are still to come."""
    return factories.plan_a_week_ahead(patient, provider)


@pytest.fixture()
def sms_outbox(settings):
    settings.SMS_BACKEND = "backend.reminders.channels.sms.MemoryBackend"
    MemoryBackend.outbox.clear()
    yield MemoryBackend.outbox
    MemoryBackend.outbox.clear()
