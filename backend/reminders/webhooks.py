"""Twilio webhooks: delivery status callbacks and inbound STOP/START/HELP keywords.

Both refuse any request whose X-Twilio-Signature does not verify against TWILIO_AUTH_TOKEN and
the public URL Twilio called (https://www.twilio.com/docs/usage/webhooks/webhooks-security).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from phonenumber_field.phonenumber import PhoneNumber
from phonenumbers import NumberParseException
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from backend.patients.models import Patient
from backend.reminders import consent
from backend.reminders.links import absolute
from backend.reminders.models import Reminder

log = logging.getLogger(__name__)

# Twilio's and the CTIA's standard keywords.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
START_WORDS = {"START", "YES", "UNSTOP", "OPTIN"}
HELP_WORDS = {"HELP", "INFO"}
# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
FAILED_STATUSES = {"failed", "undelivered"}
# Callbacks can arrive out of order; a status never moves back down this ladder.
STATUS_RANK = {"accepted": 0, "queued": 1, "sending": 2, "sent": 3, "delivered": 4,
               "undelivered": 4, "failed": 4, "read": 5}  # fmt: skip


def _verified(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    return validator.validate(absolute(request.path), request.POST.dict(), signature)


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if not _verified(request):
        return HttpResponseForbidden("invalid Twilio signature")
    sid, status = request.POST.get("MessageSid", ""), request.POST.get("MessageStatus", "")
    updates = {"delivery_status": status[:24]}
    if status in FAILED_STATUSES:
        updates.update(
            status=Reminder.Status.FAILED,
            last_error=f"carrier reported {status} (error {request.POST.get('ErrorCode', '?')})",
        )
    rank = STATUS_RANK.get(status, 0)
    behind = [s for s, r in STATUS_RANK.items() if r < rank] + [""]
    Reminder.objects.filter(
        provider_message_id=sid, channel=Reminder.Channel.SMS, delivery_status__in=behind
    ).update(**updates)
    return HttpResponse(status=204)


def _twiml(text: str | None) -> HttpResponse:
    response = MessagingResponse()
    if text:
        response.message(text)
    return HttpResponse(str(response), content_type="application/xml")


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if not _verified(request):
        return HttpResponseForbidden("invalid Twilio signature")
    word = request.POST.get("Body", "").strip().upper().rstrip(".!")
    try:
        number = PhoneNumber.from_string(request.POST.get("From", ""), region="US")
    except NumberParseException:  # alphanumeric sender or no From: nobody to look up
        number = None
    valid = number is not None and number.is_valid()
    patients = list(Patient.objects.filter(mobile=number.as_e164)) if valid else []
    now = timezone.now()
    if word in STOP_WORDS:
        for patient in patients:
            consent.opt_out(patient=patient, channel="sms", method="sms_keyword", now=now)
        # Twilio's Advanced Opt-Out sends the confirmation itself; answering again would be a
        # second text, so reply with empty TwiML.
        return _twiml(None)
    if word in START_WORDS:
        for patient in patients:
            consent.opt_in_sms(patient=patient, now=now)
        return _twiml(None)
    if word in HELP_WORDS:
        clinic = patients[0].clinic if patients else None
        contact = "your clinic"
        if clinic and clinic.phone:
            contact = f"{clinic.name} {clinic.phone.as_national}"
        return _twiml(f"Reminders from {contact}. Reply STOP to opt out, START to opt back in.")
    return _twiml(None)
