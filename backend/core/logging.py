"""Logs that trace a request or a task, and never carry a patient's data.

**What each line carries.** In production (LOG_FORMAT=json, the default when DEBUG is off) every
line is one JSON object: time, level, logger, message, and the `request_id` of the web request or
the `task_id` of the Celery task it was written in. The request id is taken from a proxy's
`X-Request-ID` when it is well formed, made up otherwise, and returned in the response's
`X-Request-ID`, so a clinic's support request ("the page failed at 10:02") finds its lines.

**What no line carries.** Code logs ids, never a patient's name, address, number, link or words.
The formatters are a second line behind that rule: every formatted line (tracebacks included: a
provider's error may quote a number) has link tokens, email addresses and phone numbers replaced.
A token in `/p/<token>/`, `/unsubscribe/<token>/`, `/patient/login/<token>/` or
`/calendar/<key>.ics` is a key to a patient's schedule or a provider's calendar. gunicorn's access
log goes through `RedactingGunicornLogger` (`--logger-class`), Celery's through Django's LOGGING
(backend.celery connects `setup_logging`), the development server's through the same handlers.
tests/backend/core/test_structured_logs.py sends every kind of reminder on both channels and scans
what was logged.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from contextvars import ContextVar

from gunicorn.glogging import Logger as GunicornLogger
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

_TOKEN_IN_PATH = re.compile(r"(/(?:p|unsubscribe|calendar|patient/login)/)[^/\s?#\"']+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
# E.164 (+ and 8 to 15 digits), the form every number is stored and sent in.
_PHONE = re.compile(r"\+\d{8,15}\b")
REDACTED = "[token]"

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def redact_link_tokens(text: str) -> str:
    return _TOKEN_IN_PATH.sub(rf"\1{REDACTED}", text)


def redact(text: str) -> str:
    """Link tokens, email addresses and phone numbers out of one formatted line."""
    return _PHONE.sub("[phone]", _EMAIL.sub("[email]", redact_link_tokens(text)))


def json_logs() -> bool:
    """JSON unless asked otherwise; development (DEBUG on) reads plain lines."""
    default = (
        "plain" if os.environ.get("DEBUG", "").lower() in {"1", "true", "yes", "on"} else "json"
    )
    return os.environ.get("LOG_FORMAT", default).lower() == "json"


class RedactLinkTokens(logging.Filter):
    """Rewrites the formatted message of every record with link tokens replaced (kept for
    handlers that use their own formatter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_link_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class TraceContext(logging.Filter):
    """Puts the current request id and Celery task id on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        from celery import current_task

        record.request_id = _request_id.get()
        task = current_task  # a proxy: falsy outside a task
        record.task_id = task.request.id if task else None
        # For plain lines: " [request <id>]", " [task <id>]" or nothing.
        record.trace = "".join(
            f" [{name} {value}]"
            for name, value in (("request", record.request_id), ("task", record.task_id))
            if value
        )
        return True


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object per line, redacted after formatting (so tracebacks are too)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "fmt", ["asctime", "levelname", "name", "message", "request_id", "task_id"]
        )
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level"})
        kwargs.setdefault("json_ensure_ascii", False)
        # `trace` is the plain format's rendering of the two ids already in the object.
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "trace"])
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RequestIdMiddleware:
    """First in MIDDLEWARE: every line a request logs carries its id, and so does its response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.headers.get("X-Request-ID", "")
        request_id = offered if _REQUEST_ID_SHAPE.match(offered) else uuid.uuid4().hex
        # Cleared by `end_request` (request_finished), not here: Django logs a failed response
        # (django.request) after the middleware chain has returned, and that line needs the id.
        _request_id.set(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def end_request(**kwargs) -> None:
    """request_finished: lines written between requests carry no request's id."""
    _request_id.set(None)


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's logger with link tokens taken out of every access-log field, and, with JSON
    logs, one JSON object per access line (method, path, status, duration, request id)."""

    def setup(self, cfg):
        super().setup(cfg)
        if json_logs():
            for log in (self.error_log, self.access_log):
                for handler in log.handlers:
                    handler.setFormatter(RedactingJsonFormatter())

    def atoms(self, resp, req, environ, request_time):
        values = super().atoms(resp, req, environ, request_time)
        return {k: redact_link_tokens(v) if isinstance(v, str) else v for k, v in values.items()}

    def access(self, resp, req, environ, request_time):
        if not json_logs():
            return super().access(resp, req, environ, request_time)
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        self.access_log.info(
            "request",
            extra={
                "method": atoms.get("m"),
                "path": atoms.get("U"),
                "status": atoms.get("s"),
                "duration_ms": round(request_time.total_seconds() * 1000, 1),
                "bytes": atoms.get("B"),
                "request_id": dict(resp.headers).get("X-Request-ID"),
                "task_id": None,
            },
        )
