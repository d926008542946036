"""The provider dashboard (backend.plans.dashboard and its page): the provider's items of today and
the next 14 days by day on the clinic's clock, their states, what needs a person first (flags,
patients' requests, patients reminders may not reach, double bookings), the two outcome buttons
and who may press them, and a page whose number of queries does not grow with its rows."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backend.plans import dashboard, item_states, readiness, services
from backend.plans.item_states import State
from backend.plans.models import PlanItem, SessionRequest, TreatmentPlan
from backend.reminders import consent
from backend.reminders.models import Reminder
from backend.safety import services as safety
from backend.safety.models import Flag
from tests.backend.safety.helpers import element, html_of, raise_urgent_flag
from tests.factories import (
    ClinicFactory,
    CoordinatorFactory,
    PatientFactory,
    ProviderFactory,
    make_plan,
)
from tests.support.clock import SUITE_NOW

pytestmark = pytest.mark.django_db

NY = "America/New_York"
SANTIAGO = "America/Santiago"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def local(*wall, zone: str = NY, fold: int = 0) -> dt.datetime:
    """A wall-clock time in ``zone`` as the UTC instant it names."""
    return dt.datetime(*wall, tzinfo=ZoneInfo(zone), fold=fold).astimezone(dt.UTC)


def place(item: PlanItem, start: dt.datetime, minutes: int = 30) -> PlanItem:
    """Put an item at another time (test data: the engine keeps items inside opening hours)."""
    PlanItem.objects.filter(pk=item.pk).update(
        start=start, end=start + dt.timedelta(minutes=minutes)
    )
    item.refresh_from_db()
    return item


def headings(board) -> dict[int, str]:
    """Item id -> the heading of the day it is listed under."""
    return {row.item.pk: day.heading for day in board.days for row in day.rows}


def rows_by_key(board, plan) -> dict[str, dashboard.Row]:
    return {r.item.key: r for day in board.days for r in day.rows if r.item.plan_id == plan.pk}


@pytest.fixture()
def course(make_plan):
    """The shared patient's IV course, planned at SUITE_NOW (Monday 2 March 2026, 10:00 EST):
    dosing session 1 on Wednesday 4 March 08:00-09:40, a prescriber review task on Tuesday 10
    March 12:00, check-in 1 on Monday 23 March."""
    return make_plan(now=SUITE_NOW)


# --- days on the clinic's clock ----------------------------------------------------------------


def test_items_are_listed_by_the_clinics_day_today_and_tomorrow_first(course, provider):
    board = dashboard.build(provider=provider, now=SUITE_NOW)

    titles = [day.heading for day in board.days]
    assert titles[:3] == ["Today, Monday 2 March", "Tomorrow, Tuesday 3 March", "Wednesday 4 March"]
    by_day = {day.heading: [r.item.key for r in day.rows] for day in board.days}
    assert by_day["Tomorrow, Tuesday 3 March"] == []  # listed, and says nothing is scheduled
    assert by_day["Wednesday 4 March"] == ["dosing-1", "vitals-1"]
    keys = {key for day in by_day.values() for key in day}
    assert "dosing-6" in keys  # Monday 16 March: the 14th day after today
    assert "integration-3" not in keys  # Tuesday 17 March: past the window


def test_an_item_before_midnight_clinic_time_is_today_though_utc_says_tomorrow(course, provider):
    now = local(2026, 3, 2, 23, 30)  # Tuesday 04:30 in UTC
    late = place(course.items.get(key="dosing-1"), local(2026, 3, 2, 23, 45))
    early = place(course.items.get(key="dosing-2"), local(2026, 3, 3, 0, 15))
    # The window ends at midnight clinic time after the 14th day, a DST change in between.
    last = place(course.items.get(key="dosing-3"), local(2026, 3, 16, 23, 59))
    beyond = place(course.items.get(key="dosing-4"), local(2026, 3, 17, 0, 0))

    board = dashboard.build(provider=provider, now=now)

    listed = headings(board)
    assert listed[late.pk] == "Today, Monday 2 March"
    assert listed[early.pk] == "Tomorrow, Tuesday 3 March"
    assert listed[last.pk] == "Monday 16 March"
    assert beyond.pk not in listed


def test_the_night_clocks_spring_forward_is_a_23_hour_day(course, provider):
    """Sunday 8 March 2026 in New York has 23 hours: 'tomorrow' ends at Monday's midnight EDT,
    not 24 hours after Sunday began."""
    now = local(2026, 3, 7, 23, 30)
    sunday_night = place(course.items.get(key="dosing-3"), local(2026, 3, 8, 23, 30))
    monday_early = place(course.items.get(key="dosing-4"), local(2026, 3, 9, 0, 30))

    listed = headings(dashboard.build(provider=provider, now=now))

    assert listed[sunday_night.pk] == "Tomorrow, Sunday 8 March"
    assert listed[monday_early.pk] == "Monday 9 March"


def test_a_day_begins_at_local_midnight_even_where_dst_skips_or_repeats_it():
    # America/Santiago springs forward at midnight (6 Sep 2026: 00:00 -04 becomes 01:00 -03):
    # Sunday begins at the change itself.
    assert item_states.day_start(dt.date(2026, 9, 6), SANTIAGO) == dt.datetime(
        2026, 9, 6, 4, tzinfo=dt.UTC
    )
    assert item_states.local_day(local(2026, 9, 5, 23, 59, zone=SANTIAGO), SANTIAGO).day == 5
    assert item_states.local_day(dt.datetime(2026, 9, 6, 4, tzinfo=dt.UTC), SANTIAGO).day == 6
    # ... and falls back at midnight (5 Apr 2026: 00:00 -03 becomes 23:00 -04 on Saturday):
    # both 23:30s belong to Saturday, which is 25 hours long.
    first, second = (local(2026, 4, 4, 23, 30, zone=SANTIAGO, fold=f) for f in (0, 1))
    assert second - first == dt.timedelta(hours=1)
    saturday = item_states.day_start(dt.date(2026, 4, 4), SANTIAGO)
    sunday = item_states.day_start(dt.date(2026, 4, 5), SANTIAGO)
    assert sunday - saturday == dt.timedelta(hours=25)
    assert saturday < first < second < sunday
    assert {item_states.local_day(t, SANTIAGO) for t in (first, second)} == {dt.date(2026, 4, 4)}


def test_a_clinic_in_santiago_lists_its_items_on_its_own_days(provider, clinic, course):
    clinic.time_zone = SANTIAGO
    clinic.save()
    now = local(2026, 9, 5, 22, 0, zone=SANTIAGO)
    TreatmentPlan.objects.filter(pk=course.pk).update(start_date=dt.date(2026, 9, 5))
    saturday = place(course.items.get(key="dosing-1"), local(2026, 9, 5, 23, 30, zone=SANTIAGO))
    sunday = place(course.items.get(key="dosing-2"), dt.datetime(2026, 9, 6, 4, 0, tzinfo=dt.UTC))
    provider.refresh_from_db()

    listed = headings(dashboard.build(provider=provider, now=now))

    assert listed[saturday.pk] == "Today, Saturday 5 September"
    assert listed[sunday.pk] == "Tomorrow, Sunday 6 September"


def test_a_time_across_a_dst_change_names_both_zones():
    item = PlanItem(start=local(2026, 3, 8, 1, 30), end=local(2026, 3, 8, 3, 30))
    assert item_states.when_label(item, NY) == "01:30 EST to 03:30 EDT"
    item.end = local(2026, 3, 8, 1, 50)
    assert item_states.when_label(item, NY, with_date=True) == "Sun 08 Mar, 01:30 to 01:50 EST"


# --- states and the outcome buttons ------------------------------------------------------------


def test_states_follow_the_clock_and_the_recorded_outcomes(course, provider):
    during = local(2026, 3, 4, 9, 0)  # dosing session 1 is under way
    board = dashboard.build(provider=provider, now=during)
    rows = rows_by_key(board, course)
    assert rows["dosing-1"].state is State.DUE
    assert rows["dosing-2"].state is State.UPCOMING
    # Baseline questionnaires (Monday), never answered: overdue, listed under "Earlier".
    baseline = rows["assessment-baseline"]
    assert baseline.state is State.OVERDUE
    assert headings(board)[baseline.item.pk] == "Earlier, no outcome recorded yet"

    after = local(2026, 3, 4, 12, 0)
    rows = rows_by_key(dashboard.build(provider=provider, now=after), course)
    assert rows["dosing-1"].state is State.OVERDUE
    services.item_mark_completed(item=course.items.get(key="vitals-1"), now=after)
    services.item_mark_missed(item=course.items.get(key="dosing-1"), now=after)

    rows = rows_by_key(dashboard.build(provider=provider, now=after), course)
    assert (rows["dosing-1"].state, rows["vitals-1"].state) == (State.MISSED, State.DONE)
    assert rows["dosing-1"].state_label == "Missed" and rows["vitals-1"].state_label == "Done"


def test_questionnaires_without_a_duration_are_due_all_day_and_overdue_after(course, provider):
    midcourse = course.items.get(key="assessment-midcourse")  # Wednesday 11 March, 10:00 EDT
    assert midcourse.start == midcourse.end

    that_evening = local(2026, 3, 11, 21, 0)
    next_morning = local(2026, 3, 12, 7, 0)

    assert item_states.item_state(midcourse, now=that_evening, zone=NY) is State.DUE
    assert item_states.item_state(midcourse, now=next_morning, zone=NY) is State.OVERDUE


def test_buttons_show_once_an_items_time_has_come_and_a_task_is_never_missed(course, provider):
    before = local(2026, 3, 4, 7, 0)
    during = local(2026, 3, 4, 8, 30)
    rows = rows_by_key(dashboard.build(provider=provider, now=before), course)
    dose, vitals = rows["dosing-1"], rows["vitals-1"]
    assert not (dose.may_mark_done or dose.may_mark_missed)
    # A task (the care team's own) may be marked done from the start of its day, never missed.
    assert (vitals.may_mark_done, vitals.may_mark_missed) == (True, False)
    assert not rows["provider_review-1"].may_mark_done  # next Tuesday's task

    rows = rows_by_key(dashboard.build(provider=provider, now=during), course)
    assert rows["dosing-1"].may_mark_done and rows["dosing-1"].may_mark_missed


def test_a_prescriber_review_is_a_task_apart_from_sessions(course, provider, client, clock):
    review = course.items.get(key="provider_review-1")
    now = local(2026, 3, 10, 9, 0)  # the review's day, before its time
    rows = rows_by_key(dashboard.build(provider=provider, now=now), course)
    row = rows["provider_review-1"]
    assert row.item.title == "Prescriber review of response after dosing session 3"
    assert (row.group, row.group_label) == ("task", "Task")
    assert (rows["dosing-3"].group, rows["dosing-3"].group_label) == ("session", "Session")

    client.force_login(provider.user)
    clock.move_to(now)
    html = html_of(client.get(reverse("provider-dashboard")))
    block = element(html, "li", f"item-{review.pk}")
    assert '<span class="tag tag-task">Task</span>' in block
    assert reverse("provider-item-done", args=[review.pk]) in block
    assert reverse("provider-item-missed", args=[review.pk]) not in block

    response = client.post(reverse("provider-item-done", args=[review.pk]))

    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == PlanItem.Status.COMPLETED


# --- what needs a person first -----------------------------------------------------------------


def test_urgent_and_worsening_flags_come_first_then_the_rest(course, provider, client, clock):
    now = local(2026, 3, 6, 12, 0)
    clock.move_to(now)
    services.item_mark_missed(item=course.items.get(key="dosing-2"), now=now)  # a welfare call
    worsening = safety.flag_raise(
        patient=course.patient, plan=course, kind=Flag.Kind.WORSENING,
        reasons=["PHQ-9 up 6 points"], now=now - dt.timedelta(hours=2),
    )  # fmt: skip
    urgent = raise_urgent_flag(course, now=now - dt.timedelta(hours=3))
    missed = Flag.objects.get(kind=Flag.Kind.MISSED_SESSION)

    board = dashboard.build(provider=provider, now=now)

    assert board.flags == [urgent, worsening, missed]  # not newest first
    assert {r.flag for day in board.days for r in day.rows} == {urgent}  # the patient's worst
    client.force_login(provider.user)
    html = html_of(client.get(reverse("provider-dashboard")))
    flags = element(html, "section", "flags")
    assert flags.index("Urgent") < flags.index("Worsening") < flags.index("Missed session")
    assert html.index('id="flags"') < html.index('id="schedule"')


def test_open_requests_of_the_providers_patients_are_listed(course, provider, client, clinic):
    dose = course.items.get(key="dosing-2")
    SessionRequest.objects.create(
        item=dose, kind=SessionRequest.Kind.RESCHEDULE, via=SessionRequest.Via.LINK,
        preferred_weekdays=[1, 3], note="Could we do Thursday instead?",
        session_start=dose.start, created_at=SUITE_NOW,
    )  # fmt: skip
    SessionRequest.objects.create(
        item=course.items.get(key="dosing-3"), kind=SessionRequest.Kind.CONFIRM,
        via=SessionRequest.Via.SMS, session_start=dose.start, created_at=SUITE_NOW,
        status=SessionRequest.Status.ANSWERED,
    )  # fmt: skip
    colleague = make_plan(patient=PatientFactory(clinic=clinic), now=SUITE_NOW).plan
    SessionRequest.objects.create(
        item=colleague.items.get(key="dosing-1"), kind=SessionRequest.Kind.CONFIRM,
        via=SessionRequest.Via.LINK, session_start=dose.start, created_at=SUITE_NOW,
    )  # fmt: skip

    board = dashboard.build(provider=provider, now=SUITE_NOW)

    assert [(r.item, r.kind) for r in board.requests] == [(dose, "reschedule")]
    assert board.requests[0].preferred_days == "Tue, Thu"
    assert rows_by_key(board, course)["dosing-2"].requests == board.requests
    client.force_login(provider.user)
    html = html_of(client.get(reverse("provider-dashboard")))
    listed = element(html, "section", "requests")
    assert "Asked to reschedule" in listed and "prefers Tue, Thu" in listed
    assert "Could we do Thursday instead?" in listed and "Avery Quinlan" in listed
    assert "Asked to reschedule" in element(html, "li", f"item-{dose.pk}")


def test_patients_whose_reminders_failed_or_who_opted_out_of_every_channel(
    course, provider, clinic, client, clock
):
    now = local(2026, 3, 6, 12, 0)
    clock.move_to(now)
    failing = course.reminders.filter(audience="patient", send_at__lt=now).order_by("send_at")
    # Failed yesterday (listed), and 10 days ago (too long ago to list).
    Reminder.objects.filter(pk=failing.last().pk).update(
        status="failed", last_error="21211: invalid 'To' number", send_at=now - dt.timedelta(1)
    )
    quiet = make_plan(patient=PatientFactory(clinic=clinic), provider=provider, now=SUITE_NOW)
    old = quiet.plan.reminders.filter(audience="patient").first()
    Reminder.objects.filter(pk=old.pk).update(status="failed", send_at=now - dt.timedelta(10))
    opted_out = make_plan(
        patient=PatientFactory(clinic=clinic, last_name="Zeller"), provider=provider,
        now=SUITE_NOW,
    ).plan.patient  # fmt: skip
    for channel in ("email", "sms"):
        consent.opt_out(patient=opted_out, channel=channel, method="sms_keyword", now=now)
    email_only = make_plan(
        patient=PatientFactory(clinic=clinic, mobile=""), provider=provider, now=SUITE_NOW
    ).plan.patient
    elsewhere = make_plan(patient=PatientFactory(clinic=clinic), now=SUITE_NOW).plan
    Reminder.objects.filter(pk=elsewhere.reminders.first().pk).update(
        status="failed", send_at=now - dt.timedelta(1)
    )

    board = dashboard.build(provider=provider, now=now)

    listed = {u.patient: u for u in board.unreachable}
    assert set(listed) == {course.patient, opted_out}
    assert email_only not in listed  # email still reaches them
    assert (listed[course.patient].failed, listed[course.patient].no_channel) == (1, [])
    assert listed[opted_out].no_channel == [
        "opted out of email on 06 Mar 2026",
        "opted out of texts on 06 Mar 2026",
    ]
    client.force_login(provider.user)
    section = element(html_of(client.get(reverse("provider-dashboard"))), "section", "unreachable")
    assert "1 reminder failed in the last 7 days" in section and "invalid" in section
    assert "no channel reaches them" in section and "Zeller" in section


def test_two_of_the_providers_appointments_at_once_are_flagged(course, provider, clinic, client):
    other = make_plan(patient=PatientFactory(clinic=clinic), provider=provider, now=SUITE_NOW).plan
    dose = course.items.get(key="dosing-2")  # Friday 6 March 08:00-09:40
    clash = place(other.items.get(key="dosing-2"), dose.start + dt.timedelta(minutes=60), 100)

    board = dashboard.build(provider=provider, now=SUITE_NOW)

    assert [(c.first.item, c.second.item) for c in board.conflicts] == [(dose, clash)]
    rows = {r.item: r for day in board.days for r in day.rows}
    assert rows[dose].overlaps == [clash] and rows[clash].overlaps == [dose]
    client.force_login(provider.user)
    html = html_of(client.get(reverse("provider-dashboard")))
    assert str(other.patient) in element(html, "section", "conflicts")
    assert "Overlaps" in element(html, "li", f"item-{dose.pk}")


def test_answers_show_on_the_questionnaires_row_and_the_latest_on_a_check_in(course, provider):
    from backend.measures import services as measures
    from tests.backend.safety.helpers import both, gad7, phq9

    baseline = course.items.get(key="assessment-baseline")
    measures.questionnaires_submit(
        patient=course.patient, item=baseline, answers=both(phq9(12), gad7(5)), language="en",
        now=SUITE_NOW,
    )  # fmt: skip
    rows = rows_by_key(dashboard.build(provider=provider, now=SUITE_NOW), course)
    assert sorted((r.instrument, r.total) for r in rows["assessment-baseline"].answers) == [
        ("gad7", 5),
        ("phq9", 12),
    ]

    before_check_in = local(2026, 3, 22, 12, 0)
    rows = rows_by_key(dashboard.build(provider=provider, now=before_check_in), course)
    check_in = rows["check_in-1"]
    assert check_in.answers_are_latest
    assert sorted((r.instrument, r.total) for r in check_in.answers) == [("gad7", 5), ("phq9", 12)]


def test_readiness_shows_next_to_a_dosing_session(course, provider):
    dose = course.items.get(key="dosing-1")
    now = dose.start - dt.timedelta(hours=12)
    readiness.readiness_confirm(
        item=dose, answers=dict.fromkeys(readiness.FIELDS, True), via="link", now=now
    )
    row = rows_by_key(dashboard.build(provider=provider, now=now), course)["dosing-1"]
    assert row.readiness["text"].startswith("Ready: confirmed")


# --- the actions: scoped, through the service, with CSRF ----------------------------------------


def _post(client, name: str, item: PlanItem):
    return client.post(reverse(name, args=[item.pk]))


def test_marking_done_goes_through_the_service_and_back_to_the_row(course, provider, client, clock):
    check_in = course.items.get(key="check_in-1")
    clock.move_to(check_in.end + dt.timedelta(minutes=5))
    client.force_login(provider.user)
    prompts = Reminder.objects.filter(item=check_in, audience="patient", status="scheduled")
    assert prompts.exists()

    response = _post(client, "provider-item-done", check_in)

    assert response.status_code == 302
    assert response.url == f"{reverse('provider-dashboard')}#item-{check_in.pk}"
    check_in.refresh_from_db()
    assert check_in.status == PlanItem.Status.COMPLETED
    assert check_in.history.latest().history_user == provider.user  # who, kept in the history
    page = html_of(client.get(response.url))
    assert "Check-in 1 (Avery Quinlan) marked done." in element(page, "div", "notices")
    assert 'data-state="done"' in element(page, "li", f"item-{check_in.pk}")


def test_marking_missed_follows_the_miss_up_as_the_service_does(course, provider, client, clock):
    dose = course.items.get(key="dosing-1")
    clock.move_to(dose.end + dt.timedelta(minutes=30))
    client.force_login(provider.user)

    assert _post(client, "provider-item-missed", dose).status_code == 302

    dose.refresh_from_db()
    assert dose.status == PlanItem.Status.MISSED
    # plans.services.item_mark_missed: the welfare call, and the day-after messages withdrawn.
    assert Flag.objects.filter(item=dose, kind=Flag.Kind.MISSED_SESSION).exists()
    assert not Reminder.objects.filter(
        item=dose, requires_attended=True, status__in=Reminder.PENDING
    ).exists()


def test_an_item_whose_time_has_not_come_is_refused_and_left_as_it_was(course, provider, client):
    dose = course.items.get(key="dosing-2")
    client.force_login(provider.user)

    for name in ("provider-item-done", "provider-item-missed"):
        response = _post(client, name, dose)
        assert response.status_code == 302

    dose.refresh_from_db()
    assert dose.status == PlanItem.Status.SCHEDULED
    notices = element(html_of(client.get(reverse("provider-dashboard"))), "div", "notices")
    assert "Dosing session 2 (Avery Quinlan) was not marked done" in notices
    assert "Dosing session 2 (Avery Quinlan) was not marked missed" in notices


def test_only_the_items_own_provider_may_record_its_outcome(
    course, provider, clinic, client, clock
):
    dose = course.items.get(key="dosing-1")
    clock.move_to(dose.end + dt.timedelta(minutes=5))
    outsiders = {
        "another clinic's provider": (ProviderFactory(clinic=ClinicFactory()).user, 404),
        "a colleague at the same clinic": (ProviderFactory(clinic=clinic).user, 404),
        "a coordinator of the clinic": (CoordinatorFactory(clinic=clinic).user, 403),
    }
    for who, (user, status) in outsiders.items():
        client.force_login(user)
        for name in ("provider-item-done", "provider-item-missed"):
            assert _post(client, name, dose).status_code == status, who
    client.logout()
    anonymous = _post(client, "provider-item-done", dose)
    assert anonymous.status_code == 302 and anonymous.url.startswith("/admin/login/")
    provider.active = False
    provider.save()
    client.force_login(provider.user)
    assert _post(client, "provider-item-done", dose).status_code == 403  # deactivated
    assert client.get(reverse("provider-dashboard")).status_code == 403

    dose.refresh_from_db()
    assert dose.status == PlanItem.Status.SCHEDULED


def test_an_outcome_needs_a_post_with_the_csrf_token(course, provider, clock):
    dose = course.items.get(key="dosing-1")
    clock.move_to(dose.end + dt.timedelta(minutes=5))
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(provider.user)

    assert browser.get(reverse("provider-item-done", args=[dose.pk])).status_code == 405
    assert _post(browser, "provider-item-done", dose).status_code == 403

    dose.refresh_from_db()
    assert dose.status == PlanItem.Status.SCHEDULED


# --- the patient's course -----------------------------------------------------------------------


def test_the_patient_page_shows_every_item_of_the_course_with_its_state(
    course, provider, client, clock
):
    now = local(2026, 3, 6, 12, 0)
    clock.move_to(now)
    services.item_mark_completed(item=course.items.get(key="dosing-1"), now=now)
    services.item_mark_missed(item=course.items.get(key="dosing-2"), now=now)
    client.force_login(provider.user)

    html = html_of(client.get(reverse("provider-patient", args=[course.patient_id])))

    section = element(html, "section", "course")
    assert section.count('id="course-item-') == course.items.count()
    states = {
        key: element(section, "tr", f"course-item-{course.items.get(key=key).pk}")
        for key in ("dosing-1", "dosing-2", "dosing-3")
    }
    assert "Done" in states["dosing-1"] and "Missed" in states["dosing-2"]
    assert (
        "Upcoming" in states["dosing-3"] and "Mon 09 Mar, 08:00 to 09:40 EDT" in states["dosing-3"]
    )


# --- queries -----------------------------------------------------------------------------------


def _clone(plan: TreatmentPlan, items: list[PlanItem], patient) -> TreatmentPlan:
    """A copy of ``plan`` with ``items`` for ``patient``: the same items at the same times (test
    data for the query count; plans.services would spread a provider's sessions apart)."""
    copy = TreatmentPlan.objects.create(
        patient=patient, clinic=plan.clinic, provider=plan.provider, protocol=plan.protocol,
        start_date=plan.start_date,
    )  # fmt: skip
    fields = [
        f.attname for f in PlanItem._meta.concrete_fields if f.attname not in ("id", "plan_id")
    ]
    PlanItem.objects.bulk_create(
        PlanItem(plan=copy, **{name: getattr(item, name) for name in fields}) for item in items
    )
    return copy


def _everything_for(plan: TreatmentPlan, now: dt.datetime) -> None:
    """Each part of a row and each section filled for this plan's patient."""
    from backend.measures import services as measures
    from tests.backend.safety.helpers import both, gad7, phq9

    items = {i.key: i for i in plan.items.all()}
    measures.questionnaires_submit(
        patient=plan.patient, item=items["assessment-baseline"],
        answers=both(phq9(12), gad7(5)), language="en", now=now - dt.timedelta(days=3),
    )  # fmt: skip
    readiness.readiness_confirm(
        item=items["dosing-4"], answers=dict.fromkeys(readiness.FIELDS, True), via="link",
        now=now,
    )  # fmt: skip
    SessionRequest.objects.create(
        item=items["dosing-5"], kind=SessionRequest.Kind.RESCHEDULE, via="link",
        preferred_weekdays=[2], session_start=items["dosing-5"].start, created_at=now,
    )  # fmt: skip
    safety.flag_raise(
        patient=plan.patient, plan=plan, kind=Flag.Kind.WORSENING, reasons=["PHQ-9 up"], now=now
    )
    Reminder.objects.create(
        plan=plan, item=items["dosing-3"], patient=plan.patient, key="failed", audience="patient",
        channel="sms", message_kind="preparation_2h", send_at=now - dt.timedelta(hours=1),
        not_after=now, status="failed", last_error="30003: unreachable",
    )  # fmt: skip
    safety.receive_message(
        clinic=plan.clinic, patient=plan.patient, source="sms", body="See you Friday", now=now
    )


def _dashboard_queries(client) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("provider-dashboard"))
    assert response.status_code == 200
    return len(queries), html_of(response)


