"""Patients over the API: consent changes are recorded with when and how, and withdraw reminders."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.reminders.models import Reminder
from tests.backend.api.helpers import patient_payload
from tests.backend.conftest import NOW

pytestmark = pytest.mark.django_db


def _close_to_now(value: str) -> bool:
    return abs(dt.datetime.fromisoformat(value) - NOW) < dt.timedelta(minutes=5)


def test_coordinator_creates_a_patient_in_their_clinic(coordinator_client, clinic, users):
    body = patient_payload(clinic.pk, sms_consent=True, consent_method="written")
    del body["clinic"]
    response = coordinator_client.post("/api/v1/patients/", body, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["clinic"] == clinic.pk
    assert created["sms_consent_method"] == "written" and _close_to_now(created["sms_consent_at"])
    assert created["email_consent"] is False and created["email_consent_at"] is None


def test_admin_must_name_the_clinic(client_as, clinic, users):
    body = patient_payload(clinic.pk)
    del body["clinic"]
    response = client_as("admin").post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "clinic"


def test_withdrawing_consent_is_recorded_and_cancels_pending_sms(coordinator_client, plan, users):
    pending = plan.reminders.filter(channel="sms", status__in=Reminder.PENDING)
    assert pending.exists()
    response = coordinator_client.patch(
        f"/api/v1/patients/{plan.patient_id}/",
        {"sms_consent": False, "consent_method": "verbal"}, format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["sms_consent"] is False and body["sms_consent_method"] == "verbal"
    assert _close_to_now(body["sms_consent_at"])
    assert not pending.exists()
    assert plan.reminders.filter(channel="email", status__in=Reminder.PENDING).exists()
    last = plan.patient.history.latest()
    assert last.history_user == users["coordinator"]


def test_patient_changes_their_own_preferences_but_not_their_name(client_as, plan):
    me = client_as("patient")
    response = me.patch("/api/v1/me/", {"quiet_start": "22:00", "first_name": "X"}, format="json")
    assert response.status_code == 200
    assert response.json()["quiet_start"] == "22:00:00"
    assert response.json()["first_name"] == "Avery"
    out = me.patch("/api/v1/me/", {"email_consent": False}, format="json").json()
    assert out["email_consent"] is False and out["email_consent_method"] == "web"
