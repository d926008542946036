"""Twilio webhooks: delivery status callbacks, inbound STOP/START/HELP keywords, a YES or READY
confirming readiness for the next session (and a NO saying the patient is not), a C or MOVE
confirming the next session or asking to move it (backend.plans.session_requests), and everything
else a patient texts, which lands in the clinic inbox with an automatic answer.

Both refuse any request whose X-Twilio-Signature does not verify against TWILIO_AUTH_TOKEN and
the public URL Twilio called (https://www.twilio.com/docs/usage/webhooks/webhooks-security).
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from phonenumber_field.phonenumber import PhoneNumber
from phonenumbers import NumberParseException
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from backend.clinics.models import Clinic
from backend.patients.models import Patient
from backend.plans import readiness, session_requests
from backend.reminders import consent, outbox
from backend.reminders.compose import sender_names
from backend.reminders.links import absolute
from backend.reminders.models import Reminder
from backend.reminders.sms_text import to_gsm_friendly
from backend.safety import crisis
from backend.safety import services as safety

log = logging.getLogger(__name__)

# Twilio's and the CTIA's standard keywords.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
START_WORDS = {"START", "YES", "UNSTOP", "OPTIN"}
HELP_WORDS = {"HELP", "INFO", "AYUDA"}
# A reply confirming readiness for the next session (the evening-before text asks for it).
#
# YES is also one of Twilio's default opt-in keywords (with START and UNSTOP). The two meanings are
# kept apart by who sends it: from a patient who opted out (STOP), YES is the opt-in it has always
# been, and confirms nothing (they were sent no text to answer); from a patient who receives texts
# and has a dosing or booster session within 72 h that is not confirmed, it confirms that session;
# from anyone else it is handled as START (which changes nothing for a number not opted out).
# Twilio answers an opt-in keyword with its own confirmation text, so a clinic that asks for YES
# removes YES from the opt-in keywords of its Messaging Service (Advanced Opt-Out,
# https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out), or patients get two texts;
# READY is never a carrier keyword and always works alone. SI is the Spanish YES.
READY_WORDS = {"YES", "READY", "SI", "SÍ"}
# A reply saying the patient is not ready (the evening-before text asks "Reply YES or NO"; NO is
# the same word in Spanish). From a patient with a dosing or booster session within 72 h, it
# withdraws any confirmation and reaches the clinic inbox as a readiness answer, so someone calls
# before the session. Only the bare word: anything longer is the patient's own words (below),
# where words of distress take the urgent path.
NOT_READY_WORDS = {"NO"}
# A reply to a session reminder: "I'll be there" or "please move it" (plans.session_requests),
# for the patient's next session within two weeks. Bare words only; anything longer is the
# patient's own words and goes to the inbox. SI confirms attendance only when it confirms no
# readiness (READY_WORDS are tried first: a ready patient is also a coming one).
CONFIRM_WORDS = {"C", "CONFIRM", "CONFIRMED", "CONFIRMO", "CONFIRMAR", "SI", "SÍ"}
MOVE_WORDS = {"MOVE", "R", "RESCHEDULE", "CAMBIAR", "CAMBIO", "MOVER"}
# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values
FAILED_STATUSES = {"failed", "undelivered"}
# Callbacks can arrive out of order; a status never moves back down this ladder.
STATUS_RANK = {
    "accepted": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "read": 5,
}


def _verified(request: HttpRequest) -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.TWILIO_AUTH_TOKEN:
        return False
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    # Twilio signs the full URL it called, query string included.
    return validator.validate(absolute(request.get_full_path()), request.POST.dict(), signature)


def _number(raw: str) -> PhoneNumber | None:
    try:
        number = PhoneNumber.from_string(raw, region="US")
    except NumberParseException:  # alphanumeric sender or no number: nobody to look up
        return None
    return number if number.is_valid() else None


def _clinics_reached(to: PhoneNumber | None):
    """The clinics that text from the number a patient wrote to: those with it as their own
    sending number, else every clinic sending from the account's shared number."""
    if to is not None:
        own = Clinic.objects.filter(sms_from_number=to.as_e164)
        if own.exists():
            return own
    return Clinic.objects.filter(sms_from_number="")


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    if not _verified(request):
        return HttpResponseForbidden("invalid Twilio signature")
    sid, status = request.POST.get("MessageSid", ""), request.POST.get("MessageStatus", "")
    failure = None
    if status in FAILED_STATUSES:
        failure = f"carrier reported {status} (error {request.POST.get('ErrorCode', '?')})"
    rank = STATUS_RANK.get(status, 0)
    behind = [s for s, r in STATUS_RANK.items() if r < rank] + [""]
    outbox.record_receipt(
        channel=Reminder.Channel.SMS,
        provider_message_id=sid,
        delivery_status=status,
        failure=failure,
        only_over=behind,
    )
    return HttpResponse(status=204)


def _twiml(text: str | None) -> HttpResponse:
    response = MessagingResponse()
    if text:
        response.message(text)
    return HttpResponse(str(response), content_type="application/xml")


