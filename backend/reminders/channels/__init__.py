"""Channels are backends behind one small interface, the way Django's email backends are.

A backend's `send(message)` returns the provider's message id, or raises DeliveryError whose
`permanent` flag decides, in one place (backend.reminders.delivery), between retrying later and
giving up.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class DeliveryError(Exception):
    """A send that did not go through. `permanent`: retrying cannot help (invalid number,
    carrier opt-out, hard bounce); otherwise the failure is transient (timeout, 5xx, rate limit)."""

    def __init__(self, message: str, *, permanent: bool = False, code: str = "") -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


@dataclass(frozen=True)
class OutgoingSms:
    to: str
    body: str
    reminder_id: int
    status_callback: str = ""
    sender: str = ""  # the clinic's own sending number; blank: the account's shared sender


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    html: str
    reminder_id: int
    from_email: str = ""
    headers: dict = field(default_factory=dict)
    attachments: tuple = ()  # (filename, content, mimetype)
