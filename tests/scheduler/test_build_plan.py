from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import ITEM_KINDS, PlanningError, PlanOptions, build_plan

from .helpers import (
    assert_items_inside_opening_hours,
    assert_reminder_invariants,
    clinic,
    iv,
    library,
    patient,
)

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)


def dosing(plan):
    return [i for i in plan.items if i.kind == "dosing"]


def check_iv_spacing(plan) -> None:
    doses = dosing(plan)
    assert [d.key for d in doses] == [f"dosing-{n}" for n in range(1, 7)]
    for earlier, later in itertools.pairwise(doses):
        assert later.start - earlier.start >= timedelta(hours=48)
        assert (later.local_date - earlier.local_date).days <= 7
    assert (doses[-1].local_date - doses[0].local_date).days <= 21


def test_iv_plan_structure():
    cal = clinic(country="US", subdivision="NY")
    pref = patient(quiet_start=time(21), quiet_end=time(8))
    plan = build_plan(protocol=iv(), start_date=date(2025, 3, 3), clinic=cal, patient=pref, now=NOW)
    check_iv_spacing(plan)
    assert_items_inside_opening_hours(plan, cal)
    assert_reminder_invariants(plan, pref, NOW)
    by_key = {i.key: i for i in plan.items}
    for n, dose in zip((1, 2, 3), (2, 4, 6), strict=True):
        integration = by_key[f"integration-{n}"]
        anchor = by_key[f"dosing-{dose}"]
        assert integration.depends_on == anchor.key
        assert 1 <= (integration.local_date - anchor.local_date).days <= 3
        assert integration.start >= anchor.end
    last = by_key["dosing-6"]
    for n, weeks in enumerate((1, 2, 4, 8, 12), start=1):
        check_in = by_key[f"check_in-{n}"]
        assert abs((check_in.local_date - last.local_date).days - 7 * weeks) <= 3
        assessment = by_key[f"assessment-check_in-{n}"]
        assert assessment.start < check_in.start
    assert by_key["assessment-baseline"].start < by_key["dosing-1"].start
    assert by_key["assessment-midcourse"].start < by_key["dosing-4"].start
    assert by_key["provider_review-1"].start > by_key["dosing-3"].end
    assert by_key["provider_review-1"].kind == "task"
    assert [i.sequence for i in plan.items] == list(range(1, len(plan.items) + 1))
    assert list(plan.items) == sorted(plan.items, key=lambda i: i.start)
    assert all(i.kind in ITEM_KINDS for i in plan.items)
    assert by_key["dosing-3"].title == "Dosing session 3"
    assert by_key["dosing-1"].time_zone == "America/New_York"
    assert plan.protocol_slug == "iv-ketamine-induction-trd"


def test_same_inputs_same_plan():
    cal = clinic(country="US", subdivision="NY")
    pref = patient(quiet_start=time(21), quiet_end=time(8))
    kwargs = dict(protocol=iv(), start_date=date(2025, 3, 3), clinic=cal, patient=pref, now=NOW)
    assert build_plan(**kwargs) == build_plan(**kwargs)


def test_sessions_stay_at_nine_local_across_dst_in_three_zones():
    for zone, start in [
        ("America/New_York", date(2025, 3, 5)),
        ("Europe/London", date(2025, 3, 26)),
        ("Australia/Sydney", date(2025, 4, 2)),
    ]:
        cal = clinic(zone, opens=time(9), closes=time(17))
        plan = build_plan(
            protocol=iv(), start_date=start, clinic=cal, patient=patient(zone), now=NOW
        )
        offsets = {d.start.astimezone(ZoneInfo(zone)).utcoffset() for d in dosing(plan)}
        assert len(offsets) == 2, zone  # the course really crosses a change
        assert all(d.local_time == time(9) for d in dosing(plan))
        assert all(d.start.astimezone(ZoneInfo(zone)).time() == time(9) for d in dosing(plan))


def test_patient_in_other_zone_gets_day_after_at_nine_their_time():
    cal = clinic("America/New_York")
    pref = patient("America/Los_Angeles", earliest_time=time(7))
    plan = build_plan(protocol=iv(), start_date=date(2025, 3, 3), clinic=cal, patient=pref, now=NOW)
    # 08:00 in New York is 05:00 in Los Angeles: the patient's earliest time rules it out
    assert all(
        d.start.astimezone(ZoneInfo("America/Los_Angeles")).time() >= time(7) for d in dosing(plan)
    )
    day_after = [r for r in plan.reminders if r.rule == "day_after"]
    assert day_after
    for reminder in day_after:
        local = reminder.send_at.astimezone(ZoneInfo("America/Los_Angeles"))
        assert local.time() == time(9)


