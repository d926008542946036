"""Logs carry a request id and a task id, and never a patient's name, address, number, link token
or the words of a message (backend/core/logging.py).

The main test sends every kind of reminder our protocols, the safety loop and the digest write, on
both channels, through a real worker on a real broker, SMTP to a local server and the real Twilio
SDK to a local API, with a patient's distress reply coming in through the signed webhook, and
scans every line that was logged meanwhile: the raw messages (what our code and the libraries
wrote) and the formatted JSON lines (what production would ship).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time

import pytest
from django.test import override_settings
from twilio.request_validator import RequestValidator

from backend.core.logging import RedactingJsonFormatter, TraceContext
from backend.protocols.library import install_builtin_protocols
from backend.protocols.models import Protocol
from backend.reminders import links
from backend.reminders.models import Reminder, ShortLink
from backend.reminders.tasks import create_digests, dispatch_due
from tests import factories
from tests.backend.reminders.servers import FakeTwilio, SmtpServer, smtp_settings
from tests.support import role_groups
from tests.support.clock import SUITE_NOW

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "e" * 32
FROM_NUMBER = "+15005550006"
REPLY = "everything feels hopeless tonight, the heron by the quarry gate"


class Capture(logging.Handler):
    """Every record, raw and as the production JSON formatter writes it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.addFilter(TraceContext())
        self.json = RedactingJsonFormatter()
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.json.format(record))

    def raw_texts(self) -> list[str]:
        texts = []
        for record in self.records:
            text = record.getMessage()
            if record.exc_info:
                text += logging.Formatter().formatException(record.exc_info)
            texts.append(text + " " + " ".join(str(v) for v in vars(record).values()))
        return texts


@pytest.fixture()
def channels():
    with (
        SmtpServer() as smtp,
        FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as twilio,
        override_settings(**smtp_settings(smtp), **twilio.settings(FROM_NUMBER)),
    ):
        yield smtp, twilio


def _patients_with_a_plan_of_every_protocol(clinic, provider):
    install_builtin_protocols(Protocol)
    patients = []
    library = Protocol.objects.filter(clinic__isnull=True).order_by("slug", "-version")
    latest = {p.slug: p for p in reversed(list(library))}
    for n, protocol in enumerate(sorted(latest.values(), key=lambda p: p.slug)):
        patient = factories.PatientFactory(
            clinic=clinic,
            first_name=f"Marisol{n}",
            last_name=f"Quenby-Fairweather{n}",
            email=f"marisol.quenby{n}@example.org",
            mobile=f"+1202555{n + 170:04d}",
            time_zone="America/New_York",
        )
        factories.make_plan(
            patient=patient,
            provider=provider,
            protocol_version=protocol,
            start_date=(SUITE_NOW + dt.timedelta(days=2)).date(),
            now=SUITE_NOW,
        )
        patients.append(patient)
    return patients


