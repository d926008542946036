"""``before:`` (an item finished before a later one starts) and ``with_anchor`` tasks (vital signs
and observation that go with each session)."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, time, timedelta

import pytest

from scheduler import PlanningError, build_plan, protocol_from_dict, replan

from .helpers import assert_items_inside_opening_hours, clinic, iv, library, patient

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
MON_FRI = clinic()
WITH_SATURDAY = clinic(days=range(6))


def plan_from(start: date, cal=MON_FRI, protocol=None, **kw):
    return build_plan(
        protocol=protocol or iv(),
        start_date=start,
        clinic=cal,
        patient=patient(),
        now=NOW,
        **kw,
    )


@pytest.mark.parametrize("cal", [MON_FRI, WITH_SATURDAY], ids=["mon-fri", "with-saturday"])
def test_iv_review_always_ends_before_session_4(cal):
    """Every start day for eight weeks: the 'continue or stop?' review is finished before
    session 4 may start, and the course still keeps its own rules."""
    for offset in range(56):
        plan = plan_from(date(2025, 3, 3) + timedelta(days=offset), cal)
        review, third, fourth = (
            plan.item("provider_review-1"),
            plan.item("dosing-3"),
            plan.item("dosing-4"),
        )
        assert third.end <= review.start and review.end <= fourth.start, offset
        assert fourth.start - third.start >= timedelta(hours=48)
        assert (fourth.local_date - third.local_date).days <= 7
        assert_items_inside_opening_hours(plan, cal)


def test_without_before_the_review_can_land_after_session_4():
    """The issue's case (session 3 on Friday, session 4 Monday 08:00, review Monday 12:00)
    happens without the rule, so the test above has teeth."""
    data = copy.deepcopy(iv().to_dict())
    for spec in data["items"]:
        spec.pop("before", None)
    loose = protocol_from_dict(data)
    late = [
        offset
        for offset in range(56)
        if (p := plan_from(date(2025, 3, 3) + timedelta(days=offset), protocol=loose))
        .item("provider_review-1")
        .end
        > p.item("dosing-4").start
    ]
    assert late


def test_the_later_session_moves_not_the_anchor():
    # Start Monday 3 March: sessions Mon, Wed, Fri 7; the review can only be on Monday 10
    # (a weekend in between), so session 4 goes to Tuesday 11, not session 3 earlier.
    plan = plan_from(date(2025, 3, 3))
    assert [plan.item(f"dosing-{n}").local_date.day for n in (1, 2, 3)] == [3, 5, 7]
    assert plan.item("provider_review-1").local_date == date(2025, 3, 10)
    assert plan.item("dosing-4").local_date == date(2025, 3, 11)


def test_a_replan_moving_session_4_before_the_review_is_refused():
    plan = plan_from(date(2025, 3, 3))
    review = plan.item("provider_review-1")
    early = datetime(2025, 3, 10, 13, tzinfo=UTC)  # Monday 09:00 New York, before the review
    assert early < review.start
    with pytest.raises(PlanningError) as caught:
        replan(
            plan=plan,
            protocol=iv(),
            clinic=MON_FRI,
            patient=patient(),
            now=NOW,
            moved={"dosing-4": early},
        )
    assert caught.value.rule == "order.before_item"
    assert caught.value.field == "provider_review"
    assert "Dosing session 4" in str(caught.value)


def test_a_replan_moves_the_review_earlier_when_it_can():
    plan = plan_from(date(2025, 3, 3))
    # Session 4 moved to Monday 15:00: the review (Monday 12:00-12:30) still fits before it.
    later = replan(
        plan=plan,
        protocol=iv(),
        clinic=MON_FRI,
        patient=patient(),
        now=NOW,
        moved={"dosing-4": datetime(2025, 3, 10, 19, tzinfo=UTC)},
    )
    assert later.item("provider_review-1").end <= later.item("dosing-4").start


def test_moving_the_review_after_session_4_is_refused():
    plan = plan_from(date(2025, 3, 3))
    after = plan.item("dosing-4").end + timedelta(hours=1)
    with pytest.raises(PlanningError) as caught:
        replan(
            plan=plan,
            protocol=iv(),
            clinic=MON_FRI,
            patient=patient(),
            now=NOW,
            moved={"provider_review-1": after},
        )
    assert caught.value.rule == "order.before_item"


def test_esketamine_enrolment_before_dose_1_and_review_before_maintenance():
    plan = plan_from(date(2025, 3, 3), protocol=library()["esketamine-nasal-spray"])
    enrolment, first = plan.item("rems_enrolment"), plan.item("dosing-1")
    assert enrolment.end <= first.start and MON_FRI.is_working_day(enrolment.local_date)
    review = plan.item("induction_review")
    assert plan.item("dosing-8").end <= review.start and review.end <= plan.item("dosing-9").start


def test_a_course_starting_today_waits_for_rems_enrolment():
    now = datetime(2025, 3, 3, 12, tzinfo=UTC)  # Monday 07:00 in New York
    plan = build_plan(
        protocol=library()["esketamine-nasal-spray"],
        start_date=date(2025, 3, 3),
        clinic=MON_FRI,
        patient=patient(),
        now=now,
    )
    assert plan.item("rems_enrolment").end <= plan.item("dosing-1").start


# -- tasks that go with each session ---------------------------------------------------------


@pytest.mark.parametrize("slug", sorted(library()))
def test_every_dose_has_its_vital_signs_task(slug):
    protocol = library()[slug]
    plan = plan_from(
        date(2025, 3, 3), cal=clinic(opens=time(7), closes=time(19)), protocol=protocol
    )
    doses = [i for i in plan.items if i.kind == "dosing"]
    spec = protocol.spec("vitals")
    assert spec.with_anchor and spec.checklist
    tasks = {i.depends_on: i for i in plan.items if i.spec_key == "vitals"}
    assert set(tasks) == {d.key for d in doses}
    for dose in doses:
        task = tasks[dose.key]
        assert (task.start, task.end) == (dose.start, dose.end)
        assert task.key == f"vitals-{dose.key.split('-')[1]}"
    # Staff do them during the session: no provider_task_due e-mail for them.
    assert not [r for r in plan.reminders if r.item_key in {t.key for t in tasks.values()}]
    assert "checklist" in spec.to_dict()


def test_esketamine_checklist_follows_the_label():
    checklist = " ".join(library()["esketamine-nasal-spray"].spec("vitals").checklist)
    for words in ("Before dosing", "40 min", "Before discharge", "sedation", "dissociation"):
        assert words in checklist


def test_vital_signs_move_with_their_session_and_not_alone():
    plan = plan_from(date(2025, 3, 3))
    dose = plan.item("dosing-2")
    new_start = dose.start + timedelta(hours=3)
    moved = replan(
        plan=plan,
        protocol=iv(),
        clinic=MON_FRI,
        patient=patient(),
        now=NOW,
        moved={"dosing-2": new_start},
    )
    assert moved.item("vitals-2").start == new_start == moved.item("dosing-2").start
    assert "vitals-2" in {c.item_key for c in moved.changes}
    with pytest.raises(PlanningError) as caught:
        replan(
            plan=plan,
            protocol=iv(),
            clinic=MON_FRI,
            patient=patient(),
            now=NOW,
            moved={"vitals-2": new_start},
        )
    assert caught.value.rule == "replan.with_anchor"


def test_with_anchor_needs_an_anchor():
    data = copy.deepcopy(iv().to_dict())
    vitals = next(s for s in data["items"] if s["key"] == "vitals")
    vitals.pop("after")
    with pytest.raises(PlanningError) as caught:
        protocol_from_dict(data)
    assert caught.value.rule == "protocol.with_anchor"
