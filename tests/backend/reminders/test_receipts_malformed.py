"""An authenticated email-receipt webhook whose body anymail cannot parse is refused with a 400,
not a 500 (which providers retry for days), and changes nothing. Found by bench/bad_input.py."""

import base64
import json

import pytest

from backend.reminders.models import Reminder

URL = "/webhooks/anymail/postmark/tracking/"
AUTH = "Basic " + base64.b64encode(b"hook:s3cret").decode()
MALFORMED = [
    (b"\xff\xfe\x00B\x00o", "text/plain; charset=utf-16"),  # not UTF-8
    (b"", "application/json"),  # empty
    (b"<Response/>", "text/xml"),  # not JSON
    (b"null", "application/json"),  # JSON, not an object
    (b"[]", "application/json"),
    (json.dumps("Bounce").encode(), "application/json"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
def test_an_unreadable_receipt_is_a_bad_request(client, make_plan, settings, body, content_type):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret", "POSTMARK_SERVER_TOKEN": "test-token"}
    reminder = make_plan().reminders.filter(channel="email").first()
    Reminder.objects.filter(pk=reminder.pk).update(status="sent", provider_message_id="pm-123")

    response = client.generic(
        "POST", URL, data=body, content_type=content_type, HTTP_AUTHORIZATION=AUTH
    )

    assert response.status_code == 400
    reminder.refresh_from_db()
    assert (reminder.status, reminder.last_error) == ("sent", "")
