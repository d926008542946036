"""Sessions have a time of day, and a provider is never booked twice (#14 item 5)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from backend.plans import services
from tests.factories import PatientFactory
from tests.support.clock import SUITE_NOW as NOW

pytestmark = pytest.mark.django_db
ON_SITE = ("dosing", "integration")


def _local_times(plan, kind="dosing"):
    zone = ZoneInfo(plan.clinic.time_zone)
    return {i.start.astimezone(zone).time() for i in plan.items.filter(kind=kind)}


def test_sessions_start_at_the_time_the_coordinator_chose(make_plan):
    plan = make_plan(options={"session_time": "14:00"})
    assert _local_times(plan) == {dt.time(14, 0)}
    assert plan.options["session_time"] == "14:00"
    # A re-plan keeps the chosen time for the sessions it moves along.
    first = plan.items.get(key="dosing-1")
    result = services.item_reschedule(
        item=first, new_start=first.start + dt.timedelta(days=7), now=NOW
    )
    assert len(result.sync.items_moved) > 1
    # At the chosen time, or the first free time after it where that one is taken.
    times = _local_times(plan)
    assert dt.time(14, 0) in times and min(times) >= dt.time(14, 0)


def test_two_patients_of_one_provider_never_share_a_slot(make_plan, clinic):
    first = make_plan()
    second = make_plan(patient=PatientFactory(clinic=clinic))
    mine = [(i.start, i.end) for i in first.items.filter(kind__in=ON_SITE)]
    for item in second.items.filter(kind__in=ON_SITE):
        assert not any(s < item.end and item.start < e for s, e in mine), item.key


def test_moving_a_session_onto_another_patients_is_refused_naming_the_rule(make_plan, clinic):
    first = make_plan()
    second = make_plan(patient=PatientFactory(clinic=clinic))
    taken = first.items.get(key="dosing-2")
    mine = second.items.get(key="dosing-2")
    with pytest.raises(ValidationError) as refused:
        services.item_reschedule(item=mine, new_start=taken.start, now=NOW)
    (message,) = refused.value.message_dict["new_start"]
    assert "the provider has another patient's session then" in message
    assert "the next times the clinic can take it:" in message
    assert message.endswith("(rule: provider.double_booked)")
