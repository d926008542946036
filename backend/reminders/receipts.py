"""Email delivery receipts from providers, through django-anymail's tracking webhooks.

Anymail normalises each provider's webhook (Postmark, SES, Mailgun, ...) into one event and
checks its basic-auth secret (ANYMAIL["WEBHOOK_SECRET"]); here the event updates the reminder it
is about, found by the provider's message id recorded when the email was sent. A hard bounce or
rejection fails the reminder for good, so staff see that the address needs fixing.
"""

from __future__ import annotations

from anymail.signals import EventType, tracking
from django.dispatch import receiver

from backend.reminders.models import Reminder

FAILED_EVENTS = {EventType.BOUNCED, EventType.REJECTED, EventType.FAILED}


@receiver(tracking, dispatch_uid="aftercare-email-receipts")
def record_email_event(sender, event, esp_name: str, **kwargs) -> None:
    if not event.message_id:
        return
    updates: dict = {"delivery_status": str(event.event_type)[:24]}
    if event.event_type in FAILED_EVENTS:
        reason = event.reject_reason or event.event_type
        updates.update(
            status=Reminder.Status.FAILED,
            last_error=f"{esp_name} reported {event.event_type} ({reason}) for the recipient",
        )
    Reminder.objects.filter(
        provider_message_id=event.message_id, channel=Reminder.Channel.EMAIL
    ).update(**updates)