def _patients(sender: PhoneNumber, clinics):
    """The patients a keyword speaks for: that mobile, at the clinics that text from that number."""
    return Patient.objects.filter(mobile=sender.as_e164, clinic__in=clinics).select_related(
        "clinic"
    )


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    if not _verified(request):
        return HttpResponseForbidden("invalid Twilio signature")
    word = request.POST.get("Body", "").strip().upper().rstrip(".!")
    sender = _number(request.POST.get("From", ""))
    clinics = _clinics_reached(_number(request.POST.get("To", "")))
    patients = [] if sender is None else list(_patients(sender, clinics))
    now = timezone.now()
    if word in READY_WORDS:
        reply = _confirm_readiness(patients, now)
        if reply is not None:
            return _twiml(reply)
        # Nothing to confirm: YES keeps its keyword meaning (below), READY is a patient's words.
    if word in NOT_READY_WORDS:
        reply = _decline_readiness(patients, request.POST.get("Body", "").strip(), now)
        if reply is not None:
            return _twiml(reply)
    if word in CONFIRM_WORDS or word in MOVE_WORDS:
        kind = "confirm" if word in CONFIRM_WORDS else "reschedule"
        reply = _session_request(patients, kind, now)
        if reply is not None:
            return _twiml(reply)
        # No session to speak for: the word is the patient's words, for the inbox (below).
    if word in STOP_WORDS:
        for patient in patients:
            consent.opt_out(patient=patient, channel="sms", method="sms_keyword", now=now)
        # Twilio's Advanced Opt-Out sends the confirmation itself; answering again would be a
        # second text, so reply with empty TwiML.
        return _twiml(None)
    if word in START_WORDS:
        # START undoes a STOP: it restores texts to patients who opted out, and never grants
        # consent to a patient who did not give it (a shared or recycled number).
        for patient in patients:
            if patient.sms_opted_out_at is not None:
                consent.opt_in_sms(patient=patient, now=now)
        return _twiml(None)
    if word in HELP_WORDS:
        return _twiml(_help_reply(patients, list(clinics)))
    return _twiml(_file_reply(request, sender, patients, list(clinics), now))


# Every automatic reply is worded through gettext (locale/es) and sent in GSM-7 (one segment),
# which has no á, í, ó or ú: the Spanish ones are worded with words that need none ("sesión" would
# arrive as "sesion", "está" as "esta"); tests/backend/reminders/test_webhooks_readiness.py checks.


def reply_language(patients) -> str:
    """The language the patients the number speaks for share, else English."""
    languages = {patient.language for patient in patients}
    language = languages.pop() if len(languages) == 1 else "en"
    return language if language in {code for code, _name in settings.LANGUAGES} else "en"


def ready_reply(*, first_name: str, when: str, contact: str) -> str:
    return _(
        "Thank you, {first_name}: your session on {when} is confirmed. If anything changes, "
        "call {contact}."
    ).format(first_name=first_name, when=when, contact=contact)


def unclear_reply(*, contact: str) -> str:
    return _(
        "We could not tell which session you mean. Please use the link in your reminder, or "
        "call {contact}."
    ).format(contact=contact)


def not_ready_reply(*, contact: str) -> str:
    return _(
        "Thank you. Your care team will call you before your session. Questions: {contact}."
    ).format(contact=contact)


def help_reply(*, contact: str) -> str:
    return _(
        "Reminders from {contact}. Reply C to confirm your next session or MOVE to ask to move "
        "it. Reply STOP to opt out, START to opt back in."
    ).format(contact=contact)


def auto_reply(*, contact: str, crisis_line: str) -> str:
    return _("This number is not monitored. Call {contact}. {crisis}").format(
        contact=contact, crisis=crisis_line
    )


def _help_reply(patients, clinics) -> str:
    """HELP: who sends these texts and the words a patient can reply, in the patient's language."""
    named = {p.clinic for p in patients} or set(clinics[:2])
    clinic = named.pop() if len(named) == 1 else None
    language = reply_language(patients)
    with translation.override(language):
        contact = _("your clinic")
        if clinic and clinic.phone:
            contact = f"{clinic.name} {clinic.phone.as_national}"
        return to_gsm_friendly(help_reply(contact=contact))


WHEN_FORMATS = {"en": "D j M, g:i A", "es": r"D j \d\e M, G:i"}


def _session_when(item, zone: str, language: str) -> str:
    local = item.start.astimezone(ZoneInfo(zone))
    with translation.override(language):
        return date_format(local, WHEN_FORMATS[language])


def _contact(patient, language: str) -> str:
    """The clinic's SMS sender name and number, as the patient's texts name it."""
    contact = sender_names(patient.clinic, language)[1]
    if patient.clinic.phone:
        contact += f" {patient.clinic.phone.as_national}"
    return contact


