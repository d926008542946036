"""Clinic, provider, patient and protocol writes over the API: the serializer validates the
input, the view calls the service (backend.clinics.services, backend.patients.services,
backend.protocols.services), and the output serializer renders what the service saved."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from backend.clinics import services as clinic_services
from backend.clinics.models import Clinic, Provider
from backend.patients import services as patient_services
from backend.patients.models import Patient
from backend.protocols import services as protocol_services
from tests.backend.api.helpers import errors_of, patient_payload
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def spy(monkeypatch, module, name: str) -> list[dict]:
    calls: list[dict] = []
    real = getattr(module, name)

    def record(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(module, name, record)
    return calls


def test_an_admin_adds_a_provider_with_a_new_account(client_as, clinic, users, monkeypatch):
    calls = spy(monkeypatch, clinic_services, "provider_create")
    response = client_as("admin").post(
        "/api/v1/providers/",
        {"clinic": clinic.pk, "username": "dr.rowe", "email": "rowe@example.com",
         "first_name": "Sam", "last_name": "Rowe", "role": "therapist"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "clinic", "name", "username", "email", "role", "active", "mobile"}
    assert (body["name"], body["username"], body["active"]) == ("Sam Rowe", "dr.rowe", True)
    assert len(calls) == 1
    assert not User.objects.get(username="dr.rowe").has_usable_password()


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"username": "coord"}, "username", "unique"),  # the coordinator's
        ({"username": "no spaces"}, "username", "invalid"),
        ({"role": "surgeon"}, "role", "invalid_choice"),
        ({"clinic": 10**9}, "clinic", "does_not_exist"),
    ],
)
def test_a_bad_provider_is_refused_on_its_field(client_as, clinic, users, change, field, code):
    body = {"clinic": clinic.pk, "username": "dr.rowe", "role": "nurse", **change}
    response = client_as("admin").post("/api/v1/providers/", body, format="json")
    assert response.status_code == 400
    assert errors_of(response) == {field: code}
    assert not Provider.objects.filter(user__username=body["username"]).exists()


def test_deactivating_the_on_call_contact_is_refused_with_the_rule(
    client_as, clinic, provider, users
):
    clinic.on_call_contact = provider
    clinic.save()
    url = f"/api/v1/providers/{provider.pk}/"
    refused = client_as("admin").patch(url, {"active": False}, format="json")
    assert refused.status_code == 400
    assert errors_of(refused) == {"active": "provider.safety_contact"}
    assert client_as("admin").delete(url).status_code == 400
    clinic.on_call_contact = None
    clinic.save()
    done = client_as("admin").patch(url, {"active": False}, format="json")
    assert done.status_code == 200 and done.json()["active"] is False


def test_a_providers_clinic_and_account_are_not_changed_by_patch(client_as, provider, users):
    other = Clinic.objects.exclude(pk=provider.clinic_id).first()
    response = client_as("admin").patch(
        f"/api/v1/providers/{provider.pk}/",
        {"clinic": other.pk, "username": "x", "role": "nurse"},
        format="json",
    )
    assert response.status_code == 200
    provider.refresh_from_db()
    assert provider.clinic_id != other.pk
    assert provider.role == "nurse" and provider.user.username != "x"


def test_clinic_writes_go_through_the_service(client_as, clinic, users, monkeypatch):
    created = spy(monkeypatch, clinic_services, "clinic_create")
    updated = spy(monkeypatch, clinic_services, "clinic_update")
    deleted = spy(monkeypatch, clinic_services, "clinic_delete")
    admin = client_as("admin")
    response = admin.post(
        "/api/v1/clinics/", {"name": "Harbor Light", "time_zone": "America/Denver"}, format="json"
    )
    assert response.status_code == 201, response.content
    new_id = response.json()["id"]
    assert response.json()["time_zone"] == "America/Denver"
    patched = admin.patch(f"/api/v1/clinics/{new_id}/", {"slot_minutes": 20}, format="json")
    assert patched.status_code == 200 and patched.json()["slot_minutes"] == 20
    assert admin.delete(f"/api/v1/clinics/{new_id}/").status_code == 204
    # The shared clinic still has providers and patients: 409, as before.
    assert admin.delete(f"/api/v1/clinics/{clinic.pk}/").status_code == 409
    assert (len(created), len(updated), len(deleted)) == (1, 1, 2)
    assert not Clinic.objects.filter(pk=new_id).exists()


def test_patient_writes_go_through_the_service(client_as, clinic, users, monkeypatch):
    created = spy(monkeypatch, patient_services, "patient_create")
    updated = spy(monkeypatch, patient_services, "patient_update")
    deleted = spy(monkeypatch, patient_services, "patient_delete")
    coordinator = client_as("coordinator")
    response = coordinator.post(
        "/api/v1/patients/", patient_payload(clinic.pk, sms_consent=True), format="json"
    )
    assert response.status_code == 201, response.content
    new_id = response.json()["id"]
    assert response.json()["sms_consent_method"] == "api"
    patched = coordinator.patch(
        f"/api/v1/patients/{new_id}/", {"sms_consent": False}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["sms_consent_method"] == "api"  # the default on PATCH too
    assert client_as("admin").delete(f"/api/v1/patients/{new_id}/").status_code == 204
    assert (len(created), len(updated), len(deleted)) == (1, 1, 1)
    assert created[0]["now"] is not None and updated[0]["now"] is not None
    assert not Patient.objects.filter(pk=new_id).exists()


def test_a_patient_without_plans_is_deleted_one_with_plans_refused(client_as, plan, users):
    spare = PatientFactory(clinic=plan.clinic)
    admin = client_as("admin")
    assert admin.delete(f"/api/v1/patients/{spare.pk}/").status_code == 204
    refused = admin.delete(f"/api/v1/patients/{plan.patient_id}/")
    assert refused.status_code == 409 and errors_of(refused) == {None: "protected"}
    assert Patient.objects.filter(pk=plan.patient_id).exists()


def test_protocol_writes_go_through_the_service(coordinator_client, plan, monkeypatch):
    created = spy(monkeypatch, protocol_services, "protocol_create_version")
    updated = spy(monkeypatch, protocol_services, "protocol_update")
    source = coordinator_client.get(f"/api/v1/protocols/{plan.protocol_id}/").json()
    body = {"slug": source["slug"], "name": "Ours", "definition": source["definition"],
            "version": 99, "clinic": None}  # fmt: skip
    response = coordinator_client.post("/api/v1/protocols/", body, format="json")
    assert response.status_code == 201, response.content
    out = response.json()
    # version and clinic are assigned, not read from the input
    assert (out["version"], out["clinic"]) == (source["version"] + 1, plan.clinic_id)
    retired = coordinator_client.patch(
        f"/api/v1/protocols/{out['id']}/", {"is_active": False, "version": 1}, format="json"
    )
    assert retired.status_code == 200
    assert retired.json()["version"] == out["version"] and retired.json()["is_active"] is False
    assert (len(created), len(updated)) == (1, 1)
    assert updated[0]["changes"] == {"is_active": False}
