"""Validation of protocol dicts (YAML files, admin JSON) into ``Protocol`` objects.

Protocols are edited by coordinators, so every mistake is reported as a ``PlanningError`` whose
``field`` is the path of the offending value (``items[2].window_days``) and whose ``rule`` says what
was wrong (``protocol.required``, ``protocol.type``, ``protocol.unknown_field``, ``protocol.range``,
``protocol.reference``, ``protocol.duplicate``, ``rule.syntax``, ``rule.message_kind``,
``protocol.priority_fixed``, ``protocol.private_title``). Unknown fields are rejected rather than
ignored: a misspelt ``max_gap_dayz`` must not silently vanish.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import AUDIENCES, ITEM_KINDS, MESSAGE_KINDS
from .offsets import parse_offset
from .parse_fields import REF, SLUG, fail, get, int_list, mapping, ref, time_of_day
from .preferences import CHANNELS
from .protocol import ItemSpec, Phase, Protocol, ReminderRule, Series, Source
from .protocol_params import (
    missed_session_from_dict,
    patient_title_from_dict,
    preparation_from_dict,
    treatment_names_from_dict,
)

__all__ = ["protocol_from_dict", "rule_from_dict"]

PROVIDER_ROLES = ("prescriber", "therapist", "nurse")

_PROTOCOL_FIELDS = {
    "slug",
    "version",
    "name",
    "description",
    "sources",
    "items",
    "reminder_rules",
    "preparation",
    "treatment_names",
    "missed_session",
}
_ITEM_FIELDS = set(ItemSpec.__dataclass_fields__)
_RULE_FIELDS = set(ReminderRule.__dataclass_fields__)
_SERIES_FIELDS = {"phases", "min_count", "max_count", "max_span_days"}
_FLAT_SERIES_FIELDS = {"count", "gap_days", "min_gap_hours", "max_gap_days"}
_PHASE_FIELDS = {"count", "gap_days", "min_gap_hours", "max_gap_days"}


def _phase(data: Any, path: str) -> Phase:
    data = mapping(data, path, _PHASE_FIELDS)
    count = get(data, "count", path, int, min=0)
    gaps = int_list(data, "gap_days", path, default=[1])
    if not gaps or any(g < 1 for g in gaps):
        raise fail("must list gaps of at least one day", "protocol.range", f"{path}.gap_days")
    min_gap = get(data, "min_gap_hours", path, (int, float), default=0, min=0)
    max_gap = get(data, "max_gap_days", path, int, default=None, min=1)
    if max_gap is not None and max_gap < max(gaps):
        raise fail("is shorter than a target gap", "protocol.range", f"{path}.max_gap_days")
    if max_gap is not None and min_gap > max_gap * 24:
        raise fail("exceeds max_gap_days", "protocol.range", f"{path}.min_gap_hours")
    return Phase(count=count, gap_days=gaps, min_gap_hours=min_gap, max_gap_days=max_gap)


def _series(data: Any, path: str) -> Series:
    data = mapping(data, path, _SERIES_FIELDS | _FLAT_SERIES_FIELDS)
    if "phases" in data:
        if _FLAT_SERIES_FIELDS & set(data):
            raise fail("give either phases or count/gap_days, not both", "protocol.type", path)
        raw = get(data, "phases", path, list)
        phases = tuple(_phase(p, f"{path}.phases[{i}]") for i, p in enumerate(raw))
    else:
        flat = {k: v for k, v in data.items() if k in _FLAT_SERIES_FIELDS}
        phases = (_phase(flat, path),)
    if not phases:
        raise fail("needs at least one phase", "protocol.required", f"{path}.phases")
    total = sum(p.count for p in phases)
    min_count = get(data, "min_count", path, int, default=total, min=1)
    max_count = get(data, "max_count", path, int, default=total, min=1)
    if not min_count <= total <= max_count:
        raise fail(
            f"count {total} is outside min_count {min_count} .. max_count {max_count}",
            "protocol.range",
            path,
        )
    span = get(data, "max_span_days", path, int, default=None, min=1)
    return Series(phases=phases, min_count=min_count, max_count=max_count, max_span_days=span)


def _item(data: Any, path: str) -> ItemSpec:
    data = mapping(data, path, _ITEM_FIELDS)
    key = get(data, "key", path, str)
    if not SLUG.match(key):
        raise fail("must be lower-case letters, digits, '-' or '_'", "protocol.type", f"{path}.key")
    kind = get(data, "kind", path, str)
    if kind not in ITEM_KINDS:
        raise fail(f"must be one of {', '.join(ITEM_KINDS)}", "protocol.kind", f"{path}.kind")
    role = get(data, "provider_role", path, str, default=None)
    if role is not None and role not in PROVIDER_ROLES:
        raise fail(
            f"must be one of {', '.join(PROVIDER_ROLES)}", "protocol.type", f"{path}.provider_role"
        )
    window = int_list(data, "window_days", path, default=[0, 0])
    if len(window) != 2 or window[0] > window[1]:
        raise fail("must be [earliest, latest] days", "protocol.range", f"{path}.window_days")
    offsets = int_list(data, "offsets_days", path, default=[0])
    if not offsets:
        raise fail("needs at least one offset", "protocol.required", f"{path}.offsets_days")
    on_site = get(data, "on_site", path, bool, default=True)
    local_raw = data.get("local_time")
    local_time = time_of_day(local_raw, f"{path}.local_time") if local_raw is not None else None
    if not on_site and local_time is None:
        raise fail(
            "is required for items that are not on site", "protocol.required", f"{path}.local_time"
        )
    zone = get(data, "local_zone", path, str, default="patient")
    if zone not in ("patient", "clinic"):
        raise fail("must be 'patient' or 'clinic'", "protocol.type", f"{path}.local_zone")
    weekdays = (
        int_list(data, "allowed_weekdays", path, default=None)
        if data.get("allowed_weekdays") is not None
        else None
    )
    if weekdays is not None and (not weekdays or any(not 0 <= d <= 6 for d in weekdays)):
        raise fail("must list weekdays 0..6", "protocol.range", f"{path}.allowed_weekdays")
    series_raw = data.get("series")
    with_anchor = get(data, "with_anchor", path, bool, default=False)
    if with_anchor and (data.get("after") is None or series_raw is not None):
        raise fail(
            "an item that goes with its anchor needs 'after:' and no series",
            "protocol.with_anchor",
            f"{path}.with_anchor",
        )
    return ItemSpec(
        key=key,
        kind=kind,
        title=get(data, "title", path, str),
        provider_role=role,
        duration_minutes=get(data, "duration_minutes", path, int, default=0, min=0),
        observation_minutes=get(data, "observation_minutes", path, int, default=0, min=0),
        on_site=on_site,
        after=ref(data["after"], f"{path}.after") if data.get("after") is not None else None,
        offsets_days=offsets,
        window_days=(window[0], window[1]),
        series=_series(series_raw, f"{path}.series") if series_raw is not None else None,
        allowed_weekdays=frozenset(weekdays) if weekdays is not None else None,
        local_time=local_time,
        local_zone=zone,
        optional=get(data, "optional", path, bool, default=False),
        required=get(data, "required", path, bool, default=True),
        numbered=get(data, "numbered", path, bool, default=True),
        source=get(data, "source", path, str, default=None),
        editable_default=get(data, "editable_default", path, bool, default=False),
        note=get(data, "note", path, str, default=None),
        instruments=_instruments(data, kind, path),
        before=ref(data["before"], f"{path}.before") if data.get("before") is not None else None,
        with_anchor=with_anchor,
        checklist=_checklist(data, path),
        patient_title=patient_title_from_dict(data.get("patient_title"), f"{path}.patient_title"),
        parameter_sources=_parameter_sources(data, path),
    )


def _parameter_sources(data: Mapping[str, Any], path: str) -> dict[str, str]:
    raw = get(data, "parameter_sources", path, Mapping, default={})
    where = f"{path}.parameter_sources"
    unknown = sorted(str(k) for k in raw if k not in ItemSpec.PARAMETERS)
    if unknown:
        raise fail(
            f"unknown parameter(s) {', '.join(unknown)} ({', '.join(ItemSpec.PARAMETERS)})",
            "protocol.unknown_field",
            where,
        )
    if not all(isinstance(v, str) for v in raw.values()):
        raise fail("must map parameters to a source id or 'clinic'", "protocol.type", where)
    return dict(raw)


def _checklist(data: Mapping[str, Any], path: str) -> tuple[str, ...]:
    lines = get(data, "checklist", path, list, default=[])
    if not all(isinstance(line, str) and line.strip() for line in lines):
        raise fail("must list plain lines of text", "protocol.type", f"{path}.checklist")
    return tuple(lines)


def _instruments(data: Mapping[str, Any], kind: str, path: str) -> tuple[str, ...]:
    codes = get(data, "instruments", path, list, default=[])
    if codes and kind != "assessment":
        where = f"{path}.instruments"
        raise fail("only an assessment asks questionnaires", "protocol.type", where)
    if not all(isinstance(c, str) and SLUG.match(c) for c in codes):
        where = f"{path}.instruments"
        raise fail("must list questionnaire codes, e.g. [phq9, gad7]", "protocol.type", where)
    return tuple(codes)


def _rule(data: Any, path: str) -> ReminderRule:
    if isinstance(data, Mapping) and "priority" in data:
        raise fail(
            "is fixed by the message kind for every protocol (scheduler/priorities.py) and "
            "cannot be set here",
            "protocol.priority_fixed",
            f"{path}.priority",
        )
    data = mapping(data, path, _RULE_FIELDS)
    rule_id = get(data, "id", path, str)
    if not SLUG.match(rule_id) or ":" in rule_id:
        raise fail("must be lower-case letters, digits, '-' or '_'", "protocol.type", f"{path}.id")
    kind = get(data, "message_kind", path, str)
    if kind not in MESSAGE_KINDS:
        raise fail(
            f"{kind!r} is not a message kind ({', '.join(MESSAGE_KINDS)})",
            "rule.message_kind",
            f"{path}.message_kind",
        )
    audience = get(data, "audience", path, str, default="patient")
    if audience not in AUDIENCES:
        raise fail("must be 'patient' or 'provider'", "protocol.type", f"{path}.audience")
    channels = tuple(get(data, "channels", path, list, default=["email"]))
    if (
        not channels
        or any(c not in CHANNELS for c in channels)
        or len(set(channels)) != len(channels)
    ):
        raise fail(
            f"must list distinct channels from {', '.join(CHANNELS)}",
            "protocol.type",
            f"{path}.channels",
        )
    timing = get(data, "timing", path, str, default="announce")
    if timing not in ("announce", "follow_up"):
        raise fail("must be 'announce' or 'follow_up'", "protocol.type", f"{path}.timing")
    applies = get(data, "applies_to", path, list)
    if not applies or any(not isinstance(a, str) or not REF.match(a) for a in applies):
        raise fail(
            "must list item kinds, item keys or instances such as 'dosing#first'",
            "protocol.type",
            f"{path}.applies_to",
        )
    for entry in applies:
        if "#" in entry:
            ref(entry, f"{path}.applies_to")
    measured_from = get(data, "measured_from", path, str, default="start")
    if measured_from not in ("start", "end"):
        raise fail("must be 'start' or 'end'", "protocol.type", f"{path}.measured_from")
    quiet = get(data, "quiet_hours", path, str, default=None)
    if quiet not in (None, "earlier", "later"):
        raise fail("must be 'earlier' or 'later'", "protocol.type", f"{path}.quiet_hours")
    texts = {}
    for name in ("offset", "not_before", "not_after"):
        text = get(data, name, path, str, default=None if name != "offset" else ...)
        if text is ...:
            raise fail("is required", "protocol.required", f"{path}.offset")
        if text is not None:
            parse_offset(text, f"{path}.{name}")
        texts[name] = text
    return ReminderRule(
        id=rule_id,
        applies_to=tuple(applies),
        offset=texts["offset"],
        message_kind=kind,
        audience=audience,
        channels=channels,
        timing=timing,
        not_before=texts["not_before"],
        not_after=texts["not_after"],
        requires_attended=get(data, "requires_attended", path, bool, default=False),
        repeat=get(data, "repeat", path, int, default=1, min=1),
        source=get(data, "source", path, str, default=None),
        editable_default=get(data, "editable_default", path, bool, default=False),
        note=get(data, "note", path, str, default=None),
        quiet_hours=quiet,
        covered_by=get(data, "covered_by", path, str, default=None),
        measured_from=measured_from,
    )


def _check_references(
    items: tuple[ItemSpec, ...], sources: tuple[Source, ...], rules: tuple[ReminderRule, ...]
) -> None:
    keys = [s.key for s in items]
    source_ids = {s.id for s in sources}
    for index, spec in enumerate(items):
        where = f"items[{index}]"
        if spec.key in keys[:index]:
            raise fail(f"key {spec.key!r} is used twice", "protocol.duplicate", f"{where}.key")
        if spec.after is not None and spec.after.spec not in keys:
            raise fail(
                f"refers to unknown item {spec.after.spec!r}",
                "protocol.reference",
                f"{where}.after",
            )
        if spec.after is not None and keys.index(spec.after.spec) >= index:
            raise fail(
                f"must come after the item {spec.after.spec!r} it refers to",
                "protocol.reference",
                f"{where}.after",
            )
        if spec.before is not None and spec.before.spec not in keys[:index]:
            raise fail(
                f"must name an item listed before this one, not {spec.before.spec!r}",
                "protocol.reference",
                f"{where}.before",
            )
        if spec.source is not None and spec.source not in source_ids:
            raise fail(f"unknown source {spec.source!r}", "protocol.reference", f"{where}.source")
        for name, source in spec.parameter_sources.items():
            if source != "clinic" and source not in source_ids:
                raise fail(
                    f"unknown source {source!r} (a source id, or 'clinic')",
                    "protocol.reference",
                    f"{where}.parameter_sources.{name}",
                )
    names = set(keys) | {s.kind for s in items}
    rule_ids = {r.id for r in rules}
    for index, rule in enumerate(rules):
        where = f"reminder_rules[{index}]"
        if rule.id in [r.id for r in rules[:index]]:
            raise fail(f"rule id {rule.id!r} is used twice", "protocol.duplicate", f"{where}.id")
        unknown = [
            a
            for a in rule.applies_to
            if (a.split("#")[0] not in keys if "#" in a else a not in names)
        ]
        if unknown:
            raise fail(
                f"applies to unknown item(s) {', '.join(unknown)}",
                "protocol.reference",
                f"{where}.applies_to",
            )
        if rule.source is not None and rule.source not in source_ids:
            raise fail(f"unknown source {rule.source!r}", "protocol.reference", f"{where}.source")
        if rule.covered_by is not None and rule.covered_by not in rule_ids - {rule.id}:
            raise fail(
                f"names no other rule of this protocol ({rule.covered_by!r})",
                "protocol.reference",
                f"{where}.covered_by",
            )


def rule_from_dict(data: Any, path: str = "reminder_rule") -> ReminderRule:
    """Validate one reminder rule (used for per-plan overrides)."""
    return _rule(data, path)


def protocol_from_dict(data: Any) -> Protocol:
    """Validate ``data`` into a ``Protocol``; raise ``PlanningError`` naming field and rule."""
    data = mapping(data, "protocol", _PROTOCOL_FIELDS)
    slug = get(data, "slug", "", str)
    if not SLUG.match(slug):
        raise fail("must be lower-case words joined by '-'", "protocol.type", "slug")
    sources_raw = get(data, "sources", "", list, default=[])
    sources = []
    for index, raw in enumerate(sources_raw):
        path = f"sources[{index}]"
        raw = mapping(raw, path, {"id", "citation", "url"})
        sources.append(
            Source(
                get(raw, "id", path, str),
                get(raw, "citation", path, str),
                get(raw, "url", path, str, default=None),
            )
        )
    items_raw = get(data, "items", "", list)
    if not items_raw:
        raise fail("needs at least one item", "protocol.required", "items")
    items = tuple(_item(raw, f"items[{i}]") for i, raw in enumerate(items_raw))
    rules_raw = get(data, "reminder_rules", "", list, default=[])
    rules = tuple(_rule(raw, f"reminder_rules[{i}]") for i, raw in enumerate(rules_raw))
    _check_references(items, tuple(sources), rules)
    source_ids = {s.id for s in sources}
    return Protocol(
        slug=slug,
        version=get(data, "version", "", int, min=1),
        name=get(data, "name", "", str),
        description=get(data, "description", "", str, default=""),
        items=items,
        reminder_rules=rules,
        sources=tuple(sources),
        preparation=preparation_from_dict(data.get("preparation"), source_ids),
        treatment_names=treatment_names_from_dict(data.get("treatment_names")),
        missed_session=missed_session_from_dict(data.get("missed_session")),
    )
