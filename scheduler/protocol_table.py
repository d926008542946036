"""The README's protocol table: every parameter of every built-in protocol, its value and where
it comes from (a cited source's id, or "clinic convention").

Run ``python -m scheduler.protocol_table`` and paste the output under ``## Protocol parameters``;
a test keeps the README equal to it, so the table never drifts from the protocol files.
"""

from __future__ import annotations

from collections.abc import Iterable

from .protocol import ItemSpec, Protocol, ReminderRule, load_library
from .protocol_params import PREP_KEYS

__all__ = ["main", "protocol_table"]

CLINIC = "clinic convention"


def _source(source: str | None, editable: bool = False) -> str:
    if source is None:
        return CLINIC
    return f"{source} (clinic may change)" if editable else source


def _row(parameter: str, value: object, source: str) -> str:
    text = str(value).replace("|", "/").replace("\n", " ")
    return f"| {parameter} | {text} | {source} |"


def _days(values: Iterable[int]) -> str:
    return ", ".join(f"{v:+d}" if v else "0" for v in values)


def _placement(spec: ItemSpec) -> str:
    base = f"after {spec.after}" if spec.after else "from the start date"
    if spec.with_anchor:
        return f"with each {spec.after.spec if spec.after else 'session'}, for its whole span"
    low, high = spec.window_days
    text = f"{base}, day {_days(spec.offsets_days)} (window {low:+d}..{high:+d} days)"
    if spec.local_time is not None:
        text += f" at {spec.local_time:%H:%M} {spec.local_zone} time"
    if spec.allowed_weekdays is not None:
        names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        text += ", on " + "/".join(names[d] for d in sorted(spec.allowed_weekdays))
    if spec.before is not None:
        text += f"; ends before {spec.before} starts"
    return text


def _spec_rows(spec: ItemSpec) -> list[str]:
    src = spec.source_of
    rows = []
    if spec.series is not None:
        series = spec.series
        rows.append(
            _row(
                f"{spec.key}: count",
                f"{series.count} (a plan may choose {series.min_count}-{series.max_count})"
                if series.min_count != series.max_count
                else f"{series.count} (fixed)",
                _source(src("count"), spec.editable_default),
            )
        )
        for n, phase in enumerate(series.phases, start=1):
            parts = [f"{phase.count} x every {'/'.join(str(g) for g in phase.gap_days)} days"]
            if phase.min_gap_hours:
                parts.append(f"at least {phase.min_gap_hours:g} h apart")
            if phase.max_gap_days:
                parts.append(f"at most {phase.max_gap_days} days apart")
            rows.append(
                _row(f"{spec.key}: spacing, phase {n}", ", ".join(parts), _source(src("spacing")))
            )
        if series.max_span_days:
            rows.append(
                _row(
                    f"{spec.key}: first to last",
                    f"within {series.max_span_days} days",
                    _source(src("spacing")),
                )
            )
    for name in ("duration_minutes", "observation_minutes"):
        if getattr(spec, name):
            rows.append(
                _row(
                    f"{spec.key}: {name.split('_')[0]}",
                    f"{getattr(spec, name)} min",
                    _source(src(name)),
                )
            )
    rows.append(_row(f"{spec.key}: when", _placement(spec), _source(src("placement"))))
    if spec.provider_role:
        rows.append(
            _row(f"{spec.key}: provider", spec.provider_role, _source(src("provider_role")))
        )
    if spec.checklist:
        rows.append(
            _row(f"{spec.key}: checklist", "; ".join(spec.checklist), _source(src("checklist")))
        )
    return rows


def _rule_row(rule: ReminderRule) -> str:
    window = []
    if rule.not_before:
        window.append(f"not before {rule.not_before}")
    if rule.not_after:
        window.append(f"not after {rule.not_after}")
    if rule.quiet_hours == "later":
        window.append("after quiet hours")
    value = (
        f"{rule.message_kind} to the {rule.audience} by {'/'.join(rule.channels)} at "
        f"{rule.offset} from {'the end of ' if rule.measured_from == 'end' else ''}"
        f"{', '.join(rule.applies_to)}" + (f" ({'; '.join(window)})" if window else "")
    )
    return _row(
        f"rule {rule.id}", value, _source(rule.source, rule.editable_default and bool(rule.source))
    )


def _protocol(protocol: Protocol) -> str:
    lines = [
        f"### {protocol.name} (`{protocol.slug}`, version {protocol.version})",
        "",
        "| parameter | value | source |",
        "|---|---|---|",
    ]
    for key, param in protocol.preparation.items():
        value = ", ".join(param.value) if key == "bring" else f"{param.value:g}"
        lines.append(
            _row(
                f"preparation: {key}",
                f"{value}: {PREP_KEYS[key]}",
                _source(param.source, param.editable_default),
            )
        )
    missed = protocol.missed_session
    lines.append(
        _row(
            "missed session",
            (
                f"welfare call within {missed.welfare_call_hours} h"
                if missed.welfare_call
                else "no welfare call"
            )
            + ("; a message to the patient" if missed.patient_message else "; no message"),
            CLINIC,
        )
    )
    for spec in protocol.items:
        lines.extend(_spec_rows(spec))
    lines.extend(_rule_row(rule) for rule in protocol.reminder_rules)
    lines += ["", "Sources:", ""]
    lines += [
        f"- `{s.id}`: {' '.join(s.citation.split())} {s.url or ''}".rstrip()
        for s in protocol.sources
    ]
    return "\n".join(lines)


def protocol_table(protocols: Iterable[Protocol] | None = None) -> str:
    """The markdown for every protocol (default: the built-in library, by slug)."""
    chosen = list(protocols) if protocols is not None else list(load_library().values())
    intro = (
        "Generated by `python -m scheduler.protocol_table` from `scheduler/protocols/*.yaml`; "
        "a test keeps this section equal to its output. *Source* is the id of a cited source "
        f'(listed under each table) or *{CLINIC}*; "clinic may change" marks a cited value a '
        "clinic adapts (`editable_default`). Offsets are from the item's start (`-48h`, "
        "`-1 day at 18:00 patient`); message priorities are one order for all protocols "
        "(`scheduler/priorities.py`), not a protocol field."
    )
    fields = (
        "Fields of the protocol files used here: `preparation:` (numbers the preparation "
        "messages state, each with `source:` or `editable_default: true`), `treatment_names:` "
        "(email bodies only, when the clinic allows naming the treatment), `missed_session:`; "
        "per item `before:` (finished before that item starts; the later item moves if it "
        "must), `with_anchor: true` (a task at its session's start for its whole span, moved "
        "with it), `checklist:`, `patient_title:` (neutral, checked against the private-word "
        "list), `parameter_sources:` (`clinic` or a source id per parameter); per rule "
        "`applies_to:` kinds, item keys or instances (`dosing#first`, `dosing#last`, "
        "`dosing#2,4`), `measured_from: end` (offsets from the session's end, observation "
        "included, instead of its start), `quiet_hours: later` (an announcement waits for the "
        "end of the patient's quiet hours instead of going the evening before) and "
        "`covered_by:` (the rule whose message stands in when this one is dropped; the plan "
        "note says so)."
    )
    return (
        "\n\n".join([intro, fields, *(_protocol(p) for p in sorted(chosen, key=lambda p: p.slug))])
        + "\n"
    )


def main() -> None:
    print(protocol_table(), end="")


if __name__ == "__main__":
    main()
