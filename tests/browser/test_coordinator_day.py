"""The rest of a coordinator's day, clicked in Debian's Chromium with a real Celery worker and the
file outboxes `make run` uses (issue #14's proof; the first steps are in
test_coordinator_flow.py):

a second plan for a patient who has one under way (the warning, and an explicit choice to
replace it), sessions at a chosen time of day, a move that sends one notice, a past session
marked missed, pause, resume, and a cancellation that sends one notice for every session.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from backend.clinics.models import Coordinator, Provider
from backend.plans.calendar_notices import NOTICE_DELAY
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder
from tests.browser.test_coordinator_flow import DEMO_PASSWORD, later_working_day
from tests.factories import IV_INDUCTION, next_weekday, protocol


def _notice_mails(outbox: Path) -> list[str]:
    mails = []
    for path in sorted((outbox / "email").glob("*.log")):
        for mail in path.read_text(errors="replace").split("-" * 79):
            if re.search(r"^Subject: .*(moved|changed|cancelled)", mail, re.MULTILINE):
                mails.append(mail)
    return mails


def _dispatch_until_sent(plan: TreatmentPlan, kind: str) -> Reminder:
    from backend.reminders.tasks import dispatch_due

    dispatch_due.delay()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sent = Reminder.objects.filter(plan=plan, message_kind=kind, status="sent").first()
        if sent:
            return sent
        time.sleep(0.2)
    raise AssertionError(f"no {kind} notice was sent")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_coordinators_day_replace_time_of_day_move_missed_pause_resume_cancel(
    page, demo_data, file_outbox, clock, celery_app_clean, celery_worker, screenshot
):
    tmp_path = file_outbox
    clinic = Coordinator.objects.get(user__username="coordinator").clinic
    zone = ZoneInfo(clinic.time_zone)
    old = TreatmentPlan.objects.get(patient__user__username="patient", status="active")
    patient = old.patient
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))

    page.goto("/admin/login/")
    page.fill("#id_username", "coordinator")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))

    # --- a second plan, at 14:00, for a patient whose plan is under way ------------------------
    page.goto("/admin/plans/treatmentplan/new/")
    page.select_option("#id_patient", str(patient.pk))
    page.select_option("#id_protocol", str(protocol(IV_INDUCTION).pk))
    page.fill("#id_start_date", next_weekday(clinic, 3).isoformat())
    page.select_option("#id_provider", str(Provider.objects.get(user__username="provider").pk))
    page.fill("#id_session_time", "14:00")
    page.click("#preview-button")
    page.wait_for_selector("#preview-items")
    assert "already has" in page.locator("#plan-warnings").inner_text()
    page.click("#confirm-button")  # without choosing what happens to the plan under way
    assert "runs alongside" in page.locator(".errorlist").first.inner_text()
    # Replacing it frees its sessions' times for this one; the preview shows the result.
    page.select_option("#id_existing_plans", "replace")
    page.click("#preview-button")
    page.wait_for_selector("#preview-items")
    starts = page.locator("#preview-items tbody td:nth-child(4)").all_inner_texts()
    kinds = page.locator("#preview-items tbody td:nth-child(3)").all_inner_texts()
    # At 14:00, or the first free time after it where the patient's own integration session
    # already holds 14:00 that day.
    times = [s.split()[-2] for s, k in zip(starts, kinds, strict=True) if k == "dosing"]
    assert all("14:00" <= t <= "16:00" for t in times) and times.count("14:00") >= 4, times
    page.click("#confirm-button")
    page.wait_for_url(re.compile(r"/plans/treatmentplan/\d+/change/$"))
    plan = TreatmentPlan.objects.exclude(pk=old.pk).get(patient=patient, status="active")
    old.refresh_from_db()
    assert old.status == "cancelled"
    dosing = plan.items.filter(kind="dosing").order_by("start")
    assert [d.start.astimezone(zone).strftime("%H:%M") for d in dosing] == times
    screenshot("day-1-replaced-at-14h")

    # --- move dosing session 3: one notice, in the outbox --------------------------------------
    third = plan.items.get(key="dosing-3")
    page.goto(f"/admin/plans/treatmentplan/{plan.pk}/items/{third.pk}/")
    new_day = later_working_day(third)
    page.fill("#id_new_start", f"{new_day:%Y-%m-%d}T15:00")
    page.click("input[name=reschedule]")
    page.wait_for_url(re.compile(rf"/plans/treatmentplan/{plan.pk}/change/$"))
    moved = Reminder.objects.filter(plan=plan, rule="staff change", status="scheduled")
    assert moved.count() == 1
    clock.move_to(dt.datetime.now(dt.UTC) + NOTICE_DELAY + dt.timedelta(seconds=5))
    _dispatch_until_sent(plan, "session_changed")
    notices = _notice_mails(tmp_path)
    assert len([m for m in notices if "moved" in m or "changed" in m]) == 1, notices

    # --- the first session has passed: mark it missed ------------------------------------------
    first = plan.items.get(key="dosing-1")
    missed_at = first.start
    clock.move_to(first.end + dt.timedelta(minutes=10))
    page.goto(f"/admin/plans/treatmentplan/{plan.pk}/items/{first.pk}/")
    page.click("input[name=missed]")
    page.wait_for_url(re.compile(rf"/plans/treatmentplan/{plan.pk}/change/$"))
    # The form re-plans by default: the dose is still owed, so it moves to the next free time,
    # never earlier than the miss, and its notes say it was missed.
    assert "Dosing session 1 marked missed" in page.locator(".messagelist").inner_text()
    first.refresh_from_db()
    assert first.status == PlanItem.Status.SCHEDULED and first.start > missed_at
    assert first.outcome_notes.startswith("Missed on ")

    # --- pause, resume ---------------------------------------------------------------------------
    assert page.locator("#plan-resume").count() == 0
    page.click("#plan-pause")
    page.wait_for_selector("#plan-resume")
    assert page.locator("#plan-pause").count() == 0
    plan.refresh_from_db()
    assert plan.status == "paused"
    page.click("#plan-resume")
    page.wait_for_selector("#plan-pause")
    plan.refresh_from_db()
    assert plan.status == "active"
    screenshot("day-2-missed-paused-resumed")

    # --- cancel: one notice for every future session -------------------------------------------
    future = plan.items.filter(
        kind__in=["dosing", "integration"], status="scheduled", start__gt=dt.datetime.now(dt.UTC)
    ).count()
    assert future > 1
    before = len(_notice_mails(tmp_path))  # the old plan's cancellation went out earlier
    with page.expect_navigation():
        page.click("#plan-cancel")
    assert dialogs[-1] == "Cancel this plan and all its pending reminders?"
    clock.move_to(dt.datetime.now(dt.UTC) + NOTICE_DELAY + dt.timedelta(seconds=5))
    _dispatch_until_sent(plan, "session_cancelled")
    (notice,) = _notice_mails(tmp_path)[before:]  # one message for the whole cancellation
    assert f"Subject: {future} of your appointments are cancelled" in notice
    screenshot("day-3-cancelled")
