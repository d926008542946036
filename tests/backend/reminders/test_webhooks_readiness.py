"""A text reply YES (or READY) confirms readiness for the next session, without taking YES away
from Twilio's opt-in keywords for a patient who opted out."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.patients.models import Patient
from backend.plans import readiness
from backend.plans.models import SessionReadiness
from backend.reminders.sms_text import is_gsm7, sms_segments
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
    assert "confirmada" in reply and is_gsm7(reply)


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