def _decline_readiness(patients, body: str, now) -> str | None:
    """A NO for the session(s) within 72 h: recorded as not ready (any confirmation withdrawn) and
    filed in the clinic inbox as a readiness answer; the reply to send, or None if there is no
    session to answer for (NO is then the patient's words, like any other text)."""
    candidates = [
        (patient, item)
        for patient in patients
        if patient.sms_opted_out_at is None
        and (item := readiness.session_ahead(patient, now)) is not None
    ]
    declined = None
    for patient, item in candidates:
        try:
            readiness.readiness_confirm(
                item=item,
                answers={**dict.fromkeys(readiness.FIELDS, False), "note": body},
                via="sms",
                now=now,
            )
        except ValidationError:  # the session started or was cancelled a moment ago
            continue
        declined = declined or patient
    if declined is None:
        return None
    language = reply_language([declined])
    with translation.override(language):
        text = not_ready_reply(contact=_contact(declined, language))
    return to_gsm_friendly(text)


def _confirm_readiness(patients, now) -> str | None:
    """Confirm the one session a YES can mean; the reply to send, or None if there is none.

    Only patients who receive texts count (an opted-out patient's YES is an opt-in). When the
    number is shared by two patients who each have a session to confirm, nothing is confirmed:
    the reply asks them to use their link."""
    candidates = [
        (patient, item)
        for patient in patients
        if patient.sms_opted_out_at is None
        and (item := readiness.session_to_confirm(patient, now)) is not None
    ]
    if not candidates:
        return None
    patient = candidates[0][0]
    language = reply_language([patient])
    contact = _contact(patient, language)
    if len(candidates) > 1:
        with translation.override(language):
            return to_gsm_friendly(unclear_reply(contact=contact))
    item = candidates[0][1]
    everything = dict.fromkeys(readiness.FIELDS, True)
    try:
        readiness.readiness_confirm(item=item, answers=everything, via="sms", now=now)
    except ValidationError:  # the session started or was cancelled a moment ago
        return None
    when = _session_when(item, patient.time_zone, language)
    with translation.override(language):
        text = ready_reply(first_name=patient.first_name, when=when, contact=contact)
    return to_gsm_friendly(text)


def _session_request(patients, kind: str, now) -> str | None:
    """Record a C (confirm) or MOVE (reschedule) for the one session it can mean, and the reply
    to send in the patient's language (gettext); None if no patient who receives texts has a
    session within the reply window. A number shared by two patients with sessions records
    nothing: the reply asks them to use their link."""
    candidates = [
        (patient, item)
        for patient in patients
        if patient.sms_opted_out_at is None
        and (item := session_requests.session_for_reply(patient, now)) is not None
    ]
    if not candidates:
        return None
    patient, item = candidates[0]
    language = reply_language([patient])
    contact = _contact(patient, language)
    with translation.override(language):
        if len(candidates) > 1:
            return to_gsm_friendly(unclear_reply(contact=contact))
        service = (
            session_requests.request_confirm
            if kind == "confirm"
            else session_requests.request_reschedule
        )
        try:
            service(patient=patient, item=item, via="sms", now=now)
        except ValidationError:  # the session started or was cancelled a moment ago
            return None
        when = _session_when(item, patient.time_zone, language)
        if kind == "confirm":
            text = _(
                "Thank you, {first_name}: we have noted that you will come on {when}. To change "
                "it, reply MOVE or call {contact}."
            )
        else:
            text = _(
                "Thank you, {first_name}: your clinic has your request to move your session on "
                "{when} and will contact you. Questions: {contact}."
            )
        text = text.format(first_name=patient.first_name, when=when, contact=contact)
    return to_gsm_friendly(text)


def _file_reply(request, sender, patients, clinics, now) -> str:
    """Anything but a keyword is a patient's words: it goes to the inbox of each clinic the
    number is a patient of (else of every clinic the number reached, as an unknown sender), where
    words of distress raise an urgent flag; the sender is told at once whom to call instead."""
    body = request.POST.get("Body", "").strip()
    from_number = sender.as_e164 if sender is not None else ""
    if patients:
        for patient in patients:
            safety.receive_message(
                clinic=patient.clinic,
                patient=patient,
                source="sms",
                body=body,
                now=now,
                from_number=from_number,
            )
    else:
        for clinic in clinics:
            safety.receive_message(
                clinic=clinic,
                patient=None,
                source="sms",
                body=body,
                now=now,
                from_number=from_number,
            )
    named = {p.clinic for p in patients} or set(clinics)
    clinic = named.pop() if len(named) == 1 else None
    language = reply_language(patients) if len(patients) == 1 else "en"
    country = clinic.crisis_country if clinic is not None else "US"
    short = crisis.for_clinic(country, language).short
    with translation.override(language):
        contact = _("your clinic")
        if clinic is not None:
            contact = f"{clinic.sender_name or clinic.name}"
            if clinic.phone:
                contact = _("{name} at {phone}").format(
                    name=contact, phone=clinic.phone.as_national
                )
        return to_gsm_friendly(auto_reply(contact=contact, crisis_line=short))
