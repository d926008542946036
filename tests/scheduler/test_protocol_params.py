"""Protocol parameters the messages use, instance refs in rules, and neutral patient titles."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime

import pytest

from scheduler import (
    MissedSession,
    PlanningError,
    build_plan,
    patient_title,
    protocol_from_dict,
)
from scheduler.privacy import private_words_in

from .helpers import clinic, library, patient

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
IV = "iv-ketamine-induction-trd"


def iv_dict() -> dict:
    return copy.deepcopy(library()[IV].to_dict())


def fails(data: dict) -> PlanningError:
    with pytest.raises(PlanningError) as caught:
        protocol_from_dict(data)
    return caught.value


def rule_reaching(data: dict, applies_to: list[str]):
    data["reminder_rules"].append(
        {
            "id": "probe",
            "applies_to": applies_to,
            "offset": "-3 days at 10:00 patient",
            "message_kind": "what_to_expect",
            "channels": ["email"],
        }
    )
    protocol = protocol_from_dict(data)
    plan = build_plan(
        protocol=protocol,
        start_date=date(2025, 3, 3),
        clinic=clinic(),
        patient=patient(),
        now=NOW,
    )
    return sorted({r.item_key for r in plan.reminders if r.rule == "probe"})


@pytest.mark.parametrize(
    ("applies_to", "keys"),
    [
        (["dosing#first"], ["dosing-1"]),
        (["dosing#last"], ["dosing-6"]),
        (["dosing#2,4"], ["dosing-2", "dosing-4"]),
        (["dosing"], [f"dosing-{n}" for n in range(1, 7)]),
    ],
)
def test_rules_apply_to_instances(applies_to, keys):
    assert rule_reaching(iv_dict(), applies_to) == keys


@pytest.mark.parametrize("ref", ["nothing#first", "dosing#0", "dosing#later"])
def test_bad_instance_refs_name_the_field(ref):
    data = iv_dict()
    data["reminder_rules"][0]["applies_to"] = [ref]
    error = fails(data)
    assert error.field.startswith("reminder_rules[0].applies_to")
    assert error.rule in {"protocol.reference", "protocol.type"}


def test_what_to_expect_reaches_the_first_dose_only():
    for slug, protocol in library().items():
        rules = [r for r in protocol.reminder_rules if r.message_kind == "what_to_expect"]
        assert [r.applies_to for r in rules] == [("dosing#first",)], slug


def test_preparation_round_trips_and_reads_by_key():
    data = iv_dict()
    data["preparation"] = {
        "food_hours": {"value": 6, "source": "sanacora-2017"},
        "liquids_hours": {"value": 2, "editable_default": True},
        "bring": {"value": ["ride_home", "medicine_list"], "editable_default": True},
    }
    protocol = protocol_from_dict(data)
    assert protocol.prep_value("food_hours") == 6
    assert protocol.prep_value("bring") == ("ride_home", "medicine_list")
    assert protocol.prep_value("nasal_medicines_minutes") is None
    assert protocol_from_dict(json.loads(json.dumps(protocol.to_dict()))) == protocol


@pytest.mark.parametrize(
    ("preparation", "rule", "field"),
    [
        ({"food_hours": {"value": 2}}, "protocol.source_required", "preparation.food_hours"),
        ({"food_hours": {"value": -1, "editable_default": True}}, "protocol.range", None),
        ({"fasting": {"value": 2, "editable_default": True}}, "protocol.unknown_field", None),
        (
            {
                "liquids_hours": {"value": 2, "editable_default": True},
                "liquids_minutes": {"value": 30, "editable_default": True},
            },
            "protocol.type",
            "preparation",
        ),
        (
            {"bring": {"value": ["snacks"], "editable_default": True}},
            "protocol.type",
            "preparation.bring",
        ),
        ({"food_hours": {"value": 2, "source": "nowhere"}}, "protocol.reference", None),
    ],
)
def test_bad_preparation_names_field_and_rule(preparation, rule, field):
    data = iv_dict()
    data["preparation"] = preparation
    error = fails(data)
    assert error.rule == rule
    assert error.field.startswith("preparation")
    if field:
        assert error.field == field


def test_missed_session_defaults_and_validation():
    data = iv_dict()
    data.pop("missed_session", None)
    assert protocol_from_dict(data).missed_session == MissedSession(True, 24, True)
    data["missed_session"] = {"welfare_call_hours": 0}
    error = fails(data)
    assert (error.rule, error.field) == ("protocol.range", "missed_session.welfare_call_hours")


def test_every_builtin_protocol_names_its_treatment_and_missed_session():
    for slug, protocol in library().items():
        assert set(protocol.treatment_names) == {"en", "es"}, slug
        assert protocol.treatment_name("es-US") == protocol.treatment_names["es"]
        assert isinstance(protocol.missed_session, MissedSession)


def test_a_private_word_in_a_patient_title_is_refused():
    data = iv_dict()
    data["items"][0]["patient_title"] = {"en": "Ketamine infusion", "es": "Sesión"}
    error = fails(data)
    assert (error.rule, error.field) == ("protocol.private_title", "items[0].patient_title.en")


def test_patient_titles_are_neutral_and_numbered():
    for slug, protocol in library().items():
        for spec in protocol.items:
            for language in ("en", "es"):
                title = patient_title(spec, f"{spec.key}-2", language)
                assert not private_words_in(title), (slug, spec.key, title)
    dosing = library()[IV].spec("dosing")
    assert patient_title(dosing, "dosing-3", "en") == "Session 3"
    assert patient_title(dosing, "dosing-3", "es-US") == "Sesión 3"
    assert patient_title(dosing, "dosing-1", "en", alone=True) == "Session"
    assert patient_title("dosing", "dosing-4", "fr") == "Session 4"
    assert patient_title("assessment", "assessment-baseline", "en") == "Questionnaire"


def test_a_stored_item_key_finds_its_spec():
    protocol = library()["esketamine-nasal-spray"]
    assert protocol.spec_of("vitals-12").checklist
    assert protocol.spec_of("assessment-repeat-2").key == "assessment-repeat"
    assert protocol.spec_of("rems_enrolment").key == "rems_enrolment"
    assert protocol.spec_of("nothing-1") is None


@pytest.mark.parametrize(
    ("mutate", "rule", "field"),
    [
        (
            lambda d: d["reminder_rules"][0].update(quiet_hours="never"),
            "protocol.type",
            "reminder_rules[0].quiet_hours",
        ),
        (
            lambda d: d["reminder_rules"][0].update(covered_by="nothing"),
            "protocol.reference",
            "reminder_rules[0].covered_by",
        ),
        (
            lambda d: d["items"][0].update(before="check_in#1"),
            "protocol.reference",
            "items[0].before",
        ),
        (
            lambda d: d["items"][0].update(parameter_sources={"colour": "clinic"}),
            "protocol.unknown_field",
            "items[0].parameter_sources",
        ),
        (
            lambda d: d["items"][0].update(parameter_sources={"count": "nowhere"}),
            "protocol.reference",
            "items[0].parameter_sources.count",
        ),
        (
            lambda d: d["items"][0].update(checklist=["ok", ""]),
            "protocol.type",
            "items[0].checklist",
        ),
    ],
)
def test_new_fields_name_field_and_rule(mutate, rule, field):
    data = iv_dict()
    mutate(data)
    error = fails(data)
    assert (error.rule, error.field) == (rule, field)
