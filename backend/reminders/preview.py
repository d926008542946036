"""What a reminder will say, for staff screens. Failures show as text, never as a 500."""

from __future__ import annotations

from backend.reminders import messages
from backend.reminders.content import ContentError
from backend.reminders.models import Reminder


def reminder_text(reminder: Reminder) -> str:
    try:
        # The channel's own words: an SMS with a short link of the real length that opens
        # nothing (staff must not hold a link that acts as the patient), an email its subject.
        rendered = messages.render(
            reminder, with_provider_items=False, channel=reminder.channel, preview=True
        )
    except (ContentError, KeyError, ValueError) as exc:
        return f"(cannot render: {exc})"
    return rendered.sms if reminder.channel == Reminder.Channel.SMS else rendered.subject
