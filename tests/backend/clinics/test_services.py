"""Clinics and providers change through backend.clinics.services: a provider and their account
are made together or not at all, a clinic's safety contacts are its own active providers, and a
safety contact is not deactivated or deleted until someone else is named."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db.models import ProtectedError

from backend.clinics import services
from backend.clinics.models import Clinic, Provider
from tests.factories import ClinicFactory, ProviderFactory

pytestmark = pytest.mark.django_db


def _rule_of(exc: ValidationError, field: str) -> tuple[str, str]:
    (error,) = exc.value.error_dict[field]
    return error.code, error.messages[0]


def test_a_provider_is_made_with_a_login_account_without_a_usable_password(clinic):
    provider = services.provider_create(
        clinic=clinic, username="dr.rowe", role="nurse", email="rowe@example.com",
        first_name="Sam", last_name="Rowe", mobile="+12025550111",
    )  # fmt: skip
    provider.refresh_from_db()
    assert (provider.clinic, provider.role, provider.active) == (clinic, "nurse", True)
    assert (provider.user.username, provider.user.email) == ("dr.rowe", "rowe@example.com")
    assert provider.user.get_full_name() == "Sam Rowe"
    assert not provider.user.has_usable_password()


def test_a_bad_role_makes_neither_the_account_nor_the_provider(clinic):
    with pytest.raises(ValidationError) as exc:
        services.provider_create(clinic=clinic, username="dr.rowe", role="surgeon")
    assert "role" in exc.value.error_dict
    assert not User.objects.filter(username="dr.rowe").exists()


def test_a_failure_saving_the_provider_undoes_the_account(clinic, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Provider, "save", fail)
    with pytest.raises(RuntimeError):
        services.provider_create(clinic=clinic, username="dr.rowe", role="nurse")
    assert not User.objects.filter(username="dr.rowe").exists()


def test_a_taken_username_is_refused_on_its_field(clinic):
    User.objects.create_user("dr.rowe")
    with pytest.raises(ValidationError) as exc:
        services.provider_create(clinic=clinic, username="dr.rowe", role="nurse")
    code, message = _rule_of(exc, "username")
    assert code == "unique" and message.startswith("username:")
    assert Provider.objects.filter(user__username="dr.rowe").count() == 0


def test_only_role_mobile_and_active_change(provider):
    services.provider_update(provider=provider, changes={"role": "therapist", "mobile": ""})
    provider.refresh_from_db()
    assert provider.role == "therapist"
    other = ClinicFactory()
    with pytest.raises(ValidationError) as exc:
        services.provider_update(provider=provider, changes={"clinic": other})
    assert _rule_of(exc, "clinic")[0] == "unknown_field"
    provider.refresh_from_db()
    assert provider.clinic_id != other.pk


def test_deactivating_a_provider_keeps_their_account_and_plans(provider):
    services.provider_deactivate(provider=provider)
    provider.refresh_from_db()
    assert provider.active is False and User.objects.filter(pk=provider.user_id).exists()


@pytest.mark.parametrize("duty", ["on_call_contact", "backup_contact"])
def test_a_safety_contact_is_not_deactivated_or_deleted(clinic, provider, duty):
    setattr(clinic, duty, provider)
    clinic.save()
    with pytest.raises(ValidationError) as exc:
        services.provider_deactivate(provider=provider)
    code, message = _rule_of(exc, "active")
    assert code == "provider.safety_contact" and clinic.name in message
    assert "rule: provider.safety_contact" in message
    with pytest.raises(ValidationError) as exc:
        services.provider_delete(provider=provider)
    assert _rule_of(exc, NON_FIELD_ERRORS)[0] == "provider.safety_contact"
    provider.refresh_from_db()
    assert provider.active is True


def test_a_provider_no_plan_names_is_deleted_and_one_with_plans_is_protected(provider, make_plan):
    plan = make_plan()
    spare = ProviderFactory(clinic=provider.clinic)
    services.provider_delete(provider=spare)
    assert not Provider.objects.filter(pk=spare.pk).exists()
    with pytest.raises(ProtectedError):
        services.provider_delete(provider=plan.provider)


def test_a_clinic_is_created_and_changed_with_the_models_rules():
    clinic = services.clinic_create(values={"name": "Harbor Light", "time_zone": "America/Denver"})
    assert Clinic.objects.get(pk=clinic.pk).time_zone == "America/Denver"
    with pytest.raises(ValidationError) as exc:
        services.clinic_update(clinic=clinic, changes={"sender_name": "Ketamine Partners"})
    assert _rule_of(exc, "sender_name")[0] == "sender.private_word"
    with pytest.raises(ValidationError) as exc:
        services.clinic_update(clinic=clinic, changes={"time_zone": "Mars/Olympus"})
    assert "time_zone" in exc.value.error_dict
    clinic.refresh_from_db()
    assert (clinic.sender_name, clinic.time_zone) == ("", "America/Denver")


@pytest.mark.parametrize("who", ["elsewhere", "left"])
def test_a_safety_contact_must_be_one_of_the_clinics_active_providers(clinic, who):
    contact = (
        ProviderFactory(clinic=ClinicFactory(name="Elsewhere"))
        if who == "elsewhere"
        else ProviderFactory(clinic=clinic, active=False)
    )
    with pytest.raises(ValidationError) as exc:
        services.clinic_update(clinic=clinic, changes={"on_call_contact": contact})
    code, message = _rule_of(exc, "on_call_contact")
    assert code == "clinic.safety_contact" and "rule: clinic.safety_contact" in message
    clinic.refresh_from_db()
    assert clinic.on_call_contact_id is None


def test_a_clinic_with_providers_is_protected_and_an_empty_one_deleted(clinic, provider):
    with pytest.raises(ProtectedError):
        services.clinic_delete(clinic=clinic)
    empty = ClinicFactory()
    services.clinic_delete(clinic=empty)
    assert not Clinic.objects.filter(pk=empty.pk).exists()


def test_closing_a_clinic_twice_on_one_date_is_refused_by_the_service(clinic):
    services.closed_date_save(clinic=clinic, date=dt.date(2026, 12, 25))
    with pytest.raises(ValidationError) as exc:
        services.closed_date_save(clinic=clinic, date=dt.date(2026, 12, 25), reason="again")
    (error,) = exc.value.error_dict["date"]
    assert error.code == "closed_date_unique_per_clinic"
    assert "rule: closed_date_unique_per_clinic" in error.messages[0]
    assert clinic.closed_dates.count() == 1
