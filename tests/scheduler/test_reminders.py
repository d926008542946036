from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler import MESSAGE_KINDS, PlanningError, PlanOptions, build_plan, load_library

from .helpers import assert_reminder_invariants, clinic, iv, patient

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


def plan_for(pref, cal=None, options=None, start=date(2025, 3, 3), protocol=None):
    return build_plan(
        protocol=protocol or iv(),
        start_date=start,
        clinic=cal or clinic(),
        patient=pref,
        now=NOW,
        options=options,
    )


def by_rule(plan, rule):
    return [r for r in plan.reminders if r.rule == rule]


def test_announcement_in_quiet_hours_moves_to_the_last_minute_before_them():
    pref = patient(quiet_start=time(21), quiet_end=time(8))
    plan = plan_for(pref, cal=clinic(opens=time(7)))  # sessions at 07:00, so -48 h is quiet
    prep = [r for r in by_rule(plan, "prep_48h") if r.item_key == "dosing-2"]
    assert prep
    for reminder in prep:
        local = reminder.send_at.astimezone(NY)
        assert local.time() == time(20, 59)
        assert local.date() == plan.item("dosing-2").local_date - timedelta(days=3)
    assert any(n.code == "quiet_hours.moved" and n.item_key == "dosing-2" for n in plan.notes)


def test_follow_up_in_quiet_hours_moves_to_the_first_minute_after_them():
    pref = patient(quiet_start=time(22), quiet_end=time(10))
    plan = plan_for(pref)
    for reminder in by_rule(plan, "day_after"):
        assert reminder.send_at.astimezone(NY).time() == time(10)
        assert reminder.requires_attended


def test_reminder_pushed_out_of_its_window_is_dropped_with_a_note():
    pref = patient(quiet_start=time(21), quiet_end=time(8))
    plan = plan_for(pref, cal=clinic(opens=time(7)))
    assert not by_rule(plan, "prep_2h")  # 05:00 is quiet; 20:59 the evening before is too early
    dropped = [n for n in plan.notes if n.code == "quiet_hours.dropped"]
    assert {n.reminder_key for n in dropped} >= {f"dosing-{n}:prep_2h:sms" for n in range(1, 7)}
    assert all("quiet hours" in n.message for n in dropped)


def test_sms_budget_without_consent():
    pref = patient()
    plan = plan_for(pref)
    assert_reminder_invariants(plan, pref, NOW)
    codes = Counter(n.code for n in plan.notes)
    assert codes["sms.merged_same_day"] + codes["sms.weekly_limit"] > 0
    texts = [r for r in plan.reminders if r.channel == "sms"]
    assert texts
    # the most important texts keep the channel: the day after (safety), then preparation
    first_week = [r for r in texts if r.send_at < NOW + timedelta(days=7)]
    assert all(
        r.message_kind == "day_after" or r.message_kind.startswith("preparation")
        for r in first_week
    )
    # every refused text is reported by key
    noted = {n.reminder_key for n in plan.notes if n.code.startswith("sms.")}
    assert all(key.endswith(":sms") or ":sms:" in key for key in noted)


def test_sms_only_rule_moves_to_email_when_over_budget():
    pref = patient(quiet_start=time(23), quiet_end=time(6), sms_weekly_limit=2)
    plan = plan_for(pref, options=PlanOptions(reminder_overrides={"prep_48h": None}))
    assert_reminder_invariants(plan, pref, NOW)
    moved = [n for n in plan.notes if "moved to email" in n.message]
    assert moved
    keys = {r.key for r in plan.reminders}
    for note in moved:
        assert note.reminder_key.replace(":sms", ":email") in keys


def test_sms_only_patient_loses_texts_beyond_budget_with_a_note():
    pref = patient(channels=("sms",))
    plan = plan_for(pref)
    assert {r.channel for r in plan.reminders if r.audience == "patient"} == {"sms"}
    assert any(n.code == "sms.dropped" for n in plan.notes)
    assert_reminder_invariants(plan, pref, NOW)


def test_consent_lifts_the_tcpa_limit_and_clinic_limits_apply():
    free = patient(sms_written_consent=True)
    plan = plan_for(free)
    assert not [n for n in plan.notes if n.code.startswith("sms.")]
    assert "dosing-3:prep_48h:sms" in {r.key for r in plan.reminders}
    capped = plan_for(free, options=PlanOptions(sms_daily_limit=2, sms_weekly_limit=5))
    days = Counter(r.send_at.astimezone(NY).date() for r in capped.reminders if r.channel == "sms")
    assert max(days.values()) <= 2


def test_email_only_patient_gets_sms_rules_by_email():
    plan = plan_for(patient(channels=("email",)))
    assert {r.channel for r in plan.reminders} == {"email"}
    assert by_rule(plan, "prep_2h")
    assert any(n.code == "channel.fallback" for n in plan.notes)


