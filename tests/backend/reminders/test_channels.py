"""The channels against real parts: SMTP to a local aiosmtpd server, Twilio's SDK to a local API.

Nothing here is mocked between our code and the wire: Django's SMTP backend speaks SMTP to a real
server, and the official `twilio` SDK sends real HTTP requests to a server that checks them the
way Twilio does (see servers.py).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse
from icalendar import Calendar

from backend.clinics.models import Clinic, Provider
from backend.patients.models import Patient
from backend.plans.models import PlanItem
from backend.reminders import compose, delivery
from backend.reminders.channels import DeliveryError, OutgoingEmail, OutgoingSms
from backend.reminders.channels.email import send_email
from backend.reminders.channels.sms import TwilioBackend, get_sms_backend
from backend.reminders.ics import item_uid
from backend.reminders.links import UNSUBSCRIBE_MAX_AGE, absolute, read_token
from backend.reminders.models import DeliveryAttempt, Reminder
from tests.backend.reminders.servers import FakeTwilio, SmtpServer, free_port, smtp_settings
from tests.factories import (
    SHARED_CLINIC_EMAIL as CLINIC_EMAIL,
)
from tests.factories import (
    SHARED_PATIENT_MOBILE as PATIENT_MOBILE,
)
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "f" * 32
FROM_NUMBER = "+15005550006"
NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def pending(plan, *, channel: str, kind: str | None = None, item_kind: str | None = None):
    rows = plan.reminders.filter(audience="patient", channel=channel, status="scheduled")
    if kind:
        rows = rows.filter(message_kind=kind)
    if item_kind:
        rows = rows.filter(item__kind=item_kind)
    reminder = rows.select_related("item", "plan__patient", "plan__clinic").first()
    assert reminder is not None, f"the plan has no pending {channel} {kind or ''} reminder"
    return reminder


def queue(reminder: Reminder) -> None:
    Reminder.objects.filter(pk=reminder.pk).update(status=Reminder.Status.QUEUED)


# --- Email over real SMTP ---------------------------------------------------------------------


@pytest.fixture()
def smtp():
    with SmtpServer() as server, override_settings(**smtp_settings(server)):
        yield server


def _parts(message):
    return {part.get_content_type(): part for part in message.walk()}


def _content(part) -> str:
    return part.get_content().replace("\r\n", "\n").strip()


def test_session_reminder_email_arrives_whole_over_smtp(smtp, plan):
    reminder = pending(plan, channel="email", kind="preparation_48h", item_kind="dosing")
    rendered = compose.render(reminder)

    message_id = send_email(compose.build_email(reminder, rendered, now=NOW))

    assert len(smtp.received) == 1
    got = smtp.received[0]
    assert got.rcpt_tos == [plan.patient.email]
    assert got.mail_from == CLINIC_EMAIL
    msg = got.message
    assert msg["Subject"] == rendered.subject
    assert msg["To"] == plan.patient.email
    assert msg["Message-ID"] == message_id
    assert f"reminder-{reminder.pk}" in message_id
    # Text and HTML alternatives, each carrying the rendered words.
    parts = _parts(msg)
    assert _content(parts["text/plain"]) == rendered.text.strip()
    assert _content(parts["text/html"]) == rendered.html.strip()
    # RFC 2369 / RFC 8058 headers: a signed link on our unsubscribe endpoint, one-click POST.
    # (A long value is folded onto the next line; unfolding leaves the leading space.)
    unsubscribe = re.fullmatch(r"<(.+)>", msg["List-Unsubscribe"].strip())
    assert unsubscribe
    token = unsubscribe[1].rstrip("/").rsplit("/", 1)[1]
    assert unsubscribe[1] == absolute(reverse("unsubscribe", args=[token]))
    assert read_token("unsubscribe", token, max_age=UNSUBSCRIBE_MAX_AGE) == {
        "p": plan.patient_id,
        "c": "email",
    }
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The session invitation.
    ics_parts = [p for p in msg.walk() if p.get_filename() == "session.ics"]
    assert len(ics_parts) == 1
    assert ics_parts[0].get_content_type() == "text/calendar"
    # RFC 6047: the MIME method parameter must match the calendar's METHOD.
    assert ics_parts[0].get_param("method") == "REQUEST"
    calendar = Calendar.from_ical(ics_parts[0].get_payload(decode=True))
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == item_uid(reminder.item)
    assert event.decoded("DTSTART") == reminder.item.start
    assert str(calendar["METHOD"]) == "REQUEST"


def test_non_session_reminder_has_headers_but_no_invitation(smtp, plan):
    reminder = pending(plan, channel="email", kind="assessment_prompt")
    assert reminder.item.kind == PlanItem.Kind.ASSESSMENT

    send_email(compose.build_email(reminder, compose.render(reminder), now=NOW))

    msg = smtp.received[0].message
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert not [p for p in msg.walk() if p.get_content_type() == "text/calendar"]


def test_delivered_email_records_the_message_id_the_server_saw(smtp, plan):
    reminder = pending(plan, channel="email", kind="preparation_48h")
    queue(reminder)

    outcome = delivery.deliver(reminder.pk, now=reminder.send_at)

    assert outcome.status == "sent"
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.SENT
    assert reminder.provider_message_id == smtp.received[0].message["Message-ID"]
    attempt = DeliveryAttempt.objects.get(reminder=reminder)
    assert attempt.success
    assert attempt.provider_message_id == reminder.provider_message_id


def _email(to: str) -> OutgoingEmail:
    return OutgoingEmail(to=to, subject="Hello", text="Hi", html="<p>Hi</p>", reminder_id=1)


def test_smtp_550_for_the_recipient_is_a_permanent_failure(smtp):
    smtp.refuse["gone@example.com"] = "550 5.1.1 <gone@example.com>: user unknown"

    with pytest.raises(DeliveryError) as caught:
        send_email(_email("gone@example.com"))

    assert caught.value.permanent is True
    assert "550" in str(caught.value)
    assert smtp.received == []


def test_smtp_451_for_the_recipient_is_transient(smtp):
    smtp.refuse["busy@example.com"] = "451 4.7.1 greylisted, try again later"

    with pytest.raises(DeliveryError) as caught:
        send_email(_email("busy@example.com"))

    assert caught.value.permanent is False
    assert smtp.received == []


def test_hard_bounce_fails_the_reminder_at_once(smtp, plan):
    reminder = pending(plan, channel="email", kind="preparation_48h")
    smtp.refuse[plan.patient.email] = "550 5.1.1 user unknown"
    queue(reminder)

    assert delivery.deliver(reminder.pk, now=reminder.send_at).status == "failed"

    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.FAILED
    assert reminder.status_reason == "permanent error"
    assert DeliveryAttempt.objects.get(reminder=reminder).permanent


def test_greylisted_email_is_retried_not_failed(smtp, plan):
    reminder = pending(plan, channel="email", kind="preparation_48h")
    smtp.refuse[plan.patient.email] = "451 4.7.1 try again later"
    queue(reminder)

    assert delivery.deliver(reminder.pk, now=reminder.send_at).status == "retry_soon"

    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.QUEUED
    assert "451" in reminder.last_error


def test_email_server_down_is_transient(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False

    with pytest.raises(DeliveryError) as caught:
        send_email(_email("someone@example.com"))

    assert caught.value.permanent is False


# --- SMS through the real Twilio SDK ----------------------------------------------------------


@pytest.fixture()
def twilio():
    with (
        FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as fake,
        override_settings(**fake.settings(FROM_NUMBER)),
    ):
        yield fake


def _sms(to: str = PATIENT_MOBILE) -> OutgoingSms:
    return OutgoingSms(
        to=to, body="Reminder", reminder_id=1, status_callback="https://x.example/cb/"
    )


def test_twilio_backend_sends_through_the_sdk_to_the_messages_resource(twilio, plan):
    reminder = pending(plan, channel="sms")
    outgoing = compose.build_sms(reminder, compose.render(reminder))

    backend = get_sms_backend()
    assert isinstance(backend, TwilioBackend)
    sid = backend.send(outgoing)

    assert len(twilio.requests) == 1
    request = twilio.requests[0]
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.form["To"] == PATIENT_MOBILE
    assert request.form["From"] == FROM_NUMBER
    assert "MessagingServiceSid" not in request.form
    assert request.form["Body"] == outgoing.body
    assert request.form["StatusCallback"] == absolute(reverse("twilio-status"))
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert sid == twilio.created[0]["sid"]
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)


def test_a_clinic_with_its_own_number_texts_from_it_so_replies_reach_it(twilio, plan):
    plan.clinic.sms_from_number = "+13125550111"
    plan.clinic.save(update_fields=["sms_from_number"])
    reminder = pending(plan, channel="sms")

    TwilioBackend().send(compose.build_sms(reminder, compose.render(reminder)))

    assert twilio.requests[0].form["From"] == "+13125550111"


def test_messaging_service_replaces_the_from_number(twilio, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "1" * 32

    TwilioBackend().send(_sms())

    form = twilio.requests[0].form
    assert form["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in form


def test_delivered_sms_records_twilios_sid(twilio, plan):
    reminder = pending(plan, channel="sms")
    queue(reminder)

    assert delivery.deliver(reminder.pk, now=reminder.send_at).status == "sent"

    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.SENT
    assert reminder.provider_message_id == twilio.created[0]["sid"]
    attempt = DeliveryAttempt.objects.get(reminder=reminder)
    assert attempt.backend == "TwilioBackend"
    assert attempt.provider_message_id == twilio.created[0]["sid"]


def test_wrong_credentials_are_refused_by_the_fake_and_raise(twilio, settings):
    """The server really checks auth: a wrong token gets Twilio's 401 (so the happy path above
    proves the SDK sent the right one)."""
    settings.TWILIO_AUTH_TOKEN = "wrong"

    with pytest.raises(DeliveryError) as caught:
        TwilioBackend().send(_sms())

    assert caught.value.code == "20003"
    assert twilio.created == []


def test_invalid_number_error_21211_is_permanent(twilio, plan):
    twilio.script.append(
        FakeTwilio.error(400, 21211, "The 'To' number +12025550143 is not a valid phone number.")
    )
    with pytest.raises(DeliveryError) as caught:
        TwilioBackend().send(_sms())
    assert caught.value.permanent is True
    assert caught.value.code == "21211"

    reminder = pending(plan, channel="sms")
    twilio.script.append(FakeTwilio.error(400, 21211, "not a valid phone number"))
    queue(reminder)
    assert delivery.deliver(reminder.pk, now=reminder.send_at).status == "failed"
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.FAILED
    assert "21211" in reminder.last_error


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(FakeTwilio.error(500, 20500, "Internal Server Error"), id="500-json"),
        pytest.param((503, "<html>Service Unavailable</html>"), id="503-html"),
        pytest.param(FakeTwilio.error(429, 20429, "Too Many Requests"), id="429"),
    ],
)
def test_server_errors_and_rate_limits_are_transient(twilio, plan, answer):
    twilio.script.append(answer)
    with pytest.raises(DeliveryError) as caught:
        TwilioBackend().send(_sms())
    assert caught.value.permanent is False

    reminder = pending(plan, channel="sms")
    twilio.script.append(answer)
    queue(reminder)
    assert delivery.deliver(reminder.pk, now=reminder.send_at).status == "retry_soon"
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.QUEUED
    assert not DeliveryAttempt.objects.get(reminder=reminder).permanent


def test_twilio_unreachable_is_transient(settings):
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = ACCOUNT_SID, AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(DeliveryError) as caught:
        TwilioBackend().send(_sms())

    assert caught.value.permanent is False


# --- Numbers are E.164 ------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["12345", "not a number", "+1 555", "+44 7700 900123"])
def test_invalid_mobile_is_rejected_naming_the_field(clinic, number):
    patient = PatientFactory(clinic=clinic)
    patient.mobile = number

    with pytest.raises(ValidationError) as caught:
        patient.full_clean()

    assert "mobile" in caught.value.message_dict
    assert set(caught.value.message_dict) == {"mobile"}


def test_valid_mobile_is_stored_as_e164(clinic):
    patient = PatientFactory(clinic=clinic)
    patient.mobile = "(415) 555-0112"  # national format in the default region (US)
    patient.full_clean()
    patient.save()

    patient.refresh_from_db()
    assert str(patient.mobile) == "+14155550112"


@pytest.mark.parametrize(
    ("model", "field"), [(Clinic, "phone"), (Clinic, "sms_from_number"), (Provider, "mobile")]
)
def test_other_phone_fields_are_validated_too(model, field):
    with pytest.raises(ValidationError) as caught:
        model(**{field: "555-CALL-NOW"}).clean_fields()
    assert field in caught.value.message_dict


def test_patient_number_in_outgoing_sms_is_e164(plan):
    reminder = pending(plan, channel="sms")
    assert compose.build_sms(reminder, compose.render(reminder)).to == PATIENT_MOBILE
    assert Patient.objects.get(pk=plan.patient_id).mobile.as_e164 == PATIENT_MOBILE


@pytest.mark.django_db
def test_a_batch_of_emails_shares_one_smtp_session(smtp, make_plan):
    from backend.reminders import dispatch

    plan = make_plan()
    now = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
    ids = list(
        plan.reminders.filter(channel="email", audience="patient")
        .order_by("id")
        .values_list("id", flat=True)[:3]
    )
    Reminder.objects.filter(id__in=ids).update(send_at=now, not_after=now + dt.timedelta(hours=6))
    claimed = [i for i in dispatch.claim_due(now=now) if i in ids]
    outcomes = delivery.deliver_many(claimed, now=now)
    assert [outcomes[i].status for i in claimed] == ["sent"] * 3
    assert len(smtp.received) == 3 and len(smtp.sessions) == 1
