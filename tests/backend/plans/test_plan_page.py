"""The admin plan page reads top-down and stays small: status, flags, timeline (legend, today,
closed days with the holiday's name), the planner's notes in plain words, items, then reminders
folded by item; every time names its zone, and nothing shows UTC for a clinic outside it."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from backend.clinics.models import ClosedDate
from tests.backend.plans.test_admin import change_url, coordinator_client, home, plan  # noqa: F401
from tests.factories import make_plan

PAGE_BUDGET = 100_000  # bytes of HTML for a 28-item plan (6 sessions, their vitals tasks)
ENGINE_KEY = re.compile(r"\b[a-z_]+-\d+:[a-z_0-9]+|\b[a-z]+_[a-z0-9_]+\b:\w+")


@pytest.mark.django_db
def test_a_28_item_plan_page_is_under_100_kb_and_reads_top_down(coordinator_client, plan):  # noqa: F811
    assert plan.items.count() == 28
    page = coordinator_client.get(change_url(plan))
    html = page.content.decode()
    print(
        f"\nplan page, 28 items and {plan.reminders.count()} reminders: {len(page.content)} bytes"
    )
    assert len(page.content) < PAGE_BUDGET, len(page.content)
    order = [html.index(marker) for marker in
             ('id="plan-status"', 'id="timeline"', 'id="items"', 'id="reminders"')]  # fmt: skip
    assert order == sorted(order)
    # Reminders are folded per item: one <details> per item with reminders.
    groups = html.count('<details class="rg"')
    assert groups == len({r.item_id for r in plan.reminders.all()})
    assert html.count('class="reminder-row"') == plan.reminders.count()


@pytest.mark.django_db
def test_timeline_has_a_legend_today_and_closed_days_with_holiday_names(
    coordinator_client,  # noqa: F811
    home,  # noqa: F811
):
    # A course over Memorial Day 2026 (Monday 25 May), planned the week before.
    now = dt.datetime(2026, 5, 18, 14, 0, tzinfo=dt.UTC)
    ClosedDate.objects.create(clinic=home.clinic, date=dt.date(2026, 5, 27), reason="Staff day")
    course = make_plan(
        patient=home.patient, provider=home.provider, start_date=dt.date(2026, 5, 20), now=now
    ).plan
    html = coordinator_client.get(change_url(course)).content.decode()
    assert 'id="timeline-legend"' in html and "Dosing" in html
    assert 'title="Memorial Day"' in html
    assert html.count('class="closed') >= 3  # the holiday, the closed date and weekends
    assert html.count(" today") <= 1  # today is marked once, if the timeline spans it


@pytest.mark.django_db
def test_planner_notes_use_names_not_engine_keys(coordinator_client, plan):  # noqa: F811
    assert plan.planning_notes
    html = coordinator_client.get(change_url(plan)).content.decode()
    notes = html[html.index('id="planner-notes"') : html.index('id="items"')]
    assert "Dosing session" in notes
    assert not ENGINE_KEY.search(notes), ENGINE_KEY.search(notes)
    assert "(rule:" not in notes


@pytest.mark.django_db
def test_no_admin_page_of_a_plan_shows_utc_for_a_clinic_outside_it(coordinator_client, plan):  # noqa: F811
    item = plan.items.get(key="dosing-3")
    reminder = plan.reminders.filter(audience="patient").first()
    urls = [
        change_url(plan),
        f"/admin/plans/treatmentplan/{plan.pk}/items/{item.pk}/",
        f"/admin/reminders/reminder/{reminder.pk}/change/",
        "/admin/plans/treatmentplan/",
    ]
    for url in urls:
        page = coordinator_client.get(url)
        assert page.status_code == 200, url
        text = re.sub(r"<[^>]+>", " ", page.content.decode())
        assert not re.search(r"\bUTC\b|\+00:00", text), (url, re.search(r".{40}UTC.{40}", text))


@pytest.mark.django_db
def test_send_now_in_the_patients_quiet_hours_says_when_it_really_goes(
    coordinator_client,  # noqa: F811
    plan,  # noqa: F811
    clock,
):
    from django.contrib.messages import get_messages
    from django.urls import reverse

    # 23:30 in New York: the patient's quiet hours (21:00-08:00) hold a patient's text back.
    clock.move_to(dt.datetime(2026, 3, 3, 4, 30, tzinfo=dt.UTC))
    reminder = plan.reminders.filter(audience="patient", channel="sms", status="scheduled").first()
    url = reverse("admin:plans_treatmentplan_send_now", args=[plan.pk, reminder.pk])
    response = coordinator_client.post(url)
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert "quiet hours" in message and "goes out at Tue 03 Mar 08:00 EST" in message
    assert "within 30 s" not in message


@pytest.mark.django_db
def test_admin_lists_show_staff_their_clinics_clock_with_the_zone_named(
    coordinator_client,  # noqa: F811
    plan,  # noqa: F811
):
    """Django renders datetimes in the active zone: the clinic's for its staff, named."""
    reminder = plan.reminders.filter(audience="patient").order_by("send_at").first()
    from zoneinfo import ZoneInfo

    local = reminder.send_at.astimezone(ZoneInfo(plan.clinic.time_zone))
    for url in ("/admin/reminders/reminder/", "/admin/plans/treatmentplan/", "/admin/"):
        text = re.sub(r"<[^>]+>", " ", coordinator_client.get(url).content.decode())
        assert not re.search(r"\bUTC\b|\+00:00", text), url
    listing = coordinator_client.get("/admin/reminders/reminder/").content.decode()
    assert f"{local:%H:%M} {local:%Z}" in listing