@pytest.mark.parametrize("slug", sorted(load_library()))
def test_no_library_protocol_plans_a_per_check_in_provider_notice(slug):
    """The provider's daily digest (backend.reminders.digest, #15) replaced the one "check-ins
    tomorrow" email per check-in: no library protocol has that rule any more, so no plan gets
    one; check-ins still plan their patient reminders. (The "-1 working day" offset the notice
    used is covered by test_offsets.)"""
    protocol = load_library()[slug]
    assert "provider_checkins_tomorrow" not in {r.message_kind for r in protocol.reminder_rules}
    if not any(t.kind == "check_in" for t in protocol.items):
        return
    plan = plan_for(patient(), protocol=protocol)
    assert any(i.kind == "check_in" for i in plan.items)
    assert not [r for r in plan.reminders if r.message_kind == "provider_checkins_tomorrow"]


def test_assessment_prompts_repeat_daily_up_to_three_times():
    plan = plan_for(patient(sms_written_consent=True))
    prompts = [r for r in by_rule(plan, "assessment_prompt") if r.channel == "email"]
    per_item: dict[str, list] = {}
    for prompt in prompts:
        per_item.setdefault(prompt.item_key, []).append(prompt)
    assert per_item
    for item_key, group in per_item.items():
        group.sort(key=lambda r: r.repeat_index)
        assert [r.repeat_index for r in group] == list(range(len(group)))
        assert len(group) <= 3
        for earlier, later in itertools.pairwise(group):
            assert later.send_at.astimezone(NY).date() - earlier.send_at.astimezone(
                NY
            ).date() == timedelta(days=1)
        assert any(len(g) == 3 for g in per_item.values())
        assert all(r.key.endswith(f":{r.repeat_index}") for r in group), item_key


def test_kinds_priorities_and_keys():
    plan = plan_for(patient(sms_written_consent=True))
    assert {r.message_kind for r in plan.reminders} <= set(MESSAGE_KINDS)
    prep = by_rule(plan, "prep_48h")[0]
    after = by_rule(plan, "day_after")[0]
    assert after.priority > prep.priority  # safety first (scheduler/priorities.py)
    assert not prep.requires_attended and after.requires_attended
    assert prep.key == f"{prep.item_key}:prep_48h:{prep.channel}"
    assert all(r.send_at <= r.not_after for r in plan.reminders)


def test_day_after_is_nine_in_the_patient_zone_across_dst():
    for clinic_zone, patient_zone, start in [
        ("America/New_York", "America/New_York", date(2025, 3, 5)),
        ("Europe/London", "Europe/London", date(2025, 3, 26)),
        ("Australia/Sydney", "Australia/Sydney", date(2025, 4, 2)),
        ("America/New_York", "Europe/London", date(2025, 3, 5)),
    ]:
        now = datetime(2025, 3, 1, tzinfo=UTC)
        plan = build_plan(
            protocol=iv(),
            start_date=start,
            clinic=clinic(clinic_zone, opens=time(9)),
            patient=patient(patient_zone, sms_written_consent=True),
            now=now,
        )
        zone = ZoneInfo(patient_zone)
        for reminder in by_rule(plan, "day_after"):
            item = plan.item(reminder.item_key)
            local = reminder.send_at.astimezone(zone)
            assert local.time() == time(9)
            assert local.date() == item.start.astimezone(zone).date() + timedelta(days=1)


def test_reminder_overrides_per_plan():
    options = PlanOptions(
        reminder_overrides={"prep_2h": None, "day_after": {"offset": "+1 day at 10:00 patient"}}
    )
    plan = plan_for(patient(sms_written_consent=True), options=options)
    assert not by_rule(plan, "prep_2h")
    assert all(r.send_at.astimezone(NY).time() == time(10) for r in by_rule(plan, "day_after"))
    with pytest.raises(PlanningError) as caught:
        plan_for(patient(), options=PlanOptions(reminder_overrides={"nope": None}))
    assert caught.value.rule == "options.reminder_override"
    with pytest.raises(PlanningError) as caught:
        plan_for(patient(), options=PlanOptions(reminder_overrides={"day_after": {"offset": "x"}}))
    assert caught.value.rule == "rule.syntax"


def test_late_plan_drops_reminders_whose_window_passed():
    now = datetime(2025, 3, 3, 12, tzinfo=UTC)  # Monday 07:00 in New York
    plan = build_plan(
        protocol=iv(), start_date=date(2025, 3, 3), clinic=clinic(), patient=patient(), now=now
    )
    assert all(r.send_at >= now for r in plan.reminders)
    assert any(n.code == "reminder.too_late" for n in plan.notes)
    assert plan.item("dosing-1").start >= now
