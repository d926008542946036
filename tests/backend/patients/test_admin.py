"""Consent in the patient admin goes through the patient service: stamped, and a withdrawal
cancels that channel's pending reminders; the stamps cannot be typed in."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from backend.patients.models import Patient
from backend.reminders.models import Reminder
from tests.factories import CoordinatorFactory
from tests.support.clock import SUITE_NOW


def form_data(response) -> dict:
    """What the browser would submit for the admin form as shown: every field's initial value."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()  # already prepared as the widget shows it
        if value is None or value is False:
            continue
        if isinstance(value, list | tuple):
            data[name] = [str(v) for v in value]
        else:
            data[name] = "on" if value is True else value
    return data


@pytest.fixture()
def coordinator_client(client, clinic):
    client.force_login(CoordinatorFactory(clinic=clinic).user)
    return client


@pytest.mark.django_db
def test_withdrawing_sms_consent_in_the_admin_stamps_it_and_cancels_pending_texts(
    coordinator_client, make_plan, patient
):
    make_plan()
    texts = Reminder.objects.filter(patient=patient, channel="sms", status__in=Reminder.PENDING)
    assert texts.exists()
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    data = form_data(coordinator_client.get(url))
    assert data.pop("sms_consent") == "on"
    data.update(consent_method="verbal", sms_consent_at="2001-01-01 00:00:00")

    response = coordinator_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    patient.refresh_from_db()
    assert patient.sms_consent is False
    assert patient.sms_consent_method == "verbal"
    assert patient.sms_consent_at - SUITE_NOW < dt.timedelta(minutes=5)  # stamped, not typed
    assert patient.sms_opted_out_at is not None
    assert not texts.exists(), "pending texts are cancelled with the consent"
    assert Reminder.objects.filter(patient=patient, channel="email", status="scheduled").exists()


@pytest.mark.django_db
def test_consent_stamps_are_read_only_in_the_admin(coordinator_client, patient):
    form = (
        coordinator_client.get(reverse("admin:patients_patient_change", args=[patient.pk]))
        .context["adminform"]
        .form
    )
    for stamp in ("email_consent_at", "email_consent_method", "sms_consent_at"):
        assert stamp not in form.fields
    assert "consent_method" in form.fields
    assert Patient.objects.get(pk=patient.pk).email_consent_method == "written"
