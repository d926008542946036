"""Twilio webhooks: signed status callbacks and inbound STOP/START/HELP keywords.

Signatures are computed with the SDK's own RequestValidator over PUBLIC_BASE_URL + path, which is
the URL Twilio calls (the status-callback URL the backend sends is built the same way).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
import time_machine
from django.urls import reverse
from twilio.request_validator import RequestValidator

from backend.patients.models import ConsentMethod, Patient
from backend.reminders.links import absolute
from backend.reminders.models import Reminder
from tests.factories import (
    SHARED_CLINIC_NAME as CLINIC_NAME,
)
from tests.factories import (
    SHARED_PATIENT_MOBILE as PATIENT_MOBILE,
)
from tests.factories import ClinicFactory, PatientFactory, ProviderFactory, plan_a_week_ahead

pytestmark = pytest.mark.django_db

AUTH_TOKEN = "12345678901234567890123456789012"
SID = "SM" + "a" * 32
NOW = dt.datetime(2026, 11, 2, 15, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = "https://aftercare.example.org"


def signed_post(client, name: str, params: dict, *, token: str = AUTH_TOKEN, signature=None):
    path = reverse(name)
    if signature is None:
        signature = RequestValidator(token).compute_signature(absolute(path), params)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    return client.post(path, params, headers=headers)


def status_params(status: str, **extra) -> dict:
    return {
        "MessageSid": SID,
        "SmsSid": SID,
        "AccountSid": "AC" + "0" * 32,
        "From": "+15005550006",
        "To": PATIENT_MOBILE,
        "MessageStatus": status,
        "SmsStatus": status,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def inbound_params(body: str, sender: str = PATIENT_MOBILE, to: str = "+15005550006") -> dict:
    return {
        "MessageSid": "SM" + "b" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "ApiVersion": "2010-04-01",
    }


@pytest.fixture()
def sent_sms(plan) -> Reminder:
    reminder = plan.reminders.filter(channel="sms", audience="patient").first()
    Reminder.objects.filter(pk=reminder.pk).update(
        status=Reminder.Status.SENT, provider_message_id=SID, sent_at=NOW
    )
    reminder.refresh_from_db()
    return reminder


def counts(plan, channel: str) -> dict[str, int]:
    """How many of the plan's reminders on `channel` are in each status."""
    return dict(Counter(plan.reminders.filter(channel=channel).values_list("status", flat=True)))


# --- Status callbacks -------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["sent", "delivered"])
def test_status_callback_records_delivery_status(client, sent_sms, status):
    response = signed_post(client, "twilio-status", status_params(status))

    assert response.status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.delivery_status == status
    assert sent_sms.status == Reminder.Status.SENT


@pytest.mark.parametrize("status", ["undelivered", "failed"])
def test_undelivered_or_failed_marks_the_reminder_failed(client, sent_sms, status):
    response = signed_post(client, "twilio-status", status_params(status, ErrorCode="30006"))

    assert response.status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.delivery_status == status
    assert sent_sms.status == Reminder.Status.FAILED
    assert "30006" in sent_sms.last_error
    # Recorded through the outbox, with a history row saying what changed.
    latest = sent_sms.history.first()
    assert (latest.status, latest.delivery_status) == ("failed", status)


def test_status_callback_touches_only_the_message_it_names(client, sent_sms, plan):
    others = plan.reminders.exclude(pk=sent_sms.pk)
    before = list(others.values_list("pk", "status", "delivery_status"))

    signed_post(client, "twilio-status", status_params("failed"))

    assert list(others.values_list("pk", "status", "delivery_status")) == before


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("", id="unsigned"),
        pytest.param("bm90IGEgc2lnbmF0dXJl", id="garbage"),
        pytest.param(
            RequestValidator("another-accounts-token").compute_signature(
                "https://aftercare.example.org/webhooks/twilio/status/", status_params("failed")
            ),
            id="other-token",
        ),
        pytest.param(
            RequestValidator(AUTH_TOKEN).compute_signature(
                "https://aftercare.example.org/webhooks/twilio/status/", status_params("delivered")
            ),
            id="signed-other-params",
        ),
        pytest.param(
            RequestValidator(AUTH_TOKEN).compute_signature(
                "https://evil.example/webhooks/twilio/status/", status_params("failed")
            ),
            id="signed-other-url",
        ),
    ],
)
def test_status_callback_without_a_valid_signature_is_refused(client, sent_sms, signature):
    response = signed_post(client, "twilio-status", status_params("failed"), signature=signature)

    assert response.status_code == 403
    sent_sms.refresh_from_db()
    assert sent_sms.status == Reminder.Status.SENT
    assert sent_sms.delivery_status == ""


