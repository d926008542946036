"""The provider dashboard (issue #15) clicked in Debian's Chromium on the demo clinic: the provider
logs in, finds tomorrow's check-in under tomorrow's heading, opens the patient's course from it
and comes back, then records this morning's dosing session as done with its button, and the row
says so. axe-core finds no serious or critical WCAG A/AA violation on the page, and at a phone's
375 px nothing scrolls sideways.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from backend.patients.models import Patient
from backend.plans import services
from backend.plans.models import PlanItem
from tests.browser.test_patient_languages import PHONE, _no_sideways_scroll
from tests.browser.test_readiness_and_missed import _accessible, _log_in


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_provider_reads_the_fortnight_opens_a_course_and_records_a_session(
    page, demo_data, clock, screenshot
):
    patient = Patient.objects.get(user__username="patient")
    plan = patient.plans.get()
    zone = ZoneInfo(plan.clinic.time_zone)
    dose = plan.items.get(key="dosing-1")
    # The coordinator brought the first check-in forward, to 14:00 the day after the first dose.
    tomorrow = dose.start.astimezone(zone).date() + dt.timedelta(days=1)
    services.item_reschedule(
        item=plan.items.get(key="check_in-1"),
        new_start=dt.datetime.combine(tomorrow, dt.time(14), tzinfo=zone),
    )
    check_in = plan.items.get(key="check_in-1")
    clock.move_to(dose.end + dt.timedelta(hours=2))  # the dose's day, the session over

    _log_in(page, "provider", "/provider/")

    # Tomorrow's heading, and the check-in under it.
    day = page.locator(f"#day-{tomorrow:%Y-%m-%d}")
    assert day.locator("h3").inner_text().startswith("Tomorrow, ")
    row = day.locator(f"#item-{check_in.pk}")
    assert "Check-in 1" in row.inner_text() and "Check-in" in row.locator(".tag").inner_text()
    assert "14:00 to 14:30 EST" in row.inner_text()
    _accessible(page, "provider dashboard")

    # The patient's course, from the row; then back.
    row.get_by_role("link", name=str(patient)).click()
    page.wait_for_url(re.compile(rf"/provider/patients/{patient.pk}/#course-item-{check_in.pk}$"))
    course_row = page.locator(f"#course-item-{check_in.pk}")
    assert "Check-in 1" in course_row.inner_text() and "Upcoming" in course_row.inner_text()
    assert page.locator("#course tbody tr").count() == plan.items.count()
    _accessible(page, "the patient's course")
    page.go_back()
    page.wait_for_url(re.compile(r"/provider/$"))

    # This morning's dose, over and not yet recorded: Mark done.
    dose_row = page.locator(f"#item-{dose.pk}")
    assert dose_row.get_attribute("data-state") == "overdue"
    screenshot("provider-dashboard")
    with page.expect_navigation():
        dose_row.get_by_role("button", name=re.compile(r"^Mark done")).click()
    assert page.url.endswith(f"/provider/#item-{dose.pk}")
    dose_row = page.locator(f"#item-{dose.pk}")
    assert dose_row.get_attribute("data-state") == "done"
    assert "Done" in dose_row.locator(".state").inner_text()
    assert dose_row.get_by_role("button").count() == 0
    assert "Dosing session 1 (Avery Quinlan) marked done." in page.locator("#notices").inner_text()
    dose.refresh_from_db()
    assert dose.status == PlanItem.Status.COMPLETED
    _accessible(page, "provider dashboard after marking a session done")

    page.set_viewport_size(PHONE)
    page.reload()
    _no_sideways_scroll(page, "provider dashboard")
    screenshot("provider-dashboard-375px")
    page.goto(f"/provider/patients/{patient.pk}/")
    _no_sideways_scroll(page, "the patient's course")
