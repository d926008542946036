"""The words of every reminder: render a message kind from its files under ``templates/email/``.

Each message kind is a folder, ``templates/email/<kind>/``, holding four files: ``subject.txt``
(email subject), ``body.txt`` (plain-text email), ``body.html`` (HTML email) and ``sms.txt`` (the
SMS text). A translation lives in ``templates/email/<kind>/<language>/`` with the same four files;
a language without its own folder gets English. Code chooses the kind; the files say the words.
The shared email layouts are ``templates/email/base.txt`` and ``base.html`` (``base.es.*`` in
Spanish); they carry the clinic contact and the unsubscribe link.

Context variables (the backend supplies these; ``REQUIRED_CONTEXT`` says which each kind needs):

- ``patient_first_name``: the patient's first name, as they want to be addressed.
- ``clinic_name``, ``clinic_phone``: always required; every email shows them. ``clinic_name`` is
  the email sender name, never a legal name that names a drug (messages.sender_names).
- ``sms_sender``: the short name (at most 20 characters) every SMS opens with; always required.
- ``clinic_email``: optional; shown in the email footer when present.
- ``item_title``: the item's title. For patients it is the neutral title the protocol gives them
  ("Session 3", never "Dosing session" or a questionnaire's name); provider messages keep the
  staff title. Never in a subject or an SMS.
- ``item_when``: the item's local date and time, formatted, e.g. "Tue 3 Mar, 9:00 AM".
- ``item_date``, ``item_time``: the same, date or time alone ("Tue 3 Mar", "9:00 AM").
- ``schedule_url``: the patient's schedule link, or the provider's dashboard for provider kinds.
- ``unsubscribe_url``: the patient's signed email unsubscribe link; required for patient kinds and
  never given to provider kinds (a provider holding it could opt the patient out).
- ``link_url``: the action link: journal entry, check-in, questionnaire, the session's page
  (where the patient confirms being ready) or the provider's page. In an SMS, patient links are
  short links (``/l/<code>``, links.short_url); emails carry the full signed link.
- ``names_treatment`` (bool): the clinic allows naming the treatment. Always required. Even when
  on, subjects and SMS texts never name it (carriers filter texts naming controlled substances).
- ``treatment_name``: the protocol's name for it in the message language ("ketamina"); used in
  email bodies only, and only if ``names_treatment``.
- ``prep``: for the preparation kinds, the protocol's numbers (messages.preparation_context):
  ``food``, ``liquids``, ``nasal_medicines``, ``avoid_alcohol`` (each ``None`` or a dict with
  ``n`` and ``unit`` "hours"/"minutes") and ``bring`` (codes such as "ride_home"). The templates
  say them in words; a protocol without a number gets the "as your care team advised" wording.
- ``provider_name``: how a provider is greeted, e.g. "Dr. Patel".
- ``items``: for ``provider_checkins_tomorrow``, a list of dicts with ``time``, ``title`` and
  ``patient_initials``. Provider SMS texts show only the count, never patient details. For
  ``provider_daily_digest`` (email only), the day's sessions, check-ins and tasks as they stand at
  send time, each also with ``kind`` ("Session", "Check-in", "Task"); ``item_date`` is the day
  the digest lists ("Tue 3 Mar") and ``schedule_url`` the provider's dashboard.
- ``due_date``, ``task_title``: for ``provider_task_due``, e.g. "Tue 3 Mar", "Monitoring form".
- ``repeat_index``: 0 for the first assessment prompt, 1, 2, ... for the reminders after it.
- ``sessions``: for ``session_changed`` / ``session_cancelled``, every session of the change the
  patient has not yet been told about: dicts with ``title``, ``when`` and ``cancelled`` (one
  notice lists them all; see plans/calendar_notices.py).
- ``crisis_lines``, ``crisis_short``: the clinic country's crisis lines in the patient's language
  (backend/safety/crisis_resources.json); every patient email shows the lines, and the day-after
  text carries the short sentence.
- ``session_missed``: the session's ``item_date``/``item_time``; ``provider_readiness_missing``:
  ``patient_initials`` and the session's ``item_when``, with ``link_url`` to the dashboard.
- ``patient_initials``, ``flag_source`` ("an answer to a questionnaire"), ``minutes_waiting``,
  ``backup_after_minutes``: for the safety alerts (``provider_*_flag``). An alert names no answer,
  word or score: those stay behind the clinician's login.

Subjects come out as one line and SMS texts as one line, in the encoding ``SMS_ENCODING`` chose
for the kind and language (see ``sms_text``). Plain text and SMS are rendered without HTML
escaping; the HTML body is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.template import Context, TemplateDoesNotExist
from django.template.loader import get_template, select_template

from backend.reminders.sms_text import to_gsm_friendly, to_plain_punctuation
from scheduler import MESSAGE_KINDS as ENGINE_MESSAGE_KINDS

__all__ = [
    "CHANNEL_FILES",
    "DIGEST_KINDS",
    "EMAIL_ONLY_KINDS",
    "LANGUAGES",
    "MESSAGE_KINDS",
    "PATIENT_KINDS",
    "PREPARATION_KINDS",
    "PROVIDER_KINDS",
    "REQUIRED_CONTEXT",
    "SAFETY_KINDS",
    "SMS_ENCODING",
    "SMS_SEGMENT_BUDGET",
    "ContentError",
    "RenderedMessage",
    "render_message",
]

# One folder per kind; the planning engine owns the list (one name per idea), and the safety
# loop (backend.safety) adds the alerts it writes to the outbox itself.
SAFETY_KINDS: tuple[str, ...] = (
    "provider_urgent_flag",
    "provider_urgent_flag_backup",
    "provider_worsening_flag",
    # A missed session: someone calls the patient (initials and a link, nothing more).
    "provider_welfare_call",
)
# The provider's daily digest (backend.reminders.digest): written by its own beat task, not by a
# protocol rule. It replaces "provider_checkins_tomorrow", which stays a kind so that rows of
# older plans still render in the admin (they are skipped at send time: eligibility).
DIGEST_KINDS: tuple[str, ...] = ("provider_daily_digest",)
MESSAGE_KINDS: tuple[str, ...] = ENGINE_MESSAGE_KINDS + SAFETY_KINDS + DIGEST_KINDS
PROVIDER_KINDS: tuple[str, ...] = (
    "provider_checkins_tomorrow",
    *DIGEST_KINDS,
    "provider_task_due",
    "provider_readiness_missing",
    *SAFETY_KINDS,
)
PATIENT_KINDS: tuple[str, ...] = tuple(k for k in MESSAGE_KINDS if k not in PROVIDER_KINDS)
# Kinds that say how to get ready for a session, with the protocol's numbers (``prep``).
PREPARATION_KINDS: tuple[str, ...] = ("preparation_48h", "preparation_evening", "preparation_2h")
# Kinds sent by email only: what dosing feels like takes more than a text can hold, and a text
# would put the subject on a lock screen. They have no sms.txt; rendering one as SMS is an error.
# The daily digest lists patients' initials and times: an inbox, not a lock screen.
EMAIL_ONLY_KINDS: tuple[str, ...] = ("what_to_expect", *DIGEST_KINDS)
LANGUAGES: tuple[str, ...] = ("en", "es")
CHANNEL_FILES: tuple[str, ...] = ("subject.txt", "body.txt", "body.html", "sms.txt")

_COMMON = frozenset({"clinic_name", "clinic_phone", "sms_sender", "names_treatment"})
# Patients' messages carry their own unsubscribe link; providers' never carry a patient's link.
_ALWAYS = _COMMON | {"unsubscribe_url"}
_SESSION = frozenset({"patient_first_name", "item_title", "item_when", "schedule_url"})
# Safety alerts say who (initials) and where it came from; the details stay behind the login.
_FLAG = _COMMON | {"provider_name", "patient_initials", "flag_source", "link_url"}
# The 48-hour and evening messages ask the patient to confirm being ready (link_url: the
# session's page, or a YES reply).
_READY = _ALWAYS | _SESSION | {"link_url", "prep"}

# What each kind's templates use. render_message refuses a context without these, rather than
# send "Hi ," -- and the content test proves each set is enough to render its kind.
REQUIRED_CONTEXT: Mapping[str, frozenset[str]] = {
    "preparation_48h": _READY,
    "preparation_evening": _READY | {"item_time"},
    "preparation_2h": _ALWAYS | {"patient_first_name", "item_time", "prep"},
    "what_to_expect": _ALWAYS | _SESSION,
    "day_after": _ALWAYS | {"patient_first_name", "item_date", "crisis_short"},
    "integration_reminder": _ALWAYS | _SESSION,
    "preparation_session_reminder": _ALWAYS | _SESSION,
    "journal_prompt": _ALWAYS | {"patient_first_name", "link_url"},
    "check_in_invitation": _ALWAYS | {"patient_first_name", "item_title", "item_when", "link_url"},
    "assessment_prompt": _ALWAYS | {"patient_first_name", "item_title", "link_url", "repeat_index"},
    "booster_reminder": _ALWAYS | _SESSION,
    "session_missed": _ALWAYS
    | {"patient_first_name", "item_date", "item_time", "schedule_url", "crisis_short"},
    "provider_checkins_tomorrow": _COMMON | {"provider_name", "items", "schedule_url"},
    "provider_daily_digest": _COMMON | {"provider_name", "items", "item_date", "schedule_url"},
    "provider_task_due": _COMMON | {"provider_name", "task_title", "due_date", "link_url"},
    "provider_readiness_missing": _COMMON
    | {"provider_name", "patient_initials", "item_when", "link_url"},
    "session_changed": _ALWAYS | _SESSION | {"sessions"},
    "session_cancelled": _ALWAYS | _SESSION | {"sessions"},
    "provider_urgent_flag": _FLAG,
    "provider_urgent_flag_backup": _FLAG | {"minutes_waiting"},
    "provider_worsening_flag": _FLAG,
    # The missed session's time when the alert has its item (item_when); initials and a link.
    "provider_welfare_call": _COMMON | {"provider_name", "patient_initials", "link_url"},
}

# Segments an SMS of each kind may take (one unless listed), measured with the longest SMS
# sender name and real short links: the day-after text carries the crisis lines; the evening
# before carries the fasting numbers and the four statements a YES confirms; the 48-hour text
# carries the readiness page's short link (the statements are on the page, never a bare YES);
# a missed session offers the crisis line; a clinician's alert is worth a second segment
# rather than a shorter link, and so is a clinician's readiness notice (rare: only when a
# patient has not confirmed); a change notice in Spanish keeps its accents ("cambió" is not
# "cambio").
SMS_SEGMENT_BUDGET: Mapping[str, int] = {
    "day_after": 2,
    "provider_readiness_missing": 2,
    "preparation_evening": 2,
    "preparation_48h": 2,
    "session_missed": 2,
    "session_changed": 2,
    "session_cancelled": 2,
    **dict.fromkeys(SAFETY_KINDS, 2),
}

# How each SMS is encoded, by kind and language: "gsm7" folds the letters GSM-7 lacks (á, í, ó,
# ú; é, ñ and ü are in it) to their base letter; "ucs2" keeps them, at 70 characters a segment
# instead of 160. UCS-2 only where a missing accent changes the meaning and the text still fits
# its budget: the Spanish change notices ("cambió" / "cambio", "está" / "esta"). Everything else
# is worded so that folding reads naturally ("sesion", "manana" never occurs: ñ is GSM-7).
SMS_ENCODING: Mapping[tuple[str, str], str] = {
    (kind, language): "ucs2"
    if (kind, language) in {("session_changed", "es"), ("session_cancelled", "es")}
    else "gsm7"
    for kind in MESSAGE_KINDS
    if kind not in EMAIL_ONLY_KINDS
    for language in LANGUAGES
}

_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*")
_BLANK_LINES = re.compile(r"\n{3,}")


class ContentError(Exception):
    """A message cannot be rendered: unknown kind, missing template file or context variable.

    Permanent: rendering again with the same input fails the same way.
    """


@dataclass(frozen=True)
class RenderedMessage:
    """One message in every channel; ``language`` is the translation used ("en" if none)."""

    subject: str
    text: str
    html: str
    sms: str
    language: str = "en"


def render_message(
    *, kind: str, language: str, context: Mapping[str, object], channel: str | None = None
) -> RenderedMessage:
    """Render ``kind`` in ``language`` (falling back to English) with ``context``.

    ``language`` may be a tag such as "es-MX": "es-mx", then "es", then English are tried. The
    translation is chosen per kind by its ``subject.txt``; once chosen, all four files must be in
    that folder, so a message never mixes two languages. Raises ``ContentError`` for an unknown
    kind, a context without the kind's ``REQUIRED_CONTEXT`` (or blank ones), and a missing file.
    ``channel`` ("email" or "sms") renders only that channel's parts (the others come back empty):
    the send path renders what it sends and nothing more. An ``EMAIL_ONLY_KINDS`` kind has no SMS:
    asking for one is a ``ContentError``, and a full render leaves ``sms`` empty.
    """
    if kind not in MESSAGE_KINDS:
        raise ContentError(
            f"unknown message kind {kind!r}; known kinds: {', '.join(MESSAGE_KINDS)}"
        )
    _check_context(kind, context)
    folder, used_language = _choose_folder(kind, language)
    values = dict(context)
    if channel == "sms" and kind in EMAIL_ONLY_KINDS:
        raise ContentError(f"message kind {kind!r} is sent by email only (EMAIL_ONLY_KINDS)")
    email = channel in (None, "email")
    sms = channel in (None, "sms") and kind not in EMAIL_ONLY_KINDS
    return RenderedMessage(
        subject=" ".join(_render(folder, "subject.txt", values, escape=False).split())
        if email
        else "",
        text=_tidy_text(_render(folder, "body.txt", values, escape=False)) if email else "",
        html=_render(folder, "body.html", values, escape=True).strip() + "\n" if email else "",
        sms=_sms_text(_render(folder, "sms.txt", values, escape=False), kind, used_language)
        if sms
        else "",
        language=used_language,
    )


def _sms_text(raw: str, kind: str, language: str) -> str:
    """One line, in the encoding SMS_ENCODING chose (special spaces, quotes and dashes always go:
    they would force UCS-2 for nothing)."""
    if SMS_ENCODING.get((kind, language), "gsm7") == "ucs2":
        return " ".join(to_plain_punctuation(raw).split())
    return " ".join(to_gsm_friendly(raw).split())


def _check_context(kind: str, context: Mapping[str, object]) -> None:
    required = set(REQUIRED_CONTEXT[kind])
    if context.get("names_treatment"):
        required.add("treatment_name")
    missing = sorted(name for name in required if name not in context)
    blank = sorted(
        name
        for name in required - set(missing)
        if isinstance(context[name], str) and not context[name].strip()
    )
    if missing or blank:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if blank:
            problems.append(f"blank {', '.join(blank)}")
        raise ContentError(f"message kind {kind!r}: context {'; '.join(problems)}")


def _language_candidates(language: str) -> list[str]:
    """Translation folders to try for ``language``, most specific first; English is the root."""
    code = (language or "").strip().lower().replace("_", "-")
    if not _LANGUAGE_CODE.fullmatch(code):
        return []
    candidates = [code]
    primary = code.split("-", 1)[0]
    if primary != code:
        candidates.append(primary)
    return [candidate for candidate in candidates if candidate != "en"]


def _choose_folder(kind: str, language: str) -> tuple[str, str]:
    """The template folder and language used: the first translation with a ``subject.txt``."""
    candidates = _language_candidates(language)
    names = [f"email/{kind}/{code}/subject.txt" for code in candidates]
    names.append(f"email/{kind}/subject.txt")
    try:
        chosen = select_template(names).origin.template_name
    except TemplateDoesNotExist as error:
        raise ContentError(
            f"message kind {kind!r}: templates/email/{kind}/subject.txt is missing"
        ) from error
    folder = chosen.rsplit("/", 1)[0]
    used = folder.rsplit("/", 1)[1] if folder != f"email/{kind}" else "en"
    return folder, used


def _render(folder: str, filename: str, context: dict[str, object], *, escape: bool) -> str:
    name = f"{folder}/{filename}"
    try:
        template = get_template(name)
    except TemplateDoesNotExist as error:
        raise ContentError(
            f"templates/{name} is missing (every message kind needs all of "
            f"{', '.join(CHANNEL_FILES)})"
        ) from error
    if escape:
        return template.render(context)
    # Plain text and SMS: no HTML escaping, or "Smith & Jones" would arrive as "Smith &amp; Jones".
    return template.template.render(Context(context, autoescape=False))


def _tidy_text(raw: str) -> str:
    """Strip trailing spaces and runs of blank lines that template tags leave behind."""
    text = "\n".join(line.rstrip() for line in raw.strip().splitlines())
    return _BLANK_LINES.sub("\n\n", text) + "\n"
