"""Protocols: versioned templates of a course, kept as data (YAML files, a JSONField in the admin).

A protocol lists *item specs* (what to plan and where each one goes relative to the plan start or
to another item), *reminder rules* (how items turn into messages) and the *sources* its clinical
parameters come from. ``protocol_from_dict`` (in ``protocol_parse``) validates untrusted input;
``Protocol.to_dict`` gives back a JSON-serialisable dict that parses to an equal protocol, so a
coordinator's edit in the admin round-trips without loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

from .priorities import priority_of
from .protocol_params import MissedSession, PrepParam
from .series import Phase, Series

__all__ = [
    "LIBRARY_DIR",
    "ItemSpec",
    "MissedSession",
    "Phase",
    "PrepParam",
    "Protocol",
    "Ref",
    "ReminderRule",
    "Series",
    "Source",
    "instance_number",
    "load_library",
]

LIBRARY_DIR = Path(__file__).resolve().parent / "protocols"


@dataclass(frozen=True)
class Source:
    """A public reference for a clinical parameter (label, guideline, paper)."""

    id: str
    citation: str
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "citation": self.citation}
        if self.url:
            out["url"] = self.url
        return out


@dataclass(frozen=True)
class Ref:
    """Which instances of another spec an item is placed relative to.

    Written ``"dosing"`` / ``"dosing#each"`` (every instance), ``"dosing#first"``,
    ``"dosing#last"`` or ``"dosing#2,4,6"`` (1-based instances; missing ones are skipped when a
    plan has fewer sessions).
    """

    spec: str
    which: str | tuple[int, ...] = "each"

    def __str__(self) -> str:
        if isinstance(self.which, tuple):
            return f"{self.spec}#{','.join(str(i) for i in self.which)}"
        return self.spec if self.which == "each" else f"{self.spec}#{self.which}"

    def includes(self, number: int, numbers: tuple[int, ...]) -> bool:
        """Whether instance ``number`` is one this ref names, among the placed ``numbers``."""
        if self.which == "each":
            return True
        if self.which == "first":
            return bool(numbers) and number == min(numbers)
        if self.which == "last":
            return bool(numbers) and number == max(numbers)
        assert isinstance(self.which, tuple)
        return number in self.which

    def pick(self, count: int) -> tuple[int, ...]:
        """1-based instance numbers out of ``count`` placed instances."""
        if count == 0:
            return ()
        if self.which == "each":
            return tuple(range(1, count + 1))
        if self.which == "first":
            return (1,)
        if self.which == "last":
            return (count,)
        assert isinstance(self.which, tuple)
        return tuple(i for i in self.which if i <= count)


@dataclass(frozen=True)
class ItemSpec:
    """How to plan one kind of item.

    Placement: relative to ``after`` (``None`` = the plan's start date), one item per anchor
    instance and per entry of ``offsets_days``, on the first feasible day searched from the target
    outwards within ``window_days`` (added to the offset). A ``series`` instead plans ``count``
    items spaced by its phases, the first one placed as above. On-site items need a clinic slot
    for ``duration_minutes + observation_minutes``; remote items (questionnaires, provider tasks)
    happen at ``local_time`` in the patient's or clinic's zone (clinic-zone items on working days).

    ``before`` names an item this one must *end* before it starts (a prescriber review before
    dose 4); when no time fits, the named item moves later, never this item's anchor.
    ``with_anchor`` items (vital signs, observation) take their anchor's start and span exactly:
    no search, no clinic slot of their own, moved with the anchor. ``checklist`` is what staff do
    during such an item. ``patient_title`` is the neutral per-language title patients and third
    parties see (``titles.patient_title``); ``title`` is the staff's. ``parameter_sources`` says
    where one parameter comes from when it is not the item's ``source`` (``observation_minutes:
    clinic`` for a clinic convention); see ``PARAMETERS``.
    """

    key: str
    kind: str
    title: str
    provider_role: str | None = None
    duration_minutes: int = 0
    observation_minutes: int = 0
    on_site: bool = True
    after: Ref | None = None
    offsets_days: tuple[int, ...] = (0,)
    window_days: tuple[int, int] = (0, 0)
    series: Series | None = None
    allowed_weekdays: frozenset[int] | None = None
    local_time: time | None = None
    local_zone: str = "patient"
    optional: bool = False
    required: bool = True
    numbered: bool = True
    source: str | None = None
    editable_default: bool = False
    note: str | None = None
    # Questionnaires an assessment asks (codes of backend/measures/instruments/*.json). The engine
    # only carries them; the patient's page shows them and scores the answers.
    instruments: tuple[str, ...] = ()
    before: Ref | None = None
    with_anchor: bool = False
    checklist: tuple[str, ...] = ()
    patient_title: Mapping[str, str] = field(default_factory=dict, hash=False)
    parameter_sources: Mapping[str, str] = field(default_factory=dict, hash=False)

    # Parameters of an item the README's table lists, each with its own source.
    PARAMETERS = (
        "count",
        "spacing",
        "duration_minutes",
        "observation_minutes",
        "placement",
        "provider_role",
        "checklist",
    )

    def source_of(self, parameter: str) -> str | None:
        """The source id of ``parameter``; ``None`` means a clinic convention."""
        chosen = self.parameter_sources.get(parameter, self.source)
        return None if chosen in (None, "clinic") else chosen

    @property
    def minutes_needed(self) -> int:
        return self.duration_minutes + self.observation_minutes

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "kind": self.kind,
            "title": self.title,
            "provider_role": self.provider_role,
            "duration_minutes": self.duration_minutes,
            "observation_minutes": self.observation_minutes,
            "on_site": self.on_site,
            "after": str(self.after) if self.after else None,
            "offsets_days": list(self.offsets_days),
            "window_days": list(self.window_days),
        }
        if self.series is not None:
            out["series"] = self.series.to_dict()
        if self.allowed_weekdays is not None:
            out["allowed_weekdays"] = sorted(self.allowed_weekdays)
        if self.local_time is not None:
            out["local_time"] = self.local_time.strftime("%H:%M")
            out["local_zone"] = self.local_zone
        for name in ("optional", "editable_default"):
            if getattr(self, name):
                out[name] = True
        if not self.required:
            out["required"] = False
        if not self.numbered:
            out["numbered"] = False
        for name in ("source", "note"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.instruments:
            out["instruments"] = list(self.instruments)
        if self.before is not None:
            out["before"] = str(self.before)
        if self.with_anchor:
            out["with_anchor"] = True
        if self.checklist:
            out["checklist"] = list(self.checklist)
        if self.patient_title:
            out["patient_title"] = dict(self.patient_title)
        if self.parameter_sources:
            out["parameter_sources"] = dict(self.parameter_sources)
        return out


@dataclass(frozen=True)
class ReminderRule:
    """How items become messages.

    ``offset`` (and ``not_before``/``not_after``) is measured from the item's start (see
    ``offsets``), or from its end (observation included) with ``measured_from: end``: advice for the
    evening after a session follows discharge, however long the clinic observes. ``timing`` says
    which way quiet hours push it: an ``announce`` message moves earlier, a ``follow_up`` later. The
    useful window ``[not_before, not_after]`` (offsets too) decides when a moved message is dropped;
    by default an announcement may go up to 12 h earlier and no later than the item's start, a
    follow-up up to 12 h later. ``quiet_hours: later`` makes an announcement wait for the end of the
    quiet hours instead (a "leave for your session" text before an early session), still within its
    window; ``covered_by`` names the rule whose message stands in when this one is dropped, and the
    plan note says so. ``repeat`` sends it on that many consecutive days.

    ``applies_to`` lists item kinds, spec keys, or instances of a spec (``dosing#first``,
    ``dosing#last``, ``dosing#2,4``). ``priority`` is not a field: it comes from the message kind
    (``priorities.MESSAGE_PRIORITY``), one order for every protocol.
    """

    id: str
    applies_to: tuple[str, ...]
    offset: str
    message_kind: str
    audience: str = "patient"
    channels: tuple[str, ...] = ("email",)
    timing: str = "announce"
    not_before: str | None = None
    not_after: str | None = None
    requires_attended: bool = False
    repeat: int = 1
    source: str | None = None
    editable_default: bool = False
    note: str | None = None
    quiet_hours: str | None = None
    covered_by: str | None = None
    measured_from: str = "start"

    @property
    def priority(self) -> int:
        return priority_of(self.message_kind)

    @property
    def moves_later_in_quiet_hours(self) -> bool:
        if self.quiet_hours is not None:
            return self.quiet_hours == "later"
        return self.timing == "follow_up"

    def matches(
        self, kind: str, spec_key: str, number: int = 1, numbers: tuple[int, ...] = (1,)
    ) -> bool:
        """Whether the rule applies to instance ``number`` of ``spec_key`` (of item ``kind``);
        ``numbers`` are the spec's instances in the plan, for ``#first``/``#last``."""
        for entry in self.applies_to:
            name, _, which = entry.partition("#")
            if not which:
                if name in (kind, spec_key):
                    return True
            elif name == spec_key and _ref_of(entry).includes(number, numbers):
                return True
        return False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "applies_to": list(self.applies_to),
            "offset": self.offset,
            "message_kind": self.message_kind,
            "audience": self.audience,
            "channels": list(self.channels),
            "timing": self.timing,
        }
        for name in ("not_before", "not_after", "source", "note", "quiet_hours", "covered_by"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.requires_attended:
            out["requires_attended"] = True
        if self.measured_from != "start":
            out["measured_from"] = self.measured_from
        if self.repeat != 1:
            out["repeat"] = self.repeat
        if self.editable_default:
            out["editable_default"] = True
        return out


@dataclass(frozen=True)
class Protocol:
    """A versioned course template; a plan records the slug and version it was built from."""

    slug: str
    version: int
    name: str
    description: str
    items: tuple[ItemSpec, ...]
    reminder_rules: tuple[ReminderRule, ...]
    sources: tuple[Source, ...] = ()
    preparation: Mapping[str, PrepParam] = field(default_factory=dict, hash=False)
    treatment_names: Mapping[str, str] = field(default_factory=dict, hash=False)
    missed_session: MissedSession = field(default_factory=MissedSession)

    def spec(self, key: str) -> ItemSpec:
        for spec in self.items:
            if spec.key == key:
                return spec
        raise KeyError(key)

    def spec_of(self, item_key: str) -> ItemSpec | None:
        """The spec a plan item's key comes from (``dosing-3`` -> dosing; ``None`` if none):
        how the backend finds an item's checklist or patient title from a stored row."""
        for spec in self.items:
            head, _, number = item_key.rpartition("-")
            if item_key == spec.key or (head == spec.key and number.isdigit()):
                return spec
        return None

    def prep_value(self, key: str) -> Any:
        """A preparation parameter's value (``food_hours`` -> 2), ``None`` when not applicable."""
        param = self.preparation.get(key)
        return param.value if param is not None else None

    def treatment_name(self, language: str) -> str | None:
        """The treatment's name in ``language`` ("es-US" reads "es"), else in English."""
        names = self.treatment_names
        return names.get(language) or names.get(language.split("-")[0]) or names.get("en")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "slug": self.slug,
            "version": self.version,
            "name": self.name,
            "description": self.description,
            "sources": [s.to_dict() for s in self.sources],
        }
        if self.treatment_names:
            out["treatment_names"] = dict(self.treatment_names)
        if self.preparation:
            out["preparation"] = {k: p.to_dict() for k, p in self.preparation.items()}
        if self.missed_session != MissedSession():
            out["missed_session"] = self.missed_session.to_dict()
        out["items"] = [i.to_dict() for i in self.items]
        out["reminder_rules"] = [r.to_dict() for r in self.reminder_rules]
        return out