def test_spravato_dose_and_observation_fit_and_rems_task_follows():
    cal = clinic(opens=time(9), closes=time(13), country="US", subdivision="NY")
    plan = build_plan(
        protocol=library()["esketamine-nasal-spray"],
        start_date=date(2025, 3, 3),
        clinic=cal,
        patient=patient(),
        now=NOW,
    )
    assert_items_inside_opening_hours(plan, cal)
    doses = dosing(plan)
    assert len(doses) == 16
    assert all(d.end - d.start >= timedelta(hours=2) for d in doses)
    first_month = [d for d in doses if (d.local_date - doses[0].local_date).days < 28]
    assert len(first_month) == 8  # twice a week in weeks 1-4
    forms = {i.depends_on: i for i in plan.items if i.key.startswith("rems_form-")}
    assert set(forms) == {d.key for d in doses}
    for dose in doses:
        form = forms[dose.key]
        assert dose.end <= form.start <= dose.start + timedelta(days=7)
        assert cal.is_working_day(form.local_date)


def test_chronic_pain_on_consecutive_weekdays():
    cal = clinic(days=range(7), opens=time(7), closes=time(19))
    plan = build_plan(
        protocol=library()["chronic-pain-infusion-series"],
        start_date=date(2025, 3, 6),  # Thursday
        clinic=cal,
        patient=patient(),
        now=NOW,
    )
    dates = [d.local_date for d in dosing(plan)]
    # ten infusions on weekdays over two weeks (Schwartzman 2009)
    assert [d.weekday() for d in dates] == [3, 4, 0, 1, 2, 3, 4, 0, 1, 2]


def test_kap_structure_and_session_count_option():
    protocol = library()["ketamine-assisted-psychotherapy"]
    plan = build_plan(
        protocol=protocol,
        start_date=date(2025, 3, 3),
        clinic=clinic(),
        patient=patient(),
        now=NOW,
        options=PlanOptions(dosing_sessions=6),
    )
    kinds = [i.kind for i in plan.items]
    assert kinds[0] == "preparation"
    assert kinds.count("dosing") == 6 and kinds.count("integration") == 6
    with pytest.raises(PlanningError) as caught:
        build_plan(
            protocol=protocol,
            start_date=date(2025, 3, 3),
            clinic=clinic(),
            patient=patient(),
            now=NOW,
            options=PlanOptions(dosing_sessions=7),
        )
    assert caught.value.rule == "options.count_range"


def test_boosters_are_optional():
    kwargs = dict(
        protocol=iv(), start_date=date(2025, 3, 3), clinic=clinic(), patient=patient(), now=NOW
    )
    assert not [i for i in build_plan(**kwargs).items if i.kind == "booster"]
    boosted = build_plan(**kwargs, options=PlanOptions(boosters=True))
    boosters = [i for i in boosted.items if i.kind == "booster"]
    assert len(boosters) == 3
    last_dose = boosted.item("dosing-6")
    assert 21 <= (boosters[0].local_date - last_dose.local_date).days <= 42
    assert any(r.message_kind == "booster_reminder" for r in boosted.reminders)


def test_fixed_items_are_kept():
    kwargs = dict(
        protocol=iv(), start_date=date(2025, 3, 3), clinic=clinic(), patient=patient(), now=NOW
    )
    plan = build_plan(**kwargs)
    pinned = plan.item("check_in-5")
    later = pinned.start + timedelta(hours=2)
    pinned = type(pinned)(**{**pinned.__dict__, "start": later, "end": later + timedelta(hours=1)})
    rebuilt = build_plan(**kwargs, fixed=[pinned])
    assert rebuilt.item("check_in-5").start == later
    stranger = type(pinned)(**{**pinned.__dict__, "key": "check_in-9"})
    with pytest.raises(PlanningError) as caught:
        build_plan(**kwargs, fixed=[stranger])
    assert caught.value.rule == "fixed.unknown_item"


