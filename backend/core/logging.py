"""Logging that never writes a patient link's token.

A token in `/p/<token>/` or `/unsubscribe/<token>/` is the key to a patient's schedule, and the
key in `/calendar/<key>.ics` to a provider's calendar feed: anyone who reads an access log could
open them. The development server's request lines go through
`RedactLinkTokens` (settings.LOGGING), gunicorn's access log through `RedactingGunicornLogger`
(`--logger-class`), and the file backends log ids, never addresses, numbers or bodies.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger as GunicornLogger

# `/patient/login/<token>/`: a patient's emailed sign-in link (backend.patients.login).
_TOKEN_IN_PATH = re.compile(r"(/(?:p|unsubscribe|calendar|patient/login)/)[^/\s?#\"']+")
REDACTED = "[token]"


def redact_link_tokens(text: str) -> str:
    return _TOKEN_IN_PATH.sub(rf"\1{REDACTED}", text)


class RedactLinkTokens(logging.Filter):
    """Rewrites the formatted message of every record with link tokens replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_link_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's logger with link tokens taken out of every access-log field."""

    def atoms(self, resp, req, environ, request_time):
        values = super().atoms(resp, req, environ, request_time)
        return {k: redact_link_tokens(v) if isinstance(v, str) else v for k, v in values.items()}
