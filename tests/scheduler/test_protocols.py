from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import pytest
import yaml

from scheduler import MESSAGE_KINDS, PlanningError, load_library, protocol_from_dict

from .helpers import library

SLUGS = {
    "iv-ketamine-induction-trd",
    "esketamine-nasal-spray",
    "ketamine-assisted-psychotherapy",
    "chronic-pain-infusion-series",
}
PACKAGE = Path(__file__).resolve().parents[2] / "scheduler"


def test_library_holds_the_four_protocols():
    assert set(library()) == SLUGS


@pytest.mark.parametrize("slug", sorted(SLUGS))
def test_protocol_round_trips_through_json(slug):
    protocol = library()[slug]
    data = json.loads(json.dumps(protocol.to_dict()))
    assert protocol_from_dict(data) == protocol
    assert protocol.version >= 1


@pytest.mark.parametrize("slug", sorted(SLUGS))
def test_clinical_parameters_cite_a_source(slug):
    protocol = library()[slug]
    assert protocol.sources and all(s.citation and s.url for s in protocol.sources)
    dosing = protocol.spec("dosing")
    assert dosing.source in {s.id for s in protocol.sources}
    for rule in protocol.reminder_rules:
        assert rule.message_kind in MESSAGE_KINDS


def test_spravato_label_parameters():
    spravato = library()["esketamine-nasal-spray"]
    dosing = spravato.spec("dosing")
    assert dosing.observation_minutes >= 120
    phases = dosing.series.phases
    assert [p.count for p in phases[:2]] == [8, 4]  # twice weekly x4 weeks, weekly x4 weeks
    assert (
        spravato.spec("rems_form").window_days[1] + spravato.spec("rems_form").offsets_days[0] <= 7
    )


def test_iv_parameters_match_the_issue():
    spec = library()["iv-ketamine-induction-trd"].spec("dosing")
    assert spec.series.count == 6
    assert spec.series.phases[0].min_gap_hours == 48
    assert spec.series.phases[0].max_gap_days == 7
    assert spec.series.max_span_days == 21


def base() -> dict:
    return copy.deepcopy(library()["ketamine-assisted-psychotherapy"].to_dict())


@pytest.mark.parametrize(
    ("mutate", "rule", "field"),
    [
        (lambda d: d.pop("slug"), "protocol.required", "slug"),
        (lambda d: d.update(version="one"), "protocol.type", "version"),
        (lambda d: d.update(version=0), "protocol.range", "version"),
        (lambda d: d["items"][0].update(kind="infusion"), "protocol.kind", "items[0].kind"),
        (lambda d: d["items"][0].update(max_gap_dayz=3), "protocol.unknown_field", "items[0]"),
        (lambda d: d["items"][2].update(after="nothing"), "protocol.reference", "items[2].after"),
        (
            lambda d: d["items"][1]["series"].update(min_count=5),
            "protocol.range",
            "items[1].series",
        ),
        (
            lambda d: d["items"][2].update(window_days=[3, 1]),
            "protocol.range",
            "items[2].window_days",
        ),
        (lambda d: d["items"][1].update(key="preparation"), "protocol.duplicate", "items[1].key"),
        (
            lambda d: d["reminder_rules"][0].update(offset="48 hours before"),
            "rule.syntax",
            "reminder_rules[0].offset",
        ),
        (
            lambda d: d["reminder_rules"][0].update(message_kind="reminder_48h"),
            "rule.message_kind",
            "reminder_rules[0].message_kind",
        ),
        (
            lambda d: d["reminder_rules"][0].update(channels=["pager"]),
            "protocol.type",
            "reminder_rules[0].channels",
        ),
    ],
)
def test_bad_protocols_name_field_and_rule(mutate, rule, field):
    data = base()
    mutate(data)
    with pytest.raises(PlanningError) as caught:
        protocol_from_dict(data)
    assert caught.value.rule == rule
    assert caught.value.field == field
    assert field in str(caught.value)


def test_unquoted_yaml_time_is_explained(tmp_path):
    data = library()["iv-ketamine-induction-trd"].to_dict()
    text = yaml.safe_dump(data).replace("local_time: '10:00'", "local_time: 10:00")
    (tmp_path / "p.yaml").write_text(text)
    with pytest.raises(PlanningError) as caught:
        load_library(tmp_path)
    assert caught.value.field.endswith("local_time")
    assert "quoted" in str(caught.value)


def test_scheduler_has_no_framework_imports():
    forbidden = {"django", "celery", "rest_framework"}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not {n.split(".")[0] for n in names} & forbidden, path
        assert len(path.read_text().splitlines()) <= 450, path
