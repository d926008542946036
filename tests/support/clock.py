"""The test suite's clock: every test runs at a fixed instant of its own, never at today's date.

A scheduler's behaviour depends on the calendar (weekends, holidays, DST nights, quiet hours), so a
test that read the machine's clock would test a different calendar every day it ran. The root
conftest moves the clock to ``SUITE_NOW`` for every test, ticking, so waits and leases still pass;
a test about a particular day travels there itself and names the date. Processes the tests start
(Celery workers in the fault tests) run on the same clock through ``clocked_env``.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable

from time_machine import escape_hatch

# Monday 2 March 2026, 10:00 in New York (15:00 UTC): an ordinary working day, outside every
# patient's quiet hours, a week before the US clocks change.
SUITE_NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)

OFFSET_ENV = "AFTERCARE_TEST_CLOCK_OFFSET_S"


def clocked_env() -> dict[str, str]:
    """Environment for a child process that must share this test's clock (tests.support.clocked).

    The offset from the machine's clock, taken now, so the child's time runs level with ours.
    """
    return {OFFSET_ENV: repr(time.time() - escape_hatch.time.time())}


def wait_until(
    condition: Callable[[], object], *, timeout: float, interval: float = 0.1, what: str = ""
) -> None:
    """Poll ``condition`` until it is true; fail after ``timeout`` seconds of real time."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what or condition}")
        time.sleep(interval)


def offset_from_env() -> float | None:
    raw = os.environ.get(OFFSET_ENV)
    return float(raw) if raw else None