@pytest.mark.parametrize(
    ("kwargs", "rule", "field"),
    [
        (dict(start_date=date(2025, 2, 27)), "start_date.in_past", "start_date"),
        (
            dict(patient=patient(preferred_weekdays=frozenset({5, 6}))),
            "preferences.contradictory",
            "preferred_weekdays",
        ),
        (dict(clinic=clinic(opens=time(8), closes=time(9))), "calendar.no_slot", "dosing"),
        (dict(now=datetime(2025, 3, 1, 12)), "time.naive", "now"),
    ],
)
def test_impossible_requests_name_the_rule(kwargs, rule, field):
    args = dict(
        protocol=iv(), start_date=date(2025, 3, 3), clinic=clinic(), patient=patient(), now=NOW
    )
    args.update(kwargs)
    with pytest.raises(PlanningError) as caught:
        build_plan(**args)
    assert caught.value.rule == rule
    assert caught.value.field == field
    assert rule in str(caught.value)


def test_monday_only_patient_cannot_fit_six_sessions_in_three_weeks():
    with pytest.raises(PlanningError) as caught:
        build_plan(
            protocol=iv(),
            start_date=date(2025, 3, 3),
            clinic=clinic(),
            patient=patient(preferred_weekdays=frozenset({0})),
            now=NOW,
        )
    assert caught.value.rule in {"spacing.window", "spacing.max_gap", "calendar.no_slot"}
    assert caught.value.field in {"dosing", "integration"}
    assert str(caught.value).startswith("No feasible time for")


def test_spacing_window_is_named():
    closed = {date(2025, 3, 3) + timedelta(days=d) for d in range(6, 40) if d % 4}
    with pytest.raises(PlanningError) as caught:
        build_plan(
            protocol=library()["chronic-pain-infusion-series"],
            start_date=date(2025, 3, 3),
            clinic=clinic(closed=closed),
            patient=patient(),
            now=NOW,
            options=PlanOptions(dosing_sessions=10),
        )
    assert caught.value.rule.startswith("spacing.")
    assert caught.value.field == "dosing"


@pytest.mark.parametrize(
    ("build", "rule", "field"),
    [
        (
            lambda: patient(earliest_time=time(15), latest_time=time(9)),
            "preferences.contradictory",
            "earliest_time",
        ),
        (lambda: patient("Moon/Base"), "time_zone.unknown", "patient.time_zone"),
        (lambda: clinic("Nowhere/Town"), "time_zone.unknown", "time_zone"),
        (lambda: clinic(opens=time(17), closes=time(9)), "calendar.hours", "opening_hours"),
    ],
)
def test_bad_inputs_are_refused(build, rule, field):
    with pytest.raises(PlanningError) as caught:
        build()
    assert (caught.value.rule, caught.value.field) == (rule, field)


ZONES = {
    "America/New_York": ("US", "NY"),
    "Europe/London": ("GB", "ENG"),
    "Australia/Sydney": ("AU", "NSW"),
    "America/Denver": ("US", "CO"),
}


@st.composite
def scenarios(draw):
    zone = draw(st.sampled_from(sorted(ZONES)))
    country, subdivision = ZONES[zone]
    days = draw(st.sets(st.integers(0, 6), min_size=3, max_size=7))
    opens = time(draw(st.integers(6, 10)), draw(st.sampled_from([0, 30])))
    closes = time(draw(st.integers(14, 20)), 0)
    start = date(2025, 1, 1) + timedelta(days=draw(st.integers(0, 360)))
    closed = draw(st.sets(st.integers(0, 40), max_size=4))
    cal = clinic(
        zone,
        days=days,
        opens=opens,
        closes=closes,
        closed={start + timedelta(days=c) for c in closed},
        country=country,
        subdivision=subdivision,
        slot=draw(st.sampled_from([15, 30, 60])),
    )
    patient_zone = draw(st.sampled_from([zone, *sorted(ZONES)]))
    quiet = draw(
        st.sampled_from([None, (time(21), time(8)), (time(22), time(7)), (time(13), time(14))])
    )
    pref = patient(
        patient_zone,
        quiet_start=quiet[0] if quiet else None,
        quiet_end=quiet[1] if quiet else None,
        sms_written_consent=draw(st.booleans()),
    )
    now = datetime.combine(start, time(draw(st.integers(0, 23))), tzinfo=ZoneInfo(zone))
    now -= timedelta(days=draw(st.integers(0, 3)))
    return cal, pref, start, now.astimezone(UTC)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.sampled_from(sorted(library())))