def test_webhooks_refuse_everything_when_no_token_is_configured(client, settings, sent_sms):
    settings.TWILIO_AUTH_TOKEN = ""
    signature = RequestValidator("").compute_signature(
        absolute(reverse("twilio-status")), status_params("failed")
    )

    response = signed_post(client, "twilio-status", status_params("failed"), signature=signature)

    assert response.status_code == 403
    sent_sms.refresh_from_db()
    assert sent_sms.status == Reminder.Status.SENT


def test_webhooks_accept_post_only(client):
    assert client.get(reverse("twilio-status")).status_code == 405
    assert client.get(reverse("twilio-inbound")).status_code == 405


# --- Inbound keywords -------------------------------------------------------------------------


def twiml_messages(response) -> list[str]:
    assert response["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return [m.text or "" for m in root.iter("Message")]


@pytest.mark.parametrize(
    "word", ["STOP", "stop", "Unsubscribe", "QUIT", " Stop. ", "cancel", "END"]
)
def test_stop_opts_out_of_sms_and_cancels_pending_texts_only(client, plan, word):
    email_before = counts(plan, "email")
    assert counts(plan, "sms")["scheduled"] > 0

    with time_machine.travel(NOW, tick=False):
        response = signed_post(client, "twilio-inbound", inbound_params(word))

    assert response.status_code == 200
    assert twiml_messages(response) == []  # Twilio's opt-out handling sends the confirmation
    patient = Patient.objects.get(pk=plan.patient_id)
    assert patient.sms_opted_out_at == NOW
    assert patient.sms_consent_method == ConsentMethod.SMS_KEYWORD
    assert not patient.may_sms
    assert counts(plan, "sms") == {"cancelled": plan.reminders.filter(channel="sms").count()}
    assert set(plan.reminders.filter(channel="sms").values_list("status_reason", flat=True)) == {
        "patient opted out of sms"
    }
    assert counts(plan, "email") == email_before
    assert patient.email_opted_out_at is None


def test_stop_leaves_other_patients_alone(client, plan, clinic, provider):
    other = PatientFactory(clinic=clinic, mobile="+13125550178")
    other_plan = plan_a_week_ahead(other, provider)
    before = counts(other_plan, "sms")

    signed_post(client, "twilio-inbound", inbound_params("STOP"))

    other.refresh_from_db()
    assert other.sms_opted_out_at is None
    assert counts(other_plan, "sms") == before


def test_words_that_are_not_keywords_change_nothing(client, plan):
    before = counts(plan, "sms")

    response = signed_post(client, "twilio-inbound", inbound_params("Please stop by at noon"))

    assert response.status_code == 200
    assert Patient.objects.get(pk=plan.patient_id).sms_opted_out_at is None
    assert counts(plan, "sms") == before


def test_unsigned_stop_is_refused_and_changes_nothing(client, plan):
    before = counts(plan, "sms")

    response = signed_post(client, "twilio-inbound", inbound_params("STOP"), signature="")
    forged = signed_post(client, "twilio-inbound", inbound_params("STOP"), token="not-ours")

    assert response.status_code == forged.status_code == 403
    assert Patient.objects.get(pk=plan.patient_id).sms_opted_out_at is None
    assert counts(plan, "sms") == before


@pytest.mark.parametrize("word", ["START", "start", "Yes", "UNSTOP"])
def test_start_restores_sms_consent_with_method_and_time(client, plan, word):
    Patient.objects.filter(pk=plan.patient_id).update(
        sms_opted_out_at=NOW - dt.timedelta(days=3), sms_consent=False, sms_consent_method=""
    )

    with time_machine.travel(NOW, tick=False):
        response = signed_post(client, "twilio-inbound", inbound_params(word))

    assert response.status_code == 200
    patient = Patient.objects.get(pk=plan.patient_id)
    assert patient.sms_opted_out_at is None
    assert patient.sms_consent is True
    assert patient.sms_consent_at == NOW
    assert patient.sms_consent_method == ConsentMethod.SMS_KEYWORD
    assert patient.may_sms


def test_unsigned_start_is_refused(client, plan):
    Patient.objects.filter(pk=plan.patient_id).update(sms_opted_out_at=NOW)

    response = signed_post(client, "twilio-inbound", inbound_params("START"), signature="")

    assert response.status_code == 403
    assert Patient.objects.get(pk=plan.patient_id).sms_opted_out_at == NOW


@pytest.mark.parametrize("word", ["HELP", "help", "Info"])
def test_help_replies_with_the_clinic_and_how_to_stop(client, plan, word):
    response = signed_post(client, "twilio-inbound", inbound_params(word))

    assert response.status_code == 200
    (text,) = twiml_messages(response)
    assert CLINIC_NAME in text
    assert "(202) 555-0100" in text
    assert "STOP" in text
    patient = Patient.objects.get(pk=plan.patient_id)
    assert patient.sms_opted_out_at is None


@pytest.mark.parametrize("word", ["HELP", "AYUDA"])
def test_help_answers_a_spanish_speaking_patient_in_spanish_with_the_words_to_reply(
    client, plan, word
):
    Patient.objects.filter(pk=plan.patient_id).update(language="es")

    (text,) = twiml_messages(signed_post(client, "twilio-inbound", inbound_params(word)))

    assert text.startswith("Recordatorios de ") and CLINIC_NAME in text
    assert "CAMBIAR" in text and "STOP" in text and "START" in text


def test_help_in_english_says_how_to_confirm_or_move(client, plan):
    (text,) = twiml_messages(signed_post(client, "twilio-inbound", inbound_params("HELP")))

    assert "Reply C to confirm" in text and "MOVE" in text


def test_help_from_an_unknown_number_still_answers(client, db):
    response = signed_post(client, "twilio-inbound", inbound_params("HELP", sender="+12125551234"))

    (text,) = twiml_messages(response)
    assert "STOP" in text


@pytest.mark.parametrize("sender", ["", "HarborLight", "12345"])
def test_a_sender_that_is_not_a_phone_number_gets_an_answer_not_an_error(client, plan, sender):
    """Twilio treats a 5xx as a failed webhook (error 11200) and retries; an inbound text from an
    alphanumeric sender or with no usable From must not crash the view."""
    before = counts(plan, "sms")

    stop = signed_post(client, "twilio-inbound", inbound_params("STOP", sender=sender))
    help_ = signed_post(client, "twilio-inbound", inbound_params("HELP", sender=sender))

    assert stop.status_code == help_.status_code == 200
    assert counts(plan, "sms") == before
    (text,) = twiml_messages(help_)
    assert "STOP" in text


# --- Keywords act for the clinic whose number received them ------------------------------------

OWN_NUMBER = "+13125550111"


@pytest.fixture()
def elsewhere_same_mobile(plan):
    """The same mobile number on a patient of a second clinic that texts from its own number."""
    other_clinic = ClinicFactory(name="Lakeside Clinic", sms_from_number=OWN_NUMBER)
    other = PatientFactory(clinic=other_clinic, mobile=PATIENT_MOBILE)
    return plan_a_week_ahead(other, ProviderFactory(clinic=other_clinic))


def test_stop_to_one_clinics_number_leaves_the_other_clinics_patient_alone(
    client, plan, elsewhere_same_mobile
):
    before = counts(elsewhere_same_mobile, "sms")

    signed_post(client, "twilio-inbound", inbound_params("STOP", to=OWN_NUMBER))

    assert Patient.objects.get(pk=elsewhere_same_mobile.patient_id).sms_opted_out_at is not None
    assert Patient.objects.get(pk=plan.patient_id).sms_opted_out_at is None
    assert counts(plan, "sms").get("cancelled", 0) == 0
    assert counts(elsewhere_same_mobile, "sms") != before


def test_start_never_grants_consent_a_patient_did_not_give(client, plan, elsewhere_same_mobile):
    never = Patient.objects.filter(pk=plan.patient_id)
    never.update(sms_consent=False, sms_consent_at=None, sms_consent_method="")
    Patient.objects.filter(pk=elsewhere_same_mobile.patient_id).update(
        sms_opted_out_at=NOW, sms_consent=False
    )

    signed_post(client, "twilio-inbound", inbound_params("START"))  # the shared number
    signed_post(client, "twilio-inbound", inbound_params("START", to=OWN_NUMBER))

    assert never.get().sms_consent is False, "START is not consent for a patient who never gave it"
    restored = Patient.objects.get(pk=elsewhere_same_mobile.patient_id)
    assert restored.sms_consent is True and restored.sms_opted_out_at is None


def test_help_names_the_clinic_whose_number_was_texted(client, plan, elsewhere_same_mobile):
    (text,) = twiml_messages(
        signed_post(client, "twilio-inbound", inbound_params("HELP", to=OWN_NUMBER))
    )
    assert "Lakeside Clinic" in text and CLINIC_NAME not in text


def test_a_signature_over_a_url_with_a_query_string_is_accepted(client, sent_sms):
    path = reverse("twilio-status") + "?attempt=2"
    params = status_params("delivered")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(absolute(path), params)

    response = client.post(path, params, headers={"X-Twilio-Signature": signature})

    assert response.status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.delivery_status == "delivered"
