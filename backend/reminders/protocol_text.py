"""What a message reads from its plan's protocol: preparation numbers, the treatment's name in
the patient's language, and the neutral titles patients and third parties see.

A protocol version that plans were built from never changes (backend.protocols.models), so its
parsed form is kept per process, keyed by the row's id and creation time: the send path defers
the protocol's JSON definition, and reads and parses it once per version, not once per message.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from backend.reminders.wording import ContentError
from scheduler import PlanningError, patient_title
from scheduler import Protocol as EngineProtocol

__all__ = [
    "duration_words",
    "engine_protocol",
    "item_patient_title",
    "preparation_context",
    "treatment_name",
]


def engine_protocol(protocol_row) -> EngineProtocol:
    """The scheduler's Protocol of a plan's protocol row, parsed once per version and process.

    Raises ContentError (permanent) when the stored definition no longer parses.
    """
    return _parsed(protocol_row.pk, protocol_row.created_at, protocol_row)


# The row itself is part of the key only to be parsed on a miss: rows compare by primary key.
@functools.lru_cache(maxsize=256)
def _parsed(_pk: int, _created_at, protocol_row) -> EngineProtocol:
    try:
        return protocol_row.engine_protocol()
    except PlanningError as error:
        raise ContentError(f"protocol {protocol_row.slug!r}: {error}") from error


def _base(language: str) -> str:
    return (language or "en").split("-")[0].lower()


def treatment_name(protocol: EngineProtocol, language: str) -> str:
    """The treatment's name in the message's own language ("ketamina"), or "" when the protocol
    has none in that language: a Spanish email never borrows the English word."""
    return protocol.treatment_names.get(_base(language), "")


def item_patient_title(protocol: EngineProtocol, item, language: str) -> str:
    """The neutral title of a plan item ("Session 3", "Sesión 3"), from its protocol spec when
    the spec is still there, else from the item's kind."""
    return patient_title(_spec_for(protocol, item.key) or item.kind, item.key, language)


def _spec_for(protocol: EngineProtocol, item_key: str):
    for spec in protocol.items:
        if item_key == spec.key or (
            item_key.startswith(f"{spec.key}-") and item_key[len(spec.key) + 1 :].isdigit()
        ):
            return spec
    return None


def preparation_context(protocol: EngineProtocol) -> dict[str, Any]:
    """The ``prep`` context of the preparation messages: each duration as ``{"n", "unit"}`` (or
    None where the protocol does not set it) and the codes of what to bring. The templates word
    them in each language."""
    liquids_hours = protocol.prep_value("liquids_hours")
    liquids_minutes = protocol.prep_value("liquids_minutes")
    return {
        "food": _duration(protocol.prep_value("food_hours"), "hours"),
        "liquids": _duration(liquids_hours, "hours")
        if liquids_hours is not None
        else _duration(liquids_minutes, "minutes"),
        "nasal_medicines": _minutes(protocol.prep_value("nasal_medicines_minutes")),
        "avoid_alcohol": _duration(protocol.prep_value("avoid_alcohol_hours"), "hours"),
        "bring": list(protocol.prep_value("bring") or ()),
    }


def _duration(value, unit: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    number = int(value) if float(value).is_integer() else value
    return {"n": number, "unit": unit}


def _minutes(value) -> Mapping[str, Any] | None:
    """Whole hours read as hours ("1 hour", as the label says), anything else as minutes."""
    if value is not None and float(value) % 60 == 0:
        return _duration(float(value) / 60, "hours")
    return _duration(value, "minutes")


UNITS = {
    "en": {"hours": ("hour", "hours"), "minutes": ("minute", "minutes")},
    "es": {"hours": ("hora", "horas"), "minutes": ("minuto", "minutos")},
}


def duration_words(duration: Mapping[str, Any], language: str) -> str:
    """A ``preparation_context`` duration in words: "2 hours", "1 hour", "30 minutos" (as
    templates/email/duration*.txt word it for the messages)."""
    one, many = UNITS.get(_base(language), UNITS["en"])[duration["unit"]]
    number = duration["n"]
    return f"{number} {one if number == 1 else many}"
