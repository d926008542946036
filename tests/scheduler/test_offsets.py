from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from scheduler import PlanningError, parse_offset
from scheduler.timeutil import get_zone

from .helpers import clinic

NY = get_zone("America/New_York")
LONDON = get_zone("Europe/London")


def apply(text: str, base: datetime, *, patient=NY, cal=None, item_zone=NY) -> datetime:
    cal = cal or clinic("America/New_York", country="US", subdivision="NY")
    return parse_offset(text).apply(base, item_zone=item_zone, patient_zone=patient, clinic=cal)


def test_hours_are_elapsed_time_even_across_dst():
    session = datetime(2025, 3, 10, 13, tzinfo=UTC)  # Mon 09:00 EDT
    sent = apply("-48h", session)
    assert session - sent == timedelta(hours=48)
    assert sent.astimezone(NY).hour == 8  # the wall clock shows the lost hour


def test_next_day_means_the_same_local_time_not_24_hours():
    session = datetime(2025, 3, 8, 14, tzinfo=UTC)  # Sat 09:00 EST
    sent = apply("+1 day at 09:00 patient", session)
    assert sent.astimezone(NY).time() == time(9)
    assert sent - session == timedelta(hours=23)
    no_at = apply("+1 day", session)
    assert no_at.astimezone(NY).time() == time(9)


def test_patient_zone_differs_from_clinic_zone():
    session = datetime(2025, 6, 2, 13, tzinfo=UTC)  # 09:00 New York, 14:00 London
    sent = apply("+1 day at 09:00 patient", session, patient=LONDON)
    assert sent.astimezone(LONDON) == datetime(2025, 6, 3, 9, tzinfo=LONDON)


def test_working_day_skips_weekends_and_holidays():
    # Tuesday 2 Sept 2025 follows Labor Day (Monday 1 Sept): the working day before is Fri 29 Aug.
    session = datetime(2025, 9, 2, 13, tzinfo=UTC)
    sent = apply("-1 working day at 08:00 clinic", session)
    assert sent.astimezone(NY) == datetime(2025, 8, 29, 8, tzinfo=NY)


def test_terms_compose_left_to_right():
    session = datetime(2025, 6, 4, 13, tzinfo=UTC)
    sent = apply("-2 days at 18:00 patient +30m", session)
    assert sent.astimezone(NY) == datetime(2025, 6, 2, 18, 30, tzinfo=NY)
    week = apply("+1 week at 10:00 clinic", session)
    assert week.astimezone(NY).date() == date(2025, 6, 11)


@pytest.mark.parametrize(
    "text", ["", "48h", "-48 hours", "+1 day at 25:00 patient", "-2h at 09:00 patient", "+1 dya"]
)
def test_bad_offsets_name_the_rule(text):
    with pytest.raises(PlanningError) as caught:
        parse_offset(text, "reminder_rules[0].offset")
    assert caught.value.rule == "rule.syntax"
    assert caught.value.field == "reminder_rules[0].offset"
