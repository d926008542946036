"""Neutral titles: what patients and third parties read (subjects, SMS, calendar invitations).

A staff title ("Questionnaires before dosing session 4 (PHQ-9, GAD-7)") says what the clinic
needs to know; a calendar invitation or an email subject is read by whoever sees the screen,
so it says "Session 4" and nothing about the drug or the diagnosis. A protocol item may give
its own ``patient_title`` (checked against ``privacy.PRIVATE_WORDS`` when the protocol is read);
otherwise the kind's default below applies.
"""

from __future__ import annotations

from collections.abc import Mapping

from .privacy import private_words_in
from .protocol import ItemSpec, instance_number

__all__ = ["DEFAULT_TITLES", "patient_title"]

DEFAULT_TITLES: Mapping[str, Mapping[str, str]] = {
    "dosing": {"en": "Session", "es": "Sesión"},
    "booster": {"en": "Follow-up session", "es": "Sesión de seguimiento"},
    "integration": {"en": "Integration session", "es": "Sesión de integración"},
    "preparation": {"en": "Preparation visit", "es": "Visita de preparación"},
    "check_in": {"en": "Check-in", "es": "Consulta de control"},
    "assessment": {"en": "Questionnaire", "es": "Cuestionario"},
    "task": {"en": "Clinic task", "es": "Tarea de la clínica"},
}

for _titles in DEFAULT_TITLES.values():
    assert not any(private_words_in(t) for t in _titles.values()), _titles


def patient_title(
    spec_or_kind: ItemSpec | str, key: str, language: str = "en", *, alone: bool = False
) -> str:
    """The neutral title of item ``key`` in ``language`` ("es-US" reads "es"; else English).

    Numbered items get their instance number ("Session 3" for ``dosing-3``); an item spec that
    is not numbered, a key without a number, or an item ``alone`` of its kind in the plan (as
    the staff titles do) gets none.
    """
    if isinstance(spec_or_kind, ItemSpec):
        titles = spec_or_kind.patient_title or DEFAULT_TITLES.get(spec_or_kind.kind, {})
        spec_key, numbered = spec_or_kind.key, spec_or_kind.numbered
    else:
        titles = DEFAULT_TITLES.get(spec_or_kind, {})
        spec_key, _, suffix = key.rpartition("-")
        numbered = suffix.isdigit()
    base = language.split("-")[0].lower()
    text = titles.get(base) or titles.get("en") or DEFAULT_TITLES["task"]["en"]
    if alone or not numbered or not key.startswith(f"{spec_key}-"):
        return text
    return f"{text} {instance_number(key, spec_key)}"
