"""SMS backends: Twilio for production, a file/console one for `make run`, memory for tests."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from backend.reminders.channels import DeliveryError, OutgoingSms

log = logging.getLogger(__name__)


class BaseSmsBackend:
    name = "base"

    def send(self, message: OutgoingSms) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class FileBackend(BaseSmsBackend):
    """Writes each text as a JSON file in OUTBOX_DIR/sms and logs it: what `make run` uses."""

    name = "file"

    def send(self, message: OutgoingSms) -> str:
        directory = Path(settings.OUTBOX_DIR) / "sms"
        directory.mkdir(parents=True, exist_ok=True)
        message_id = f"file-{uuid.uuid4().hex[:16]}"
        stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
        payload = {"id": message_id, "to": message.to, "body": message.body, "at": stamp}
        (directory / f"{stamp}-{message_id}.json").write_text(json.dumps(payload, indent=2))
        log.info("SMS for reminder %s written to %s", message.reminder_id, directory)
        return message_id


class MemoryBackend(BaseSmsBackend):
    """Keeps texts in `MemoryBackend.outbox` (a class attribute, shared like Django's locmem)."""

    name = "memory"
    outbox: list[OutgoingSms] = []
    _lock = threading.Lock()

    def send(self, message: OutgoingSms) -> str:
        with self._lock:
            self.outbox.append(message)
        return f"mem-{uuid.uuid4().hex[:16]}"


# Twilio error codes that no retry can fix.
# https://www.twilio.com/docs/api/errors/21211 (invalid To), 21610 (recipient replied STOP),
# 21614 (not a mobile number), 21408 (region not enabled), 30003-30007 carrier rejections.
PERMANENT_TWILIO_CODES = {21211, 21408, 21610, 21612, 21614, 30003, 30004, 30005, 30006, 30007}


class TwilioBackend(BaseSmsBackend):
    """The official Twilio SDK; the test settings point it at a local server."""

    name = "twilio"

    def __init__(self) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            http_client=TwilioHttpClient(timeout=10),
        )
        base = test_base_url()
        if base:
            self.client.api.base_url = base.rstrip("/")

    def send(self, message: OutgoingSms) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        kwargs = {"to": message.to, "body": message.body}
        if message.sender:
            # Replies (STOP, START, HELP) then reach the clinic that sent the text.
            kwargs["from_"] = message.sender
        elif settings.TWILIO_MESSAGING_SERVICE_SID:
            kwargs["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        else:
            kwargs["from_"] = settings.TWILIO_FROM_NUMBER
        if message.status_callback:
            kwargs["status_callback"] = message.status_callback
        try:
            created = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            # 401/403 are our credentials (rotated token, suspended account): fix and retry, do
            # not fail every reminder for good. 429 is a rate limit.
            transient_4xx = {401, 403, 429}
            permanent = exc.code in PERMANENT_TWILIO_CODES or (
                400 <= exc.status < 500 and exc.status not in transient_4xx
            )
            raise DeliveryError(
                f"Twilio {exc.status} error {exc.code}: {exc.msg}",
                permanent=permanent,
                code=str(exc.code),
            ) from exc
        except (TwilioException, OSError) as exc:
            raise DeliveryError(f"Twilio unreachable: {exc}") from exc
        return created.sid


def test_base_url() -> str:
    """Where tests send Twilio's requests; production settings have no such setting, so the SDK
    talks to Twilio itself."""
    return getattr(settings, "TWILIO_API_BASE_URL", "")


_backends: dict[str, BaseSmsBackend] = {}


def get_sms_backend() -> BaseSmsBackend:
    """One backend instance per configured class and process: the Twilio client keeps its HTTP
    session (and connection pool) across the messages of a batch."""
    path = settings.SMS_BACKEND
    key = "|".join(
        (
            path,
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            test_base_url(),
        )
    )
    if key not in _backends:
        _backends[key] = import_string(path)()
    return _backends[key]
