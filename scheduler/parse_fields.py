"""Reading one field of a coordinator-edited dict, with an error that names the field and rule.

Shared by ``protocol_parse`` (protocols, rules) so every message has the same shape:
``items[2].window_days: must be [earliest, latest] days (rule: protocol.range)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time
from typing import Any

from .errors import PlanningError
from .protocol import Ref

__all__ = ["REF", "SLUG", "fail", "get", "int_list", "mapping", "ref", "time_of_day"]

SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
REF = re.compile(r"^(?P<spec>[a-z0-9_-]+)(?:#(?P<which>each|first|last|\d+(?:,\d+)*))?$")


def fail(message: str, rule: str, path: str) -> PlanningError:
    return PlanningError(f"{path}: {message}", rule=rule, field=path)


def mapping(value: Any, path: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise fail("must be a mapping of fields", "protocol.type", path)
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise fail(f"unknown field(s) {', '.join(unknown)}", "protocol.unknown_field", path)
    return value


def get(data: Mapping[str, Any], name: str, path: str, kind: type | tuple[type, ...], **kw: Any):
    where = f"{path}.{name}" if path else name
    if name not in data or data[name] is None:
        if "default" in kw:
            return kw["default"]
        raise fail("is required", "protocol.required", where)
    value = data[name]
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise fail("must be a number", "protocol.type", where)
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise fail(f"must be of type {names}, not {type(value).__name__}", "protocol.type", where)
    low = kw.get("min")
    if low is not None and value < low:
        raise fail(f"must be at least {low}", "protocol.range", where)
    return value


def int_list(data: Mapping[str, Any], name: str, path: str, default: Any = None) -> tuple:
    raw = get(data, name, path, list, default=default)
    where = f"{path}.{name}"
    if any(isinstance(v, bool) or not isinstance(v, int) for v in raw):
        raise fail("must be a list of whole numbers", "protocol.type", where)
    return tuple(raw)


def time_of_day(value: Any, where: str) -> time:
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    # YAML 1.1 reads an unquoted 10:00 as the number 600: say so instead of guessing.
    raise fail(f'{value!r} is not a quoted time of day such as "10:00"', "protocol.type", where)


def ref(value: Any, where: str) -> Ref:
    match = REF.match(value) if isinstance(value, str) else None
    if match is None:
        raise fail(
            f"{value!r} must look like 'dosing', 'dosing#last' or 'dosing#2,4,6'",
            "protocol.reference",
            where,
        )
    which_raw = match["which"] or "each"
    which: str | tuple[int, ...] = which_raw
    if which_raw[0].isdigit():
        which = tuple(int(i) for i in which_raw.split(","))
        if 0 in which:
            raise fail("instances are numbered from 1", "protocol.reference", where)
    return Ref(spec=match["spec"], which=which)
