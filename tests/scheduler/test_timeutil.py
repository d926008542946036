from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from scheduler import PlanningError
from scheduler.timeutil import LocalTimeKind, get_zone, local_to_utc, resolve_local


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected_local"),
    [
        # spring forward: the gap is skipped forward by its length
        ("America/New_York", date(2025, 3, 9), time(2, 30), time(3, 30)),
        ("Europe/London", date(2025, 3, 30), time(1, 30), time(2, 30)),
        ("Australia/Sydney", date(2025, 10, 5), time(2, 15), time(3, 15)),
    ],
)
def test_nonexistent_local_time_shifts_forward_by_the_gap(zone, day, wall, expected_local):
    instant, kind = resolve_local(day, wall, get_zone(zone))
    assert kind is LocalTimeKind.GAP
    back = instant.astimezone(get_zone(zone))
    assert back.date() == day and back.time() == expected_local


@pytest.mark.parametrize(
    ("zone", "day", "wall", "utc_hour"),
    [
        ("America/New_York", date(2025, 11, 2), time(1, 30), 5),  # EDT reading, 05:30 UTC
        ("Europe/London", date(2025, 10, 26), time(1, 30), 0),  # BST reading, 00:30 UTC
        ("Australia/Sydney", date(2025, 4, 6), time(2, 30), 15),  # AEDT reading, 15:30 UTC (5th)
    ],
)
def test_ambiguous_local_time_takes_the_earlier_instant(zone, day, wall, utc_hour):
    instant, kind = resolve_local(day, wall, get_zone(zone))
    assert kind is LocalTimeKind.AMBIGUOUS
    assert instant.hour == utc_hour and instant.minute == 30
    later = datetime.combine(day, wall, tzinfo=get_zone(zone)).replace(fold=1)
    assert instant < later.astimezone(UTC)


def test_normal_time_round_trips():
    instant, kind = resolve_local(date(2025, 6, 1), time(9), get_zone("Europe/London"))
    assert kind is LocalTimeKind.NORMAL
    assert instant == datetime(2025, 6, 1, 8, tzinfo=UTC)


def test_nine_oclock_stays_nine_oclock_across_a_change():
    zone = get_zone("America/New_York")
    before = local_to_utc(date(2025, 3, 8), time(9), zone)
    after = local_to_utc(date(2025, 3, 9), time(9), zone)
    assert after - before == timedelta(hours=23)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", " Europe/London", "../etc/passwd"])
def test_unknown_zone_is_a_planning_error(name):
    with pytest.raises(PlanningError) as caught:
        get_zone(name)
    assert caught.value.rule == "time_zone.unknown"
    assert caught.value.field == "time_zone"
