"""A patient's own words by text message: through Twilio's signed webhook into the inbox of the
clinic they texted, answered at once with whom to call, and flagged when they speak of distress;
and the word list's matching rules (find_distress)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse
from twilio.request_validator import RequestValidator

from backend.reminders.links import absolute
from backend.reminders.models import Reminder
from backend.safety.models import Flag, PatientMessage
from backend.safety.services import find_distress
from tests.backend.reminders.test_webhooks import inbound_params
from tests.factories import (
    SHARED_CLINIC_NAME,
    SHARED_PATIENT_MOBILE,
    ClinicFactory,
    PatientFactory,
    ProviderFactory,
    plan_a_week_ahead,
)

AUTH_TOKEN = "12345678901234567890123456789012"
CLINIC_NUMBER = "+13125550110"
OTHER_CLINIC_NUMBER = "+13125550111"
STRANGER = "+12125551234"


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.PUBLIC_BASE_URL = "https://aftercare.example.org"


@pytest.fixture()
def two_clinics(plan, clinic):
    """The shared clinic texts from its own number; a second clinic, with its own number, has a
    patient on the same mobile (a family phone)."""
    clinic.sms_from_number = CLINIC_NUMBER
    clinic.save()
    other_clinic = ClinicFactory(name="Lakeside Clinic", sms_from_number=OTHER_CLINIC_NUMBER)
    other = PatientFactory(clinic=other_clinic, mobile=SHARED_PATIENT_MOBILE)
    plan_a_week_ahead(other, ProviderFactory(clinic=other_clinic))
    return other_clinic


def text_in(client, body: str, *, sender: str = SHARED_PATIENT_MOBILE, to: str = CLINIC_NUMBER):
    params = inbound_params(body, sender=sender, to=to)
    path = reverse("twilio-inbound")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(absolute(path), params)
    response = client.post(path, params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    (reply,) = [m.text or "" for m in root.iter("Message")]
    return reply


# --- the inbox and the automatic answer -------------------------------------------------------


@pytest.mark.django_db
def test_a_text_that_is_no_keyword_gets_whom_to_call_and_lands_in_that_clinics_inbox_only(
    client, plan, two_clinics
):
    reply = text_in(client, "feeling a bit low today")

    assert "not monitored" in reply
    assert SHARED_CLINIC_NAME in reply and "(202) 555-0100" in reply
    assert "988" in reply and "911" in reply
    message = PatientMessage.objects.get()
    assert (message.clinic, message.patient, message.plan) == (plan.clinic, plan.patient, plan)
    assert (message.source, message.body, str(message.from_number)) == (
        "sms",
        "feeling a bit low today",
        SHARED_PATIENT_MOBILE,
    )
    assert message.distress_words == [] and message.read_at is None
    assert not Flag.objects.exists()


@pytest.mark.django_db
def test_the_same_mobile_texting_the_other_clinic_lands_only_there(client, plan, two_clinics):
    reply = text_in(client, "running late, sorry", to=OTHER_CLINIC_NUMBER)

    assert "Lakeside Clinic" in reply and SHARED_CLINIC_NAME not in reply
    message = PatientMessage.objects.get()
    assert message.clinic == two_clinics
    assert message.patient.clinic == two_clinics and message.patient != plan.patient


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "word"),
    [
        ("I feel worse", "worse"),
        ("quiero morir", "quiero morir"),
        ("Ayúdenme por favor", "ayúdenme"),
    ],
)
def test_words_of_distress_in_a_text_raise_an_urgent_flag(client, plan, two_clinics, body, word):
    reply = text_in(client, body)

    assert "988" in reply
    message = PatientMessage.objects.get()
    assert message.distress_words == [word]
    flag = Flag.objects.get()
    assert (flag.kind, flag.patient, flag.plan, flag.message) == (
        "urgent",
        plan.patient,
        plan,
        message,
    )
    assert flag.reasons == [f"Words of distress in a text message: {word}"]
    assert flag.alerts.filter(message_kind="provider_urgent_flag", status="scheduled").exists()


@pytest.mark.django_db
def test_a_text_from_an_unknown_number_lands_in_the_inbox_without_a_patient(
    client, plan, two_clinics
):
    reply = text_in(client, "Is this the clinic?", sender=STRANGER)

    assert "not monitored" in reply and SHARED_CLINIC_NAME in reply
    message = PatientMessage.objects.get()
    assert (message.clinic, message.patient, message.plan) == (plan.clinic, None, None)
    assert str(message.from_number) == STRANGER


@pytest.mark.django_db
def test_a_spanish_speaking_patient_is_answered_in_spanish(client, plan, two_clinics):
    patient = plan.patient
    patient.language = "es"
    patient.save()

    reply = text_in(client, "me siento un poco mal hoy")

    assert "no se atiende" in reply and "not monitored" not in reply
    assert f"Llame a {SHARED_CLINIC_NAME} al (202) 555-0100" in reply
    assert "En una crisis llame o escriba al 988 (marque 2), o llame al 911." in reply


@pytest.mark.django_db
def test_a_patient_who_texts_stop_after_a_distress_text_does_not_silence_the_clinicians_alerts(
    client, plan, two_clinics
):
    text_in(client, "I want to die")
    flag = Flag.objects.get()

    path = reverse("twilio-inbound")
    params = {"From": SHARED_PATIENT_MOBILE, "To": CLINIC_NUMBER, "Body": "STOP"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(absolute(path), params)
    assert client.post(path, params, headers={"X-Twilio-Signature": signature}).status_code == 200

    assert plan.reminders.filter(audience="patient", channel="sms", status="scheduled").count() == 0
    alerts = Reminder.objects.filter(flag=flag)
    assert alerts.filter(channel="sms").exists()
    assert set(alerts.values_list("status", flat=True)) == {"scheduled"}


# --- matching words of distress ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Suicide", ["suicide"]),
        ("I feel WORSE today", ["worse"]),
        ("AYUDENME", ["ayúdenme"]),
        ("ayúdenme", ["ayúdenme"]),
        ("No puedo mas", ["no puedo más"]),
        ("I can\u2019t go on", ["can't go on"]),
        ("I want to die, it's hopeless", ["want to die", "hopeless"]),
        ("feeling suicidal", ["suicidal"]),  # not also "suicide" or the Spanish "suicida"
        ("quiero morirme", ["quiero morirme"]),  # "quiero morir" ends mid-word here
    ],
)
def test_find_distress_matches_whole_words_whatever_the_case_and_accents(text, found):
    assert find_distress(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "Symptoms may worsen before they improve",  # "worse" only as a whole word
        "peores noches",
        "emergencyroom",
        "a bit low, nothing else",
        "",
    ],
)
def test_find_distress_ignores_words_that_only_contain_a_listed_word(text):
    assert find_distress(text) == []
