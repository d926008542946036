"""The demo coordinator's day, in a real browser: a new patient, a plan from the IV induction
protocol (preview, then confirm), a dosing session rescheduled, the plan cancelled.

Every step is checked twice: on the page the coordinator sees, and in the database.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from backend.clinics.models import Coordinator, Provider
from backend.patients.models import Patient
from backend.plans.engine import clinic_calendar
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder
from tests.factories import IV_INDUCTION, next_weekday, protocol

DEMO_PASSWORD = "aftercare-demo"


def pending_times(item: PlanItem) -> dict[str, dt.datetime]:
    return {
        r.key: r.send_at
        for r in Reminder.objects.filter(item=item, status__in=Reminder.PENDING).order_by("key")
    }


def later_working_day(item: PlanItem) -> dt.date:
    """The next Monday-to-Friday after the item's day on which its clinic is open."""
    calendar = clinic_calendar(item.plan.clinic)
    day = item.local_date + dt.timedelta(days=1)
    while day.weekday() >= 5 or not calendar.is_working_day(day):
        day += dt.timedelta(days=1)
    return day


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_coordinator_builds_reschedules_and_cancels_a_plan(page, demo_data, screenshot):
    clinic = Coordinator.objects.select_related("clinic").get(user__username="coordinator").clinic
    zone = ZoneInfo(clinic.time_zone)
    dialogs: list[str] = []

    def accept(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)

    # --- log in -------------------------------------------------------------------------------
    page.goto("/admin/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", "coordinator")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    assert page.locator("#user-tools").inner_text().upper().startswith("WELCOME")

    # --- Patients -> Add ----------------------------------------------------------------------
    page.click('a.addlink[href$="/patients/patient/add/"]')
    page.wait_for_url(re.compile(r"/patients/patient/add/$"))
    page.fill("#id_first_name", "Indigo")
    page.fill("#id_last_name", "Brightwater")
    page.fill("#id_date_of_birth", "1979-03-14")
    page.fill("#id_email", "indigo.brightwater@example.com")
    page.fill("#id_mobile", "+12025550199")
    page.select_option("#id_time_zone", "America/New_York")  # a select, common zones first
    assert page.locator('input[type=checkbox][name="preferred_weekdays"]').count() == 7
    page.select_option("#id_consent_method", "written")
    page.check("#id_email_consent")
    page.check("#id_sms_consent")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r"/patients/patient/$"))
    assert "Indigo Brightwater" in page.locator(".messagelist").inner_text()
    patient = Patient.objects.get(last_name="Brightwater")
    assert patient.clinic == clinic and str(patient.mobile) == "+12025550199"
    assert patient.time_zone == "America/New_York" and patient.preferred_weekdays == []
    assert patient.email_consent and patient.sms_consent
    # Stamped by the patient service, not typed: when and how.
    assert patient.email_consent_method == patient.sms_consent_method == "written"
    assert patient.email_consent_at is not None and patient.sms_consent_at is not None

    # --- Treatment plans -> Add: the New plan page, preview, confirm -----------------------------
    page.goto("/admin/")
    page.click('a.addlink[href$="/plans/treatmentplan/add/"]')
    page.wait_for_url(re.compile(r"/plans/treatmentplan/new/$"))
    iv = protocol(IV_INDUCTION)
    prescriber = Provider.objects.get(user__username="provider")
    start = next_weekday(clinic, 3)
    page.select_option("#id_patient", str(patient.pk))
    page.select_option("#id_protocol", str(iv.pk))
    page.fill("#id_start_date", start.isoformat())
    page.select_option("#id_provider", str(prescriber.pk))
    page.click("#preview-button")
    page.wait_for_selector("#preview-items")
    item_rows = page.locator("#preview-items tbody tr")
    assert item_rows.count() > 0
    kinds = page.locator("#preview-items tbody td:nth-child(3)").all_inner_texts()
    assert kinds.count("dosing") == 6  # the protocol's six dosing sessions
    assert page.locator("#preview-reminders tbody tr").count() > 0
    assert "nothing is saved yet" in page.content()
    assert not TreatmentPlan.objects.filter(patient=patient).exists()

    # Change the date after the preview: Confirm shows the new preview instead of creating a
    # plan nobody has seen; the next Confirm creates that one.
    first_shown = page.locator("#preview-items tbody td:nth-child(4)").first.inner_text()
    start = next_weekday(clinic, 10)
    page.fill("#id_start_date", start.isoformat())
    page.click("#confirm-button")
    page.wait_for_selector(".messagelist .warning")
    assert "confirm again" in page.locator(".messagelist").inner_text()
    assert not TreatmentPlan.objects.filter(patient=patient).exists()
    assert page.locator("#preview-items tbody td:nth-child(4)").first.inner_text() != first_shown

    page.click("#confirm-button")
    page.wait_for_url(re.compile(r"/plans/treatmentplan/\d+/change/$"))
    plan = TreatmentPlan.objects.get(patient=patient)
    assert page.url.endswith(f"/plans/treatmentplan/{plan.pk}/change/")
    assert (plan.protocol, plan.provider, plan.start_date) == (iv, prescriber, start)
    assert "Plan created with" in page.locator(".messagelist .success").inner_text()
    assert page.locator("#timeline").is_visible()
    screenshot("1-plan-created")

    # --- reschedule the third dosing session ----------------------------------------------------
    third = plan.items.get(key="dosing-3")
    before = pending_times(third)
    assert before, "the third dosing session has pending reminders"
    title_cell = page.locator("td", has_text=re.compile(r"^\s*Dosing session 3\s*$"))
    row = page.locator("#items tr", has=title_cell)
    row.get_by_role("link", name="Reschedule / outcome").click()
    page.wait_for_url(re.compile(rf"/plans/treatmentplan/{plan.pk}/items/{third.pk}/$"))

    # The box shows the session's own clinic time: submitting it as it stands moves nothing.
    shown = page.input_value("#id_new_start")
    assert shown == third.start.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    page.click("input[name=reschedule]")
    page.wait_for_url(re.compile(rf"/plans/treatmentplan/{plan.pk}/change/$"))
    assert PlanItem.objects.get(pk=third.pk).start == third.start
    row.get_by_role("link", name="Reschedule / outcome").click()
    page.wait_for_url(re.compile(rf"/plans/treatmentplan/{plan.pk}/items/{third.pk}/$"))

    new_day = later_working_day(third)
    new_start = dt.datetime.combine(new_day, dt.time(10, 0), tzinfo=zone)
    page.fill("#id_new_start", f"{new_day:%Y-%m-%d}T10:00")
    page.click("input[name=reschedule]")
    page.wait_for_url(re.compile(rf"/plans/treatmentplan/{plan.pk}/change/$"))

    message = page.locator(".messagelist .success").inner_text()
    assert message.startswith("Rescheduled: moved Dosing session 3 to ")
    assert f"{new_start:%a %d %b %H:%M %Z}" in message and "UTC" not in message  # clinic time
    assert re.search(r"\b\d+ reminders? moved with them", message), message
    third.refresh_from_db()
    assert third.start == new_start
    after = pending_times(third)
    # Every reminder of the session moved with it (a later start may also make room for one
    # more, e.g. the 2-hour SMS that quiet hours ruled out before an 08:00 session).
    assert before.keys() <= after.keys()
    assert all(after[key] != before[key] for key in before), (before, after)
    # The page shows the new start and the reminders' new send times (patient's time).
    starts = page.locator("td.item-when").all_inner_texts()
    assert new_start.strftime("%a %d %b %Y %H:%M %Z") in starts  # clinic time, zone named
    reminders_table = page.locator("#reminders")  # grouped by item, folded
    patient_zone = ZoneInfo(patient.time_zone)
    shown_times = reminders_table.text_content()
    for send_at in after.values():
        assert send_at.astimezone(patient_zone).strftime("%a %d %b %H:%M") in shown_times
    screenshot("2-plan-rescheduled")

    # --- cancel the plan -------------------------------------------------------------------------
    pending = (
        Reminder.objects.filter(plan=plan, status__in=Reminder.PENDING)
        .exclude(rule="staff change")  # the notice of the reschedule still goes out
        .count()
    )
    assert pending > 0
    with page.expect_navigation():
        page.click("#plan-cancel")
    assert dialogs == ["Cancel this plan and all its pending reminders?"]
    plan.refresh_from_db()
    assert plan.status == TreatmentPlan.Status.CANCELLED
    # One notice is left to go out: the cancellation of every future session (the notice of the
    # reschedule, not yet sent, merged into it).
    notices = Reminder.objects.filter(plan=plan, status__in=Reminder.PENDING)
    assert list(notices.values_list("message_kind", flat=True)) == ["session_cancelled"]
    by_cancel = Reminder.objects.filter(
        plan=plan, status="cancelled", status_reason="plan cancelled"
    )
    assert by_cancel.count() == pending
    assert not plan.items.filter(status=PlanItem.Status.SCHEDULED).exists()
    cancelled = Reminder.objects.filter(plan=plan, status="cancelled").count()

    message = page.locator(".messagelist").inner_text()
    assert message.startswith("Plan cancelled: ")
    assert f"{pending} pending reminders cancelled" in message
    timeline = page.locator("h2", has_text="Timeline").inner_text()
    assert re.search(rf"reminders .*\b{cancelled} cancelled\b", timeline), timeline
    statuses = [
        text.split(":")[0].strip()
        for text in reminders_table.locator("tr.reminder-row td:nth-child(4)").all_text_contents()
    ]
    assert statuses.count("Cancelled") == cancelled
    assert statuses.count("Scheduled") == notices.count()
    assert page.locator("#items a.button").count() == 0  # nothing left to reschedule
    screenshot("3-plan-cancelled")
