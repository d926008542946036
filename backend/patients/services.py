"""Changes to a patient, including consent: who agreed to what, when and how.

Used by the admin-facing API, the patient's own API endpoint and the patient preferences page.
Giving consent stamps when and how and lifts an earlier opt-out; withdrawing it is an opt-out,
which cancels that channel's pending reminders in the same transaction.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from backend.patients.models import Patient
from backend.reminders import consent
from backend.reminders.models import ShortLink

CHANNELS = ("email", "sms")


def _stamp_consent(
    values: dict, previous: Patient | None, *, method: str, now: dt.datetime
) -> list[str]:
    """Stamp consent changes in `values`; return the channels whose consent was withdrawn."""
    withdrawn = []
    for channel in CHANNELS:
        key = f"{channel}_consent"
        if key not in values or (previous is not None and getattr(previous, key) == values[key]):
            continue
        values[f"{key}_at"], values[f"{key}_method"] = now, method
        if values[key]:
            values[f"{channel}_opted_out_at"] = None
        elif previous is not None:
            withdrawn.append(channel)
    return withdrawn


@transaction.atomic
def patient_create(*, values: dict, consent_method: str, now: dt.datetime | None = None) -> Patient:
    values = dict(values)
    _stamp_consent(values, None, method=consent_method, now=now or timezone.now())
    patient = Patient(**values)
    patient.full_clean()
    patient.save()
    return patient


@transaction.atomic
def patient_update(
    *, patient: Patient, changes: dict, consent_method: str, now: dt.datetime | None = None
) -> Patient:
    """Apply `changes` (field -> value); returns the saved patient."""
    now = now or timezone.now()
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    changes = dict(changes)
    withdrawn = _stamp_consent(changes, patient, method=consent_method, now=now)
    for field, value in changes.items():
        setattr(patient, field, value)
    patient.full_clean()
    patient.save()
    for channel in withdrawn:
        consent.opt_out(patient=patient, channel=channel, method=consent_method, now=now)
    patient.refresh_from_db()
    return patient


@transaction.atomic
def patient_revoke_links(*, patient: Patient, now: dt.datetime | None = None) -> Patient:
    """Make every link sent to the patient stop working (messages sent from now on carry new
    ones), short links in texts included. For a lost phone, a shared inbox, or a patient whose
    care here has ended."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    patient.link_generation += 1
    patient.save(update_fields=["link_generation"])
    ShortLink.objects.filter(patient=patient, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )
    return patient


@transaction.atomic
def patient_delete(*, patient: Patient) -> None:
    """Delete a patient no plan names (a record entered by mistake). A patient with plans is
    refused with ProtectedError: their care history stays; revoke their links instead."""
    Patient.objects.select_for_update().get(pk=patient.pk).delete()
