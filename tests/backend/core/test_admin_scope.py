"""The admin's scope holds on every view a ModelAdmin or django-simple-history adds: change,
delete, history, history form and revert, for each scoped model, per role and per clinic."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.urls import reverse

from backend.patients.models import Patient
from tests.factories import ClinicFactory, CoordinatorFactory, PatientFactory, ProviderFactory
from tests.factories import make_plan as build_plan


def clinic_with_plan(name: str) -> SimpleNamespace:
    clinic = ClinicFactory(name=name)
    provider = ProviderFactory(clinic=clinic)
    patient = PatientFactory(clinic=clinic, first_name=f"{name.split()[0]}patient")
    plan = build_plan(patient=patient, provider=provider).plan
    return SimpleNamespace(
        clinic=clinic,
        coordinator=CoordinatorFactory(clinic=clinic),
        provider=provider,
        patient=patient,
        plan=plan,
        item=plan.items.get(key="dosing-1"),
        reminder=plan.reminders.filter(audience="patient").first(),
    )


@pytest.fixture()
def clinics(db):
    return clinic_with_plan("Ashgrove Clinic"), clinic_with_plan("Birchfield Clinic")


def object_urls(obj) -> dict[str, str]:
    """Every admin URL about one object, the history form of its latest version included."""
    info = f"admin:{obj._meta.app_label}_{obj._meta.model_name}"
    version = obj.history.latest("history_date").history_id
    return {
        "change": reverse(f"{info}_change", args=[obj.pk]),
        "delete": reverse(f"{info}_delete", args=[obj.pk]),
        "history": reverse(f"{info}_history", args=[obj.pk]),
        "history form": reverse(f"{info}_simple_history", args=[obj.pk, version]),
    }


def objects_of(side) -> list:
    return [side.patient, side.plan, side.item, side.reminder]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["coordinator", "provider"])
def test_staff_of_one_clinic_reach_no_view_of_another_clinics_objects(client, clinics, role):
    mine, theirs = clinics
    client.force_login(getattr(mine, role).user)
    leaks = []
    for obj in objects_of(theirs):
        for view, url in object_urls(obj).items():
            response = client.get(url)
            if response.status_code not in (302, 403, 404):
                leaks.append((type(obj).__name__, view, response.status_code))
    assert leaks == []
    # Reading their own clinic's history is still allowed.
    for obj in objects_of(mine):
        urls = object_urls(obj)
        for view in ("history", "history form"):
            assert client.get(urls[view]).status_code == 200, (type(obj).__name__, view)


@pytest.mark.django_db
def test_a_revert_posted_to_another_clinics_history_form_changes_nothing(client, clinics):
    mine, theirs = clinics
    client.force_login(mine.coordinator.user)
    url = object_urls(theirs.patient)["history form"]
    response = client.post(
        url,
        {
            "clinic": mine.clinic.pk,
            "first_name": "Taken",
            "last_name": "Over",
            "email": "attacker@example.com",
            "date_of_birth": "1984-06-15",
            "time_zone": "America/New_York",
            "language": "en",
        },
    )
    assert response.status_code in (403, 404)
    patient = Patient.objects.get(pk=theirs.patient.pk)
    assert (patient.clinic_id, patient.first_name) == (theirs.clinic.pk, theirs.patient.first_name)


@pytest.mark.django_db
def test_a_deactivated_provider_sees_nothing_in_the_admin(client, clinics):
    mine, _ = clinics
    client.force_login(mine.provider.user)
    assert client.get(object_urls(mine.plan)["change"]).status_code == 200
    mine.provider.active = False
    mine.provider.save(update_fields=["active"])
    for obj in objects_of(mine):
        for view, url in object_urls(obj).items():
            assert client.get(url).status_code in (302, 403, 404), (type(obj).__name__, view)
    index = client.get(reverse("admin:index"))
    assert mine.patient.first_name not in index.text
    assert "Treatment plans" not in index.text


@pytest.mark.django_db
def test_the_scope_module_answers_for_one_object_and_for_protocols(clinics, admin_user):
    """The rules the admin and the API adapt (backend/core/scope.py), asked directly."""
    from backend.core import scope
    from backend.plans.models import TreatmentPlan

    mine, theirs = clinics
    lookups = {"clinic": "clinic", "provider": "provider"}
    for user, own, other in [
        (mine.coordinator.user, True, False),
        (mine.provider.user, True, False),
        (admin_user, True, True),
        (mine.patient.user, False, False),
    ]:
        if user is None:
            continue
        assert scope.in_scope(user, TreatmentPlan, mine.plan.pk, **lookups) is own, user
        assert scope.in_scope(user, TreatmentPlan, theirs.plan.pk, **lookups) is other, user
    assert scope.protocol_scope(mine.coordinator.user) == {
        "clinic_id": mine.clinic.pk,
        "everything": False,
    }
    assert scope.protocol_scope(admin_user) == {"clinic_id": None, "everything": True}
    mine.provider.active = False
    mine.provider.save()
    deactivated = type(mine.provider.user).objects.get(pk=mine.provider.user_id)  # a new request's
    assert not scope.in_scope(deactivated, TreatmentPlan, mine.plan.pk, **lookups)
