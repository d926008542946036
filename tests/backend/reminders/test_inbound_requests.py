"""A text reply to a session reminder confirms the next session (C, CONFIRM; CONFIRMO, SI) or asks
to move it (MOVE, R; CAMBIAR), answered in the patient's language; anything else still reaches
the clinic inbox."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.patients.models import Patient
from backend.plans import readiness, session_requests
from backend.plans.models import SessionReadiness, SessionRequest
from backend.reminders.sms_text import is_gsm7
from backend.safety.models import PatientMessage
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


def _spanish(plan) -> None:
    Patient.objects.filter(pk=plan.patient_id).update(language="es")


@pytest.mark.parametrize("word", ["C", "c", "CONFIRM", "Confirm.", "confirmed"])
def test_c_confirms_the_next_session_and_says_so_in_english(client, plan, word):
    session = session_requests.session_for_reply(plan.patient, SUITE_NOW)

    (reply,) = _reply(client, word)

    row = SessionRequest.objects.get()
    assert (row.item, row.kind, row.via, row.status) == (session, "confirm", "sms", "open")
    assert reply.startswith(f"Thank you, {plan.patient.first_name}: we have noted that you will")
    assert is_gsm7(reply)
    assert not PatientMessage.objects.exists()  # a bare confirmation needs nobody


@pytest.mark.parametrize("word", ["CONFIRMO", "Confirmo", "Sí", "si"])
def test_a_spanish_speaking_patient_confirms_with_confirmo_or_si_and_reads_spanish(
    client, plan, word
):
    _spanish(plan)

    (reply,) = _reply(client, word)

    assert SessionRequest.objects.get().kind == "confirm"
    assert reply.startswith(f"Gracias, {plan.patient.first_name}: anotamos que vendra")
    assert "CAMBIAR" in reply and is_gsm7(reply)


@pytest.mark.parametrize("word", ["MOVE", "move", "R", "Reschedule"])
def test_move_asks_to_move_the_next_session_and_reaches_the_inbox(client, plan, word):
    session = session_requests.session_for_reply(plan.patient, SUITE_NOW)

    (reply,) = _reply(client, word)

    row = SessionRequest.objects.get()
    assert (row.item, row.kind, row.via, row.preferred_weekdays) == (
        session,
        "reschedule",
        "sms",
        [],
    )
    assert "your clinic has your request to move your session" in reply
    message = PatientMessage.objects.get()
    assert message.item == session and "Asked to move" in message.body and "by text" in message.body


@pytest.mark.parametrize("word", ["CAMBIAR", "cambiar", "Cambio"])
def test_cambiar_asks_to_move_in_spanish(client, plan, word):
    _spanish(plan)

    (reply,) = _reply(client, word)

    assert SessionRequest.objects.get().kind == "reschedule"
    assert reply.startswith("Gracias") and "cambiar su cita" in reply and is_gsm7(reply)


def test_a_second_move_updates_the_open_request(client, plan):
    _reply(client, "MOVE")
    _reply(client, "R")
    assert SessionRequest.objects.count() == 1


def test_si_inside_the_readiness_window_still_confirms_readiness_first(client, plan, clock):
    dose = plan.items.get(key="dosing-1")
    clock.move_to(dose.start - dt.timedelta(hours=20))
    _spanish(plan)

    _reply(client, "Sí")

    assert readiness.is_confirmed(dose)
    assert SessionReadiness.objects.get(item=dose).via == "sms"
    assert not SessionRequest.objects.exists()


def test_c_with_no_session_ahead_is_the_patients_words_for_the_inbox(client, plan, clock):
    clock.move_to(SUITE_NOW - dt.timedelta(days=30))  # the first session is weeks away

    (reply,) = _reply(client, "C")

    assert not SessionRequest.objects.exists()
    assert PatientMessage.objects.get().body == "C"
    assert "not monitored" in reply


def test_a_longer_text_is_never_taken_for_a_keyword(client, plan):
    (reply,) = _reply(client, "Move it to Friday please")
    assert not SessionRequest.objects.exists()
    assert PatientMessage.objects.get().body == "Move it to Friday please"
    assert "not monitored" in reply


def test_a_shared_number_with_two_patients_sessions_records_nothing(client, plan, clinic):
    sibling = PatientFactory(clinic=clinic, mobile=SHARED_PATIENT_MOBILE, sms_consent=True)
    make_plan(patient=sibling, provider=ProviderFactory(clinic=clinic), now=SUITE_NOW)

    (reply,) = _reply(client, "MOVE")

    assert not SessionRequest.objects.exists()
    assert reply.startswith("We could not tell which session you mean")
