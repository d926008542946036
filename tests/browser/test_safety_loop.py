"""The safety loop end to end, as the people in it do it, in Debian's Chromium with a real Celery
worker on the real broker and the file outboxes `make run` uses:

a patient opens the questionnaire link from the email in the outbox and answers PHQ-9 with
item 9 = "Several days"; the crisis lines show on the same page; one dispatch tick later the
provider's urgent email and text are in the outbox and the dashboard shows the flag; nobody
acknowledges for 31 minutes, so the backup contact is alerted; the provider acknowledges it with
a note, and the flag leaves the dashboard.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from backend.clinics.models import Clinic
from backend.measures import services as measures
from backend.measures.models import QuestionnaireResponse
from backend.patients.models import Patient
from backend.plans.models import PlanItem
from backend.reminders.models import Reminder
from backend.reminders.services import reminder_send_now
from backend.safety.models import Flag
from tests.browser.conftest import wait_for
from tests.browser.test_coordinator_flow import DEMO_PASSWORD

ITEM_LINK = re.compile(r"https?://[^\s\"<>]+/p/[^/\s\"<>]+/items/\d+/")


def _emails(outbox: Path) -> list[str]:
    """Every message the file backend wrote, with quoted-printable soft breaks undone."""
    texts = []
    for path in sorted((outbox / "email").glob("*.log")):
        raw = path.read_text(errors="replace").replace("=\n", "").replace("=3D", "=")
        texts.extend(raw.split("-" * 79))
    return texts


def _texts(outbox: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((outbox / "sms").glob("*.json"))]


def _dispatch_and_wait(kind: str, recipients: int):
    from backend.reminders.tasks import dispatch_due

    dispatch_due.delay()
    return wait_for(
        lambda: Reminder.objects.filter(message_kind=kind, status="sent").count() >= recipients * 2,
        what=f"{kind} alerts to {recipients} people by email and SMS",
    )


def _answer(page, instrument: str, number: int, value: int):
    page.check(f'input[name="{instrument}-q{number}"][value="{value}"]')


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_urgent_answer_reaches_a_clinician_and_escalates_until_acknowledged(
    page, demo_data, file_outbox, clock, celery_app_clean, celery_worker, screenshot
):
    tmp_path = file_outbox
    patient = Patient.objects.get(user__username="patient")
    clinic = Clinic.objects.select_related("on_call_contact__user", "backup_contact__user").get(
        pk=patient.clinic_id
    )
    provider, backup = clinic.on_call_contact, clinic.backup_contact
    plan = patient.plans.get()
    baseline, midcourse = plan.items.filter(kind=PlanItem.Kind.ASSESSMENT).order_by("start")[:2]

    # A baseline answered a fortnight ago, so the chart has a course to show.
    fortnight_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=14)
    severe = {
        i.code: {
            f"q{q.number}": (2 if q.scored and q.number != 9 else 0) for q in i.questions("en")
        }
        for i in measures.instruments_for(baseline)
    }
    measures.questionnaires_submit(
        patient=patient, item=baseline, answers=severe, language="en", now=fortnight_ago
    )

    # --- the prompt goes out through the outbox; the patient opens the link from the email ---
    prompt = Reminder.objects.get(
        item=midcourse, message_kind="assessment_prompt", channel="email", repeat_index=0
    )
    reminder_send_now(reminder=prompt, now=dt.datetime.now(dt.UTC))
    from backend.reminders.tasks import dispatch_due

    dispatch_due.delay()
    # Other due messages (what to expect, the evening before) may reach the outbox first: the
    # patient opens the one that leads to this questionnaire.
    wanted = f"/items/{midcourse.pk}/"
    link = wait_for(
        lambda: next(
            (
                m.group(0)
                for e in _emails(tmp_path)
                for m in ITEM_LINK.finditer(e)
                if m.group(0).endswith(wanted)
            ),
            None,
        ),
        what="the questionnaire email in the outbox",
    )

    page.set_viewport_size({"width": 375, "height": 812})
    page.goto(link)
    assert page.locator("h2", has_text="PHQ-9").count() == 1
    screenshot("questionnaire-375px")
    page.set_viewport_size({"width": 1400, "height": 1000})
    screenshot("questionnaire-desktop")

    # A first try with item 9 left out keeps what was chosen and names the missing question.
    for number in range(1, 9):
        _answer(page, "phq9", number, 1)
    page.click("button[type=submit]")
    assert page.locator("#form-error").is_visible()
    assert page.locator("#phq9-q9-error").is_visible()
    assert page.locator('input[name="phq9-q1"][value="1"]').is_checked()
    assert QuestionnaireResponse.objects.filter(item=midcourse).count() == 0

    _answer(page, "phq9", 9, 1)  # "Several days"
    _answer(page, "phq9", 10, 1)  # difficulty, not scored
    for number in range(1, 9):
        _answer(page, "gad7", number, 1)
    page.click("button[type=submit]")
    crisis = page.locator("#crisis")
    crisis.wait_for()
    assert "988" in crisis.inner_text() and "911" in crisis.inner_text()
    screenshot("questionnaire-crisis")
    flag = Flag.objects.get(patient=patient, acknowledged_at__isnull=True)
    assert flag.kind == "urgent"

    # --- one dispatch tick: the provider's email and text are in the outbox -------------------
    _dispatch_and_wait("provider_urgent_flag", recipients=1)  # on-call is the plan's provider
    assert any(
        provider.user.email in e and "URGENT" in e and f"/provider/flags/{flag.pk}/" in e
        for e in _emails(tmp_path)
    )
    assert any(
        t["to"] == provider.mobile.as_e164 and "URGENT" in t["body"] for t in _texts(tmp_path)
    )
    assert not any(t["to"] == backup.mobile.as_e164 for t in _texts(tmp_path))

    # --- the provider's dashboard shows it ----------------------------------------------------
    page.goto("/admin/login/?next=/provider/")
    page.fill("#id_username", provider.user.username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/provider/$"))
    assert str(patient) in page.locator("#flags").inner_text()

    # --- nobody acknowledges in time: the backup contact is alerted ---------------------------
    clock.move_to(flag.backup_due_at + dt.timedelta(minutes=1))
    _dispatch_and_wait("provider_urgent_flag_backup", recipients=1)
    assert any(t["to"] == backup.mobile.as_e164 and "URGENT" in t["body"] for t in _texts(tmp_path))
    assert any(backup.user.email in e and "not yet acknowledged" in e for e in _emails(tmp_path))

    # --- the provider acknowledges it ---------------------------------------------------------
    page.reload()
    page.click(f'a[href="/provider/flags/{flag.pk}/"]')
    page.click("text=Acknowledge")  # without a note: refused, with the reason
    assert "Say what you did" in page.locator("#note-error").inner_text()
    page.fill("#note", "Called the patient; safety plan reviewed; seen tomorrow.")
    page.click("text=Acknowledge")
    assert "Called the patient" in page.locator("#acknowledged").inner_text()
    flag.refresh_from_db()
    assert flag.acknowledged_by == provider.user
    page.goto("/provider/")
    assert page.locator("#flags").count() == 0

    page.goto(f"/provider/patients/{patient.pk}/")
    assert page.locator("#chart svg").count() == 1
    assert "Acknowledged by" in page.locator("#flag-list").inner_text()
    screenshot("provider-patient-chart")
