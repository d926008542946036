"""The clinic and provider admin pages save and delete through backend.clinics.services: a
provider is added with a new login account, and a clinic's on-call or backup contact can be
neither deactivated nor deleted there until someone else is named."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from backend.clinics import services
from backend.clinics.models import Provider
from tests.backend.clinics.test_admin_forms import change_url, form_data
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db


def provider_url(provider: Provider) -> str:
    return reverse("admin:clinics_provider_change", args=[provider.pk])


def spy(monkeypatch, name: str) -> list[dict]:
    calls: list[dict] = []
    real = getattr(services, name)

    def record(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(services, name, record)
    return calls


def test_a_provider_added_in_the_admin_gets_a_new_account(admin_client, clinic, monkeypatch):
    calls = spy(monkeypatch, "provider_create")
    response = admin_client.post(
        reverse("admin:clinics_provider_add"),
        {"clinic": clinic.pk, "username": "dr.rowe", "email": "rowe@example.com",
         "first_name": "Sam", "last_name": "Rowe", "role": "therapist", "active": "on",
         "mobile": ""},
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert len(calls) == 1
    provider = Provider.objects.get(user__username="dr.rowe")
    assert (provider.clinic, provider.role, provider.user.email) == (
        clinic, "therapist", "rowe@example.com"
    )  # fmt: skip
    assert not provider.user.has_usable_password()


def test_a_taken_username_is_shown_on_its_field(admin_client, clinic):
    User.objects.create_user("dr.rowe")
    response = admin_client.post(
        reverse("admin:clinics_provider_add"),
        {"clinic": clinic.pk, "username": "dr.rowe", "role": "nurse", "active": "on"},
    )
    assert response.status_code == 200
    assert "username" in response.context["adminform"].form.errors
    assert not Provider.objects.filter(user__username="dr.rowe").exists()


def test_unticking_active_deactivates_through_the_service(admin_client, provider, monkeypatch):
    calls = spy(monkeypatch, "provider_update")
    response = admin_client.post(provider_url(provider), {"role": provider.role, "mobile": ""})
    assert response.status_code == 302
    assert calls and calls[0]["changes"]["active"] is False
    provider.refresh_from_db()
    assert provider.active is False


def test_the_on_call_contact_cannot_be_deactivated_or_deleted_in_the_admin(
    admin_client, clinic, provider
):
    clinic.on_call_contact = provider
    clinic.save()
    refused = admin_client.post(provider_url(provider), {"role": provider.role, "mobile": ""})
    assert refused.status_code == 200
    (error,) = refused.context["adminform"].form.errors["active"]
    assert "on-call contact" in error and "provider.safety_contact" in error

    delete_url = reverse("admin:clinics_provider_delete", args=[provider.pk])
    page = admin_client.get(delete_url)
    assert "provider.safety_contact" in page.text
    admin_client.post(delete_url, {"post": "yes"})
    provider.refresh_from_db()
    assert provider.active is True


def test_a_provider_nothing_names_is_deleted_through_the_service(admin_client, clinic, monkeypatch):
    calls = spy(monkeypatch, "provider_delete")
    spare = ProviderFactory(clinic=clinic)
    delete_url = reverse("admin:clinics_provider_delete", args=[spare.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert len(calls) == 1 and not Provider.objects.filter(pk=spare.pk).exists()


def test_the_clinic_form_saves_through_the_service(admin_client, clinic, monkeypatch):
    calls = spy(monkeypatch, "clinic_update")
    data = form_data(admin_client.get(change_url(clinic)))
    data.update(sms_sender_name="Harbor Light")
    response = admin_client.post(change_url(clinic), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert len(calls) == 1 and calls[0]["changes"]["sms_sender_name"] == "Harbor Light"
    clinic.refresh_from_db()
    assert clinic.sms_sender_name == "Harbor Light"


def test_a_clinic_added_in_the_admin_is_made_by_the_service(admin_client, monkeypatch):
    calls = spy(monkeypatch, "clinic_create")
    data = form_data(admin_client.get(reverse("admin:clinics_clinic_add")))
    data.update(name="Harbor Light")
    response = admin_client.post(reverse("admin:clinics_clinic_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert len(calls) == 1 and calls[0]["values"]["name"] == "Harbor Light"


def test_staff_granted_adding_providers_add_them_to_their_own_clinic_only(client, clinic):
    from django.contrib.auth.models import Permission

    from tests.factories import ClinicFactory, CoordinatorFactory

    coordinator = CoordinatorFactory(clinic=clinic)
    coordinator.user.is_staff = True
    coordinator.user.save()
    coordinator.user.user_permissions.add(Permission.objects.get(codename="add_provider"))
    other = ClinicFactory(name="Elsewhere")
    client.force_login(coordinator.user)
    page = client.get(reverse("admin:clinics_provider_add"))
    assert page.status_code == 200
    assert set(page.context["adminform"].form.fields["clinic"].queryset) == {clinic}
    refused = client.post(
        reverse("admin:clinics_provider_add"),
        {"clinic": other.pk, "username": "dr.rowe", "role": "nurse", "active": "on"},
    )
    assert "clinic" in refused.context["adminform"].form.errors
    assert not Provider.objects.filter(user__username="dr.rowe").exists()


def test_closed_dates_on_the_clinic_page_are_saved_through_the_service(
    admin_client, clinic, monkeypatch
):
    import datetime as dt

    from backend.clinics.models import ClosedDate

    saved, deleted = spy(monkeypatch, "closed_date_save"), spy(monkeypatch, "closed_date_delete")
    gone = ClosedDate.objects.create(clinic=clinic, date=dt.date(2026, 12, 24), reason="Eve")
    kept = ClosedDate.objects.create(clinic=clinic, date=dt.date(2026, 12, 25), reason="")
    data = form_data(admin_client.get(change_url(clinic)))
    rows = {data[f"closed_dates-{i}-id"]: i for i in range(2)}
    data[f"closed_dates-{rows[str(gone.pk)]}-DELETE"] = "on"
    data[f"closed_dates-{rows[str(kept.pk)]}-reason"] = "Christmas"
    data.update({"closed_dates-TOTAL_FORMS": "3", "closed_dates-2-date": "2026-12-31",
                 "closed_dates-2-reason": "New Year's Eve"})  # fmt: skip

    response = admin_client.post(change_url(clinic), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert len(saved) == 2 and len(deleted) == 1
    assert dict(clinic.closed_dates.values_list("date", "reason")) == {
        dt.date(2026, 12, 25): "Christmas",
        dt.date(2026, 12, 31): "New Year's Eve",
    }


def test_coordinators_are_appointed_and_removed_through_the_service(
    admin_client, clinic, monkeypatch
):
    from backend.clinics.models import Coordinator

    saved, removed = spy(monkeypatch, "coordinator_save"), spy(monkeypatch, "coordinator_remove")
    user = User.objects.create_user("ines", is_staff=True)
    response = admin_client.post(
        reverse("admin:clinics_coordinator_add"), {"user": user.pk, "clinic": clinic.pk}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    coordinator = Coordinator.objects.get(user=user)
    delete_url = reverse("admin:clinics_coordinator_delete", args=[coordinator.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert (len(saved), len(removed)) == (1, 1)
    assert not Coordinator.objects.filter(user=user).exists()
    assert User.objects.filter(pk=user.pk).exists()  # the account stays