def test_invariants_hold_for_any_clinic(scenario, slug):
    cal, pref, start, now = scenario
    protocol = library()[slug]
    try:
        plan = build_plan(protocol=protocol, start_date=start, clinic=cal, patient=pref, now=now)
    except PlanningError as error:
        assert error.rule in {"spacing.max_gap", "spacing.window", "calendar.no_slot"}
        assert error.field is not None
        return
    assert_items_inside_opening_hours(plan, cal)
    assert_reminder_invariants(plan, pref, now)
    assert all(i.start >= now for i in plan.items)
    assert list(plan.items) == sorted(plan.items, key=lambda i: i.start)
    if slug == "iv-ketamine-induction-trd":
        check_iv_spacing(plan)
    assert plan == build_plan(
        protocol=protocol, start_date=start, clinic=cal, patient=pref, now=now
    )


def iv_course_exists(cal, start: date) -> bool:
    """Day-level oracle, independent of the engine: can six IV doses be placed at all?

    The protocol's rules, read off its series and its integration spec: the first dose within its
    window of the start date, each next one 2 to 7 days after the previous (48 h apart on a
    same-time slot), all six within 21 days, and an integration session on a working day 1 to 3
    days after doses 2, 4 and 6. Brute force over working days.
    """
    protocol = iv()
    dosing = next(s for s in protocol.items if s.key == "dosing")
    integration = next(s for s in protocol.items if s.key == "integration")
    series = dosing.series
    assert series is not None and len(series.phases) == 1
    (phase,) = series.phases
    first_days = range(dosing.window_days[0], dosing.window_days[1] + 1)
    min_gap = int(-(-phase.min_gap_hours // 24))
    after = set(integration.after.pick(series.count))
    room = [integration.offsets_days[0] + k for k in range(integration.window_days[1] + 1)]

    def fits(day: date, number: int) -> bool:
        if not cal.is_working_day(day):
            return False
        return number not in after or any(cal.is_working_day(day + timedelta(r)) for r in room)

    def extend(days: list[date]) -> bool:
        if len(days) == series.count:
            return (days[-1] - days[0]).days <= series.max_span_days
        if days and (days[-1] - days[0]).days > series.max_span_days:
            return False
        options = (
            [start + timedelta(d) for d in first_days]
            if not days
            else [days[-1] + timedelta(g) for g in range(min_gap, phase.max_gap_days + 1)]
        )
        return any(fits(day, len(days) + 1) and extend([*days, day]) for day in options)

    return extend([])


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(sorted(ZONES)),
    st.integers(0, 364),
    st.sets(st.integers(0, 30), max_size=3),
)
def test_weekday_clinic_fits_the_iv_course_whenever_the_calendar_allows(zone, day, closed):
    """The engine finds a course exactly when one exists; otherwise it names the rule.

    A few closed days next to a long weekend can leave no course at all (Easter, Anzac Day and
    two closed days in Sydney in April 2025): then the answer is a clear refusal, not a plan that
    breaks a spacing rule. When a course exists, the search must find it -- a greedy search once
    banned its way past one (London, Easter 2025).
    """
    country, subdivision = ZONES[zone]
    start = date(2025, 1, 1) + timedelta(days=day)
    cal = clinic(
        zone,
        country=country,
        subdivision=subdivision,
        closed={start + timedelta(days=c) for c in closed},
    )
    pref = patient(zone, quiet_start=time(21), quiet_end=time(8))
    now = datetime.combine(start, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    if not iv_course_exists(cal, start):
        with pytest.raises(PlanningError) as refused:
            build_plan(protocol=iv(), start_date=start, clinic=cal, patient=pref, now=now)
        assert refused.value.rule in {"spacing.max_gap", "spacing.window", "calendar.no_slot"}
        return
    plan = build_plan(protocol=iv(), start_date=start, clinic=cal, patient=pref, now=now)
    check_iv_spacing(plan)
    assert_items_inside_opening_hours(plan, cal)
    assert_reminder_invariants(plan, pref, now)


@pytest.mark.parametrize(
    ("zone", "start", "closed", "exists"),
    [
        # Easter Monday 21 Apr and 28-29 Apr closed: a course exists (15, 22, 24, 30 Apr, 2, 6 May)
        # that the greedy search missed.
        ("Europe/London", date(2025, 4, 12), {date(2025, 4, 28), date(2025, 4, 29)}, True),
        # Good Friday to Easter Monday, 22-23 Apr closed and Anzac Day on Friday 25 Apr: no room.
        ("Australia/Sydney", date(2025, 4, 5), {date(2025, 4, 22), date(2025, 4, 23)}, False),
    ],
)
def test_iv_course_around_easter(zone, start, closed, exists):
    country, subdivision = ZONES[zone]
    cal = clinic(zone, country=country, subdivision=subdivision, closed=closed)
    now = datetime.combine(start, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    assert iv_course_exists(cal, start) is exists
    build = lambda: build_plan(  # noqa: E731
        protocol=iv(), start_date=start, clinic=cal, patient=patient(zone), now=now
    )
    if exists:
        check_iv_spacing(build())
    else:
        with pytest.raises(PlanningError):
            build()


def test_sessions_start_at_the_chosen_time_of_day():
    cal = clinic(country="US", subdivision="NY")
    plan = build_plan(
        protocol=iv(), start_date=date(2025, 3, 3), clinic=cal, patient=patient(), now=NOW,
        options=PlanOptions(session_time=time(13, 30)),
    )  # fmt: skip
    check_iv_spacing(plan)
    assert {d.local_time for d in dosing(plan)} == {time(13, 30)}


def test_a_provider_is_never_double_booked_across_plans():
    cal = clinic(country="US", subdivision="NY")
    first = build_plan(
        protocol=iv(), start_date=date(2025, 3, 3), clinic=cal, patient=patient(), now=NOW
    )
    busy = tuple((i.start, i.end) for i in first.items if i.kind in ("dosing", "integration"))
    second = build_plan(
        protocol=iv(), start_date=date(2025, 3, 3), clinic=cal, patient=patient(), now=NOW,
        options=PlanOptions(provider_busy=busy),
    )  # fmt: skip
    check_iv_spacing(second)
    for item in second.items:
        if item.kind in ("dosing", "integration"):
            assert not any(b0 < item.end and item.start < b1 for b0, b1 in busy), item.key
    # Same day as the first patient's session, at the next free time.
    assert dosing(second)[0].local_date == dosing(first)[0].local_date
    assert dosing(second)[0].start >= dosing(first)[0].end


def test_moving_a_session_onto_another_patients_is_refused_with_the_next_free_times():
    from scheduler import replan

    cal = clinic(country="US", subdivision="NY")
    first = build_plan(
        protocol=iv(), start_date=date(2025, 3, 3), clinic=cal, patient=patient(), now=NOW
    )
    other = dosing(first)[1]
    busy = ((other.start, other.end),)
    mine = build_plan(
        protocol=iv(), start_date=date(2025, 3, 3), clinic=cal, patient=patient(), now=NOW,
        options=PlanOptions(provider_busy=busy),
    )  # fmt: skip
    with pytest.raises(PlanningError) as refused:
        replan(
            plan=mine, protocol=iv(), clinic=cal, patient=patient(), now=NOW,
            options=PlanOptions(provider_busy=busy), moved={"dosing-2": other.start},
        )  # fmt: skip
    assert refused.value.rule == "provider.double_booked"
    assert "another patient's session" in str(refused.value)
    assert "the next times the clinic can take it:" in str(refused.value)


def test_a_start_date_the_clinic_is_closed_is_said_with_the_holidays_name():
    cal = clinic(country="US", subdivision="NY")
    # Memorial Day 2025 is Monday 26 May.
    plan = build_plan(
        protocol=iv(), start_date=date(2025, 5, 26), clinic=cal, patient=patient(),
        now=datetime(2025, 5, 20, 12, tzinfo=UTC),
    )  # fmt: skip
    note = next(n for n in plan.notes if n.code == "start.moved")
    assert note.message.startswith("Dosing session 1 is on Tue 27 May, not on the start date Mon")
    assert "closed for Memorial Day" in note.message
    # An open start date needs no such note.
    plain = build_plan(
        protocol=iv(), start_date=date(2025, 5, 27), clinic=cal, patient=patient(),
        now=datetime(2025, 5, 20, 12, tzinfo=UTC),
    )  # fmt: skip
    assert not [n for n in plain.notes if n.code == "start.moved"]


def test_an_item_alone_of_its_kind_has_no_number_in_its_title():
    plan = build_plan(
        protocol=iv(), start_date=date(2025, 3, 3), clinic=clinic(), patient=patient(), now=NOW
    )
    review = next(i for i in plan.items if i.spec_key == "provider_review")
    assert review.key == "provider_review-1"  # keys stay stable
    assert review.title == "Prescriber review of response after dosing session 3"
    assert [d.title for d in dosing(plan)][:2] == ["Dosing session 1", "Dosing session 2"]
