"""Turn a Reminder row into the message a channel backend sends: context, words, headers, .ics."""

from __future__ import annotations

import datetime as dt
import functools
from email.utils import formataddr
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.formats import date_format

from backend.plans.calendar_notices import NOTICE_KINDS, unnotified
from backend.plans.models import PlanItem
from backend.reminders import links
from backend.reminders.channels import OutgoingEmail, OutgoingSms
from backend.reminders.content import RenderedMessage, render_message
from backend.reminders.ics import session_invitations
from backend.reminders.models import Reminder
from backend.safety import crisis

SESSION_KINDS = {"dosing", "integration", "preparation", "booster"}
# Messages that announce a session carry its calendar invitation; a day-after message does not
# invite anyone to a session that has already happened.
INVITING_MESSAGE_KINDS = {
    "preparation_48h",
    "preparation_2h",
    "integration_reminder",
    "preparation_session_reminder",
    "booster_reminder",
    "session_changed",
    "session_cancelled",
}
TREATMENT_NAMES = {
    "iv-ketamine-induction-trd": "ketamine",
    "esketamine-nasal-spray": "esketamine",
    "ketamine-assisted-psychotherapy": "ketamine-assisted therapy",
    "chronic-pain-infusion-series": "ketamine",
}


# How a date and a time read in each message language (Django date-format syntax).
WHEN_FORMATS = {"en": ("D j M", "g:i A"), "es": (r"D j \d\e M", "G:i")}


def _when(value: dt.datetime, zone: str, language: str = "en") -> tuple[str, str, str]:
    """("Tue 3 Mar, 9:00 AM", "Tue 3 Mar", "9:00 AM") in the zone and language given."""
    local = value.astimezone(ZoneInfo(zone))
    day_format, time_format = WHEN_FORMATS.get(language, WHEN_FORMATS["en"])
    with translation.override(language if language in WHEN_FORMATS else "en"):
        day, time = date_format(local, day_format), date_format(local, time_format)
    return f"{day}, {time}", day, time


def _number_key(number: phonenumbers.PhoneNumber) -> tuple:
    return (
        number.country_code,
        number.national_number,
        number.italian_leading_zero,
        number.number_of_leading_zeros,
    )


@functools.lru_cache(maxsize=1024)
def _national(key: tuple) -> str:
    """A clinic's number as its patients dial it; formatting is costly and the clinics are few."""
    country_code, national_number, leading_zero, zeros = key
    number = phonenumbers.PhoneNumber(
        country_code=country_code,
        national_number=national_number,
        italian_leading_zero=leading_zero,
        number_of_leading_zeros=zeros,
    )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def _provider_items(reminder: Reminder) -> list[dict]:
    """Tomorrow's check-ins for the provider notice: times, titles and initials only."""
    if reminder.item is None:
        return []
    start = reminder.item.start
    day = start.astimezone(ZoneInfo(reminder.plan.clinic.time_zone)).date()
    siblings = PlanItem.objects.filter(
        plan__clinic=reminder.plan.clinic_id,
        plan__provider=reminder.provider_id,
        kind=PlanItem.Kind.CHECK_IN,
        status=PlanItem.Status.SCHEDULED,
        start__range=(start - dt.timedelta(days=1), start + dt.timedelta(days=1)),
    ).select_related("plan__patient")
    items = []
    for item in siblings:
        local = item.start.astimezone(ZoneInfo(reminder.plan.clinic.time_zone))
        if local.date() != day:
            continue
        patient = item.plan.patient
        items.append(
            {
                "time": local.strftime("%I:%M %p").lstrip("0"),
                "title": item.title,
                "patient_initials": f"{patient.first_name[:1]}{patient.last_name[:1]}",
            }
        )
    return sorted(items, key=lambda i: i["time"])


def build_context(reminder: Reminder, *, with_provider_items: bool = True) -> dict:
    plan, clinic, patient = reminder.plan, reminder.plan.clinic, reminder.plan.patient
    item = reminder.item
    to_patient = reminder.audience == Reminder.Audience.PATIENT
    zone = patient.time_zone if to_patient else clinic.time_zone
    language = patient.language if to_patient else "en"
    treatment_name = TREATMENT_NAMES.get(plan.protocol.slug, "")
    context: dict[str, object] = {
        "clinic_name": clinic.sender_name or clinic.name,
        "clinic_phone": _national(_number_key(clinic.phone)) if clinic.phone else "",
        "clinic_email": clinic.sender_email,
        # A protocol without a known plain name is never named, whatever the clinic allows.
        "names_treatment": clinic.name_treatment_in_messages and bool(treatment_name),
        "treatment_name": treatment_name,
        "patient_first_name": patient.first_name,
        "repeat_index": reminder.repeat_index,
    }
    if to_patient:
        # A patient's signed links go to that patient only: a provider who clicked one would act
        # as the patient (opt them out, see their schedule).
        context["unsubscribe_url"] = links.unsubscribe_url(patient.pk)
        context["schedule_url"] = links.patient_schedule_url(patient)
        crisis_lines = crisis.for_clinic(clinic.crisis_country, language)
        context["crisis_lines"], context["crisis_short"] = crisis_lines.lines, crisis_lines.short
    if item is not None:
        when, day, time = _when(item.start, zone, language)
        context.update(item_title=item.title, item_when=when, item_date=day, item_time=time)
        if to_patient:
            # The journal prompt opens the journal, never the check-in it comes before: writing
            # an entry is not the check-in (which only staff record as done).
            context["link_url"] = (
                links.patient_journal_url(patient, item.pk)
                if reminder.message_kind == "journal_prompt"
                else links.patient_item_url(patient, item.pk)
            )
    if reminder.message_kind in NOTICE_KINDS:
        sessions = notice_sessions(reminder)
        context["sessions"] = [
            {
                "title": s.title,
                "when": _when(s.start, zone, language)[0],
                "cancelled": s.status == PlanItem.Status.CANCELLED,
            }
            for s in sessions
        ]
        if sessions:  # the first session stands for the change in a one-session notice
            when, day, time = _when(sessions[0].start, zone, language)
            context.update(
                item_title=sessions[0].title, item_when=when, item_date=day, item_time=time
            )
    if reminder.audience == Reminder.Audience.PROVIDER:
        provider = reminder.provider
        context["provider_name"] = provider.user.get_full_name() or provider.user.get_username()
        context["schedule_url"] = links.absolute(reverse("provider-dashboard"))
        context["items"] = _provider_items(reminder) if with_provider_items else []
        context["task_title"] = item.title if item else "Task"
        context["due_date"] = _when(item.end if item else reminder.not_after, zone, language)[1]
        context["link_url"] = links.absolute(reverse("provider-dashboard"))
        if reminder.flag_id is not None:
            context.update(_flag_context(reminder))
    return context


