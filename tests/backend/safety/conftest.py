"""The care team the safety loop alerts: the plan's prescriber, an on-call and a backup clinician
of the same clinic, each with an email address and a mobile number."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.factories import ProviderFactory

PROVIDER_MOBILE = "+12025550161"
ON_CALL_MOBILE = "+12025550162"
BACKUP_MOBILE = "+12025550163"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    """These tests make many staff users and log them in with force_login, never a password:
    PBKDF2's deliberate slowness would be most of their run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture()
def team(clinic, provider):
    provider.mobile = PROVIDER_MOBILE
    provider.save()
    on_call = ProviderFactory(clinic=clinic, mobile=ON_CALL_MOBILE)
    backup = ProviderFactory(clinic=clinic, mobile=BACKUP_MOBILE)
    clinic.on_call_contact, clinic.backup_contact = on_call, backup
    clinic.save()
    return SimpleNamespace(provider=provider, on_call=on_call, backup=backup)
