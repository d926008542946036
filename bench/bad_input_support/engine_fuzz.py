"""Hypothesis on the planning engine (scheduler/), with many more examples than the suite runs.

Four properties. Three are the suite's own (tests/scheduler/test_build_plan.py, test_replan.py),
their bodies run unchanged through `hypothesis.inner_test` with the suite's strategies: any clinic
calendar and patient keep every invariant; a weekday clinic gets the IV course exactly when one
exists; every item a replan moves is reported. The fourth feeds the engine bad input the suite
does not: unknown or odd time zones, opening hours that close before they open, contradictory
preferences, quiet hours of any shape, start dates from 1900 to 2200, absurd session counts,
SMS limits of zero or below, provider bookings at random, and replans naming items that do not
exist or moving them anywhere in time.

The engine's one documented refusal is PlanningError (scheduler/errors.py), naming a rule; those
are counted by rule. Any other exception, or a failed invariant, is an error: kept with its input.
A suite property that fails only because the engine refused with a rule the property does not
list is counted apart (a property failure: no crash, but maybe a plan the search missed).
"""

from __future__ import annotations

import string
import time
import traceback
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bench.bad_input_support.tally import Source, seeded
from scheduler import ClinicCalendar, PatientPreferences, PlanningError, PlanOptions, build_plan
from scheduler import replan as replan_plan
from tests.scheduler import test_build_plan, test_replan
from tests.scheduler.helpers import library

ZONES = [
    "America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kathmandu", "Pacific/Chatham",
    "Pacific/Kiritimati", "America/St_Johns", "UTC", "Etc/GMT+12", "Moon/Base", "", "../etc",
    "america/new_york", "EST5EDT", "Europe/Dublin",
]  # fmt: skip
COUNTRIES = [None, "US", "GB", "AU", "NZ", "XX", "", "us"]
SUBDIVISIONS = [None, "NY", "ENG", "NSW", "ZZ", ""]


WILD_ONE_IN_TWELVE = [False] * 11 + [True]
SANE_ZONES = ["America/New_York", "Europe/London", "Australia/Sydney", "America/Denver"]


def _either(draw, sane, wild):
    """Mostly a sane value, one time in twelve a wild one: a bad field or two among good ones
    reaches deeper into the engine than input that is wrong everywhere at once."""
    # Hypothesis favours the smallest choice, so the sane branch is the first of twelve.
    return draw(wild if draw(st.sampled_from(WILD_ONE_IN_TWELVE)) else sane)


def _hours(lo: int, hi: int):
    return st.builds(dtime, st.integers(lo, hi), st.sampled_from([0, 30]))


@st.composite
def wild_calendars(draw) -> dict:
    sane_hours = st.builds(
        lambda days, opens, closes: {d: [(opens, closes)] for d in days},
        st.sets(st.integers(0, 6), min_size=2, max_size=7),
        _hours(6, 11),
        _hours(13, 21),
    )
    wild_hours = st.dictionaries(
        st.integers(-1, 8), st.lists(st.tuples(st.times(), st.times()), max_size=3), max_size=8
    )
    return dict(
        time_zone=_either(draw, st.sampled_from(SANE_ZONES), st.sampled_from(ZONES)),
        opening_hours=_either(draw, sane_hours, wild_hours),
        slot_minutes=_either(draw, st.sampled_from([15, 30]),
                             st.sampled_from([0, 1, 5, 7, 90, 1440, -15])),
        closed_dates=frozenset(draw(st.sets(st.dates(date(2024, 1, 1), date(2027, 1, 1)),
                                            max_size=20))),
        holiday_country=_either(draw, st.sampled_from([None, "US", "GB", "AU"]),
                                st.sampled_from(COUNTRIES)),
        holiday_subdivision=_either(draw, st.just(None), st.sampled_from(SUBDIVISIONS)),
    )  # fmt: skip


@st.composite
def wild_patients(draw) -> dict:
    maybe_time = st.none() | st.times()
    sane_quiet = [(None, None), (dtime(21), dtime(8)), (dtime(22), dtime(7))]
    quiet = _either(draw, st.sampled_from(sane_quiet), st.tuples(maybe_time, maybe_time))
    return dict(
        time_zone=_either(draw, st.sampled_from(SANE_ZONES), st.sampled_from(ZONES)),
        preferred_weekdays=_either(draw, st.none() | st.frozensets(st.integers(0, 6), min_size=1),
                                   st.frozensets(st.integers(-2, 9), max_size=8)),
        earliest_time=_either(draw, st.none(), maybe_time),
        latest_time=_either(draw, st.none(), maybe_time),
        quiet_start=quiet[0],
        quiet_end=quiet[1],
        channels=_either(draw, st.sampled_from([("email", "sms"), ("email",), ("sms",)]),
                         st.lists(st.sampled_from(["email", "sms", "fax", ""]),
                                  max_size=3).map(tuple)),
        sms_written_consent=draw(st.booleans()),
        sms_daily_limit=_either(draw, st.none(), st.none() | st.integers(-3, 50)),
        sms_weekly_limit=_either(draw, st.none(), st.none() | st.integers(-3, 200)),
    )  # fmt: skip


