"""A treatment plan as a FHIR R4 Bundle, so an EHR can import it.

The bundle (type `collection`) holds the Patient and the responsible Practitioner, one CarePlan
whose activities point at the dated rows, an Appointment per session and check-in, and a
CommunicationRequest per reminder, and per questionnaire answered a QuestionnaireResponse with
its total score as an Observation (LOINC-coded where the instrument file gives the codes).
Entries are addressed by `urn:uuid:` ids derived from the
database ids, so exporting the same plan twice gives the same references.
The shapes follow R4 (4.0.1); tests validate them with `fhir.resources` (its R4B models, which
are identical to R4 for these resources).
"""

from __future__ import annotations

import uuid

from backend.measures import scoring
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder
from scheduler.model import APPOINTMENT_KINDS

NAMESPACE = uuid.UUID("6f1c3b0e-7d0a-4d55-9a63-4a6f2f1b9c01")
SYSTEM = "https://aftercare.invalid/fhir"
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"

PLAN_STATUS = {
    "draft": "draft",
    "active": "active",
    "paused": "on-hold",
    "completed": "completed",
    "cancelled": "revoked",
}
APPOINTMENT_STATUS = {
    "scheduled": "booked",
    "completed": "fulfilled",
    "missed": "noshow",
    "cancelled": "cancelled",
}
ACTIVITY_STATUS = {
    "scheduled": "scheduled",
    "completed": "completed",
    "missed": "not-started",
    "cancelled": "cancelled",
}
REQUEST_STATUS = {
    "scheduled": "active",
    "queued": "active",
    "sent": "completed",
    "failed": "revoked",
    "skipped": "revoked",
    "expired": "revoked",
    "cancelled": "revoked",
}
MEDIUM = {"email": ("EMAILWRIT", "email"), "sms": ("SMSWRIT", "SMS message")}


def _urn(kind: str, pk: int) -> str:
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{kind}/{pk}')}"


def _instant(value) -> str:
    return value.isoformat()


def _patient(plan: TreatmentPlan) -> dict:
    patient = plan.patient
    telecom = [{"system": "email", "value": patient.email}] if patient.email else []
    if patient.mobile:
        telecom.append({"system": "sms", "value": str(patient.mobile)})
    return {
        "resourceType": "Patient",
        "identifier": [{"system": f"{SYSTEM}/patient", "value": str(patient.pk)}],
        "name": [{"family": patient.last_name, "given": [patient.first_name]}],
        "birthDate": patient.date_of_birth.isoformat(),
        "telecom": telecom,
    }


def _practitioner(plan: TreatmentPlan) -> dict:
    user = plan.provider.user
    return {
        "resourceType": "Practitioner",
        "identifier": [{"system": f"{SYSTEM}/provider", "value": str(plan.provider_id)}],
        "name": [{"text": user.get_full_name() or user.get_username()}],
    }


def _appointment(item: PlanItem, patient_ref: str, provider_ref: str, plan_ref: str) -> dict:
    return {
        "resourceType": "Appointment",
        "identifier": [{"system": f"{SYSTEM}/item", "value": str(item.pk)}],
        "status": APPOINTMENT_STATUS[item.status],
        "serviceType": [
            {
                "coding": [{"system": f"{SYSTEM}/item-kind", "code": item.kind}],
                "text": item.get_kind_display(),
            }
        ],
        "description": item.title,
        "start": _instant(item.start),
        "end": _instant(item.end),
        "basedOn": [{"reference": plan_ref}],
        "participant": [
            {"actor": {"reference": patient_ref}, "status": "accepted"},
            {"actor": {"reference": provider_ref}, "status": "accepted"},
        ],
    }


def _activity(item: PlanItem, appointment_ref: str | None) -> dict:
    if appointment_ref:
        return {"reference": {"reference": appointment_ref, "display": item.title}}
    return {
        "detail": {
            "kind": "Task",
            "code": {
                "coding": [{"system": f"{SYSTEM}/item-kind", "code": item.kind}],
                "text": item.get_kind_display(),
            },
            "status": ACTIVITY_STATUS[item.status],
            "scheduledPeriod": {"start": _instant(item.start), "end": _instant(item.end)},
            "description": item.title,
        }
    }


def _communication_request(
    reminder: Reminder, plan_ref: str, recipient_ref: str, about_ref: str | None
) -> dict:
    code, display = MEDIUM[reminder.channel]
    resource = {
        "resourceType": "CommunicationRequest",
        "identifier": [{"system": f"{SYSTEM}/reminder", "value": str(reminder.pk)}],
        "basedOn": [{"reference": plan_ref}],
        "status": REQUEST_STATUS[reminder.status],
        "category": [
            {"coding": [{"system": f"{SYSTEM}/message-kind", "code": reminder.message_kind}]}
        ],
        "medium": [{"coding": [{"system": PARTICIPATION_MODE, "code": code, "display": display}]}],
        "recipient": [{"reference": recipient_ref}],
        "occurrenceDateTime": _instant(reminder.send_at),
    }
    if about_ref:
        resource["about"] = [{"reference": about_ref}]
    if reminder.status_reason and resource["status"] == "revoked":
        resource["statusReason"] = {"text": reminder.status_reason}
    return resource


