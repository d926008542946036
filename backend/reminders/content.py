"""The words of every reminder: render a message kind from its files under ``templates/email/``.

Each message kind is a folder, ``templates/email/<kind>/``, holding four files: ``subject.txt``
(email subject), ``body.txt`` (plain-text email), ``body.html`` (HTML email) and ``sms.txt`` (the
SMS text). A translation lives in ``templates/email/<kind>/<language>/`` with the same four files;
a language without its own folder gets English. Code chooses the kind; the files say the words.
The shared email layouts are ``templates/email/base.txt`` and ``base.html`` (``base.es.*`` in
Spanish); they carry the clinic contact and the unsubscribe link.

Context variables (the backend supplies these; ``REQUIRED_CONTEXT`` says which each kind needs):

- ``patient_first_name``: the patient's first name, as they want to be addressed.
- ``clinic_name``, ``clinic_phone``: always required; every email and SMS shows them.
- ``clinic_email``: optional; shown in the email footer when present.
- ``item_title``: the plan item's title, e.g. "Session 3". Shown in email bodies only, never in a
  subject or an SMS, so a protocol title that names a drug cannot leak to a lock screen.
- ``item_when``: the item's local date and time, formatted, e.g. "Tue 3 Mar, 9:00 AM".
- ``item_date``, ``item_time``: the same, date or time alone ("Tue 3 Mar", "9:00 AM").
- ``schedule_url``: the patient's schedule link, or the provider's dashboard for provider kinds.
- ``unsubscribe_url``: the patient's signed email unsubscribe link; required for patient kinds and
  never given to provider kinds (a provider holding it could opt the patient out).
- ``link_url``: the action link: journal entry, check-in, questionnaire or provider task form.
  SMS texts are measured with links of up to 60 characters.
- ``names_treatment`` (bool): the clinic allows naming the treatment. Always required. Even when
  on, subjects and SMS texts never name it (carriers filter texts naming controlled substances).
- ``treatment_name``: e.g. "ketamine"; used in email bodies only, and only if ``names_treatment``.
- ``provider_name``: how a provider is greeted, e.g. "Dr. Patel".
- ``items``: for ``provider_checkins_tomorrow``, a list of dicts with ``time``, ``title`` and
  ``patient_initials``. Provider SMS texts show only the count, never patient details.
- ``due_date``, ``task_title``: for ``provider_task_due``, e.g. "Tue 3 Mar", "Monitoring form".
- ``repeat_index``: 0 for the first assessment prompt, 1, 2, ... for the reminders after it.
- ``sessions``: for ``session_changed`` / ``session_cancelled``, every session of the change the
  patient has not yet been told about: dicts with ``title``, ``when`` and ``cancelled`` (one
  notice lists them all; see plans/calendar_notices.py).
- ``crisis_lines``, ``crisis_short``: the clinic country's crisis lines in the patient's language
  (backend/safety/crisis_resources.json); every patient email shows the lines, and the day-after
  text carries the short sentence.
- ``patient_initials``, ``flag_source`` ("an answer to a questionnaire"), ``minutes_waiting``,
  ``backup_after_minutes``: for the safety alerts (``provider_*_flag``). An alert names no answer,
  word or score: those stay behind the clinician's login.

Subjects come out as one line and SMS texts as one line in GSM-7-friendly characters (see
``sms_text``). Plain text and SMS are rendered without HTML escaping; the HTML body is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from django.template import Context, TemplateDoesNotExist
from django.template.loader import get_template, select_template

from backend.reminders.sms_text import to_gsm_friendly
from scheduler import MESSAGE_KINDS as ENGINE_MESSAGE_KINDS

__all__ = [
    "CHANNEL_FILES",
    "LANGUAGES",
    "MESSAGE_KINDS",
    "PATIENT_KINDS",
    "PROVIDER_KINDS",
    "REQUIRED_CONTEXT",
    "SMS_SEGMENT_BUDGET",
    "ContentError",
    "RenderedMessage",
    "render_message",
    "sample_context",
]

# One folder per kind; the planning engine owns the list (one name per idea), and the safety
# loop (backend.safety) adds the alerts it writes to the outbox itself.
SAFETY_KINDS: tuple[str, ...] = (
    "provider_urgent_flag",
    "provider_urgent_flag_backup",
    "provider_worsening_flag",
)
MESSAGE_KINDS: tuple[str, ...] = ENGINE_MESSAGE_KINDS + SAFETY_KINDS
PROVIDER_KINDS: tuple[str, ...] = (
    "provider_checkins_tomorrow",
    "provider_task_due",
    *SAFETY_KINDS,
)
PATIENT_KINDS: tuple[str, ...] = tuple(k for k in MESSAGE_KINDS if k not in PROVIDER_KINDS)
LANGUAGES: tuple[str, ...] = ("en", "es")
CHANNEL_FILES: tuple[str, ...] = ("subject.txt", "body.txt", "body.html", "sms.txt")

_COMMON = frozenset({"clinic_name", "clinic_phone", "names_treatment"})
# Patients' messages carry their own unsubscribe link; providers' never carry a patient's link.
_ALWAYS = _COMMON | {"unsubscribe_url"}
_SESSION = frozenset({"patient_first_name", "item_title", "item_when", "schedule_url"})
# Safety alerts say who (initials) and where it came from; the details stay behind the login.
_FLAG = _COMMON | {"provider_name", "patient_initials", "flag_source", "link_url"}

# What each kind's templates use. render_message refuses a context without these, rather than
# send "Hi ," -- and the content test proves each set is enough to render its kind.
REQUIRED_CONTEXT: Mapping[str, frozenset[str]] = {
    "preparation_48h": _ALWAYS | _SESSION,
    "preparation_2h": _ALWAYS | {"patient_first_name", "item_time"},
    "day_after": _ALWAYS | {"patient_first_name", "item_date", "crisis_short"},
    "integration_reminder": _ALWAYS | _SESSION,
    "preparation_session_reminder": _ALWAYS | _SESSION,
    "journal_prompt": _ALWAYS | {"patient_first_name", "link_url"},
    "check_in_invitation": _ALWAYS | {"patient_first_name", "item_title", "item_when", "link_url"},
    "assessment_prompt": _ALWAYS | {"patient_first_name", "item_title", "link_url", "repeat_index"},
    "booster_reminder": _ALWAYS | _SESSION,
    "provider_checkins_tomorrow": _COMMON | {"provider_name", "items", "schedule_url"},
    "provider_task_due": _COMMON | {"provider_name", "task_title", "due_date", "link_url"},
    "session_changed": _ALWAYS | _SESSION | {"sessions"},
    "session_cancelled": _ALWAYS | _SESSION | {"sessions"},
    "provider_urgent_flag": _FLAG,
    "provider_urgent_flag_backup": _FLAG | {"minutes_waiting"},
    "provider_worsening_flag": _FLAG,
}

# Segments an SMS of each kind may take (one unless listed): the day-after text carries the
# crisis lines, which a single 160-character segment cannot hold with the rest; a clinician's
# urgent alert is worth a second segment rather than a shorter link or clinic name.
SMS_SEGMENT_BUDGET: Mapping[str, int] = {"day_after": 2, **dict.fromkeys(SAFETY_KINDS, 2)}

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
    the send path renders what it sends and nothing more.
    """
    if kind not in MESSAGE_KINDS:
        raise ContentError(
            f"unknown message kind {kind!r}; known kinds: {', '.join(MESSAGE_KINDS)}"
        )
    _check_context(kind, context)
    folder, used_language = _choose_folder(kind, language)
    values = dict(context)
    email, sms = channel in (None, "email"), channel in (None, "sms")
    return RenderedMessage(
        subject=" ".join(_render(folder, "subject.txt", values, escape=False).split())
        if email
        else "",
        text=_tidy_text(_render(folder, "body.txt", values, escape=False)) if email else "",
        html=_render(folder, "body.html", values, escape=True).strip() + "\n" if email else "",
        sms=" ".join(to_gsm_friendly(_render(folder, "sms.txt", values, escape=False)).split())
        if sms
        else "",
        language=used_language,
    )


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


