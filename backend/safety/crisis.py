"""Crisis lines a patient is shown, per clinic country and language (crisis_resources.json)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).with_name("crisis_resources.json")


@dataclass(frozen=True)
class CrisisResources:
    lines: tuple[str, ...]
    short: str  # one sentence, GSM-7, for text messages


@functools.cache
def _data() -> dict:
    return {k: v for k, v in json.loads(DATA.read_text(encoding="utf-8")).items() if k[0] != "_"}


def countries() -> tuple[str, ...]:
    return tuple(sorted(_data()))


def for_clinic(country: str, language: str) -> CrisisResources:
    """The country's lines in the patient's language (English when not translated); a country
    without its own lines is refused when the clinic is saved (safety.validators)."""
    by_language = _data()[country]
    chosen = by_language.get((language or "en").split("-")[0]) or by_language["en"]
    return CrisisResources(lines=tuple(chosen["lines"]), short=chosen["short"])
