"""Consent and opt-out changes: one service used by webhooks, the unsubscribe page and the API."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from backend.patients.models import ConsentMethod, Patient
from backend.reminders import outbox
from backend.reminders.models import Reminder


@transaction.atomic
def opt_out(*, patient: Patient, channel: str, method: str, now: dt.datetime) -> int:
    """Record the opt-out and cancel the channel's pending reminders, those being sent included
    (a text the provider already has is recorded as sent); return how many."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if channel == "sms":
        patient.sms_opted_out_at = patient.sms_opted_out_at or now
        patient.sms_consent_method = method
    else:
        patient.email_opted_out_at = patient.email_opted_out_at or now
        patient.email_consent_method = method
    patient.save()
    return outbox.cancel(
        Reminder.objects.filter(patient=patient, channel=channel),
        reason=f"patient opted out of {channel}",
    )


@transaction.atomic
def opt_in_sms(*, patient: Patient, now: dt.datetime) -> None:
    """START: consent by text, recorded with when and how. Cancelled reminders stay cancelled;
    future ones go out because the send-time check reads consent afresh."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    patient.sms_opted_out_at = None
    patient.sms_consent = True
    patient.sms_consent_at = now
    patient.sms_consent_method = ConsentMethod.SMS_KEYWORD
    patient.save()
