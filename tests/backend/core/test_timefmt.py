"""Times shown to people name their zone, and the zone's name follows DST."""

import datetime as dt

from backend.core.timefmt import local_label


def test_a_time_is_shown_on_the_readers_clock_with_its_zone_named():
    winter = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)  # Monday 08:00 in Denver
    assert local_label(winter, "America/Denver") == "Mon 07 Dec 08:00 MST"
    summer = dt.datetime(2026, 7, 6, 14, 0, tzinfo=dt.UTC)
    assert local_label(summer, "America/Denver", with_year=True) == "Mon 06 Jul 2026 08:00 MDT"
    # 8 March 2026: US clocks go forward at 02:00, so 07:00 UTC is 03:00 EDT, not 02:00 EST.
    assert local_label(dt.datetime(2026, 3, 8, 7, 0, tzinfo=dt.UTC), "America/New_York") == (
        "Sun 08 Mar 03:00 EDT"
    )
