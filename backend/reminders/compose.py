"""Turn a Reminder row into the message a channel backend sends: context, words, headers, .ics."""

from __future__ import annotations

import dataclasses
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
from backend.plans.missed import missed_start_of
from backend.plans.models import PlanItem
from backend.reminders import digest, links, protocol_text
from backend.reminders.channels import OutgoingEmail, OutgoingSms
from backend.reminders.ics import session_invitations
from backend.reminders.models import Reminder
from backend.reminders.wording import (
    EMAIL_ONLY_KINDS,
    ContentError,
    RenderedMessage,
    render_message,
)
from backend.safety import crisis
from scheduler.model import SESSION_KINDS

# Messages that announce a session carry its calendar invitation; a day-after message does not
# invite anyone to a session that has already happened.
INVITING_MESSAGE_KINDS = {
    "what_to_expect",
    "preparation_48h",
    "preparation_evening",
    "preparation_2h",
    "integration_reminder",
    "preparation_session_reminder",
    "booster_reminder",
    "session_changed",
    "session_cancelled",
}
# Who a message is from when the clinic has no name that may be shown: a blank sender name
# and a legal name naming a drug, or no short name for a text (Clinic.email_sender_name,
# Clinic.sms_sender).
NEUTRAL_SENDER = {"en": "Your care team", "es": "Su equipo de salud"}


# How a date and a time read in each message language (Django date-format syntax).
WHEN_FORMATS = {"en": ("D j M", "g:i A"), "es": (r"D j \d\e M", "G:i")}


# A pure function of its arguments, and costly (a translation switch and two localised formats):
# a session is named by every message about it, on both channels, so a worker keeps the words.
@functools.lru_cache(maxsize=4096)
def _when(value: dt.datetime, zone: str, language: str = "en") -> tuple[str, str, str]:
    """("Tue 3 Mar, 9:00 AM", "Tue 3 Mar", "9:00 AM") in the zone and language given."""
    local = value.astimezone(ZoneInfo(zone))
    day_format, time_format = WHEN_FORMATS.get(language, WHEN_FORMATS["en"])
    with translation.override(language if language in WHEN_FORMATS else "en"):
        day, time = date_format(local, day_format), date_format(local, time_format)
    return f"{day}, {time}", day, time


def _local_day(value: dt.datetime, zone: str) -> dt.date:
    return value.astimezone(ZoneInfo(zone)).date()


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


def clinic_of(reminder: Reminder):
    """The clinic a reminder is sent for: its plan's, or the provider's for a digest (no plan)."""
    return reminder.plan.clinic if reminder.plan_id is not None else reminder.provider.clinic


def _digest_context(reminder: Reminder) -> dict:
    """The daily digest's words, from the provider's items as they stand now (send time)."""
    provider, clinic = reminder.provider, reminder.provider.clinic
    email_sender, sms_sender = sender_names(clinic)
    day = digest.day_of(reminder)
    with translation.override("en"):
        item_date = date_format(day, WHEN_FORMATS["en"][0])
    return {
        "clinic_name": email_sender,
        "sms_sender": sms_sender,
        "clinic_phone": _national(_number_key(clinic.phone)) if clinic.phone else "",
        "clinic_email": clinic.sender_email,
        "names_treatment": False,  # a digest spans plans and protocols: it names none
        "provider_name": provider.user.get_full_name() or provider.user.get_username(),
        "item_date": item_date,
        "items": digest.digest_entries(provider=provider, day=day),
        "schedule_url": links.absolute(reverse("provider-dashboard")),
        "link_url": links.absolute(reverse("provider-dashboard")),
    }


def sender_names(clinic, language: str = "en") -> tuple[str, str]:
    """(email sender name, SMS sender name): never a name with a drug or diagnosis word, and
    the SMS one at most 20 characters; the neutral name where the clinic has none."""
    neutral = NEUTRAL_SENDER.get(language, NEUTRAL_SENDER["en"])
    return clinic.email_sender_name() or neutral, clinic.sms_sender() or neutral


