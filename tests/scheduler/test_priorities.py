"""One priority order by message kind: safety first, and the day-after text survives the budget."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta

import pytest

from scheduler import (
    MESSAGE_KINDS,
    MESSAGE_PRIORITY,
    PlanningError,
    PlanOptions,
    build_plan,
    protocol_from_dict,
)
from scheduler.reminders import spec_and_number

from .helpers import clinic, library, patient

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)

SAFETY_FIRST = [
    "day_after",
    "preparation_2h",
    "preparation_evening",
    "session_missed",
    "preparation_48h",
    "what_to_expect",
    "integration_reminder",
    "booster_reminder",
    "assessment_prompt",
    "check_in_invitation",
    "journal_prompt",
]
PROVIDER_KINDS = ["provider_task_due", "provider_checkins_tomorrow", "provider_readiness_missing"]


def test_the_order_is_stated_once_and_covers_every_kind():
    assert set(MESSAGE_KINDS) <= set(MESSAGE_PRIORITY)
    ranks = [MESSAGE_PRIORITY[k] for k in SAFETY_FIRST]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == len(ranks)
    assert all(MESSAGE_PRIORITY[p] < MESSAGE_PRIORITY["journal_prompt"] for p in PROVIDER_KINDS)


@pytest.mark.parametrize("slug", sorted(library()))
def test_rules_take_their_priority_from_the_message_kind(slug):
    for rule in library()[slug].reminder_rules:
        assert rule.priority == MESSAGE_PRIORITY[rule.message_kind]
        assert "priority" not in rule.to_dict()


def test_a_protocol_file_may_not_set_a_priority():
    data = copy.deepcopy(library()["iv-ketamine-induction-trd"].to_dict())
    data["reminder_rules"][1]["priority"] = 100
    with pytest.raises(PlanningError) as caught:
        protocol_from_dict(data)
    assert caught.value.rule == "protocol.priority_fixed"
    assert caught.value.field == "reminder_rules[1].priority"


def test_a_plan_override_may_not_set_a_priority():
    options = PlanOptions(reminder_overrides={"day_after": {"priority": 10}})
    with pytest.raises(PlanningError) as caught:
        build_plan(
            protocol=library()["iv-ketamine-induction-trd"],
            start_date=date(2025, 3, 3),
            clinic=clinic(),
            patient=patient(),
            now=NOW,
            options=options,
        )
    assert caught.value.rule == "protocol.priority_fixed"
    assert caught.value.field == "reminder_overrides.day_after.priority"


def _day_after_texts_expected(protocol, plan):
    rules = [r for r in protocol.reminder_rules if r.message_kind == "day_after"]
    numbers: dict[str, set[int]] = {}
    for item in plan.items:
        spec, n = spec_and_number(item)
        numbers.setdefault(spec, set()).add(n)
    expected = set()
    for item in plan.items:
        spec, n = spec_and_number(item)
        for rule in rules:
            if "sms" in rule.channels and rule.matches(
                item.kind, spec, n, tuple(sorted(numbers[spec]))
            ):
                expected.add(f"{item.key}:{rule.id}:sms")
    return expected


@pytest.mark.parametrize("slug", sorted(library()))
@pytest.mark.parametrize("offset", range(0, 14, 3))
def test_every_day_after_text_survives_the_tcpa_budget(slug, offset):
    """No written consent: one text a day, three a week. The day-after text (driving, urgent
    symptoms) outranks every other text, so none is moved or dropped."""
    protocol = library()[slug]
    pref = patient(quiet_start=time(21), quiet_end=time(8), channels=("email", "sms"))
    plan = build_plan(
        protocol=protocol,
        start_date=date(2025, 3, 3) + timedelta(days=offset),
        clinic=clinic(),
        patient=pref,
        now=NOW,
        options=PlanOptions(boosters=True),
    )
    expected = _day_after_texts_expected(protocol, plan)
    assert expected, slug
    texts = {r.key for r in plan.reminders if r.channel == "sms"}
    assert expected <= texts
    refused = {n.reminder_key for n in plan.notes if n.code.startswith("sms.")}
    assert not expected & refused
