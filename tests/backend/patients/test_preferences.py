"""The patient's own preferences page (signed link) and the patient service behind it."""

import pytest

from backend.patients import services
from backend.reminders.links import patient_schedule_url
from backend.reminders.models import Reminder


@pytest.fixture()
def url(patient):
    path = "/" + patient_schedule_url(patient).split("/", 3)[3]
    return path + "preferences/"


@pytest.mark.django_db
def test_patient_withdraws_sms_consent_and_pending_texts_are_cancelled(client, url, make_plan):
    plan = make_plan()
    texts = plan.reminders.filter(channel="sms", status="scheduled")
    assert texts.exists()
    page = client.get(url)
    assert page.status_code == 200 and b"How and when we remind you" in page.content
    response = client.post(
        url,
        {"language": "en", "prefers_email": "on", "prefers_sms": "on", "quiet_start": "22:00",
         "quiet_end": "07:30", "email_consent": "on"},
    )  # fmt: skip
    assert response.status_code == 200 and b'id="saved"' in response.content
    patient = plan.patient
    patient.refresh_from_db()
    assert not patient.sms_consent and patient.sms_consent_method == "web"
    assert patient.sms_consent_at is not None and patient.sms_opted_out_at is not None
    assert str(patient.quiet_start) == "22:00:00"
    assert not texts.exists()
    assert plan.reminders.filter(channel="sms", status_reason__contains="opted out").exists()
    assert plan.reminders.filter(channel="email", status="scheduled").exists()


@pytest.mark.django_db
def test_a_tampered_link_shows_nothing(client, url):
    assert client.get(url.replace("/p/", "/p/x")).status_code == 404


@pytest.mark.django_db
def test_giving_consent_again_lifts_the_opt_out_and_records_how(patient):
    services.patient_update(patient=patient, changes={"sms_consent": False}, consent_method="web")
    patient.refresh_from_db()
    assert patient.sms_opted_out_at is not None
    patient = services.patient_update(
        patient=patient, changes={"sms_consent": True}, consent_method="verbal"
    )
    assert patient.sms_consent and patient.sms_opted_out_at is None
    assert patient.sms_consent_method == "verbal"


@pytest.mark.django_db
def test_invalid_values_are_refused_naming_the_field(patient):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as err:
        services.patient_update(patient=patient, changes={"time_zone": "Mars/Olympus"},
                                consent_method="api")  # fmt: skip
    assert "time_zone" in err.value.message_dict
    assert Reminder.objects.count() == 0


@pytest.mark.django_db
def test_patient_links_show_no_provider_tasks_and_take_no_answers_on_paused_plans(
    client, make_plan
):
    from backend.plans import services

    plan = make_plan()
    token_path = "/" + patient_schedule_url(plan.patient).split("/", 3)[3]
    task = plan.items.filter(kind="task").first()
    assert task is not None
    assert client.get(f"{token_path}items/{task.pk}/").status_code == 404
    check_in = plan.items.filter(kind="check_in").first()
    services.plan_pause(plan=plan)
    response = client.post(f"{token_path}items/{check_in.pk}/", {"answer": "fine"})
    assert response.status_code == 403
    check_in.refresh_from_db()
    assert check_in.status == "scheduled"
