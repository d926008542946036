"""Email delivery receipts from providers, through django-anymail's tracking webhooks.

Anymail normalises each provider's webhook (Postmark, SES, Mailgun, ...) into one event and
checks its basic-auth secret (ANYMAIL["WEBHOOK_SECRET"]); here the event updates the reminder it
is about, found by the provider's message id recorded when the email was sent, through
backend.reminders.outbox.record_receipt (with history). A hard bounce or rejection fails the
reminder for good, so staff see that the address needs fixing.

Only the provider the service sends through answers, and only with a webhook secret set: anymail
itself accepts unauthenticated posts when no secret is configured (with a warning), which would
let anyone mark a reminder failed. Every other provider's URL is a 404.
"""

from __future__ import annotations

import re

from anymail import urls as anymail_urls
from anymail.signals import EventType, tracking
from anymail.utils import get_anymail_setting
from django.conf import settings
from django.core.exceptions import BadRequest
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from backend.reminders import outbox
from backend.reminders.models import Reminder

# A provider's body anymail cannot read (not UTF-8, not JSON, a list or null where an object
# belongs, a field missing): anymail's parsers raise these, and anymail leaves them to become a
# 500, which providers take as "try again later" and retry for days.
MALFORMED_BODY = (ValueError, TypeError, KeyError, IndexError, AttributeError)


def _refusing_malformed_bodies(view):
    """anymail's view for one provider, answering 400 to a body it cannot parse (after its
    authentication, which runs first and is unchanged). Errors in recording a parsed receipt
    still answer 500, so the provider retries those."""

    class View(view.view_class):
        def parse_events(self, request):
            try:
                return super().parse_events(request)
            except MALFORMED_BODY as error:
                raise BadRequest(f"unreadable {self.esp_name} webhook body") from error

    View.__name__ = View.__qualname__ = view.view_class.__name__
    return View.as_view(**view.view_initkwargs)


# anymail's tracking view for each provider, by its name in anymail ("postmark", "amazon_ses").
TRACKING_VIEWS = {
    pattern.name.removesuffix("_tracking_webhook"): _refusing_malformed_bodies(pattern.callback)
    for pattern in anymail_urls.urlpatterns
    if pattern.name and pattern.name.endswith("_tracking_webhook")
}
_ANYMAIL_BACKEND = re.compile(r"anymail\.backends\.(\w+)\.EmailBackend")


def configured_esp(email_backend: str | None = None) -> str | None:
    """The anymail provider EMAIL_BACKEND sends through ("postmark"), or None for SMTP/files."""
    found = _ANYMAIL_BACKEND.fullmatch(email_backend or settings.EMAIL_BACKEND)
    return found.group(1) if found else None


def webhook_secret() -> str | None:
    return get_anymail_setting("webhook_secret", default=None)


@csrf_exempt
def email_tracking_webhook(request: HttpRequest, esp: str) -> HttpResponse:
    """Hand a receipt to anymail's view for the configured provider; anything else is a 404."""
    if esp != configured_esp() or esp not in TRACKING_VIEWS or not webhook_secret():
        raise Http404("no such webhook")
    return TRACKING_VIEWS[esp](request)


FAILED_EVENTS = {EventType.BOUNCED, EventType.REJECTED, EventType.FAILED}


@receiver(tracking, dispatch_uid="aftercare-email-receipts")
def record_email_event(sender, event, esp_name: str, **kwargs) -> None:
    """The receipt goes on the reminder's record through the outbox, with history."""
    failure = None
    if event.event_type in FAILED_EVENTS:
        reason = event.reject_reason or event.event_type
        failure = f"{esp_name} reported {event.event_type} ({reason}) for the recipient"
    outbox.record_receipt(
        channel=Reminder.Channel.EMAIL,
        provider_message_id=event.message_id or "",
        delivery_status=str(event.event_type),
        failure=failure,
    )
