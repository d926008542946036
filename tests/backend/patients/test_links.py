"""Patient links: they expire, they can be revoked, and an old one says whom to ask for a new one;
no page behind one is ever cached."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from backend.plans import services as plan_services
from backend.reminders import links
from tests.factories import SHARED_CLINIC_NAME, CoordinatorFactory
from tests.support.clock import SUITE_NOW


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.mark.django_db
def test_a_revoked_link_says_whom_to_ask_and_the_next_message_brings_a_working_one(client, plan):
    patient = plan.patient
    old = path_of(links.patient_schedule_url(patient))
    assert client.get(old).status_code == 200

    staff = CoordinatorFactory(clinic=patient.clinic).user
    client.force_login(staff)
    client.post(
        reverse("admin:patients_patient_changelist"),
        {"action": "revoke_links", "_selected_action": [patient.pk]},
    )
    client.logout()

    refused = client.get(old)
    assert refused.status_code == 410
    assert "been replaced" in refused.text
    assert SHARED_CLINIC_NAME in refused.text and "(202) 555-0100" in refused.text
    patient.refresh_from_db()
    assert client.get(path_of(links.patient_schedule_url(patient))).status_code == 200


@pytest.mark.django_db
def test_cancelling_the_patients_last_plan_revokes_their_links(client, plan):
    old = path_of(links.patient_item_url(plan.patient, plan.items.first().pk))
    assert client.get(old).status_code == 200

    plan_services.plan_cancel(plan=plan, reason="moved away", now=SUITE_NOW)

    assert client.get(old).status_code == 410


@pytest.mark.django_db
def test_a_link_expires_after_thirty_days_with_a_page_naming_the_clinic(client, plan):
    url = path_of(links.patient_schedule_url(plan.patient))
    with time_machine.travel(SUITE_NOW + dt.timedelta(days=29)):
        assert client.get(url).status_code == 200
    with time_machine.travel(SUITE_NOW + dt.timedelta(days=31)):
        expired = client.get(url)
    assert expired.status_code == 410
    assert "expired" in expired.text and SHARED_CLINIC_NAME in expired.text


@pytest.mark.django_db
def test_a_forged_link_names_no_clinic(client, plan):
    forged = client.get("/p/not-a-real-token/")
    assert forged.status_code == 404
    assert SHARED_CLINIC_NAME not in forged.text


@pytest.mark.django_db
def test_no_page_behind_a_patient_link_is_cached(client, plan):
    patient = plan.patient
    token_path = path_of(links.patient_schedule_url(patient))
    item = plan.items.filter(kind="check_in").first()
    pages = [
        token_path,
        token_path + "preferences/",
        path_of(links.patient_item_url(patient, item.pk)),
        path_of(links.unsubscribe_url(patient.pk)),
        "/p/not-a-real-token/",
    ]
    for page in pages:
        response = client.get(page)
        assert "no-store" in response.headers.get("Cache-Control", ""), page
