"""Synthetic message contexts for the content tests: every documented variable, as long as a
real one gets (test data, not production code: issue #16).

``worst_case`` gives the longest clinic names a clinic may save (80 characters for the email
sender name, 20 for the SMS sender), a long first name with accents, a time with a no-break
space, twelve check-ins, and links of their real length: the signed link a real patient gets
(``links.patient_item_url``) in emails, the short link (``/l/<code>``) in SMS, both on
``LONG_HOST``.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from django.test import override_settings
from django.urls import reverse

from backend.clinics.models import Clinic
from backend.reminders import links
from backend.reminders.wording import MESSAGE_KINDS, SAFETY_KINDS, ContentError
from scheduler.privacy import private_words_in

# A symptom, not a diagnosis: the day-after advice must say "chest pain" (call 911). The shared
# list's "pain" is there for "chronic pain"; everything else it holds is checked as is (texts say
# "sedatives or sleep medicines only as prescribed", emails "... and your other medicines").
SYMPTOMS = re.compile(r"\bchest pain\b", re.IGNORECASE)


def private(text: str) -> list[str]:
    """The private words in ``text`` (scheduler.privacy), symptoms named as symptoms aside."""
    return private_words_in(SYMPTOMS.sub("", text))


# A realistic long public host for a clinic's deployment.
LONG_HOST = "https://aftercare.oneil-partners-wellness.com"
# The longest names a clinic may save (test_content_matrix checks they are the limits).
LONGEST_SENDER_NAME = (
    "Dr. O\u2019Neil & Partners Wellness, Family Care and Counseling of the Front Range CO"
)
LONGEST_SMS_SENDER = "O\u2019Neil & Partners MD"
SENDER_NAME_LIMIT = Clinic._meta.get_field("sender_name").max_length

# The preparation numbers of the esketamine label (and everything a protocol may set).
FULL_PREP = {
    "food": {"n": 2, "unit": "hours"},
    "liquids": {"n": 30, "unit": "minutes"},
    "nasal_medicines": {"n": 1, "unit": "hours"},
    "avoid_alcohol": {"n": 24, "unit": "hours"},
    "bring": [
        "ride_home",
        "medicine_list",
        "comfortable_clothes",
        "eye_mask_headphones",
        "water_snack_for_after",
    ],
}
NO_PREP = {
    "food": None,
    "liquids": None,
    "nasal_medicines": None,
    "avoid_alcohol": None,
    "bring": [],
}

_SAMPLES: dict[str, dict[bool, dict[str, object]]] = {
    "en": {
        False: {
            "patient_first_name": "Sam",
            "clinic_name": "Front Range Clinic",
            "sms_sender": "Front Range",
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
            # The longest names a clinic may give: 80 characters for email, 20 for SMS, with a
            # curly apostrophe and an ampersand (escaped in HTML only, folded in SMS).
            "clinic_name": LONGEST_SENDER_NAME,
            "sms_sender": LONGEST_SMS_SENDER,
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
            "sms_sender": "Front Range",
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
            "clinic_name": LONGEST_SENDER_NAME,
            "sms_sender": LONGEST_SMS_SENDER,
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


def real_links(host: str = LONG_HOST) -> dict[str, str]:
    """Links of the length a real message carries on ``host``: a patient's signed links for a
    patient and an item with seven-digit ids, and the short link an SMS carries instead."""
    patient = SimpleNamespace(pk=9_999_999, link_generation=99)
    with override_settings(PUBLIC_BASE_URL=host):
        return {
            "item": links.patient_item_url(patient, 9_999_999),
            "journal": links.patient_journal_url(patient, 9_999_999),
            "schedule": links.patient_schedule_url(patient),
            "unsubscribe": links.unsubscribe_url(patient.pk, "email"),
            "short": links.absolute(links.short_path("Xk7Q2pZ9")),
            "dashboard": links.absolute(reverse("provider-dashboard")),
            "flag": links.absolute(reverse("provider-flag", args=[9_999_999])),
        }


def sample_context(
    kind: str, language: str = "en", *, worst_case: bool = False, sms: bool = False
) -> dict:
    """A realistic synthetic context for ``kind``; ``sms`` gives the short links an SMS carries.

    It holds every documented variable, with the treatment not named (``names_treatment`` off)
    and the esketamine label's preparation numbers.
    """
    if kind not in MESSAGE_KINDS:
        raise ContentError(f"unknown message kind {kind!r}")
    sample_language = "es" if language.lower().startswith("es") else "en"
    base = _SAMPLES[sample_language][worst_case]
    if worst_case:
        real = real_links()
        patient_link = (
            real["short"] if sms else real["journal" if kind == "journal_prompt" else "item"]
        )
        schedule_url = real["short"] if sms else real["schedule"]
        unsubscribe_url = real["unsubscribe"]
        count, initials, repeat_index = 12, "M.-J. A.", 2
        dashboard, flag = real["dashboard"], real["flag"]
    else:
        host = "https://care.frontrange.example"
        patient_link = f"{host}/l/8f3k2Ab7"
        schedule_url = f"{host}/l/a91xQw2E"
        unsubscribe_url = f"{host}/u/c0Vb5yWq2Z"
        count, initials, repeat_index = 2, "S. K.", 0
        dashboard = flag = f"{host}/provider/"
    provider_kind = kind.startswith("provider_")
    # Safety alerts open their flag; other provider notices the dashboard (messages.py).
    provider_link = flag if kind in SAFETY_KINDS else dashboard
    items = [
        {
            "time": f"{9 + index // 2}:{'30' if index % 2 else '00'}",
            "title": f"{'Seguimiento' if sample_language == 'es' else 'Check-in'} {index + 1}",
            "patient_initials": initials,
            "kind": "Check-in",  # the daily digest's column (provider messages are in English)
        }
        for index in range(count)
    ]
    return {
        **base,
        "schedule_url": dashboard if provider_kind else schedule_url,
        "unsubscribe_url": unsubscribe_url,
        "link_url": provider_link if provider_kind else patient_link,
        "names_treatment": False,
        "treatment_name": "ketamina" if sample_language == "es" else "ketamine",
        "prep": FULL_PREP,
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