def _ref_of(text: str) -> Ref:
    spec, _, which = text.partition("#")
    if which in ("", "each", "first", "last"):
        return Ref(spec, which or "each")
    return Ref(spec, tuple(int(n) for n in which.split(",")))


def instance_number(item_key: str, spec_key: str) -> int:
    """The instance number in an item key: ``dosing-3`` of spec ``dosing`` -> 3 (else 1)."""
    prefix = f"{spec_key}-"
    if spec_key and item_key.startswith(prefix) and item_key[len(prefix) :].isdigit():
        return int(item_key[len(prefix) :])
    return 1


def load_library(directory: Path | str | None = None) -> dict[str, Protocol]:
    """Read and validate every ``*.yaml`` protocol in ``directory`` (default: the bundled ones).

    Returns ``{slug: Protocol}``; a file whose slug is already taken raises ``PlanningError``.
    """
    import yaml

    from .errors import PlanningError
    from .protocol_parse import protocol_from_dict

    folder = Path(directory) if directory is not None else LIBRARY_DIR
    library: dict[str, Protocol] = {}
    for path in sorted(folder.glob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
        protocol = protocol_from_dict(data)
        if protocol.slug in library:
            raise PlanningError(
                f"Two protocol files use the slug {protocol.slug!r} ({path.name})",
                rule="protocol.duplicate",
                field="slug",
            )
        library[protocol.slug] = protocol
    return library
