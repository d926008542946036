"""API test fixtures: two clinics, one user per role, a plan built through the service, and
clients signed in as each role. Time stands at NOW (the suite's clock, tests/support/clock.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from rest_framework.test import APIClient

from backend.clinics.models import Coordinator
from tests.backend.conftest import NOW
from tests.factories import ClinicFactory, CoordinatorFactory, PatientFactory, ProviderFactory


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters and cached plan-detail bodies start empty (the clock is the suite's, at
    NOW)."""
    for alias in ("default", "throttle"):
        caches[alias].clear()
    yield
    for alias in ("default", "throttle"):
        caches[alias].clear()


@pytest.fixture()
def other_clinic(db):
    return ClinicFactory(name="Southside Clinic")


@pytest.fixture()
def users(clinic, other_clinic, provider, patient):
    """One user per role. `provider` and `patient` own the plan; `*_other` do not."""
    patient.user = User.objects.create_user("robin")
    patient.save(update_fields=["user"])
    stranger = PatientFactory(clinic=other_clinic, user=User.objects.create_user("stranger"))
    return {
        "coordinator": Coordinator.objects.create(
            user=User.objects.create_user("coord"), clinic=clinic
        ).user,
        "coordinator_other": CoordinatorFactory(clinic=other_clinic).user,
        "provider": provider.user,
        "provider_other": ProviderFactory(clinic=clinic).user,
        "patient": patient.user,
        "patient_other": stranger.user,
        "anonymous": None,
        "admin": User.objects.create_superuser("root", "root@example.com", "x"),
    }


@pytest.fixture()
def plan(make_plan):
    return make_plan(now=NOW)


@pytest.fixture()
def client_as(users):
    def make(role: str) -> APIClient:
        client = APIClient()
        if users[role] is not None:
            client.force_authenticate(users[role])
        return client

    return make


@pytest.fixture()
def coordinator_client(client_as):
    return client_as("coordinator")
