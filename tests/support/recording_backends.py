"""Channel backends for fault tests with worker subprocesses: they append one line per send to
the file named by RECORD_FILE (shared across processes) and can be made slow with SLOW_SEND_S,
so a test can kill a worker in the middle of a batch and count what went out."""

from __future__ import annotations

import os
import time
import uuid

from django.core.mail.backends.base import BaseEmailBackend

from backend.reminders.channels import OutgoingSms
from backend.reminders.channels.sms import BaseSmsBackend


def _record(line: str) -> None:
    delay = float(os.environ.get("SLOW_SEND_S", "0"))
    if delay:
        time.sleep(delay)
    with open(os.environ["RECORD_FILE"], "a") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


class RecordingEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        for message in email_messages:
            _record(message.extra_headers["Message-ID"])
        return len(email_messages)


class RecordingSmsBackend(BaseSmsBackend):
    def send(self, message: OutgoingSms) -> str:
        _record(f"sms-{message.reminder_id}")
        return f"rec-{uuid.uuid4().hex[:12]}"
