"""Validated questionnaires as data files, and their scoring.

Every ``*.json`` file in ``backend/measures/instruments/`` is an instrument, and so is every
``*.json`` file in the directory named by ``EXTRA_INSTRUMENTS_DIR`` (the Django setting, else the
environment variable), so a clinic can add a questionnaire without code. Each file is checked when
it is loaded; a file that breaks a rule raises :class:`InstrumentError` naming the file and the
rule. Plain Python: nothing here needs a database, and the module imports without Django set up.

A file holds one object::

    {
      "code": "phq9",                       # lower-case letters, digits, "_"; the file's name
      "version": "1.0",
      "name": "...", "source": "...", "copyright": "...",
      "translation_source": {"es": "..."},  # optional: where each translation comes from
      "text": {                             # one block per language; "en" is required
        "en": {
          "intro": "...",
          "questions": ["...", "..."],      # the scored items, in published order
          "options": [{"value": 0, "label": "..."}, ...],       # answers to every scored item
          "difficulty": {"question": "...", "options": [...]}   # optional, never scored
        }
      },
      "bands": [{"code": "minimal", "label": "Minimal", "low": 0, "high": 4}, ...],
      "urgent": [{"question": 9, "min_value": 1, "reason": "..."}]   # optional
    }

Questions are numbered from 1 in the order given; the difficulty question comes last, after the
scored ones (number 10 on the PHQ-9). Form fields are named ``q<number>``.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

BUILTIN_DIR = Path(__file__).resolve().parent / "instruments"
SETTING = "EXTRA_INSTRUMENTS_DIR"
FALLBACK_LANGUAGE = "en"

MISSING_MESSAGE = "Please answer this question."
INVALID_MESSAGE = "Choose one of the answers shown."

_CODE = re.compile(r"[a-z][a-z0-9_]*")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8})*")
_QUESTION_KEY = re.compile(r"[qQ]?(\d+)")
_INTEGER = re.compile(r"[+-]?\d+")

_TOP_REQUIRED = ("code", "version", "name", "source", "copyright", "text", "bands")
_TOP_OPTIONAL = ("translation_source", "urgent", "loinc")
_LANGUAGE_REQUIRED = ("intro", "questions", "options")
_LANGUAGE_OPTIONAL = ("difficulty",)


class InstrumentError(ValueError):
    """An instrument data file breaks a rule; the message names the file and the rule."""

    def __init__(self, path: Path | str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class AnswerError(ValueError):
    """A submission breaks a rule; ``errors`` maps each form field (``"q9"``) to its message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors: dict[str, str] = dict(errors)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.errors.items()))


@dataclass(frozen=True)
class Option:
    value: int
    label: str


@dataclass(frozen=True)
class Question:
    number: int
    text: str
    options: tuple[Option, ...]
    scored: bool

    @property
    def field_name(self) -> str:
        return f"q{self.number}"


@dataclass(frozen=True)
class Band:
    code: str
    label: str
    low: int
    high: int


@dataclass(frozen=True)
class Score:
    total: int
    band: Band
    urgent_reasons: tuple[str, ...]
    answers: dict[int, int]  # every question's value, scored and unscored, by question number

    @property
    def urgent(self) -> bool:
        return bool(self.urgent_reasons)


@dataclass(frozen=True)
class UrgentRule:
    question: int
    min_value: int
    reason: str