_SAMPLES: dict[str, dict[bool, dict[str, object]]] = {
    "en": {
        False: {
            "patient_first_name": "Sam",
            "clinic_name": "Front Range Clinic",
            "clinic_phone": "303-555-0142",
            "clinic_email": "care@frontrange.example",
            "item_title": "Session 3",
            "item_when": "Tue 3 Mar, 9:00 AM",
            "item_date": "Tue 3 Mar",
            "item_time": "9:00 AM",
            "due_date": "Tue 3 Mar",
            "provider_name": "Dr. Patel",
            "task_title": "Monitoring form",
        },
        True: {
            "patient_first_name": "María-José Alejandra",
            # 30 characters, with a curly apostrophe and an ampersand to be escaped in HTML only.
            "clinic_name": "Dr. O\u2019Neil & Partners Wellness",
            "clinic_phone": "+1 (303) 555-0142",
            "clinic_email": "appointments@oneil-partners-wellness.example",
            "item_title": "Integration session 12",
            # Date formatters put a narrow no-break space before AM/PM.
            "item_when": "Wed 30 Sep, 12:30\u202fPM",
            "item_date": "Wed 30 Sep",
            "item_time": "12:30\u202fPM",
            "due_date": "Wed 30 Sep",
            "provider_name": "Dr. Alexandra Montgomery-Hughes",
            "task_title": "Patient monitoring form after session 12",
        },
    },
    "es": {
        False: {
            "patient_first_name": "Lucía",
            "clinic_name": "Clínica Front Range",
            "clinic_phone": "303-555-0142",
            "clinic_email": "care@frontrange.example",
            "item_title": "Sesión 3",
            "item_when": "mar 3 mar, 9:00",
            "item_date": "mar 3 mar",
            "item_time": "9:00",
            "due_date": "mar 3 mar",
            "provider_name": "Dra. Pérez",
            "task_title": "Formulario de seguimiento",
        },
        True: {
            "patient_first_name": "María-José Alejandra",
            "clinic_name": "Dr. O\u2019Neil & Partners Wellness",
            "clinic_phone": "+1 (303) 555-0142",
            "clinic_email": "appointments@oneil-partners-wellness.example",
            "item_title": "Sesión de integración 12",
            "item_when": "mié 30 sep, 12:30\u00a0p.m.",
            "item_date": "mié 30 sep",
            "item_time": "12:30\u00a0p.m.",
            "due_date": "mié 30 sep",
            "provider_name": "Dra. Alejandra Montgomery-Hughes",
            "task_title": "Formulario de seguimiento tras la sesión 12",
        },
    },
}

