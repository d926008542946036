"""Email through Django's email API, so SMTP, anymail providers and file backends all fit."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import smtplib
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.filebased import EmailBackend as DjangoFileBackend
from django.core.mail.message import make_msgid
from django.core.mail.utils import DNS_NAME  # looked up once per process, not per message

from backend.reminders.channels import DeliveryError, OutgoingEmail

log = logging.getLogger(__name__)


class FileAndLogBackend(DjangoFileBackend):
    """Django's file backend writing to OUTBOX_DIR/email, plus one log line per message (the
    reminder it is for, never the address or the words: logs are read more widely than mail)."""

    def __init__(self, *args, **kwargs):
        directory = Path(settings.OUTBOX_DIR) / "email"
        directory.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("file_path", str(directory))
        super().__init__(*args, **kwargs)

    def send_messages(self, email_messages):
        for _ in email_messages:
            log.info("Email written to %s", self.file_path)
        return super().send_messages(email_messages)


_batch_connection: contextvars.ContextVar = contextvars.ContextVar("email_connection", default=None)


@contextlib.contextmanager
def batch_connection():
    """One connection to the email server for a whole batch of sends, opened on first use.

    A new SMTP session per message costs a TCP and TLS handshake each; a batch of 25 reuses one.
    After a failed send the connection is closed, and the next message opens a fresh one.
    """
    connection = get_connection(fail_silently=False)
    token = _batch_connection.set(connection)
    try:
        yield connection
    finally:
        _batch_connection.reset(token)
        with contextlib.suppress(Exception):
            connection.close()


def _drop_batch_connection() -> None:
    connection = _batch_connection.get()
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.close()


def send_email(message: OutgoingEmail) -> str:
    """Send one email; return the provider's message id (anymail) or the Message-ID header."""
    headers = dict(message.headers)
    # Our own Message-ID, so the id we record is the one the recipient's server sees.
    headers.setdefault(
        "Message-ID", make_msgid(idstring=f"reminder-{message.reminder_id}", domain=DNS_NAME)
    )
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.text,
        from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
        to=[message.to],
        headers=headers,
    )
    email.attach_alternative(message.html, "text/html")
    for filename, content, mimetype in message.attachments:
        email.attach(filename, content, mimetype)
    try:
        batch = _batch_connection.get()
        connection = batch or get_connection(fail_silently=False)
        try:
            if batch is not None:
                # Opened here, not inside send_messages, so the backend keeps it open for the
                # next message (a backend closes what send_messages itself opened).
                batch.open()
            connection.send_messages([email])
        except Exception:
            _drop_batch_connection()  # the next message of the batch opens a fresh session
            raise
    except smtplib.SMTPRecipientsRefused as exc:
        # 5xx for the recipient is a hard bounce at submission time.
        codes = [code for code, _ in exc.recipients.values()]
        raise DeliveryError(
            f"recipient refused: {exc.recipients}", permanent=all(c >= 500 for c in codes)
        ) from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=exc.smtp_code >= 500
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"email server unreachable: {exc}") from exc
    except Exception as exc:
        # anymail raises AnymailRecipientsRefused / AnymailAPIError; treat refused as permanent.
        name = exc.__class__.__name__
        if name.startswith("Anymail"):
            raise DeliveryError(f"{name}: {exc}", permanent="Refused" in name) from exc
        raise
    status = getattr(email, "anymail_status", None)
    if status is not None and getattr(status, "message_id", None):
        return str(status.message_id)
    return headers["Message-ID"]
