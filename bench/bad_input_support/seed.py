"""A small clinic for bench/bad_input.py, made with the test suite's own factories and the plan
service (tests/factories.py): two clinics, a coordinator (API token), a provider, a patient
with a user and a mobile number, a stranger at the other clinic, and a plan a week ahead, so
that the API's list and detail endpoints and the inbound-text paths have real rows to reach."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from backend.clinics.models import Coordinator
from backend.protocols.library import install_builtin_protocols
from backend.protocols.models import Protocol
from tests import factories


@dataclass
class Seeded:
    coordinator_token: str
    patient_token: str
    patient_mobile: str
    plan_id: int


def seed() -> Seeded:
    install_builtin_protocols(Protocol)
    clinic = factories.ClinicFactory(name="Bad Input Clinic")
    other = factories.ClinicFactory(name="Other Bad Input Clinic")
    provider = factories.ProviderFactory(clinic=clinic)
    patient = factories.PatientFactory(
        clinic=clinic,
        user=User.objects.create_user("bad-input-patient"),
        mobile="+12025550143",
        time_zone="America/New_York",
    )
    factories.PatientFactory(clinic=other, user=User.objects.create_user("bad-input-stranger"))
    coordinator = Coordinator.objects.create(
        user=User.objects.create_user("bad-input-coordinator"), clinic=clinic
    )
    plan = factories.plan_a_week_ahead(patient, provider)
    return Seeded(
        coordinator_token=Token.objects.get_or_create(user=coordinator.user)[0].key,
        patient_token=Token.objects.get_or_create(user=patient.user)[0].key,
        patient_mobile=patient.mobile.as_e164,
        plan_id=plan.pk,
    )