_LINK_PATHS = {
    "journal_prompt": "j",
    "check_in_invitation": "c",
    "assessment_prompt": "a",
    "provider_task_due": "t",
    "provider_urgent_flag": "f",
    "provider_urgent_flag_backup": "f",
    "provider_worsening_flag": "f",
}


def sample_context(kind: str, language: str = "en", *, worst_case: bool = False) -> dict:
    """A realistic synthetic context for ``kind`` (for tests and the admin preview).

    It holds every documented variable, with the treatment not named (``names_treatment`` off).
    ``worst_case`` makes it as long as a real one gets: a 30-character clinic name, a long first
    name with accents, 60-character links, a time with a no-break space, twelve check-ins, and
    characters (curly apostrophe, ampersand) that must be escaped in HTML or folded in SMS.
    """
    if kind not in MESSAGE_KINDS:
        raise ContentError(f"unknown message kind {kind!r}")
    candidates = _language_candidates(language)
    sample_language = next((code for code in candidates if code in _SAMPLES), "en")
    base = _SAMPLES[sample_language][worst_case]
    path = _LINK_PATHS.get(kind, "l")
    if worst_case:
        host = "https://portal.oneil-partners-wellness.example"  # 46 characters
        link_url = f"{host}/{path}/Xk7Q2pZ9Lm"  # 60 characters
        schedule_url = f"{host}/s/Rt5Wd8Nc3a"
        unsubscribe_url = f"{host}/unsubscribe/eyJyIjo0MjAwMX0:1tQ8kX:c0Vb5yWq2Zr8Lm3Nd7Hk"
        count, initials, repeat_index = 12, "M.-J. A.", 2
    else:
        host = "https://care.frontrange.example"
        link_url = f"{host}/{path}/8f3k2"
        schedule_url = f"{host}/s/a91x"
        unsubscribe_url = f"{host}/u/c0Vb5yWq2Z"
        count, initials, repeat_index = 2, "S. K.", 0
    items = [
        {
            "time": f"{9 + index // 2}:{'30' if index % 2 else '00'}",
            "title": f"{'Seguimiento' if sample_language == 'es' else 'Check-in'} {index + 1}",
            "patient_initials": initials,
        }
        for index in range(count)
    ]
    return {
        **base,
        "schedule_url": schedule_url,
        "unsubscribe_url": unsubscribe_url,
        "link_url": link_url,
        "names_treatment": False,
        "treatment_name": "ketamina" if sample_language == "es" else "ketamine",
        "items": items,
        "repeat_index": repeat_index,
        "patient_initials": initials,
        "flag_source": "una respuesta a un cuestionario"
        if sample_language == "es"
        else "an answer to a questionnaire",
        "minutes_waiting": 30,
        "backup_after_minutes": 30,
        "sessions": [
            {
                "title": f"{base['item_title']}{'' if n == 0 else f' ({n + 1})'}",
                "when": base["item_when"],
                "cancelled": n == 2,
            }
            for n in range(3 if worst_case else 1)
        ],
        "crisis_lines": list(_CRISIS[sample_language]["lines"]),
        "crisis_short": _CRISIS[sample_language]["short"],
    }


_CRISIS = {
    "en": {
        "lines": ("Call or text 988 (the 988 Lifeline), any time.", "In an emergency, call 911."),
        "short": "In a crisis call or text 988, or call 911.",
    },
    "es": {
        "lines": ("Llame al 988 y marque 2, a cualquier hora.", "En una emergencia, llame al 911."),
        "short": "En una crisis llame o escriba al 988 (marque 2), o llame al 911.",
    },
}