def _reply_in_distress(client, patient) -> None:
    """A patient's text arrives the way Twilio posts it: signed, to the inbound webhook."""
    url = "http://testserver/webhooks/twilio/inbound/"
    params = {
        "MessageSid": "SM" + "a" * 32,
        "AccountSid": ACCOUNT_SID,
        "From": str(patient.mobile),
        "To": FROM_NUMBER,
        "Body": REPLY,
    }
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    with override_settings(PUBLIC_BASE_URL="http://testserver"):
        response = client.post(url, params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200, response.content


def _send_everything_due(deadline_s: float = 90) -> None:
    pending = Reminder.objects.filter(status__in=Reminder.PENDING, send_at__lte=SUITE_NOW)
    deadline = time.monotonic() + deadline_s
    while pending.exists():
        assert time.monotonic() < deadline, f"{pending.count()} reminders still pending"
        dispatch_due.delay()
        time.sleep(0.5)


@pytest.mark.django_db(transaction=True)
def test_no_log_line_carries_a_patients_data_through_every_kind_on_both_channels(
    celery_app_clean, celery_worker, channels, client
):
    smtp, twilio = channels
    role_groups.restore()
    clinic = factories.ClinicFactory(name="Harbour Light clinic")
    provider = factories.ProviderFactory(clinic=clinic)
    patients = _patients_with_a_plan_of_every_protocol(clinic, provider)
    capture = Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    previous_level, root.level = root.level, logging.INFO
    try:
        _reply_in_distress(client, patients[0])
        create_digests()
        # Everything pending is due now: every kind goes out in one run.
        Reminder.objects.filter(status=Reminder.Status.SCHEDULED).update(
            send_at=SUITE_NOW - dt.timedelta(minutes=1), not_after=SUITE_NOW + dt.timedelta(days=1)
        )
        _send_everything_due()
    finally:
        root.removeHandler(capture)
        root.level = previous_level

    attempted = Reminder.objects.exclude(status=Reminder.Status.CANCELLED)
    kinds = set(attempted.values_list("message_kind", "channel"))
    sent = set(attempted.filter(status="sent").values_list("message_kind", "channel"))
    # Not vacuous: patient and provider kinds, both channels, the safety loop's alerts.
    assert {channel for _, channel in sent} == {"email", "sms"}
    assert any(kind.startswith("provider_urgent_flag") for kind, _ in sent), sorted(kinds)
    assert len({kind for kind, _ in sent}) >= 12, sorted(sent)
    assert twilio.requests and smtp.received and capture.records

    secrets = {REPLY, "heron by the quarry gate"}
    for patient in patients:
        secrets |= {patient.first_name, patient.last_name, patient.email, str(patient.mobile)}
        secrets.add(links.patient_schedule_url(patient).rstrip("/").rsplit("/", 1)[-1])
    secrets |= set(ShortLink.objects.values_list("code", flat=True))
    for request in twilio.requests:
        secrets.add(request.form["Body"])
    for received in smtp.received:
        secrets.add(str(received.message["Subject"]))
        body = received.message.get_body(preferencelist=("plain",)).get_content()
        secrets |= {line.strip() for line in body.splitlines() if len(line.strip()) >= 24}

    raw = capture.raw_texts()
    for secret in sorted(secrets):
        found = [text for text in raw if secret in text]
        assert not found, f"{secret!r} was logged: {found[:2]}"
        assert not [line for line in capture.lines if secret in line], secret

    # Production's lines: one JSON object each, tasks' lines naming their task.
    parsed = [json.loads(line) for line in capture.lines]
    assert all({"time", "level", "name", "message"} <= set(p) for p in parsed)
    assert any(p.get("task_id") for p in parsed), "no line carried a task id"


@pytest.mark.django_db
def test_a_request_carries_its_id_into_its_log_lines_and_its_response(client):
    capture = Capture()
    logging.getLogger().addHandler(capture)
    try:
        # No dispatcher tick yet: /health/ logs a warning while answering.
        offered = client.get("/health/", HTTP_X_REQUEST_ID="clinic-proxy-7f3a9c")
        made_up = client.get("/health/", HTTP_X_REQUEST_ID="bad id; <script>")
    finally:
        logging.getLogger().removeHandler(capture)
    assert offered["X-Request-ID"] == "clinic-proxy-7f3a9c"
    assert made_up["X-Request-ID"] != "bad id; <script>" and len(made_up["X-Request-ID"]) == 32
    ids = [json.loads(line).get("request_id") for line in capture.lines]
    assert "clinic-proxy-7f3a9c" in ids and made_up["X-Request-ID"] in ids


def test_the_json_formatter_redacts_what_code_should_never_have_logged():
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "to %s at %s via /p/%s/", None, None
    )
    record.args = ("someone@example.org", "+12025550188", "eyJwIjo1fQ:1v:abc")
    line = RedactingJsonFormatter().format(record)
    assert "someone@example.org" not in line and "+12025550188" not in line
    assert "eyJwIjo1fQ" not in line and "[email]" in line and "[phone]" in line
