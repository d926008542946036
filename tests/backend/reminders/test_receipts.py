"""Email receipts through anymail's real Postmark tracking webhook view."""

import base64
import json

import pytest

from backend.reminders.models import Reminder
from tests.factories import SHARED_PATIENT_EMAIL

URL = "/webhooks/anymail/postmark/tracking/"


@pytest.fixture()
def sent_email(make_plan, settings):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret", "POSTMARK_SERVER_TOKEN": "test-token"}
    plan = make_plan()
    reminder = plan.reminders.filter(channel="email").first()
    Reminder.objects.filter(pk=reminder.pk).update(status="sent", provider_message_id="pm-123")
    return reminder


def _post(client, payload, secret="hook:s3cret", url=URL):
    auth = base64.b64encode(secret.encode()).decode()
    return client.post(
        url,
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {auth}",
    )


@pytest.mark.django_db
def test_a_hard_bounce_fails_the_reminder(client, sent_email):
    response = _post(
        client,
        {
            "RecordType": "Bounce",
            "Type": "HardBounce",
            "TypeCode": 1,
            "MessageID": "pm-123",
            "Email": SHARED_PATIENT_EMAIL,
            "BouncedAt": "2026-03-02T15:00:00Z",
            "ID": 42,
        },
    )
    assert response.status_code == 200
    sent_email.refresh_from_db()
    assert sent_email.status == "failed" and sent_email.delivery_status == "bounced"
    assert "postmark" in sent_email.last_error.lower()
    # Recorded through the outbox, with a history row saying what changed.
    latest = sent_email.history.first()
    assert (latest.status, latest.delivery_status) == ("failed", "bounced")


@pytest.mark.django_db
def test_a_delivery_is_recorded(client, sent_email):
    _post(
        client,
        {
            "RecordType": "Delivery",
            "MessageID": "pm-123",
            "Recipient": SHARED_PATIENT_EMAIL,
            "DeliveredAt": "2026-03-02T15:00:00Z",
        },
    )
    sent_email.refresh_from_db()
    assert sent_email.status == "sent" and sent_email.delivery_status == "delivered"


@pytest.mark.django_db
def test_a_webhook_without_the_secret_changes_nothing(client, sent_email):
    response = _post(
        client,
        {"RecordType": "Bounce", "Type": "HardBounce", "MessageID": "pm-123"},
        secret="hook:wrong",
    )
    assert response.status_code in (400, 401, 403)
    sent_email.refresh_from_db()
    assert sent_email.status == "sent"


HARD_BOUNCE = {"RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1, "MessageID": "pm-123"}


@pytest.mark.django_db
def test_without_a_webhook_secret_the_receipt_url_does_not_answer(client, sent_email, settings):
    """anymail alone would accept an unauthenticated post (with a warning): a forged bounce."""
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "test-token"}
    response = _post(client, HARD_BOUNCE, secret="anyone:anything")
    assert response.status_code == 404
    sent_email.refresh_from_db()
    assert sent_email.status == "sent"


@pytest.mark.django_db
@pytest.mark.parametrize("esp", ["mailgun", "sendgrid", "amazon_ses", "no-such-esp"])
def test_providers_the_service_does_not_send_through_are_not_routed(client, sent_email, esp):
    response = _post(client, HARD_BOUNCE, url=f"/webhooks/anymail/{esp}/tracking/")
    assert response.status_code == 404
    sent_email.refresh_from_db()
    assert sent_email.status == "sent"