def notice_sessions(reminder: Reminder) -> list[PlanItem]:
    """The sessions a change notice reports (memoised on the row: the words and the calendar
    file list the same ones, and delivery records them as told once the notice is sent)."""
    if not hasattr(reminder, "notice_items"):
        reminder.notice_items = list(unnotified(reminder.plan).order_by("start", "id")) or (
            [reminder.item] if reminder.item else []
        )
    return reminder.notice_items


FLAG_SOURCES = {
    "response": "an answer to a questionnaire",
    "sms": "a text message",
    "check_in_note": "a note before a check-in",
    "journal": "a shared journal entry",
}


def _flag_context(reminder: Reminder) -> dict:
    """Who and where from, never what: the answer, the words and the score stay behind login."""
    flag, patient = reminder.flag, reminder.plan.patient
    source = "response" if flag.response_id else (flag.message.source if flag.message_id else "")
    waited = max(0, int((reminder.send_at - flag.raised_at).total_seconds() // 60))
    return {
        "patient_initials": f"{patient.first_name[:1]}{patient.last_name[:1]}".upper(),
        "flag_source": FLAG_SOURCES.get(source, "a patient's message"),
        "minutes_waiting": waited,
        "backup_after_minutes": reminder.plan.clinic.escalation_minutes,
        "link_url": links.absolute(reverse("provider-flag", args=[flag.pk])),
    }


def render(
    reminder: Reminder, *, with_provider_items: bool = True, channel: str | None = None
) -> RenderedMessage:
    language = reminder.plan.patient.language if reminder.audience == "patient" else "en"
    context = build_context(reminder, with_provider_items=with_provider_items)
    return render_message(
        kind=reminder.message_kind, language=language, context=context, channel=channel
    )


def recipient_address(reminder: Reminder) -> str:
    if reminder.audience == Reminder.Audience.PATIENT:
        patient = reminder.plan.patient
        return patient.email if reminder.channel == Reminder.Channel.EMAIL else str(patient.mobile)
    provider = reminder.provider
    return (
        provider.user.email if reminder.channel == Reminder.Channel.EMAIL else str(provider.mobile)
    )


def build_sms(reminder: Reminder, rendered: RenderedMessage) -> OutgoingSms:
    return OutgoingSms(
        to=recipient_address(reminder),
        body=rendered.sms,
        reminder_id=reminder.pk,
        status_callback=links.absolute(reverse("twilio-status")),
        sender=reminder.plan.clinic.sms_from_number.as_e164
        if reminder.plan.clinic.sms_from_number
        else "",
    )


def build_email(
    reminder: Reminder, rendered: RenderedMessage, *, now: dt.datetime
) -> OutgoingEmail:
    clinic = reminder.plan.clinic
    headers = {}
    if reminder.audience == Reminder.Audience.PATIENT:
        unsubscribe = links.unsubscribe_url(reminder.plan.patient_id)  # memoised per patient
        # RFC 8058 one-click: mail clients POST "List-Unsubscribe=One-Click" to this URL.
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    attachments = ()
    item = reminder.item
    if reminder.message_kind in NOTICE_KINDS:
        sessions = [s for s in notice_sessions(reminder) if s.kind in SESSION_KINDS]
    elif item is not None and item.kind in SESSION_KINDS:
        sessions = [item]
    else:
        sessions = []
    if (
        sessions
        and reminder.message_kind in INVITING_MESSAGE_KINDS
        and reminder.audience == "patient"
    ):
        attachments = tuple(
            (
                f"sessions-{method.lower()}.ics" if len(sessions) > 1 else "session.ics",
                ics,
                f"text/calendar; method={method}",
            )
            for method, ics in session_invitations(
                sessions,
                attendee_email=recipient_address(reminder),
                organizer_email=clinic.sender_email or settings.DEFAULT_FROM_EMAIL,
                clinic_name=clinic.sender_name or clinic.name,
                now=now,
            )
        )
    # formataddr quotes a display name with commas or quotes ("Smith, Jones & Co").
    from_email = (
        formataddr((clinic.sender_name or clinic.name, clinic.sender_email))
        if clinic.sender_email
        else ""
    )
    return OutgoingEmail(
        to=recipient_address(reminder),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        reminder_id=reminder.pk,
        from_email=from_email,
        headers=headers,
        attachments=attachments,
    )
