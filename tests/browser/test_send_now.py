"""Send now and Resend on the plan page, clicked in a real browser (the buttons sit in the
reminder rows of the change form and submit a form outside it)."""

from __future__ import annotations

import re

import pytest

from backend.clinics.models import Coordinator
from backend.plans.models import TreatmentPlan
from backend.reminders.models import Reminder
from tests.browser.test_coordinator_flow import DEMO_PASSWORD


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_send_now_in_the_reminder_row_makes_the_reminder_due(page, demo_data, screenshot):
    clinic = Coordinator.objects.get(user__username="coordinator").clinic
    # Avery, in New York: 10:00 there on the suite's clock, outside her quiet hours.
    plan = TreatmentPlan.objects.get(
        clinic=clinic, status="active", patient__user__username="patient"
    )
    reminder = plan.reminders.filter(status="scheduled").order_by("-send_at").first()
    before = reminder.send_at

    page.goto("/admin/login/")
    page.fill("#id_username", "coordinator")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    page.goto(f"/admin/plans/treatmentplan/{plan.pk}/change/")

    button = page.locator(f'button[formaction$="/reminders/{reminder.pk}/send-now/"]')
    # Reminders are folded under their item: open the group first, as a coordinator would.
    group = page.locator("details.rg", has=button)
    assert not button.is_visible()
    group.locator("summary").click()
    assert button.inner_text() == "Send now"
    button.click()
    page.wait_for_url(re.compile(rf"/plans/treatmentplan/{plan.pk}/change/$"))
    screenshot("send-now-clicked")

    assert "goes out with the next dispatch" in page.locator(".messagelist").inner_text()
    reminder = Reminder.objects.get(pk=reminder.pk)
    assert reminder.status == "scheduled" and reminder.send_at < before
