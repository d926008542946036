"""Local stand-ins for the real parts the channels talk to: an SMTP server and Twilio's REST API.

`SmtpServer` is a real `aiosmtpd` server on a free loopback port: Django's SMTP backend speaks
real SMTP to it, and each accepted message is kept as a parsed `email.message.EmailMessage`.
Recipients listed in `refuse` get the given SMTP reply at RCPT TO (e.g. "550 5.1.1 ...").

`FakeTwilio` is an `http.server` in a thread that answers
`POST /2010-04-01/Accounts/{AccountSid}/Messages.json` the way Twilio does: it checks the account
in the path against the one it was started with, HTTP basic auth (AccountSid:AuthToken) and the
form fields (To, From or MessagingServiceSid, Body), and returns a JSON message resource with a
fresh `SM...` sid, or Twilio's JSON error body. `script` queues canned (status, json) answers
for the next requests; every request is recorded in `requests`.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import json
import logging
import re
import socket
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller

# aiosmtpd logs every SMTP command at INFO; keep test output readable.
logging.getLogger("mail.log").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- SMTP -------------------------------------------------------------------------------------


@dataclass
class ReceivedEmail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


class _SmtpHandler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.server.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        self.server.received.append(
            ReceivedEmail(envelope.mail_from, list(envelope.rcpt_tos), raw, parsed)
        )
        self.server.sessions.add(id(session))  # one per SMTP connection
        return "250 Message accepted for delivery"


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; use as a context manager."""

    def __init__(self) -> None:
        self.received: list[ReceivedEmail] = []
        self.sessions: set[int] = set()
        self.refuse: dict[str, str] = {}
        self.port = free_port()
        self.controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def smtp_settings(server: SmtpServer) -> dict:
    """Django's SMTP backend pointed at `server` (use with override_settings)."""
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": server.port,
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "EMAIL_USE_TLS": False,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 5,
    }


# --- Twilio -----------------------------------------------------------------------------------

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")


@dataclass
class TwilioRequest:
    path: str
    account: str
    auth: tuple[str, str] | None
    form: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    requests: list[TwilioRequest] = field(default_factory=list)
    # Canned (status, payload) answers for the next valid requests, first in first out; a str
    # payload is sent as text/html (what a proxy in front of an API returns on a 503).
    script: deque = field(default_factory=deque)
    created: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self, from_number: str) -> dict:
        """Our Twilio backend, through the real SDK, pointed at this server (override_settings)."""
        return {
            "SMS_BACKEND": "backend.reminders.channels.sms.TwilioBackend",
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": from_number,
            "TWILIO_MESSAGING_SERVICE_SID": "",
            "TWILIO_API_BASE_URL": self.base_url,
        }

    def __enter__(self) -> FakeTwilio:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # Twilio's answers -------------------------------------------------------------------------

    @staticmethod
    def error(status: int, code: int, message: str) -> tuple[int, dict]:
        return status, {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def answer(self, req: TwilioRequest) -> tuple[int, dict | str]:
        if req.auth != (self.account_sid, self.auth_token):
            return self.error(401, 20003, "Authenticate")
        if req.account != self.account_sid:
            return self.error(404, 20404, f"The requested resource {req.path} was not found")
        if not req.form.get("To"):
            return self.error(400, 21604, "A 'To' phone number is required.")
        if not (req.form.get("From") or req.form.get("MessagingServiceSid")):
            return self.error(400, 21603, "A 'From' phone number is required.")
        if not req.form.get("Body"):
            return self.error(400, 21602, "Message body is required.")
        if self.script:
            return self.script.popleft()
        now = format_datetime(dt.datetime.now(dt.UTC))
        sid = "SM" + uuid.uuid4().hex
        resource = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": req.form["Body"],
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": req.form.get("From"),
            "messaging_service_sid": req.form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": req.form["To"],
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        self.created.append(resource)
        return 201, resource

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _reply(self, status: int, payload: dict | str) -> None:
                is_json = isinstance(payload, dict)
                body = (json.dumps(payload) if is_json else payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if is_json else "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                auth = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    auth = (user, password)
                match = MESSAGES_PATH.match(self.path)
                req = TwilioRequest(
                    path=self.path,
                    account=match["account"] if match else "",
                    auth=auth,
                    form=form,
                    headers=dict(self.headers),
                )
                fake.requests.append(req)
                if not match:
                    self._reply(*fake.error(404, 20404, f"{self.path} was not found"))
                    return
                self._reply(*fake.answer(req))

        return Handler
