from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import PlanningError, build_plan, replan

from .helpers import assert_items_inside_opening_hours, clinic, iv, patient

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
NY = ZoneInfo("America/New_York")
CAL = clinic(country="US", subdivision="NY")
PREF = patient(quiet_start=time(21), quiet_end=time(8), sms_written_consent=True)


def base_plan():
    return build_plan(protocol=iv(), start_date=date(2025, 3, 3), clinic=CAL, patient=PREF, now=NOW)


def again(plan, now=NOW, **kwargs):
    return replan(plan=plan, protocol=iv(), clinic=CAL, patient=PREF, now=now, **kwargs)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NY)


def same_items(old, new, keys):
    return all(old.item(k).start == new.item(k).start for k in keys)


def test_nothing_changed_means_nothing_moves():
    plan = base_plan()
    result = again(plan)
    assert result.items == plan.items
    assert result.reminders == plan.reminders
    assert result.changes == ()


def test_moving_a_check_in_moves_only_it_and_its_reminders():
    plan = base_plan()
    check_in = plan.item("check_in-5")
    new_start = at(check_in.local_date, 14)
    result = again(plan, moved={"check_in-5": new_start})
    assert result.item("check_in-5").start == new_start
    others = [i.key for i in plan.items if i.key != "check_in-5"]
    assert same_items(plan, result, others)
    assert [c.item_key for c in result.changes] == ["check_in-5"]
    assert result.changes[0].old_start == check_in.start
    unchanged_reminders = [r for r in plan.reminders if r.item_key != "check_in-5"]
    assert set(unchanged_reminders) <= set(result.reminders)
    moved = [r for r in result.reminders if r.item_key == "check_in-5"]
    assert {r.key for r in moved} == {r.key for r in plan.reminders if r.item_key == "check_in-5"}


def test_moving_a_dose_later_pushes_only_what_breaks_a_rule():
    plan = base_plan()
    dose3 = plan.item("dosing-3")
    new_start = at(CAL.shift_working_days(dose3.local_date, 1), 9)  # Fri 7 Mar -> Mon 10 Mar
    result = again(plan, moved={"dosing-3": new_start})
    dose4 = result.item("dosing-4")
    assert dose4.start - new_start >= timedelta(hours=48)
    reasons = {c.item_key: c.reason for c in result.changes}
    assert reasons["dosing-3"] == "moved by request"
    if plan.item("dosing-4").start - new_start < timedelta(hours=48):
        assert reasons["dosing-4"].startswith("spacing.min_gap")
    assert same_items(plan, result, ["dosing-1", "dosing-2", "assessment-baseline"])
    assert_items_inside_opening_hours(result, CAL)
    assert all(c.reason for c in result.changes)
    assert any(n.code == "replan.moved" for n in result.notes)


def test_missed_dose_is_rescheduled_after_now():
    plan = base_plan()
    dose2 = plan.item("dosing-2")
    now = dose2.end + timedelta(hours=2)
    result = again(plan, now=now, missed={"dosing-2"}, completed={"dosing-1"})
    new = result.item("dosing-2")
    assert new.start >= now
    assert result.item("dosing-1") == plan.item("dosing-1")
    change = next(c for c in result.changes if c.item_key == "dosing-2")
    assert change.old_start == dose2.start and change.new_start == new.start
    assert "missed" in change.reason
    doses = [result.item(f"dosing-{n}") for n in range(1, 7)]
    for earlier, later in itertools.pairwise(doses[1:]):
        assert later.start - earlier.start >= timedelta(hours=48)
    # its day-after message follows the new date, and nothing was sent for the missed time
    after = [r for r in result.reminders if r.item_key == "dosing-2" and r.rule == "day_after"]
    assert after and all(r.send_at > new.start for r in after)
    assert_items_inside_opening_hours(result, CAL)


def test_cancelled_item_and_its_reminders_disappear():
    plan = base_plan()
    result = again(plan, cancelled={"integration-2"})
    assert "integration-2" not in {i.key for i in result.items}
    assert not [r for r in result.reminders if r.item_key == "integration-2"]
    change = next(c for c in result.changes if c.item_key == "integration-2")
    assert change.new_start is None and "cancelled" in change.reason
    assert same_items(plan, result, [i.key for i in result.items])


