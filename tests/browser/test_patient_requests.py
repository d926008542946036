"""A patient asks to move a session and the coordinator answers it, in Debian's Chromium (#15).

The demo patient signs in with the optional login: they type their email address, the link
arrives in the file outbox `make run` uses (``email/*.log``), and opening it shows their schedule.
At a phone's width they switch the page to Español (every word changes, names aside), press
"Pedir cambio" on a session, tick two weekdays, write a note and send it. The coordinator logs
into the admin, finds the request in the session requests list, follows it to the session's page
(which shows the preferred days) and moves the session, which answers the request.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from backend.patients.models import Patient
from backend.plans.models import SessionRequest
from backend.safety.models import PatientMessage
from tests.browser import axe
from tests.browser.conftest import wait_for
from tests.browser.test_coordinator_flow import DEMO_PASSWORD
from tests.browser.test_patient_languages import (
    BOTH_LANGUAGES,
    PHONE,
    _no_sideways_scroll,
    _proper_nouns,
    _words,
)

LINK = re.compile(r"http://\S+/patient/login/[^/\s]+/")


def _accessible(page, what: str) -> None:
    found = axe.blocking(axe.scan(page)["violations"])
    assert not found, f"{what}:\n{axe.describe(found)}"


def _login_link(outbox) -> str:
    def find():
        for mail in sorted((outbox / "email").glob("*.log")):
            found = LINK.search(mail.read_text())
            if found:
                return found.group(0)
        return None

    return wait_for(find, seconds=15, what="the login email in the outbox")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_patient_asks_to_move_a_session_in_spanish_and_the_coordinator_answers_it(
    page, live_server, demo_data, file_outbox, clock, screenshot
):
    patient = Patient.objects.select_related("clinic").get(user__username="patient")
    plan = patient.plans.get()
    session = plan.items.get(key="dosing-3")

    # --- the patient signs in by email, at a phone's width -----------------------------------
    page.set_viewport_size(PHONE)
    page.goto("/patient/login/")
    _accessible(page, "login form")
    page.get_by_label("Your email address").fill(patient.email)
    page.get_by_role("button", name="Email me a link").click()
    page.wait_for_selector("#login-sent")
    link = _login_link(file_outbox)
    page.goto(link)
    page.get_by_role("button", name="Open my schedule").click()
    page.wait_for_selector("#schedule")
    assert page.get_attribute("html", "lang") == "en"

    # --- Español: every word on the schedule changes --------------------------------------------
    english = _words(page)
    page.get_by_role("button", name="Español").click()
    page.wait_for_selector("html[lang=es]")
    same = english & _words(page) - _proper_nouns(patient) - BOTH_LANGUAGES
    assert not same, f"still in English after the switch: {sorted(same)}"
    _no_sideways_scroll(page, "schedule (es)")

    # --- "Pedir cambio" on the third dose: two weekdays and a note ------------------------------
    page.click(f"#move-{session.pk}")
    page.wait_for_selector("#request-form")
    assert page.get_attribute("html", "lang") == "es"
    assert "Pedir cambio de una sesión" in page.locator("h1").inner_text()
    _no_sideways_scroll(page, "move page (es)")
    _accessible(page, "move page (es)")
    page.get_by_label("martes").check()
    page.get_by_label("jueves").check()
    page.locator("#id_note").fill("Mi transporte no puede ese día.")
    screenshot("session-request-move-375px-es")
    page.get_by_role("button", name="Enviar mi solicitud").click()
    done = page.locator("#request-done").inner_text()
    assert "su clínica recibió su solicitud" in done and "martes, jueves" in done
    _accessible(page, "request sent (es)")
    request = SessionRequest.objects.get()
    assert (request.item, request.kind, request.preferred_weekdays) == (
        session,
        "reschedule",
        [1, 3],
    )
    assert "Mi transporte no puede ese día." in PatientMessage.objects.get(item=session).body

    # --- the coordinator sees the request and moves the session --------------------------------
    page.context.clear_cookies()
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto("/admin/login/?next=/admin/plans/sessionrequest/")
    page.fill("#id_username", "coordinator")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/plans/sessionrequest/$"))
    row = page.locator("#result_list tbody tr").first
    text = row.inner_text()
    assert str(patient) in text and "Tuesday, Thursday" in text
    assert "Mi transporte no puede ese día." in text
    screenshot("session-requests-admin-list")
    row.get_by_role("link", name="Reschedule").click()
    page.wait_for_url(re.compile(rf"/plans/treatmentplan/{plan.pk}/items/{session.pk}/$"))
    assert "Preferred days: Tuesday, Thursday" in page.locator("body").inner_text()
    zone = ZoneInfo(plan.clinic.time_zone)
    new_start = session.start.astimezone(zone) + dt.timedelta(days=1)
    page.fill("input[name=new_start]", new_start.strftime("%Y-%m-%dT%H:%M"))
    page.click("input[name=reschedule], button[name=reschedule]")
    page.wait_for_url(re.compile(rf"/plans/treatmentplan/{plan.pk}/change/$"))
    request.refresh_from_db()
    assert request.status == "answered" and request.answered_by.username == "coordinator"
    page.goto("/admin/plans/sessionrequest/")  # open requests only: none left
    assert str(patient) not in page.locator("#content").inner_text()