@st.composite
def wild_options(draw) -> dict:
    keys = ["dosing", "integration", "check_in", "booster", "nonsense", ""]
    now = datetime(2025, 1, 1, tzinfo=UTC)
    busy = draw(st.lists(st.tuples(st.integers(-100, 2000), st.integers(-5, 50)), max_size=5))
    overrides = st.dictionaries(
        st.text(string.ascii_lowercase + "-_.", max_size=30),
        st.none() | st.dictionaries(st.sampled_from(["offset", "channel", "audience",
                                                     "priority", "nonsense"]),
                                    st.text(max_size=40), max_size=2),
        max_size=3,
    )  # fmt: skip
    return dict(
        dosing_sessions=_either(draw, st.none(), st.none() | st.integers(-3, 60)),
        session_counts=_either(draw, st.just({}), st.dictionaries(st.sampled_from(keys),
                                                                  st.integers(-3, 60),
                                                                  max_size=3)),
        boosters=draw(st.none() | st.booleans()),
        reminder_overrides=_either(draw, st.just({}), overrides),
        sms_daily_limit=_either(draw, st.none(), st.none() | st.integers(-3, 20)),
        sms_weekly_limit=_either(draw, st.none(), st.none() | st.integers(-3, 60)),
        session_time=_either(draw, st.none(), st.none() | st.times()),
        provider_busy=tuple(
            (now + timedelta(hours=h), now + timedelta(hours=h + length)) for h, length in busy
        ),
    )  # fmt: skip


@st.composite
def _wild(draw, slugs: list[str]):
    sane_now = st.datetimes(datetime(2024, 6, 1), datetime(2026, 6, 1), timezones=st.just(UTC))
    wild_now = st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC))
    now = _either(draw, sane_now, wild_now)
    start = _either(
        draw,
        st.integers(0, 30).map(lambda d: now.date() + timedelta(days=d)),
        st.dates(date(1900, 1, 1), date(2200, 1, 1)),
    )
    keys = st.text(max_size=12) | st.sampled_from(["dosing-1", "dosing-9", "check_in-5", ""])
    instants = st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC))
    return (
        draw(wild_calendars()), draw(wild_patients()), draw(st.sampled_from(slugs)), start, now,
        draw(wild_options()),
        draw(st.dictionaries(keys, instants, max_size=2)),  # moved
        draw(st.sets(keys, max_size=2)),  # missed
        draw(st.sets(keys, max_size=2)),  # completed
    )  # fmt: skip


def _run_wild(args) -> None:
    cal, pref, slug, start, now, options, moved, missed, completed = args
    # Built here, not in the strategy: refusing a bad zone or bad hours is the engine's job.
    cal = ClinicCalendar(**cal)
    pref = PatientPreferences(**pref)
    options = PlanOptions(**options)
    protocol = library()[slug]
    plan = build_plan(
        protocol=protocol, start_date=start, clinic=cal, patient=pref, now=now, options=options
    )
    keys = [item.key for item in plan.items]
    # Replan the plan just built, naming some of its own items too (moves of real items).
    if keys:
        moved = {**moved, keys[len(moved) % len(keys)]: now + timedelta(days=len(keys))}
    replan_plan(
        plan=plan, protocol=protocol, clinic=cal, patient=pref, now=now, options=options,
        moved=moved, missed=missed, completed=completed,
    )  # fmt: skip


def properties() -> list[tuple[str, object, Callable]]:
    """(name, strategy of argument tuples, function taking that tuple)."""
    slugs = sorted(library())
    invariants = test_build_plan.test_invariants_hold_for_any_clinic.hypothesis.inner_test
    weekday = test_build_plan.test_weekday_clinic_fits_the_iv_course_whenever_the_calendar_allows
    moved = test_replan.test_every_moved_item_is_reported.hypothesis.inner_test
    return [
        (
            "build_plan invariants, any clinic (suite's property)",
            st.tuples(test_build_plan.scenarios(), st.sampled_from(slugs)),
            lambda a: invariants(*a),
        ),
        (
            "IV course exactly when the calendar allows (suite's property)",
            st.tuples(
                st.sampled_from(sorted(test_build_plan.ZONES)),
                st.integers(0, 364),
                st.sets(st.integers(0, 30), max_size=3),
            ),
            lambda a: weekday.hypothesis.inner_test(*a),
        ),
        (
            "replan reports every moved item (suite's property)",
            st.tuples(st.integers(0, 21), st.integers(0, 40), st.integers(0, 30), st.booleans()),
            lambda a: moved(*a),
        ),
        ("build_plan + replan on wild input", _wild(slugs), _run_wild),
    ]


def run(examples: int, seed: int | None) -> Source:
    source = Source("hypothesis_engine")
    started = time.monotonic()
    for name, strategy, call in properties():
        _explore(source, name, strategy, call, examples, seed)
    source.seconds = time.monotonic() - started
    return source


def _explore(source: Source, name: str, strategy, call, examples: int, seed) -> None:
    @hsettings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # every example counted once, none shrunk
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def explore(args):
        source.cases += 1
        source.counts[f"examples: {name}"] += 1
        try:
            call(args)
        except PlanningError as refusal:
            source.counts[f"refused (PlanningError {refusal.rule})"] += 1
            if not refusal.rule or not str(refusal):
                source.error("PlanningError without a rule or message", repr(args))
        except AssertionError as failed:
            refusal = failed.__context__
            if isinstance(refusal, PlanningError):
                # The engine refused cleanly, with a rule the suite's property does not expect:
                # no crash, but a property failure (a plan may exist that the search missed).
                source.counts[f"property failures: refused with {refusal.rule} in {name}"] += 1
                source.counts["property failures"] += 1
                if source.counts["property failures"] <= 3:
                    source.findings.append(f"[property failure] {name}: {args!r}\n  {refusal}")
            else:
                source.error(f"invariant failed: {name}", f"{args!r}\n{traceback.format_exc()}")
        except Exception as exc:
            source.error(f"{type(exc).__name__} in {name}", f"{args!r}\n{traceback.format_exc()}")

    seeded(explore, seed)()
