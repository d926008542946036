"""Fixtures for the channel, webhook, unsubscribe and iCalendar tests, on top of tests/factories.py.

One clinic with a name and numbers the assertions can look for, a provider, a patient who
consented to email and SMS, and a plan created through `services.plan_create` (via
`factories.make_plan`), so every item and reminder is one the planning engine wrote.

Import the `*_fixture` functions a module uses (each registers under the short name, e.g. `plan`);
they shadow tests/backend/conftest.py's fixtures of the same name for that module only.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from backend.clinics.models import Clinic, Provider
from backend.patients.models import Patient
from backend.plans.models import TreatmentPlan
from backend.protocols.library import install_builtin_protocols
from backend.protocols.models import Protocol
from tests import factories

CLINIC_NAME = "Harbor Light Clinic"
CLINIC_PHONE = "+12025550100"
CLINIC_EMAIL = "care@harborlight.example"
PATIENT_MOBILE = "+12025550143"
PATIENT_EMAIL = "avery.quinlan@example.com"


def plan_for(patient: Patient, provider: Provider, **kwargs) -> TreatmentPlan:
    """A plan starting a week from now (so its preparation reminders are still to come)."""
    # A transactional test elsewhere in the session may have flushed the migration's library.
    install_builtin_protocols(Protocol)
    start = factories.next_weekday(patient.clinic, days_ahead=7)
    return factories.make_plan(
        patient=patient, provider=provider, start_date=start, now=timezone.now(), **kwargs
    ).plan


@pytest.fixture(name="clinic")
def clinic_fixture(db) -> Clinic:
    return factories.ClinicFactory(
        name=CLINIC_NAME, sender_name=CLINIC_NAME, sender_email=CLINIC_EMAIL, phone=CLINIC_PHONE
    )


@pytest.fixture(name="provider")
def provider_fixture(clinic) -> Provider:
    return factories.ProviderFactory(clinic=clinic)


@pytest.fixture(name="patient")
def patient_fixture(clinic) -> Patient:
    return factories.PatientFactory(
        clinic=clinic,
        first_name="Avery",
        last_name="Quinlan",
        email=PATIENT_EMAIL,
        mobile=PATIENT_MOBILE,
        time_zone="America/New_York",
        date_of_birth=dt.date(1985, 4, 12),
    )


@pytest.fixture(name="plan")
def plan_fixture(patient, provider) -> TreatmentPlan:
    return plan_for(patient, provider)
