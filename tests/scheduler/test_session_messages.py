"""The messages around a session: the evening before, the day of (never silently lost for an
early session), what to expect before the first dose, the readiness check for staff, and the
timing the built-in protocols give their other messages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler import PlanningError, PlanOptions, build_plan
from scheduler.protocol_parse import rule_from_dict

from .helpers import assert_reminder_invariants, clinic, iv, library, patient

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
NY = ZoneInfo("America/New_York")
QUIET = {"quiet_start": time(21), "quiet_end": time(8)}


def plan_at(session_time: time, slug: str, start=date(2025, 3, 3), **pref):
    protocol = library()[slug]
    pref = patient(**QUIET, **pref)
    plan = build_plan(
        protocol=protocol,
        start_date=start,
        clinic=clinic(opens=time(8), closes=time(19)),
        patient=pref,
        now=NOW,
        options=PlanOptions(session_time=session_time),
    )
    assert_reminder_invariants(plan, pref, NOW)
    return plan


def doses(plan):
    return [i for i in plan.items if i.kind in ("dosing", "booster")]


@pytest.mark.parametrize("slug", sorted(library()))
@pytest.mark.parametrize("at", [time(8), time(8, 30), time(9), time(10)])
@pytest.mark.parametrize("consent", [True, False], ids=["consent", "tcpa"])
def test_every_session_keeps_a_day_of_or_evening_before_message(slug, at, consent):
    plan = plan_at(at, slug, sms_written_consent=consent)
    for dose in doses(plan):
        kinds = {r.message_kind for r in plan.reminders_for(dose.key)}
        assert kinds & {"preparation_2h", "preparation_evening"}, (dose.key, dose.start)


@pytest.mark.parametrize("at", [time(8, 30), time(9), time(10)])
def test_the_day_of_text_waits_for_the_end_of_quiet_hours(at):
    plan = plan_at(at, "iv-ketamine-induction-trd", sms_written_consent=True)
    for dose in doses(plan):
        (text,) = [r for r in plan.reminders_for(dose.key) if r.rule == "prep_2h"]
        local = text.send_at.astimezone(NY)
        assert local.date() == dose.start.astimezone(NY).date()
        assert time(8) <= local.time() and dose.start - text.send_at >= timedelta(minutes=30)


def test_an_08_00_session_drops_the_day_of_text_and_says_the_evening_covers_it():
    plan = plan_at(time(8), "iv-ketamine-induction-trd", sms_written_consent=True)
    first = doses(plan)[0]
    assert not [r for r in plan.reminders_for(first.key) if r.rule == "prep_2h"]
    (note,) = [n for n in plan.notes if n.reminder_key == f"{first.key}:prep_2h:sms"]
    assert "covers it" in note.message and "prep_evening" in note.message
    evening = [r for r in plan.reminders_for(first.key) if r.rule == "prep_evening"]
    assert {r.channel for r in evening} == {"email", "sms"}
    for reminder in evening:
        local = reminder.send_at.astimezone(NY)
        assert (local.date(), local.time()) == (
            first.start.astimezone(NY).date() - timedelta(days=1),
            time(18),
        )


@pytest.mark.parametrize("slug", sorted(library()))
def test_readiness_check_goes_a_day_before_and_only_after_the_patient_was_asked(slug):
    """The provider is told a session is not confirmed only once the patient has been asked (by
    the 48-hour or the evening-before message): an alert before the ask is a false alarm. Daily
    infusions are asked about the evening before, after a day-before alert would go, so the pain
    series alerts for its first infusion only."""
    plan = plan_at(time(10), slug)
    checks = {r.item_key: r for r in plan.reminders if r.rule == "readiness_check"}
    all_doses = [d.key for d in doses(plan)]
    expected = all_doses[:1] if slug == "chronic-pain-infusion-series" else all_doses
    assert sorted(checks) == sorted(expected)
    for key, check in checks.items():
        assert (check.audience, check.channel) == ("provider", "email")
        assert check.message_kind == "provider_readiness_missing"
        assert check.send_at == plan.item(key).start - timedelta(hours=24)
        asked = [
            r
            for r in plan.reminders_for(key)
            if r.audience == "patient"
            and r.message_kind in ("preparation_48h", "preparation_evening")
            and r.send_at < check.send_at
        ]
        assert asked, f"{key}: the provider would hear of it before the patient was asked"


@pytest.mark.parametrize("slug", sorted(library()))
def test_what_to_expect_goes_three_days_before_the_first_dose_only(slug):
    plan = plan_at(time(10), slug, start=date(2025, 3, 10))
    sent = [r for r in plan.reminders if r.message_kind == "what_to_expect"]
    first = doses(plan)[0]
    assert [(r.item_key, r.channel) for r in sent] == [(first.key, "email")]
    local = sent[0].send_at.astimezone(NY)
    assert local.date() == first.start.astimezone(NY).date() - timedelta(days=3)
    assert local.time() == time(10)


def test_iv_midcourse_questionnaire_is_the_day_before_session_4():
    for offset in range(14):
        plan = build_plan(
            protocol=iv(),
            start_date=date(2025, 3, 3) + timedelta(days=offset),
            clinic=clinic(),
            patient=patient(),
            now=NOW,
        )
        midcourse = plan.item("assessment-midcourse")
        dose_days = {d.local_date for d in doses(plan)}
        assert midcourse.local_date == plan.item("dosing-4").local_date - timedelta(days=1)
        assert midcourse.local_date not in dose_days


@pytest.mark.parametrize("slug", ["iv-ketamine-induction-trd", "ketamine-assisted-psychotherapy"])
def test_integration_reminder_always_goes_the_day_before(slug):
    plan = plan_at(time(10), slug)
    for item in (i for i in plan.items if i.kind == "integration"):
        for reminder in plan.reminders_for(item.key):
            if reminder.message_kind == "integration_reminder":
                day = reminder.send_at.astimezone(NY).date()
                assert day == item.start.astimezone(NY).date() - timedelta(days=1)


def test_pain_series_day_after_advice_never_arrives_during_a_session():
    plan = plan_at(time(8), "chronic-pain-infusion-series", sms_written_consent=True)
    sessions = doses(plan)
    assert len(sessions) == 10
    after = [r for r in plan.reminders if r.message_kind == "day_after"]
    assert {r.item_key for r in after} == {d.key for d in sessions}
    for reminder in after:
        assert not any(d.start <= reminder.send_at < d.end for d in sessions), reminder
    last = sessions[-1]
    assert f"{last.key}:day_after:sms" in {r.key for r in after}


@pytest.mark.parametrize("observation", [60, 120, 180])
def test_the_evening_after_advice_follows_discharge_however_long_the_observation(observation):
    """``measured_from: end``: an hour after the session ends (observation included), so a
    clinic that observes longer never has the advice arrive while the patient is still there."""
    protocol = library()["chronic-pain-infusion-series"]
    dosing = protocol.spec("dosing")
    longer = replace(
        protocol,
        items=tuple(
            replace(spec, observation_minutes=observation) if spec is dosing else spec
            for spec in protocol.items
        ),
    )
    plan = build_plan(
        protocol=longer,
        start_date=date(2025, 3, 3),
        clinic=clinic(),
        patient=patient(),
        now=datetime(2025, 3, 1, 12, tzinfo=UTC),
    )
    evenings = [r for r in plan.reminders if r.rule == "evening_after"]
    assert evenings
    for reminder in evenings:
        session = plan.item(reminder.item_key)
        assert session.end - session.start == timedelta(minutes=240 + observation)
        assert reminder.send_at == session.end + timedelta(hours=1)


def test_measured_from_accepts_start_or_end_only():
    rule = {
        "id": "x",
        "applies_to": ["dosing"],
        "offset": "+1h",
        "message_kind": "day_after",
        "measured_from": "discharge",
    }
    with pytest.raises(PlanningError) as caught:
        rule_from_dict(rule)
    assert caught.value.field == "reminder_rule.measured_from"
    assert rule_from_dict({**rule, "measured_from": "end"}).to_dict()["measured_from"] == "end"


def test_esketamine_repeats_the_phq9_the_day_before_doses_5_9_and_13():
    plan = plan_at(time(10), "esketamine-nasal-spray")
    repeats = [i for i in plan.items if i.spec_key == "assessment-repeat"]
    assert [i.depends_on for i in repeats] == ["dosing-5", "dosing-9", "dosing-13"]
    for item in repeats:
        assert item.local_date == plan.item(item.depends_on).local_date - timedelta(days=1)


def test_preparation_parameters_of_the_builtin_protocols():
    spravato = library()["esketamine-nasal-spray"]
    assert spravato.prep_value("food_hours") == 2
    assert spravato.prep_value("liquids_minutes") == 30
    assert spravato.prep_value("nasal_medicines_minutes") == 60
    assert spravato.preparation["food_hours"].source == "spravato-pi"
    for slug in ("iv-ketamine-induction-trd", "chronic-pain-infusion-series"):
        protocol = library()[slug]
        assert protocol.prep_value("liquids_hours") == 2
        assert protocol.preparation["food_hours"].source == "asa-2017"
    for protocol in library().values():
        assert protocol.prep_value("avoid_alcohol_hours") == 24
        assert "ride_home" in protocol.prep_value("bring")


def test_kap_dosing_has_a_nurse_and_the_therapist_alongside():
    kap = library()["ketamine-assisted-psychotherapy"]
    assert kap.spec("dosing").provider_role in ("nurse", "prescriber")
    presence = kap.spec("therapy_presence")
    assert presence.with_anchor and presence.provider_role == "therapist"


def test_pain_series_count_follows_its_source():
    dosing = library()["chronic-pain-infusion-series"].spec("dosing")
    assert dosing.series.count == 10 and dosing.source == "schwartzman-2009"


def test_a_late_message_goes_at_the_next_five_minutes_so_a_preview_matches_its_confirmation():
    """Built 3 days ahead after 10:00, 'what to expect' is already due; a plan built at 15:01:10
    and again at 15:03:50 (preview, then confirm) gives the same send time, 15:05."""
    plans = [
        build_plan(
            protocol=iv(),
            start_date=date(2025, 3, 6),
            clinic=clinic(),
            patient=patient(),
            now=now,
        )
        for now in (
            datetime(2025, 3, 3, 20, 1, 10, tzinfo=UTC),
            datetime(2025, 3, 3, 20, 3, 50, tzinfo=UTC),
        )
    ]
    assert plans[0].reminders == plans[1].reminders
    (late,) = [r for r in plans[0].reminders if r.rule == "what_to_expect"]
    assert late.send_at == datetime(2025, 3, 3, 20, 5, tzinfo=UTC)
