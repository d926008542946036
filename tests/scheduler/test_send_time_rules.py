"""The engine's quiet hours and SMS budget as the send-time check asks them
(backend/reminders/eligibility.py): the end of the quiet hours holding an instant, and whether one
more text fits what already went out."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler import sms_counting_from, sms_limits, sms_refusal
from scheduler.budget import TCPA_DAILY_LIMIT, TCPA_WEEKLY_LIMIT
from scheduler.preferences import PlanOptions

from .helpers import patient

NY = ZoneInfo("America/New_York")


def ny(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NY)


def test_quiet_hours_that_wrap_midnight_end_the_next_morning_on_the_patients_clock():
    night = patient(quiet_start=time(21, 0), quiet_end=time(8, 0))
    assert night.quiet_ends(ny(1, 23, 30)) == ny(2, 8).astimezone(UTC)
    assert night.quiet_ends(ny(2, 6, 0)) == ny(2, 8).astimezone(UTC)
    assert night.quiet_ends(ny(2, 8, 0)) is None  # the end is not quiet
    assert night.quiet_ends(ny(2, 20, 59)) is None


def test_quiet_hours_within_one_day_end_that_day_and_none_means_never_quiet():
    nap = patient(quiet_start=time(13, 0), quiet_end=time(15, 0))
    assert nap.quiet_ends(ny(1, 14, 0)) == ny(1, 15).astimezone(UTC)
    assert nap.quiet_ends(ny(1, 15, 0)) is None
    assert patient().quiet_ends(ny(1, 3, 0)) is None


def test_quiet_hours_end_at_the_wall_time_across_a_dst_change():
    # 8 March 2026: New York springs forward; quiet hours from the night before end at 08:00 EDT.
    night = patient(quiet_start=time(21, 0), quiet_end=time(8, 0))
    assert night.quiet_ends(ny(7, 23, 0, month=3)) == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def test_without_written_consent_the_tcpa_limits_bind_and_with_it_the_clinics():
    clinic = PlanOptions(sms_daily_limit=2, sms_weekly_limit=6)
    assert sms_limits(patient(), clinic) == (TCPA_DAILY_LIMIT, TCPA_WEEKLY_LIMIT) == (1, 3)
    assert sms_limits(patient(sms_written_consent=True), clinic) == (2, 6)


def test_a_text_is_refused_when_the_patients_day_or_seven_calendar_days_are_full():
    now = ny(10, 12)
    assert sms_refusal(now, NY, (1, 3), []) is None
    assert sms_refusal(now, NY, (1, 3), [ny(10, 0, 1)]) == "sms.daily_limit"
    # Sent late yesterday on the patient's clock (already today in UTC): not today's.
    assert sms_refusal(now, NY, (1, 3), [ny(9, 23, 30)]) is None
    three = [ny(4, 9), ny(6, 9), ny(8, 9)]
    assert sms_refusal(now, NY, (1, 3), three) == "sms.weekly_limit"
    # The seven days are calendar days ending today: the 3rd is out of them.
    assert sms_counting_from(now, NY) == ny(4, 0).astimezone(UTC)
    assert sms_refusal(now, NY, (1, 3), [ny(3, 23, 59), ny(6, 9), ny(8, 9)]) is None
    assert sms_refusal(now, NY, (None, None), [*three, ny(10, 1)]) is None


def test_texts_planned_ahead_that_outrank_it_keep_their_slots():
    now = ny(10, 12)
    assert sms_refusal(now, NY, (1, 3), [], kept=[ny(10, 18)]) == "sms.kept_for_planned"
    assert sms_refusal(now, NY, (1, 3), [], kept=[ny(11, 9)]) is None
    assert sms_refusal(now, NY, (1, 3), [ny(8, 9)], kept=[ny(11, 9), ny(13, 9)]) == (
        "sms.kept_for_planned"
    )
    # Beyond seven days from now, a planned text keeps nothing.
    assert sms_refusal(now, NY, (1, 3), [ny(8, 9)], kept=[ny(11, 9), ny(17, 13)]) is None
    assert sms_refusal(now, NY, (1, 3), [], kept=[now - timedelta(minutes=1)]) is None