def plan_bundle(plan: TreatmentPlan) -> dict:
    """The Bundle for one plan; `plan` should come with items and reminders prefetched."""
    plan_ref, patient_ref = _urn("plan", plan.pk), _urn("patient", plan.patient_id)
    provider_ref = _urn("provider", plan.provider_id)
    entries = [(patient_ref, _patient(plan)), (provider_ref, _practitioner(plan))]
    activities, appointment_refs = [], {}
    for item in plan.items.all():
        # Items at a set time with people are Appointments; the rest, CarePlan activity details.
        ref = _urn("item", item.pk) if item.kind in APPOINTMENT_KINDS else None
        if ref:
            appointment_refs[item.pk] = ref
            entries.append((ref, _appointment(item, patient_ref, provider_ref, plan_ref)))
        activities.append(_activity(item, ref))
    care_plan = {
        "resourceType": "CarePlan",
        "identifier": [{"system": f"{SYSTEM}/plan", "value": str(plan.pk)}],
        "status": PLAN_STATUS[plan.status],
        "intent": "plan",
        "title": f"{plan.protocol.name} (v{plan.protocol.version})",
        "subject": {"reference": patient_ref},
        "author": {"reference": provider_ref},
        "period": {"start": plan.start_date.isoformat()},
        "created": _instant(plan.created_at),
        "activity": activities,
    }
    entries.insert(2, (plan_ref, care_plan))
    others: dict[int, str] = {}  # providers other than the responsible one who get reminders
    for reminder in plan.reminders.all():
        recipient = patient_ref
        if reminder.audience == Reminder.Audience.PROVIDER:
            recipient = _urn("provider", reminder.provider_id)
            if recipient != provider_ref and reminder.provider_id not in others:
                others[reminder.provider_id] = recipient
                entries.append((recipient, _other_practitioner(reminder.provider_id)))
        about = appointment_refs.get(reminder.item_id)
        entries.append(
            (
                _urn("reminder", reminder.pk),
                _communication_request(reminder, plan_ref, recipient, about),
            )
        )
    for response in plan.questionnaire_responses.all():
        response_ref = _urn("response", response.pk)
        entries.append((response_ref, _questionnaire_response(response, patient_ref, plan_ref)))
        entries.append(
            (_urn("score", response.pk), _score_observation(response, patient_ref, response_ref))
        )
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": _instant(plan.updated_at),
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
    }


def _questionnaire_response(response, patient_ref: str, plan_ref: str) -> dict:
    """The answers as given: each question (linkId = its number) with the chosen option coded."""
    instrument = scoring.get(response.instrument)
    panel = instrument.loinc.get("panel")
    items = []
    for question in instrument.questions(response.language):
        value = response.answers.get(str(question.number))
        option = next((o for o in question.options if o.value == value), None)
        if option is None:
            continue
        items.append(
            {
                "linkId": str(question.number),
                "text": question.text,
                "answer": [
                    {
                        "valueCoding": {
                            "system": f"{SYSTEM}/{instrument.code}-answer",
                            "code": str(option.value),
                            "display": option.label,
                        }
                    }
                ],
            }
        )
    resource = {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": f"{SYSTEM}/response", "value": str(response.pk)},
        "questionnaire": f"http://loinc.org/q/{panel}" if panel else f"{SYSTEM}/{instrument.code}",
        "status": "completed",
        "basedOn": [{"reference": plan_ref}],
        "subject": {"reference": patient_ref},
        "authored": _instant(response.submitted_at),
        "source": {"reference": patient_ref},
        "item": items,
    }
    return resource


def _score_observation(response, patient_ref: str, response_ref: str) -> dict:
    """The total score as a survey Observation, derived from its QuestionnaireResponse."""
    instrument = scoring.get(response.instrument)
    coding = [{"system": f"{SYSTEM}/score", "code": f"{instrument.code}-total"}]
    if instrument.loinc.get("total"):
        coding.insert(0, {"system": "http://loinc.org", "code": instrument.loinc["total"]})
    return {
        "resourceType": "Observation",
        "identifier": [{"system": f"{SYSTEM}/score", "value": str(response.pk)}],
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "survey",
                    }
                ]
            }
        ],
        "code": {"coding": coding, "text": f"{instrument.name} total score"},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": _instant(response.submitted_at),
        "valueInteger": response.total,
        "interpretation": [{"text": response.band_label}],
        "derivedFrom": [{"reference": response_ref}],
    }


def _other_practitioner(provider_id: int) -> dict:
    return {
        "resourceType": "Practitioner",
        "identifier": [{"system": f"{SYSTEM}/provider", "value": str(provider_id)}],
    }
