"""Readiness before a session and the follow-up of a missed one (issue #13), clicked in Debian's
Chromium with a real Celery worker and the file outboxes `make run` uses:

the patient opens the session's link the day before and sends three of the four statements: the
page says it is not confirmed and the clinic inbox has it; with all four ticked the page says the
session is confirmed, and the coordinator's plan page shows it confirmed by the
link. The session then passes without the patient: the coordinator marks it missed from the plan
page, the welfare-call flag shows there and on the provider's dashboard, the provider's alert goes
out through the outbox, and the provider acknowledges the flag with the outcome of the call.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from backend.patients.models import Patient
from backend.plans import readiness
from backend.reminders import links
from backend.reminders.models import Reminder
from backend.safety.models import Flag, PatientMessage
from tests.browser import axe
from tests.browser.conftest import TIMEOUT_MS, wait_for
from tests.browser.test_coordinator_flow import DEMO_PASSWORD


def _accessible(page, what: str) -> None:
    """No serious or critical axe-core (WCAG 2.1 A/AA) violation on the page as it stands."""
    found = axe.blocking(axe.scan(page)["violations"])
    assert not found, f"{what}:\n{axe.describe(found)}"


def _log_in(page, username: str, next_path: str) -> None:
    page.goto(f"/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_path) + "$"))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_readiness_by_link_then_a_missed_session_reaches_a_clinician(
    page, browser, live_server, demo_data, file_outbox, clock, celery_app_clean, celery_worker,
    screenshot,
):  # fmt: skip
    patient = Patient.objects.get(user__username="patient")
    plan = patient.plans.get()
    dose = plan.items.get(key="dosing-1")
    clock.move_to(dose.start - dt.timedelta(hours=20))

    # --- the patient, the day before: four statements ticked, confirmed ----------------------
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(links.patient_item_url(patient, dose.pk))
    statements = page.locator("#readiness-form input[type=checkbox]")
    assert statements.count() == 4
    # Alcohol, and prescribed medicines only as prescribed: never "no sedatives".
    form = page.locator("#readiness-form").inner_text()
    assert "only as my prescriber told me" in form and "or take sedatives" not in form
    _accessible(page, "readiness form")
    # One statement left unticked: not confirmed, said on the page, and a person hears of it.
    for field in readiness.FIELDS[:3]:
        page.check(f"#id_{field}")
    page.click("#readiness-submit")
    assert "new medicine" in page.locator("#readiness-not-confirmed").inner_text()
    assert PatientMessage.objects.get(patient=patient).source == "readiness"
    assert not readiness.is_confirmed(dose)
    _accessible(page, "readiness not confirmed")
    for field in readiness.FIELDS:
        page.check(f"#id_{field}")
    screenshot("readiness-form-375px")
    page.click("#readiness-submit")
    assert "confirmed" in page.locator("#readiness-confirmed").inner_text()
    assert readiness.is_confirmed(dose)
    screenshot("readiness-confirmed-375px")
    page.set_viewport_size({"width": 1400, "height": 1000})

    # --- the coordinator's plan page shows it -------------------------------------------------
    _log_in(page, "coordinator", f"/admin/plans/treatmentplan/{plan.pk}/change/")
    row = page.locator(f'tr.item-row[data-key="{dose.key}"]')
    assert "Ready: confirmed" in row.inner_text() and "by the link" in row.inner_text()

    # --- the session passes without the patient: marked missed from the plan page ------------
    clock.move_to(dose.end + dt.timedelta(minutes=10))
    page.reload()
    page.locator(f'tr.item-row[data-key="{dose.key}"] a.button').click()
    page.wait_for_selector("#missed-form")
    page.click("input[name=missed]")
    page.wait_for_url(re.compile(rf"/plans/treatmentplan/{plan.pk}/change/$"))
    flag = Flag.objects.get(patient=patient, kind=Flag.Kind.MISSED_SESSION)
    assert "Missed session" in page.locator("#open-flags").inner_text()
    # Re-planned to a later time: what the patient confirmed was for the time they missed.
    assert (
        "Ready: confirmed" not in page.locator(f'tr.item-row[data-key="{dose.key}"]').inner_text()
    )
    assert Reminder.objects.filter(plan=plan, message_kind="session_missed").count() == 2
    screenshot("missed-session-plan-page")

    # --- the provider's alert goes out through the outbox --------------------------------------
    from backend.reminders.tasks import dispatch_due

    dispatch_due.delay()
    alert = wait_for(
        lambda: Reminder.objects.filter(flag=flag, status__in=["sent", "failed"]).first(),
        what="the welfare-call alert to be sent",
    )
    assert (alert.status, alert.message_kind) == ("sent", "provider_welfare_call"), alert.last_error

    # --- the provider's dashboard shows the flag until it is acknowledged with a note --------
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1400, "height": 1000}
    )
    context.set_default_timeout(TIMEOUT_MS)
    clinician = context.new_page()
    try:
        _log_in(clinician, plan.provider.user.username, "/provider/")
        flags = clinician.locator("#flags")
        assert str(patient) in flags.inner_text() and "Missed session" in flags.inner_text()
        clinician.click(f'a[href="/provider/flags/{flag.pk}/"]')
        assert "How did the call go?" in clinician.locator("#acknowledge").inner_text()
        clinician.fill("#note", "Called: overslept after a late shift; rebooked, feels OK.")
        clinician.click("text=Acknowledge")
        assert "overslept" in clinician.locator("#acknowledged").inner_text()
        clinician.goto("/provider/")
        assert clinician.locator("#flags").count() == 0
    finally:
        context.close()
    flag.refresh_from_db()
    assert flag.acknowledged_by == plan.provider.user
