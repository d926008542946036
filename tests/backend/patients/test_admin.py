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


@pytest.mark.django_db
def test_reverting_consent_from_history_goes_through_the_service(coordinator_client, patient):
    """The history page's "revert" form is compared with the old version, not with the row as it
    is now: the admin still hands every field to the service, which stamps the consent that
    changed against the row itself."""
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    given = patient.history.latest()
    data = form_data(coordinator_client.get(url))
    assert data.pop("sms_consent") == "on"
    assert coordinator_client.post(url, {**data, "consent_method": "verbal"}).status_code == 302
    patient.refresh_from_db()
    assert patient.sms_consent is False and patient.sms_opted_out_at is not None

    revert = reverse("admin:patients_patient_simple_history", args=[patient.pk, given.pk])
    data = form_data(coordinator_client.get(revert))
    assert data["sms_consent"] == "on"
    response = coordinator_client.post(revert, {**data, "consent_method": "written"})

    assert response.status_code == 302, response.context["adminform"].form.errors
    patient.refresh_from_db()
    assert patient.sms_consent is True and patient.sms_consent_method == "written"
    assert patient.sms_opted_out_at is None  # consent given again lifts the opt-out


@pytest.mark.django_db
def test_a_patient_is_deleted_through_the_service_unless_plans_protect_them(
    client, clinic, make_plan, patient, monkeypatch
):
    from django.contrib.auth.models import User

    from backend.patients import services
    from tests.factories import PatientFactory

    calls = []
    real = services.patient_delete
    monkeypatch.setattr(
        services, "patient_delete", lambda **kw: calls.append(kw) or real(**kw), raising=True
    )
    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    spare = PatientFactory(clinic=clinic)
    spare_url = reverse("admin:patients_patient_delete", args=[spare.pk])
    assert client.post(spare_url, {"post": "yes"}).status_code == 302
    assert len(calls) == 1 and not Patient.objects.filter(pk=spare.pk).exists()

    make_plan()
    url = reverse("admin:patients_patient_delete", args=[patient.pk])
    assert "Treatment plan" in client.get(url).text  # what protects them is listed
    client.post(url, {"post": "yes"})
    assert Patient.objects.filter(pk=patient.pk).exists() and len(calls) == 1