def test_the_number_of_queries_does_not_grow_with_the_rows(course, provider, clinic, client, clock):
    # Monday 9 March, noon: dosing session 3 over, Thursday's session 4 confirmed, session 5 asked
    # to be moved, check-in 1 (23 March) the last day listed, with the baseline answers.
    now = local(2026, 3, 9, 12, 0)
    clock.move_to(now)
    client.force_login(provider.user)
    patients = [course.patient]
    items = list(course.items.all())  # as planned, before anything is answered or recorded
    _everything_for(course, now)

    def grow_to(n: int) -> None:
        while len(patients) < n:
            plan = _clone(course, items, PatientFactory(clinic=clinic))
            _everything_for(plan, now)
            patients.append(plan.patient)

    grow_to(3)
    few, html = _dashboard_queries(client)
    rows_few = html.count('class="row ')
    grow_to(30)
    many, html = _dashboard_queries(client)

    assert html.count('class="row ') == 10 * rows_few  # ten times the rows...
    assert all(str(p) in element(html, "section", "schedule") for p in patients)
    assert all(str(p) in element(html, "section", "requests") for p in patients)
    assert all(str(p) in element(html, "section", "unreachable") for p in patients)
    assert all(str(p) in element(html, "section", "flags") for p in patients)
    assert html.count("Latest answers: ") == 30  # each check-in shows the baseline answers
    assert html.count("Ready: confirmed") == 30
    assert many == few  # ... and the same queries:
    # the session, the user and their role (3), the clinic; the caseload, items, readiness, flags,
    # requests, answers, failed reminders, patients no channel reaches, patients under way; the
    # patients whose answers the provider may read, the inbox and the recent answers.
    assert few <= 17, few


def test_the_dashboard_leads_to_the_providers_calendar_feed_page(course, provider, client, clock):
    client.force_login(provider.user)
    clock.move_to(local(2026, 3, 10, 9, 0))
    html = html_of(client.get(reverse("provider-dashboard")))
    assert f'href="{reverse("provider-calendar")}" id="calendar-link"' in html