@dataclass(frozen=True)
class Instrument:
    code: str
    version: str
    name: str
    source: str
    copyright: str
    max_total: int
    bands: tuple[Band, ...]
    # Per-language content, built and checked by the loader.
    _intros: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    _questions: Mapping[str, tuple[Question, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _translation_sources: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    urgent_rules: tuple[UrgentRule, ...] = field(default=(), compare=False)
    # LOINC codes for exchange (FHIR export): {"panel": ..., "total": ...}; optional.
    loinc: Mapping[str, str] = field(default_factory=dict, compare=False)

    def languages(self) -> tuple[str, ...]:
        """The languages this instrument is written in, English first."""
        others = sorted(code for code in self._questions if code != FALLBACK_LANGUAGE)
        return (FALLBACK_LANGUAGE, *others)

    def intro(self, language: str) -> str:
        return self._intros[self._language(language)]

    def questions(self, language: str) -> tuple[Question, ...]:
        """Scored questions in published order, then any unscored (difficulty) question."""
        return self._questions[self._language(language)]

    def translation_source(self, language: str) -> str | None:
        """Where the text in ``language`` comes from, when the file says so."""
        return self._translation_sources.get(self._language(language))

    def band_for(self, total: int) -> Band:
        for band in self.bands:
            if band.low <= total <= band.high:
                return band
        raise ValueError(f"total {total!r} is outside {self.code}'s range 0..{self.max_total}")

    def band_step(self, band_code: str) -> int:
        """0 for the lowest band, 1 for the next, and so on."""
        for step, band in enumerate(self.bands):
            if band.code == band_code:
                return step
        raise LookupError(f"unknown band {band_code!r} for instrument {self.code!r}")

    def score(self, answers: Mapping[Any, Any]) -> Score:
        """Score a submission keyed by question number (``9``, ``"9"`` or ``"q9"``).

        Every question, scored or not, must be answered with one of its options' values (an int
        or a numeric string). All problems are reported together in one :class:`AnswerError`.
        Keys that name no question of this instrument are ignored.
        """
        questions = self.questions(FALLBACK_LANGUAGE)
        given: dict[int, set[object]] = {}
        for key, raw in answers.items():
            number = _question_number(key)
            if number is not None:
                given.setdefault(number, set()).add(_answer_value(raw))

        values: dict[int, int] = {}
        errors: dict[str, str] = {}
        for question in questions:
            found = given.get(question.number, set()) - {_BLANK}
            if not found:
                errors[question.field_name] = MISSING_MESSAGE
                continue
            # Two keys for one question ("9" and "q9") that disagree are no answer shown either.
            value = found.pop() if len(found) == 1 else _INVALID
            if not isinstance(value, int) or value not in {o.value for o in question.options}:
                errors[question.field_name] = INVALID_MESSAGE
                continue
            values[question.number] = value
        if errors:
            raise AnswerError(errors)

        total = sum(values[q.number] for q in questions if q.scored)
        reasons: list[str] = []
        for rule in self.urgent_rules:
            if values[rule.question] >= rule.min_value and rule.reason not in reasons:
                reasons.append(rule.reason)
        return Score(
            total=total, band=self.band_for(total), urgent_reasons=tuple(reasons), answers=values
        )

    def _language(self, language: str) -> str:
        if language in self._questions:
            return language
        primary = (language or "").split("-")[0].split("_")[0].lower()
        return primary if primary in self._questions else FALLBACK_LANGUAGE


# --- answers ----------------------------------------------------------------------------------

_BLANK = object()
_INVALID = object()


def _question_number(key: object) -> int | None:
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    if isinstance(key, str):
        match = _QUESTION_KEY.fullmatch(key.strip())
        if match and key.isascii():
            return int(match.group(1))
    return None


def _answer_value(raw: object) -> object:
    if raw is None:
        return _BLANK
    if isinstance(raw, bool):
        return _INVALID
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return _BLANK
        if text.isascii() and _INTEGER.fullmatch(text):
            return int(text)
    return _INVALID


# --- loading ----------------------------------------------------------------------------------


def get(code: str) -> Instrument:
    try:
        return _registry()[code]
    except KeyError:
        raise LookupError(f"unknown instrument {code!r}") from None


def codes() -> tuple[str, ...]:
    return tuple(sorted(_registry()))


def reload() -> None:
    """Forget the loaded instruments; the next call reads the files (and settings) again."""
    _registry.cache_clear()


@functools.cache
def _registry() -> Mapping[str, Instrument]:
    found: dict[str, Instrument] = {}
    paths: dict[str, Path] = {}
    for directory in _directories():
        for path in sorted(directory.glob("*.json")):
            instrument = load_file(path)
            if instrument.code in found:
                raise InstrumentError(
                    path, f"code {instrument.code!r} is already used by {paths[instrument.code]}"
                )
            found[instrument.code] = instrument
            paths[instrument.code] = path
    return MappingProxyType(found)


def _directories() -> list[Path]:
    directories = [BUILTIN_DIR]
    extra = _extra_dir_setting()
    if extra:
        path = Path(extra).expanduser()
        if not path.is_dir():
            raise InstrumentError(path, f"{SETTING} names no directory")
        if path.resolve() != BUILTIN_DIR:
            directories.append(path)
    return directories


def _extra_dir_setting() -> str | None:
    value: Any = None
    try:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        try:
            value = getattr(settings, SETTING, None)
        except ImproperlyConfigured:  # Django is not set up: the environment decides
            value = None
    except ImportError:
        value = None
    if not value:
        value = os.environ.get(SETTING) or None
    return os.fspath(value) if value else None


def load_file(path: Path | str) -> Instrument:
    """Read and check one instrument file; raise InstrumentError naming it if it breaks a rule."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InstrumentError(path, f"cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise InstrumentError(path, "is not UTF-8 text") from exc
    except json.JSONDecodeError as exc:
        raise InstrumentError(
            path, f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc
    try:
        return _build(data, path.stem)
    except _Broken as exc:
        raise InstrumentError(path, str(exc)) from None


class _Broken(Exception):
    """A rule the file breaks; load_file adds the file's name."""


def _build(data: object, stem: str) -> Instrument:
    top = _object(data, "the file", _TOP_REQUIRED, _TOP_OPTIONAL)
    code = _text(top["code"], "code")
    if not _CODE.fullmatch(code):
        raise _Broken(
            f"code {code!r} must be lower-case letters, digits and '_', starting a letter"
        )
    if code != stem:
        raise _Broken(f"code {code!r} must match the file's name ({stem!r})")
    version = _text(top["version"], "version")
    name = _text(top["name"], "name")
    source = _text(top["source"], "source")
    copyright_ = _text(top["copyright"], "copyright")

    texts = top["text"]
    if not isinstance(texts, dict) or not texts:
        raise _Broken("'text' must be an object with one entry per language")
    if FALLBACK_LANGUAGE not in texts:
        raise _Broken(f"'text' has no {FALLBACK_LANGUAGE!r} entry (English is required)")
    languages = {lang: _language_block(lang, block) for lang, block in texts.items()}
    _check_languages_agree(languages)

    english = languages[FALLBACK_LANGUAGE]
    values = [option.value for option in english.options]
    scored_count = len(english.questions)
    min_total, max_total = scored_count * min(values), scored_count * max(values)
    bands = _bands(top["bands"], min_total, max_total)

    questions = {lang: block.build() for lang, block in languages.items()}
    urgent = _urgent_rules(top.get("urgent", []), questions[FALLBACK_LANGUAGE])
    translation_sources = _translation_sources(top.get("translation_source", {}), languages)

    return Instrument(
        code=code,
        version=version,
        name=name,
        source=source,
        copyright=copyright_,
        max_total=max_total,
        bands=bands,
        _intros=MappingProxyType({lang: block.intro for lang, block in languages.items()}),
        _questions=MappingProxyType(questions),
        _translation_sources=MappingProxyType(translation_sources),
        urgent_rules=urgent,
        loinc=MappingProxyType(_loinc(top.get("loinc", {}))),
    )


def _loinc(value: object) -> dict[str, str]:
    codes = _object(value, "loinc", (), ("panel", "total"))
    return {key: _text(code, f"loinc.{key}") for key, code in codes.items()}


@dataclass(frozen=True)
class _LanguageBlock:
    language: str
    intro: str
    questions: tuple[str, ...]
    options: tuple[Option, ...]
    difficulty: tuple[str, tuple[Option, ...]] | None

    def build(self) -> tuple[Question, ...]:
        built = [
            Question(number=n, text=text, options=self.options, scored=True)
            for n, text in enumerate(self.questions, start=1)
        ]
        if self.difficulty is not None:
            text, options = self.difficulty
            built.append(Question(number=len(built) + 1, text=text, options=options, scored=False))
        return tuple(built)


def _language_block(language: object, block: object) -> _LanguageBlock:
    if not isinstance(language, str) or not _LANGUAGE.fullmatch(language):
        raise _Broken(f"language {language!r} is not a language code such as 'en' or 'es'")
    where = f"text.{language}"
    block = _object(block, where, _LANGUAGE_REQUIRED, _LANGUAGE_OPTIONAL)
    intro = _text(block["intro"], f"{where}.intro")
    items = block["questions"]
    if not isinstance(items, list) or not items:
        raise _Broken(f"{where}.questions must be a non-empty list of question texts")
    questions = tuple(_text(item, f"{where}.questions[{i}]") for i, item in enumerate(items))
    options = _options(block["options"], f"{where}.options")
    difficulty = None
    if "difficulty" in block:
        extra = _object(block["difficulty"], f"{where}.difficulty", ("question", "options"), ())
        difficulty = (
            _text(extra["question"], f"{where}.difficulty.question"),
            _options(extra["options"], f"{where}.difficulty.options"),
        )
    return _LanguageBlock(language, intro, questions, options, difficulty)


def _options(data: object, where: str) -> tuple[Option, ...]:
    if not isinstance(data, list) or len(data) < 2:
        raise _Broken(f"{where} must list at least two answers")
    options = []
    for i, item in enumerate(data):
        item = _object(item, f"{where}[{i}]", ("value", "label"), ())
        value = _integer(item["value"], f"{where}[{i}].value")
        options.append(Option(value=value, label=_text(item["label"], f"{where}[{i}].label")))
    values = [option.value for option in options]
    if len(set(values)) != len(values):
        raise _Broken(f"{where} repeats a value: {values}")
    if sorted(values) != list(range(min(values), max(values) + 1)):
        raise _Broken(f"{where} values must be whole numbers without gaps, got {values}")
    labels = [option.label for option in options]
    if len(set(labels)) != len(labels):
        raise _Broken(f"{where} repeats a label")
    return tuple(options)


def _check_languages_agree(languages: Mapping[str, _LanguageBlock]) -> None:
    english = languages[FALLBACK_LANGUAGE]

    def values(options: tuple[Option, ...]) -> list[int]:
        return [option.value for option in options]

    for language, block in languages.items():
        if len(block.questions) != len(english.questions):
            raise _Broken(
                f"language {language!r} has {len(block.questions)} questions "
                f"but 'en' has {len(english.questions)}"
            )
        if values(block.options) != values(english.options):
            raise _Broken(
                f"language {language!r} lists option values {values(block.options)} "
                f"but 'en' lists {values(english.options)}"
            )
        if (block.difficulty is None) != (english.difficulty is None):
            has, lacks = (language, "en") if block.difficulty else ("en", language)
            raise _Broken(f"language {has!r} has a difficulty question but {lacks!r} has none")
        if block.difficulty and english.difficulty:
            ours, theirs = values(block.difficulty[1]), values(english.difficulty[1])
            if ours != theirs:
                raise _Broken(
                    f"language {language!r} lists difficulty option values {ours} "
                    f"but 'en' lists {theirs}"
                )


def _bands(data: object, min_total: int, max_total: int) -> tuple[Band, ...]:
    if not isinstance(data, list) or not data:
        raise _Broken("'bands' must be a non-empty list")
    bands: list[Band] = []
    for i, item in enumerate(data):
        where = f"bands[{i}]"
        item = _object(item, where, ("code", "label", "low", "high"), ())
        code = _text(item["code"], f"{where}.code")
        if not _CODE.fullmatch(code):
            raise _Broken(f"{where}.code {code!r} must be lower-case letters, digits and '_'")
        band = Band(
            code=code,
            label=_text(item["label"], f"{where}.label"),
            low=_integer(item["low"], f"{where}.low"),
            high=_integer(item["high"], f"{where}.high"),
        )
        if band.low > band.high:
            raise _Broken(f"band {code!r} runs backwards ({band.low}..{band.high})")
        bands.append(band)
    band_codes = [band.code for band in bands]
    if len(set(band_codes)) != len(band_codes):
        raise _Broken(f"band codes repeat: {band_codes}")

    expected = min_total
    for band in bands:
        if band.low > expected:
            raise _Broken(
                f"bands must cover {min_total}..{max_total} without gaps: "
                f"nothing covers {expected}..{band.low - 1}"
            )
        if band.low < expected:
            raise _Broken(
                f"bands must cover {min_total}..{max_total} without overlaps "
                f"(or be listed lowest first): band {band.code!r} starts at {band.low}"
            )
        expected = band.high + 1
    if expected - 1 != max_total:
        raise _Broken(
            f"bands must cover {min_total}..{max_total} exactly: the last band ends at "
            f"{expected - 1}"
        )
    return tuple(bands)


def _urgent_rules(data: object, questions: tuple[Question, ...]) -> tuple[UrgentRule, ...]:
    if not isinstance(data, list):
        raise _Broken("'urgent' must be a list of rules")
    by_number = {question.number: question for question in questions}
    rules = []
    for i, item in enumerate(data):
        where = f"urgent[{i}]"
        item = _object(item, where, ("question", "min_value", "reason"), ())
        number = _integer(item["question"], f"{where}.question")
        if number not in by_number:
            raise _Broken(
                f"{where} names question {number}, which does not exist "
                f"(questions are 1..{len(questions)})"
            )
        min_value = _integer(item["min_value"], f"{where}.min_value")
        allowed = sorted(option.value for option in by_number[number].options)
        if min_value not in allowed:
            raise _Broken(
                f"{where}.min_value {min_value} is not an answer value of question {number} "
                f"({allowed})"
            )
        rules.append(UrgentRule(number, min_value, _text(item["reason"], f"{where}.reason")))
    return tuple(rules)


def _translation_sources(data: object, languages: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(data, dict):
        raise _Broken("'translation_source' must be an object keyed by language")
    sources = {}
    for language, text in data.items():
        if language not in languages:
            raise _Broken(f"translation_source names language {language!r}, which has no text")
        sources[language] = _text(text, f"translation_source.{language}")
    return sources


def _object(data: object, where: str, required: tuple[str, ...], optional: tuple[str, ...]):
    if not isinstance(data, dict):
        raise _Broken(f"{where} must be a JSON object")
    for key in required:
        if key not in data:
            raise _Broken(f"{where} is missing the key {key!r}")
    unknown = sorted(set(data) - set(required) - set(optional))
    if unknown:
        raise _Broken(f"{where} has unknown key(s) {', '.join(map(repr, unknown))}")
    return data


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Broken(f"{where} must be non-empty text")
    return value


def _integer(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Broken(f"{where} must be a whole number, got {value!r}")
    return value
