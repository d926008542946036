"""Provider stand-ins for the fault bench: each accepted message is one line appended to the
file named by FAULTS_PROVIDER_LOG (shared by every worker process; O_APPEND writes of one short
line are atomic), after FAULTS_SEND_LATENCY_MS of simulated provider latency.

A line is written only once the "provider" has accepted the message, so a worker killed during
the latency sleep has sent nothing, and one killed after the write has sent it: exactly the
provider's view. Line: pid, process group, channel, reminder id, message id (tab-separated).
"""

from __future__ import annotations

import os
import re
import time
import uuid

from django.core.mail.backends.base import BaseEmailBackend

from backend.reminders.channels.sms import BaseSmsBackend

_REMINDER_IN_MESSAGE_ID = re.compile(r"reminder-(\d+)")


def _latency() -> None:
    ms = float(os.environ.get("FAULTS_SEND_LATENCY_MS", "5"))
    if ms > 0:
        time.sleep(ms / 1000)


def _accept(channel: str, reminder_id: str, message_id: str) -> None:
    line = f"{os.getpid()}\t{os.getpgid(0)}\t{channel}\t{reminder_id}\t{message_id}\n"
    fd = os.open(os.environ["FAULTS_PROVIDER_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        for message in email_messages:
            _latency()
            message_id = str(message.extra_headers.get("Message-ID", ""))
            found = _REMINDER_IN_MESSAGE_ID.search(message_id)
            _accept("email", found.group(1) if found else "?", message_id)
        return len(email_messages)


class SmsBackend(BaseSmsBackend):
    name = "faults"

    def send(self, message) -> str:
        _latency()
        sid = f"SMfault{uuid.uuid4().hex[:16]}"
        _accept("sms", str(message.reminder_id), sid)
        return sid
