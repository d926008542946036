"""Protocol parameters that messages use: preparation in numbers, treatment names, missed sessions.

The preparation messages state numbers ("no food for 2 hours before your session"), so those
numbers live in the protocol next to their source, not in a template: a clinic that changes a
fasting time changes it in one place, and the README's protocol table shows where each value
comes from (a cited source, or "clinic convention" when ``editable_default`` is set). A key that
is absent does not apply to that protocol (nasal medicines only concern esketamine).

Validation lives here too (``preparation_from_dict`` ...), each error naming its field and rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import PlanningError
from .privacy import private_words_in

__all__ = [
    "BRING_CODES",
    "LANGUAGES",
    "PREP_KEYS",
    "MissedSession",
    "PrepParam",
    "missed_session_from_dict",
    "patient_title_from_dict",
    "preparation_from_dict",
    "treatment_names_from_dict",
]

LANGUAGES = ("en", "es")

# What each preparation key means (the templates word it; the unit is in the name).
PREP_KEYS: Mapping[str, str] = {
    "food_hours": "no food for this many hours before the session",
    "liquids_hours": "no liquids for this many hours before (clear liquids until then)",
    "liquids_minutes": "no liquids for this many minutes before the session",
    "nasal_medicines_minutes": (
        "a nasal corticosteroid or decongestant at least this many minutes before the session"
    ),
    "avoid_alcohol_hours": (
        "no alcohol for this many hours before and after (other medicines as prescribed)"
    ),
    "bring": "what to bring",
}
BRING_CODES = (
    "ride_home",
    "medicine_list",
    "comfortable_clothes",
    "eye_mask_headphones",
    "water_snack_for_after",
)


@dataclass(frozen=True)
class PrepParam:
    """One preparation parameter: its value, the source id it comes from, or clinic convention."""

    value: Any
    source: str | None = None
    editable_default: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": list(self.value) if isinstance(self.value, tuple) else self.value
        }
        if self.source:
            out["source"] = self.source
        if self.editable_default:
            out["editable_default"] = True
        return out


@dataclass(frozen=True)
class MissedSession:
    """What follows a missed dosing session: a welfare call by staff within ``welfare_call_hours``
    (a no-show in depression care is a warning sign), and a kind message to the patient."""

    welfare_call: bool = True
    welfare_call_hours: int = 24
    patient_message: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "welfare_call": self.welfare_call,
            "welfare_call_hours": self.welfare_call_hours,
            "patient_message": self.patient_message,
        }


def _fail(message: str, rule: str, path: str) -> PlanningError:
    return PlanningError(f"{path}: {message}", rule=rule, field=path)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _param(key: str, raw: Any, path: str, source_ids: set[str]) -> PrepParam:
    if not isinstance(raw, Mapping):
        raw = {"value": raw}
    unknown = sorted(set(raw) - {"value", "source", "editable_default"})
    if unknown:
        raise _fail(f"unknown field(s) {', '.join(unknown)}", "protocol.unknown_field", path)
    value = raw.get("value")
    if key == "bring":
        if not isinstance(value, list) or any(c not in BRING_CODES for c in value):
            raise _fail(f"must list codes from {', '.join(BRING_CODES)}", "protocol.type", path)
        value = tuple(value)
    elif not _is_number(value) or value <= 0:
        raise _fail("must be a number greater than 0", "protocol.range", f"{path}.value")
    source = raw.get("source")
    if source is not None and source not in source_ids:
        raise _fail(f"unknown source {source!r}", "protocol.reference", f"{path}.source")
    editable = raw.get("editable_default", False)
    if not isinstance(editable, bool):
        raise _fail("must be true or false", "protocol.type", f"{path}.editable_default")
    if source is None and not editable:
        raise _fail(
            "needs a source or editable_default: true (a clinic convention)",
            "protocol.source_required",
            path,
        )
    return PrepParam(value=value, source=source, editable_default=editable)


def preparation_from_dict(raw: Any, source_ids: set[str]) -> dict[str, PrepParam]:
    """Validate ``preparation:``; liquids are given in hours or in minutes, never both."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise _fail("must be a mapping of parameters", "protocol.type", "preparation")
    unknown = sorted(str(k) for k in raw if k not in PREP_KEYS)
    if unknown:
        raise _fail(
            f"unknown parameter(s) {', '.join(unknown)} (known: {', '.join(PREP_KEYS)})",
            "protocol.unknown_field",
            "preparation",
        )
    if "liquids_hours" in raw and "liquids_minutes" in raw:
        raise _fail(
            "give liquids_hours or liquids_minutes, not both", "protocol.type", "preparation"
        )
    return {k: _param(k, v, f"preparation.{k}", source_ids) for k, v in raw.items()}


def treatment_names_from_dict(raw: Any) -> dict[str, str]:
    """Validate ``treatment_names: {en: ..., es: ...}`` (used only in email bodies)."""
    if raw is None:
        return {}
    return _per_language(raw, "treatment_names")


def patient_title_from_dict(raw: Any, path: str) -> dict[str, str]:
    """Validate a neutral per-language title; a private word is refused (lock screens)."""
    if raw is None:
        return {}
    titles = _per_language(raw, path)
    for language, text in titles.items():
        found = private_words_in(text)
        if found:
            raise _fail(
                f"{text!r} names {', '.join(found)}; a title patients and third parties see "
                "must stay neutral",
                "protocol.private_title",
                f"{path}.{language}",
            )
    return titles


def _per_language(raw: Any, path: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not raw:
        raise _fail("must map languages (en, es) to text", "protocol.type", path)
    for language, text in raw.items():
        if language not in LANGUAGES:
            raise _fail(
                f"must be one of {', '.join(LANGUAGES)}", "protocol.type", f"{path}.{language}"
            )
        if not isinstance(text, str) or not text.strip():
            raise _fail("must be non-empty text", "protocol.type", f"{path}.{language}")
    return dict(raw)


def missed_session_from_dict(raw: Any) -> MissedSession:
    """Validate ``missed_session:``; absent means a welfare call within 24 h and a message."""
    if raw is None:
        return MissedSession()
    path = "missed_session"
    if not isinstance(raw, Mapping):
        raise _fail("must be a mapping of fields", "protocol.type", path)
    unknown = sorted(set(raw) - set(MissedSession.__dataclass_fields__))
    if unknown:
        raise _fail(f"unknown field(s) {', '.join(unknown)}", "protocol.unknown_field", path)
    out = MissedSession(**raw)
    for name in ("welfare_call", "patient_message"):
        if not isinstance(getattr(out, name), bool):
            raise _fail("must be true or false", "protocol.type", f"{path}.{name}")
    hours = out.welfare_call_hours
    if not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= 168:
        raise _fail(
            "must be whole hours from 1 to 168", "protocol.range", f"{path}.welfare_call_hours"
        )
    return out