def build_context(
    reminder: Reminder,
    *,
    with_provider_items: bool = True,
    channel: str | None = None,
    preview: bool = False,
) -> dict:
    """The template context of ``reminder``. For ``channel="sms"`` a patient's links are short
    links (links.short_url); otherwise they are the full signed links. A staff ``preview`` shows
    a short link of the real length that opens nothing (a patient's link acts as the patient).
    A digest (no plan) has its own context (`_digest_context`)."""
    if digest.is_digest(reminder):
        return _digest_context(reminder)
    plan, clinic, patient = reminder.plan, reminder.plan.clinic, reminder.plan.patient
    item = reminder.item
    to_patient = reminder.audience == Reminder.Audience.PATIENT
    zone = patient.time_zone if to_patient else clinic.time_zone
    language = patient.language if to_patient else "en"
    protocol = protocol_text.engine_protocol(plan.protocol)
    treatment_name = protocol_text.treatment_name(protocol, language)
    email_sender, sms_sender = sender_names(clinic, language)
    context: dict[str, object] = {
        "clinic_name": email_sender,
        "sms_sender": sms_sender,
        "clinic_phone": _national(_number_key(clinic.phone)) if clinic.phone else "",
        "clinic_email": clinic.sender_email,
        # A protocol without a name in this language is never named, whatever the clinic allows.
        "names_treatment": clinic.name_treatment_in_messages and bool(treatment_name),
        "treatment_name": treatment_name,
        "patient_first_name": patient.first_name,
        "repeat_index": reminder.repeat_index,
    }

    def title(of: PlanItem) -> str:
        # Patients (and whoever reads their screen) see the neutral title; staff their own.
        return protocol_text.item_patient_title(protocol, of, language) if to_patient else of.title

    def patient_link(url: str):
        if channel != "sms":
            return url
        if preview:
            return links.absolute(links.short_path(links.PREVIEW_CODE))
        # Django templates call a callable variable: the short link (a row) is made only for
        # the links the text really carries, once each.
        return functools.cache(lambda: links.short_url(patient, url))

    if to_patient:
        # A patient's signed links go to that patient only: a provider who clicked one would act
        # as the patient (opt them out, see their schedule).
        context["unsubscribe_url"] = _unsubscribe_url(reminder)
        context["schedule_url"] = patient_link(links.patient_schedule_url(patient))
        crisis_lines = crisis.for_clinic(clinic.crisis_country, language)
        context["crisis_lines"], context["crisis_short"] = crisis_lines.lines, crisis_lines.short
        context["prep"] = protocol_text.preparation_context(protocol)
        # Emails tell the patient to "reply YES to our text" only when they receive texts.
        context["may_text"] = bool(patient.may_sms)
    if item is not None:
        when, day, time = _when(item.start, zone, language)
        context.update(item_title=title(item), item_when=when, item_date=day, item_time=time)
        if to_patient:
            # The journal prompt opens the journal, never the check-in it comes before: writing
            # an entry is not the check-in (which only staff record as done).
            context["link_url"] = patient_link(
                links.patient_journal_url(patient, item.pk)
                if reminder.message_kind == "journal_prompt"
                else links.patient_item_url(patient, item.pk)
            )
    if item is not None and reminder.message_kind == "day_after":
        # Sent the evening of the session (a pain series' `evening_after`), "do not drive today"
        # would read as permission to drive tomorrow morning: the words say "tonight" instead.
        context["same_day"] = _local_day(reminder.send_at, zone) == _local_day(item.start, zone)
    if reminder.message_kind == "session_missed" and (missed := missed_start_of(reminder)):
        when, day, time = _when(missed, zone, language)
        context.update(item_when=when, item_date=day, item_time=time)
        if (
            item is not None
            and item.status == PlanItem.Status.SCHEDULED
            and item.start > missed
            and reminder.plan.status == reminder.plan.Status.ACTIVE
        ):
            # A re-plan has already moved the session: say when, rather than "call to rebook".
            context["rebooked_when"] = _when(item.start, zone, language)[0]
    if reminder.message_kind in NOTICE_KINDS:
        sessions = notice_sessions(reminder)
        context["sessions"] = [
            {
                "title": title(s),
                "when": _when(s.start, zone, language)[0],
                "cancelled": s.status == PlanItem.Status.CANCELLED,
            }
            for s in sessions
        ]
        if sessions:  # the first session stands for the change in a one-session notice
            when, day, time = _when(sessions[0].start, zone, language)
            context.update(
                item_title=title(sessions[0]), item_when=when, item_date=day, item_time=time
            )
    if reminder.audience == Reminder.Audience.PROVIDER:
        provider = reminder.provider
        context["provider_name"] = provider.user.get_full_name() or provider.user.get_username()
        context["patient_initials"] = _initials(patient)
        context["schedule_url"] = links.absolute(reverse("provider-dashboard"))
        context["items"] = _provider_items(reminder) if with_provider_items else []
        context["task_title"] = item.title if item else "Task"
        context["due_date"] = _when(item.end if item else reminder.not_after, zone, language)[1]
        context["link_url"] = links.absolute(reverse("provider-dashboard"))
        if reminder.flag_id is not None:
            context.update(_flag_context(reminder))
    return context


