"""The API refuses the sender names the admin refuses (Clinic.clean): a clinic cannot make its
texts or emails come from a name that names a drug or diagnosis by writing through the API."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_a_sender_name_naming_the_drug_is_refused_with_field_and_rule(client_as, clinic):
    admin = client_as("admin")
    response = admin.patch(
        f"/api/v1/clinics/{clinic.pk}/", {"sender_name": "Mile High Ketamine Center"}, format="json"
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "sender_name" and "sender.private_word" in error["detail"]
    clinic.refresh_from_db()
    assert clinic.sender_name != "Mile High Ketamine Center"


@pytest.mark.django_db
def test_a_neutral_text_sender_name_is_saved(client_as, clinic):
    admin = client_as("admin")
    response = admin.patch(
        f"/api/v1/clinics/{clinic.pk}/", {"sms_sender_name": "Mile High"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["sms_sender_name"] == "Mile High"
    clinic.refresh_from_db()
    assert clinic.sms_sender_name == "Mile High"


@pytest.mark.django_db
def test_renaming_a_clinic_to_a_drug_name_needs_a_neutral_sender_name(client_as, clinic):
    clinic.sender_name = ""
    clinic.save(update_fields=["sender_name"])
    response = client_as("admin").patch(
        f"/api/v1/clinics/{clinic.pk}/", {"name": "Esketamine Partners"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "sender_name"
