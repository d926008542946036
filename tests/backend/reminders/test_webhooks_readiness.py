"""A text reply YES (or READY) confirms readiness for the next session, without taking YES away
from Twilio's opt-in keywords for a patient who opted out."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from backend.patients.models import Patient
from backend.plans import readiness
from backend.plans.models import SessionReadiness
from backend.reminders import webhooks
from backend.reminders.sms_text import is_gsm7, sms_segments, to_gsm_friendly
from backend.safety.models import Flag, PatientMessage
from tests.backend.reminders.test_webhooks import inbound_params, signed_post, twiml_messages
from tests.factories import SHARED_PATIENT_MOBILE, PatientFactory, ProviderFactory, make_plan
from tests.support.clock import SUITE_NOW

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = "12345678901234567890123456789012"
    settings.PUBLIC_BASE_URL = "https://aftercare.example.org"


def _reply(client, body: str) -> list[str]:
    response = signed_post(client, "twilio-inbound", inbound_params(body))
    assert response.status_code == 200
    return twiml_messages(response)


@pytest.fixture()
def day_before(plan, clock):
    dose = plan.items.get(key="dosing-1")
    clock.move_to(dose.start - dt.timedelta(hours=20))
    return dose


@pytest.mark.parametrize("word", ["YES", "yes", "Yes.", "READY", "ready!"])
def test_yes_confirms_the_next_session_and_says_so(client, plan, day_before, word):
    (reply,) = _reply(client, word)

    assert readiness.is_confirmed(day_before)
    assert SessionReadiness.objects.get(item=day_before).via == "sms"
    assert "confirmed" in reply and plan.patient.first_name in reply
    assert f"{day_before.local_date.day} " in reply  # the session's date, as the patient reads it
    assert PatientMessage.objects.count() == 0
    assert is_gsm7(reply) and sms_segments(reply) == 1
    patient = Patient.objects.get(pk=plan.patient_id)
    assert patient.may_sms and patient.sms_opted_out_at is None


def test_a_spanish_speaking_patient_answers_si_and_reads_spanish(client, plan, day_before):
    Patient.objects.filter(pk=plan.patient_id).update(language="es")

    (reply,) = _reply(client, "Sí")

    assert readiness.is_confirmed(day_before)
    assert "queda todo listo para su cita" in reply and is_gsm7(reply)


@pytest.mark.parametrize(
    "reply",
    [
        lambda: webhooks.ready_reply(first_name="Ana", when="lun 2 de mar, 9:00", contact="X"),
        lambda: webhooks.unclear_reply(contact="X"),
        lambda: webhooks.not_ready_reply(contact="X"),
        lambda: webhooks.help_reply(contact="X"),
    ],
    ids=["ready", "unclear", "not ready", "help"],
)
def test_spanish_replies_lose_no_accent_in_gsm7(reply):
    """A reply goes out in GSM-7: words needing á, í, ó or ú would arrive without them."""
    with translation.override("es"):
        text = reply()
    with translation.override("en"):
        english = reply()
    assert text != english, "the reply has no Spanish in locale/es"
    assert to_gsm_friendly(text) == text


@pytest.mark.parametrize(("language", "word"), [("en", "NO"), ("en", "no."), ("es", "No")])
def test_no_reaches_the_inbox_as_a_readiness_answer_and_says_who_will_call(
    client, plan, day_before, language, word
):
    Patient.objects.filter(pk=plan.patient_id).update(language=language)

    (reply,) = _reply(client, word)

    message = PatientMessage.objects.get()
    assert (message.source, message.item) == ("readiness", day_before)
    assert message.patient == plan.patient
    assert "NOT confirmed" in message.body and "by text" in message.body
    row = SessionReadiness.objects.get(item=day_before)
    assert (row.via, row.confirmed_at) == ("sms", None)
    assert not readiness.is_confirmed(day_before)
    expected = {
        "en": "Thank you. Your care team will call you before your session.",
        "es": "Gracias. Su equipo de salud se va a comunicar con usted antes de su cita.",
    }[language]
    assert reply.startswith(expected) and "not monitored" not in reply
    assert plan.clinic.phone.as_national in reply
    assert is_gsm7(reply) and sms_segments(reply) == 1


def test_no_after_yes_withdraws_the_confirmation(client, plan, day_before):
    _reply(client, "YES")
    assert readiness.is_confirmed(day_before)

    _reply(client, "NO")

    assert not readiness.is_confirmed(day_before)
    assert PatientMessage.objects.get().source == "readiness"


def test_no_with_no_session_ahead_is_the_patients_words(client, plan):
    (reply,) = _reply(client, "NO")  # a week before: nothing within 72 h
    assert "not monitored" in reply
    message = PatientMessage.objects.get()
    assert (message.source, message.body) == ("sms", "NO")
    assert SessionReadiness.objects.count() == 0


def test_words_of_distress_with_a_no_take_the_urgent_path(client, plan, day_before):
    (reply,) = _reply(client, "no I want to kill myself")
    assert "not monitored" in reply and "988" in reply

    message = PatientMessage.objects.get()
    assert message.source == "sms" and message.distress_words
    assert Flag.objects.filter(kind=Flag.Kind.URGENT).exists()
    assert SessionReadiness.objects.count() == 0


def test_yes_from_a_patient_who_opted_out_is_the_opt_in_it_always_was(client, plan, day_before):
    Patient.objects.filter(pk=plan.patient_id).update(
        sms_opted_out_at=day_before.start - dt.timedelta(days=3), sms_consent=False
    )

    assert _reply(client, "YES") == []

    patient = Patient.objects.get(pk=plan.patient_id)
    assert patient.sms_opted_out_at is None and patient.may_sms
    assert not readiness.is_confirmed(day_before)


def test_yes_with_no_session_ahead_changes_nothing_and_sends_nothing(client, plan):
    assert _reply(client, "YES") == []  # today (a week before) nothing is within 72 h
    assert SessionReadiness.objects.count() == 0 and PatientMessage.objects.count() == 0


def test_ready_with_no_session_ahead_reaches_the_inbox(client, plan):
    (reply,) = _reply(client, "READY")
    assert "not monitored" in reply
    assert PatientMessage.objects.get().body == "READY"
    assert SessionReadiness.objects.count() == 0


def test_a_shared_number_with_two_sessions_to_confirm_confirms_neither(
    client, plan, clinic, day_before
):
    other = PatientFactory(clinic=clinic, mobile=SHARED_PATIENT_MOBILE)
    other_plan = make_plan(
        patient=other, provider=ProviderFactory(clinic=clinic), start_date=plan.start_date,
        now=SUITE_NOW,
    ).plan  # fmt: skip
    other_dose = other_plan.items.get(key="dosing-1")
    assert readiness.session_to_confirm(other, day_before.start - dt.timedelta(hours=20))

    (reply,) = _reply(client, "YES")

    assert "link" in reply
    assert not readiness.is_confirmed(day_before) and not readiness.is_confirmed(other_dose)