def _unsubscribe_url(reminder: Reminder) -> str:
    """The patient's unsubscribe link, made once per message: the words and the
    List-Unsubscribe header carry the same one (memoised on the row, like `notice_sessions`)."""
    if not hasattr(reminder, "unsubscribe_link"):
        reminder.unsubscribe_link = links.unsubscribe_url(reminder.plan.patient_id)
    return reminder.unsubscribe_link


def _initials(patient) -> str:
    return f"{patient.first_name[:1]}{patient.last_name[:1]}".upper()


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
    "missed_session": "a missed session",
}


def _flag_context(reminder: Reminder) -> dict:
    """Who and where from, never what: the answer, the words and the score stay behind login."""
    flag, patient = reminder.flag, reminder.plan.patient
    source = "response" if flag.response_id else (flag.message.source if flag.message_id else "")
    if flag.kind == flag.Kind.MISSED_SESSION:
        source = "missed_session"
    waited = max(0, int((reminder.send_at - flag.raised_at).total_seconds() // 60))
    context = {
        "patient_initials": _initials(patient),
        "flag_source": FLAG_SOURCES.get(source, "a patient's message"),
        "minutes_waiting": waited,
        "backup_after_minutes": reminder.plan.clinic.escalation_minutes,
        "link_url": links.absolute(reverse("provider-flag", args=[flag.pk])),
    }
    if flag.session_start is not None:
        # The welfare call names when the session was due (a re-plan may have moved the item).
        when, day, time = _when(flag.session_start, reminder.plan.clinic.time_zone)
        context.update(item_when=when, item_date=day, item_time=time)
    return context


def render(
    reminder: Reminder,
    *,
    with_provider_items: bool = True,
    channel: str | None = None,
    preview: bool = False,
) -> RenderedMessage:
    """The reminder's words on ``channel`` ("email" or "sms"), or on both when None (tests): the
    email with full links, the SMS with short links (``preview``: see build_context)."""
    language = reminder.plan.patient.language if reminder.audience == "patient" else "en"
    options = {"with_provider_items": with_provider_items, "preview": preview}
    if channel is None:
        email = render(reminder, channel="email", **options)
        if reminder.message_kind in EMAIL_ONLY_KINDS:
            return email
        return dataclasses.replace(email, sms=render(reminder, channel="sms", **options).sms)
    context = build_context(reminder, channel=channel, **options)
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
        sender=clinic_of(reminder).sms_from_number.as_e164
        if clinic_of(reminder).sms_from_number
        else "",
    )


def _patient_titles(reminder: Reminder, sessions, language: str) -> dict[int, str]:
    """Each session's neutral title, for the calendar invitation (calendars are shared)."""
    protocol = protocol_text.engine_protocol(reminder.plan.protocol)
    return {s.pk: protocol_text.item_patient_title(protocol, s, language) for s in sessions}


def build_email(
    reminder: Reminder, rendered: RenderedMessage, *, now: dt.datetime
) -> OutgoingEmail:
    clinic = clinic_of(reminder)
    language = reminder.plan.patient.language if reminder.audience == "patient" else "en"
    sender = sender_names(clinic, language)[0]
    headers = {}
    if reminder.audience == Reminder.Audience.PATIENT:
        unsubscribe = _unsubscribe_url(reminder)
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
                clinic_name=sender,
                titles=_patient_titles(reminder, sessions, language),
                now=now,
            )
        )
    # formataddr quotes a display name with commas or quotes ("Smith, Jones & Co").
    from_email = formataddr((sender, clinic.sender_email)) if clinic.sender_email else ""
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


def preview_text(reminder: Reminder) -> str:
    """What a reminder will say, for staff screens; a failure shows as text, never as a 500.

    The channel's own words: a text with a short link of the real length that opens nothing
    (staff must not hold a link that acts as the patient), an email its subject."""
    try:
        rendered = render(
            reminder, with_provider_items=False, channel=reminder.channel, preview=True
        )
    except (ContentError, KeyError, ValueError) as exc:
        return f"(cannot render: {exc})"
    return rendered.sms if reminder.channel == Reminder.Channel.SMS else rendered.subject
