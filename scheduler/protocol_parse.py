"""Validation of protocol dicts (YAML files, admin JSON) into ``Protocol`` objects.

Protocols are edited by coordinators, so every mistake is reported as a ``PlanningError`` whose
``field`` is the path of the offending value (``items[2].window_days``) and whose ``rule`` says what
was wrong (``protocol.required``, ``protocol.type``, ``protocol.unknown_field``, ``protocol.range``,
``protocol.reference``, ``protocol.duplicate``, ``rule.syntax``, ``rule.message_kind``,
``protocol.priority_fixed``, ``protocol.private_title``). Unknown fields are rejected rather than
ignored: a misspelt ``max_gap_dayz`` must not silently vanish.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from typing import Any

from .errors import PlanningError
from .model import AUDIENCES, ITEM_KINDS, MESSAGE_KINDS
from .offsets import parse_offset
from .preferences import CHANNELS
from .protocol import ItemSpec, Phase, Protocol, Ref, ReminderRule, Series, Source
from .protocol_params import (
    missed_session_from_dict,
    patient_title_from_dict,
    preparation_from_dict,
    treatment_names_from_dict,
)

__all__ = ["protocol_from_dict", "rule_from_dict"]

_SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_REF = re.compile(r"^(?P<spec>[a-z0-9_-]+)(?:#(?P<which>each|first|last|\d+(?:,\d+)*))?$")
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


def _fail(message: str, rule: str, path: str) -> PlanningError:
    return PlanningError(f"{path}: {message}", rule=rule, field=path)


def _mapping(value: Any, path: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail("must be a mapping of fields", "protocol.type", path)
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise _fail(f"unknown field(s) {', '.join(unknown)}", "protocol.unknown_field", path)
    return value


def _get(data: Mapping[str, Any], name: str, path: str, kind: type | tuple[type, ...], **kw: Any):
    where = f"{path}.{name}" if path else name
    if name not in data or data[name] is None:
        if "default" in kw:
            return kw["default"]
        raise _fail("is required", "protocol.required", where)
    value = data[name]
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise _fail("must be a number", "protocol.type", where)
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise _fail(f"must be of type {names}, not {type(value).__name__}", "protocol.type", where)
    low = kw.get("min")
    if low is not None and value < low:
        raise _fail(f"must be at least {low}", "protocol.range", where)
    return value


def _int_list(data: Mapping[str, Any], name: str, path: str, default: Any = None) -> tuple:
    raw = _get(data, name, path, list, default=default)
    where = f"{path}.{name}"
    if any(isinstance(v, bool) or not isinstance(v, int) for v in raw):
        raise _fail("must be a list of whole numbers", "protocol.type", where)
    return tuple(raw)


def _time(value: Any, where: str) -> time:
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    # YAML 1.1 reads an unquoted 10:00 as the number 600: say so instead of guessing.
    raise _fail(f'{value!r} is not a quoted time of day such as "10:00"', "protocol.type", where)


def _ref(value: Any, where: str) -> Ref:
    match = _REF.match(value) if isinstance(value, str) else None
    if match is None:
        raise _fail(
            f"{value!r} must look like 'dosing', 'dosing#last' or 'dosing#2,4,6'",
            "protocol.reference",
            where,
        )
    which_raw = match["which"] or "each"
    which: str | tuple[int, ...] = which_raw
    if which_raw[0].isdigit():
        which = tuple(int(i) for i in which_raw.split(","))
        if 0 in which:
            raise _fail("instances are numbered from 1", "protocol.reference", where)
    return Ref(spec=match["spec"], which=which)


def _phase(data: Any, path: str) -> Phase:
    data = _mapping(data, path, _PHASE_FIELDS)
    count = _get(data, "count", path, int, min=0)
    gaps = _int_list(data, "gap_days", path, default=[1])
    if not gaps or any(g < 1 for g in gaps):
        raise _fail("must list gaps of at least one day", "protocol.range", f"{path}.gap_days")
    min_gap = _get(data, "min_gap_hours", path, (int, float), default=0, min=0)
    max_gap = _get(data, "max_gap_days", path, int, default=None, min=1)
    if max_gap is not None and max_gap < max(gaps):
        raise _fail("is shorter than a target gap", "protocol.range", f"{path}.max_gap_days")
    if max_gap is not None and min_gap > max_gap * 24:
        raise _fail("exceeds max_gap_days", "protocol.range", f"{path}.min_gap_hours")
    return Phase(count=count, gap_days=gaps, min_gap_hours=min_gap, max_gap_days=max_gap)


def _series(data: Any, path: str) -> Series:
    data = _mapping(data, path, _SERIES_FIELDS | _FLAT_SERIES_FIELDS)
    if "phases" in data:
        if _FLAT_SERIES_FIELDS & set(data):
            raise _fail("give either phases or count/gap_days, not both", "protocol.type", path)
        raw = _get(data, "phases", path, list)
        phases = tuple(_phase(p, f"{path}.phases[{i}]") for i, p in enumerate(raw))
    else:
        flat = {k: v for k, v in data.items() if k in _FLAT_SERIES_FIELDS}
        phases = (_phase(flat, path),)
    if not phases:
        raise _fail("needs at least one phase", "protocol.required", f"{path}.phases")
    total = sum(p.count for p in phases)
    min_count = _get(data, "min_count", path, int, default=total, min=1)
    max_count = _get(data, "max_count", path, int, default=total, min=1)
    if not min_count <= total <= max_count:
        raise _fail(
            f"count {total} is outside min_count {min_count} .. max_count {max_count}",
            "protocol.range",
            path,
        )
    span = _get(data, "max_span_days", path, int, default=None, min=1)
    return Series(phases=phases, min_count=min_count, max_count=max_count, max_span_days=span)


def _item(data: Any, path: str) -> ItemSpec:
    data = _mapping(data, path, _ITEM_FIELDS)
    key = _get(data, "key", path, str)
    if not _SLUG.match(key):
        raise _fail(
            "must be lower-case letters, digits, '-' or '_'", "protocol.type", f"{path}.key"
        )
    kind = _get(data, "kind", path, str)
    if kind not in ITEM_KINDS:
        raise _fail(f"must be one of {', '.join(ITEM_KINDS)}", "protocol.kind", f"{path}.kind")
    role = _get(data, "provider_role", path, str, default=None)
    if role is not None and role not in PROVIDER_ROLES:
        raise _fail(
            f"must be one of {', '.join(PROVIDER_ROLES)}", "protocol.type", f"{path}.provider_role"
        )
    window = _int_list(data, "window_days", path, default=[0, 0])
    if len(window) != 2 or window[0] > window[1]:
        raise _fail("must be [earliest, latest] days", "protocol.range", f"{path}.window_days")
    offsets = _int_list(data, "offsets_days", path, default=[0])
    if not offsets:
        raise _fail("needs at least one offset", "protocol.required", f"{path}.offsets_days")
    on_site = _get(data, "on_site", path, bool, default=True)
    local_raw = data.get("local_time")
    local_time = _time(local_raw, f"{path}.local_time") if local_raw is not None else None
    if not on_site and local_time is None:
        raise _fail(
            "is required for items that are not on site", "protocol.required", f"{path}.local_time"
        )
    zone = _get(data, "local_zone", path, str, default="patient")
    if zone not in ("patient", "clinic"):
        raise _fail("must be 'patient' or 'clinic'", "protocol.type", f"{path}.local_zone")
    weekdays = (
        _int_list(data, "allowed_weekdays", path, default=None)
        if data.get("allowed_weekdays") is not None
        else None
    )
    if weekdays is not None and (not weekdays or any(not 0 <= d <= 6 for d in weekdays)):
        raise _fail("must list weekdays 0..6", "protocol.range", f"{path}.allowed_weekdays")
    series_raw = data.get("series")
    with_anchor = _get(data, "with_anchor", path, bool, default=False)
    if with_anchor and (data.get("after") is None or series_raw is not None):
        raise _fail(
            "an item that goes with its anchor needs 'after:' and no series",
            "protocol.with_anchor",
            f"{path}.with_anchor",
        )
    return ItemSpec(
        key=key,
        kind=kind,
        title=_get(data, "title", path, str),
        provider_role=role,
        duration_minutes=_get(data, "duration_minutes", path, int, default=0, min=0),
        observation_minutes=_get(data, "observation_minutes", path, int, default=0, min=0),
        on_site=on_site,
        after=_ref(data["after"], f"{path}.after") if data.get("after") is not None else None,
        offsets_days=offsets,
        window_days=(window[0], window[1]),
        series=_series(series_raw, f"{path}.series") if series_raw is not None else None,
        allowed_weekdays=frozenset(weekdays) if weekdays is not None else None,
        local_time=local_time,
        local_zone=zone,
        optional=_get(data, "optional", path, bool, default=False),
        required=_get(data, "required", path, bool, default=True),
        numbered=_get(data, "numbered", path, bool, default=True),
        source=_get(data, "source", path, str, default=None),
        editable_default=_get(data, "editable_default", path, bool, default=False),
        note=_get(data, "note", path, str, default=None),
        instruments=_instruments(data, kind, path),
        before=_ref(data["before"], f"{path}.before") if data.get("before") is not None else None,
        with_anchor=with_anchor,
        checklist=_checklist(data, path),
        patient_title=patient_title_from_dict(data.get("patient_title"), f"{path}.patient_title"),
    )


def _checklist(data: Mapping[str, Any], path: str) -> tuple[str, ...]:
    lines = _get(data, "checklist", path, list, default=[])
    if not all(isinstance(line, str) and line.strip() for line in lines):
        raise _fail("must list plain lines of text", "protocol.type", f"{path}.checklist")
    return tuple(lines)


def _instruments(data: Mapping[str, Any], kind: str, path: str) -> tuple[str, ...]:
    codes = _get(data, "instruments", path, list, default=[])
    if codes and kind != "assessment":
        where = f"{path}.instruments"
        raise _fail("only an assessment asks questionnaires", "protocol.type", where)
    if not all(isinstance(c, str) and _SLUG.match(c) for c in codes):
        where = f"{path}.instruments"
        raise _fail("must list questionnaire codes, e.g. [phq9, gad7]", "protocol.type", where)
    return tuple(codes)


def _rule(data: Any, path: str) -> ReminderRule:
    if isinstance(data, Mapping) and "priority" in data:
        raise _fail(
            "is fixed by the message kind for every protocol (scheduler/priorities.py) and "
            "cannot be set here",
            "protocol.priority_fixed",
            f"{path}.priority",
        )
    data = _mapping(data, path, _RULE_FIELDS)
    rule_id = _get(data, "id", path, str)
    if not _SLUG.match(rule_id) or ":" in rule_id:
        raise _fail("must be lower-case letters, digits, '-' or '_'", "protocol.type", f"{path}.id")
    kind = _get(data, "message_kind", path, str)
    if kind not in MESSAGE_KINDS:
        raise _fail(
            f"{kind!r} is not a message kind ({', '.join(MESSAGE_KINDS)})",
            "rule.message_kind",
            f"{path}.message_kind",
        )
    audience = _get(data, "audience", path, str, default="patient")
    if audience not in AUDIENCES:
        raise _fail("must be 'patient' or 'provider'", "protocol.type", f"{path}.audience")
    channels = tuple(_get(data, "channels", path, list, default=["email"]))
    if (
        not channels
        or any(c not in CHANNELS for c in channels)
        or len(set(channels)) != len(channels)
    ):
        raise _fail(
            f"must list distinct channels from {', '.join(CHANNELS)}",
            "protocol.type",
            f"{path}.channels",
        )
    timing = _get(data, "timing", path, str, default="announce")
    if timing not in ("announce", "follow_up"):
        raise _fail("must be 'announce' or 'follow_up'", "protocol.type", f"{path}.timing")
    applies = _get(data, "applies_to", path, list)
    if not applies or any(not isinstance(a, str) or not _REF.match(a) for a in applies):
        raise _fail(
            "must list item kinds, item keys or instances such as 'dosing#first'",
            "protocol.type",
            f"{path}.applies_to",
        )
    for entry in applies:
        if "#" in entry:
            _ref(entry, f"{path}.applies_to")
    quiet = _get(data, "quiet_hours", path, str, default=None)
    if quiet not in (None, "earlier", "later"):
        raise _fail("must be 'earlier' or 'later'", "protocol.type", f"{path}.quiet_hours")
    texts = {}
    for name in ("offset", "not_before", "not_after"):
        text = _get(data, name, path, str, default=None if name != "offset" else ...)
        if text is ...:
            raise _fail("is required", "protocol.required", f"{path}.offset")
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
        requires_attended=_get(data, "requires_attended", path, bool, default=False),
        repeat=_get(data, "repeat", path, int, default=1, min=1),
        source=_get(data, "source", path, str, default=None),
        editable_default=_get(data, "editable_default", path, bool, default=False),
        note=_get(data, "note", path, str, default=None),
        quiet_hours=quiet,
        covered_by=_get(data, "covered_by", path, str, default=None),
    )


def _check_references(
    items: tuple[ItemSpec, ...], sources: tuple[Source, ...], rules: tuple[ReminderRule, ...]
) -> None:
    keys = [s.key for s in items]
    source_ids = {s.id for s in sources}
    for index, spec in enumerate(items):
        where = f"items[{index}]"
        if spec.key in keys[:index]:
            raise _fail(f"key {spec.key!r} is used twice", "protocol.duplicate", f"{where}.key")
        if spec.after is not None and spec.after.spec not in keys:
            raise _fail(
                f"refers to unknown item {spec.after.spec!r}",
                "protocol.reference",
                f"{where}.after",
            )
        if spec.after is not None and keys.index(spec.after.spec) >= index:
            raise _fail(
                f"must come after the item {spec.after.spec!r} it refers to",
                "protocol.reference",
                f"{where}.after",
            )
        if spec.before is not None and spec.before.spec not in keys[:index]:
            raise _fail(
                f"must name an item listed before this one, not {spec.before.spec!r}",
                "protocol.reference",
                f"{where}.before",
            )
        if spec.source is not None and spec.source not in source_ids:
            raise _fail(f"unknown source {spec.source!r}", "protocol.reference", f"{where}.source")
    names = set(keys) | {s.kind for s in items}
    rule_ids = {r.id for r in rules}
    for index, rule in enumerate(rules):
        where = f"reminder_rules[{index}]"
        if rule.id in [r.id for r in rules[:index]]:
            raise _fail(f"rule id {rule.id!r} is used twice", "protocol.duplicate", f"{where}.id")
        unknown = [
            a
            for a in rule.applies_to
            if (a.split("#")[0] not in keys if "#" in a else a not in names)
        ]
        if unknown:
            raise _fail(
                f"applies to unknown item(s) {', '.join(unknown)}",
                "protocol.reference",
                f"{where}.applies_to",
            )
        if rule.source is not None and rule.source not in source_ids:
            raise _fail(f"unknown source {rule.source!r}", "protocol.reference", f"{where}.source")
        if rule.covered_by is not None and rule.covered_by not in rule_ids - {rule.id}:
            raise _fail(
                f"names no other rule of this protocol ({rule.covered_by!r})",
                "protocol.reference",
                f"{where}.covered_by",
            )


def rule_from_dict(data: Any, path: str = "reminder_rule") -> ReminderRule:
    """Validate one reminder rule (used for per-plan overrides)."""
    return _rule(data, path)


def protocol_from_dict(data: Any) -> Protocol:
    """Validate ``data`` into a ``Protocol``; raise ``PlanningError`` naming field and rule."""
    data = _mapping(data, "protocol", _PROTOCOL_FIELDS)
    slug = _get(data, "slug", "", str)
    if not _SLUG.match(slug):
        raise _fail("must be lower-case words joined by '-'", "protocol.type", "slug")
    sources_raw = _get(data, "sources", "", list, default=[])
    sources = []
    for index, raw in enumerate(sources_raw):
        path = f"sources[{index}]"
        raw = _mapping(raw, path, {"id", "citation", "url"})
        sources.append(
            Source(
                _get(raw, "id", path, str),
                _get(raw, "citation", path, str),
                _get(raw, "url", path, str, default=None),
            )
        )
    items_raw = _get(data, "items", "", list)
    if not items_raw:
        raise _fail("needs at least one item", "protocol.required", "items")
    items = tuple(_item(raw, f"items[{i}]") for i, raw in enumerate(items_raw))
    rules_raw = _get(data, "reminder_rules", "", list, default=[])
    rules = tuple(_rule(raw, f"reminder_rules[{i}]") for i, raw in enumerate(rules_raw))
    _check_references(items, tuple(sources), rules)
    source_ids = {s.id for s in sources}
    return Protocol(
        slug=slug,
        version=_get(data, "version", "", int, min=1),
        name=_get(data, "name", "", str),
        description=_get(data, "description", "", str, default=""),
        items=items,
        reminder_rules=rules,
        sources=tuple(sources),
        preparation=preparation_from_dict(data.get("preparation"), source_ids),
        treatment_names=treatment_names_from_dict(data.get("treatment_names")),
        missed_session=missed_session_from_dict(data.get("missed_session")),
    )