def test_cancelling_a_dose_withdraws_what_follows_it():
    plan = base_plan()
    result = again(plan, cancelled={"dosing-4"})
    keys = {i.key for i in result.items}
    assert "dosing-4" not in keys and "integration-2" not in keys
    assert "dosing-5" in keys
    reasons = {c.item_key: c.reason for c in result.changes}
    assert "dosing-4" in reasons["integration-2"]


def test_past_and_completed_items_stay_fixed():
    plan = base_plan()
    now = plan.item("dosing-3").end + timedelta(minutes=5)
    result = again(plan, now=now, completed={"dosing-1", "dosing-2", "dosing-3"})
    for key in ("dosing-1", "dosing-2", "dosing-3", "integration-1"):
        assert result.item(key) == plan.item(key)
    assert result.changes == ()


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        (dict(moved={"dosing-9": NOW}), "replan.unknown_item"),
        (dict(missed={"nothing"}), "replan.unknown_item"),
        (dict(moved={"check_in-5": datetime(2025, 2, 1, tzinfo=UTC)}), "replan.moved_to_past"),
        (dict(moved={"check_in-5": datetime(2025, 6, 7, 15, tzinfo=UTC)}), "calendar.closed"),
        (dict(completed={"dosing-1"}, moved={"dosing-1": NOW}), "replan.completed"),
    ],
)
def test_bad_replans_name_the_rule(kwargs, rule):
    with pytest.raises(PlanningError) as caught:
        again(base_plan(), **kwargs)
    assert caught.value.rule == rule


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 21), st.integers(0, 40), st.integers(0, 30), st.booleans())
def test_every_moved_item_is_reported(pick, day_shift, slot_index, as_missed):
    plan = base_plan()
    candidates = [i for i in plan.items if i.on_site and i.kind != "task"]  # not vital signs
    target = candidates[pick % len(candidates)]
    now = NOW
    if as_missed:
        now = target.end + timedelta(hours=1)
        kwargs = dict(missed={target.key})
    else:
        day = target.local_date + timedelta(days=day_shift - 5)
        slots = CAL.slot_starts(day, int((target.end - target.start).total_seconds() // 60))
        if not slots or slots[0] < NOW:
            return
        kwargs = dict(moved={target.key: slots[slot_index % len(slots)]})
    try:
        result = again(plan, now=now, **kwargs)
    except PlanningError as error:
        assert error.rule.startswith(("spacing.", "calendar.", "order.before_item"))
        return
    assert_items_inside_opening_hours(result, CAL)
    reported = {c.item_key for c in result.changes}
    for item in result.items:
        old = plan.item(item.key)
        if item.start != old.start:
            assert item.key in reported
        if old.start < now and item.key != target.key:
            assert (item.start, item.end) == (old.start, old.end)  # sequence may shift
    kept = {i.key for i in result.items if i.key not in reported}
    for reminder in plan.reminders:
        if reminder.item_key in kept:
            assert reminder in result.reminders


def test_a_refused_move_says_why_in_plain_words_and_offers_the_next_free_times():
    plan = base_plan()
    # Memorial Day 2025 (Monday 26 May), 10:00 in New York.
    with pytest.raises(PlanningError) as refused:
        again(plan, moved={"check_in-5": at(date(2025, 5, 26), 10)})
    message = str(refused.value)
    assert message.startswith("Check-in 5 cannot move to Mon 26 May 10:00: ")
    assert "closed for Memorial Day" in message
    assert "the next times the clinic can take it: Tue 27 May 08:00, Tue 27 May 08:30" in message
    assert message.count("(rule: calendar.closed)") == 1
    # After hours on a working day: the opening hours and the time the session needs.
    with pytest.raises(PlanningError) as late:
        again(plan, moved={"check_in-5": at(date(2025, 5, 27), 17, 45)})
    assert "the clinic is open 08:00-17:00 that day" in str(late.value)
    assert "Wed 28 May 08:00" in str(late.value)
    # A weekend day.
    with pytest.raises(PlanningError) as weekend:
        again(plan, moved={"check_in-5": at(date(2025, 5, 31), 10)})
    assert "the clinic is closed on Saturdays" in str(weekend.value)
