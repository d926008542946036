"""Every admin, provider and patient page, scanned by axe-core in Debian's Chromium: no serious
or critical violation of WCAG 2.0/2.1 A and AA (issue #14).

Pages are grouped by who opens them, so the demo data is seeded once per group; each page is its
own subtest. A failing page lists its serious and critical violations (rule, impact, elements)
and then the lesser ones it also has. Every page's full result is written to
test-artifacts/axe/<page>.json.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from django.urls import resolve, reverse

from backend.patients.models import Patient
from backend.plans.models import PlanItem
from backend.reminders import links
from tests.browser.axe import blocking, describe, scan
from tests.browser.conftest import ROOT
from tests.browser.test_coordinator_flow import DEMO_PASSWORD

RESULTS = ROOT / "test-artifacts" / "axe"


def _check(page, name: str) -> None:
    result = scan(page)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"url": page.url, **result}, indent=2))
    serious = blocking(result["violations"])
    lesser = [v for v in result["violations"] if v not in serious]
    assert not serious, (
        f"{name} ({page.url}): axe-core {result['version']} found serious or critical "
        f"WCAG A/AA violations:\n{describe(serious)}\n"
        f"lesser violations on the same page:\n{describe(lesser)}"
    )


def _scan_all(subtests, page, pages: dict[str, Callable[[], object]]) -> None:
    """Opens each page (its callable navigates), then scans it, as one subtest per page."""
    for name, open_page in pages.items():
        with subtests.test(msg=name):
            response = open_page()  # page.goto's response, or None after clicks
            if response is not None:  # the page itself, not an error or a refused link
                assert response.status == (404 if name == "not-found" else 200), page.url
            _check(page, name)


def _log_in(page, username: str, landing: str) -> None:
    page.goto(f"/admin/login/?next={landing}")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(re.escape(landing) + "$"))


def _demo_patient() -> Patient:
    return Patient.objects.get(user__username="patient")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_coordinator_admin_pages(page, demo_data, subtests):
    plan = _demo_patient().plans.get()
    item = plan.items.order_by("start").first()
    plans = "/admin/plans/treatmentplan"

    def new_plan_with_preview():
        page.goto(f"{plans}/add/")
        page.select_option("#id_patient", str(plan.patient_id))
        page.select_option("#id_protocol", str(plan.protocol_id))
        page.fill("#id_start_date", plan.start_date.isoformat())
        page.select_option("#id_provider", str(plan.provider_id))
        page.click("#preview-button")
        page.wait_for_selector("#preview-items")

    _log_in(page, "coordinator", "/admin/")
    _scan_all(
        subtests,
        page,
        {
            "admin-index": lambda: page.goto("/admin/"),
            "patient-changelist": lambda: page.goto("/admin/patients/patient/"),
            "patient-add": lambda: page.goto("/admin/patients/patient/add/"),
            "plan-changelist": lambda: page.goto(f"{plans}/"),
            "new-plan": lambda: page.goto(f"{plans}/add/"),  # redirects to the New plan screen
            "new-plan-preview": new_plan_with_preview,
            "plan-change": lambda: page.goto(f"{plans}/{plan.pk}/change/"),
            "plan-item": lambda: page.goto(f"{plans}/{plan.pk}/items/{item.pk}/"),
        },
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_provider_pages(page, demo_data, subtests):
    patient = _demo_patient()
    _log_in(page, "provider", "/provider/")
    _scan_all(
        subtests,
        page,
        {
            "provider-dashboard": lambda: page.goto("/provider/"),
            "provider-patient": lambda: page.goto(f"/provider/patients/{patient.pk}/"),
        },
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_patient_and_public_pages(page, live_server, settings, demo_data, subtests):
    settings.PUBLIC_BASE_URL = live_server.url
    patient = _demo_patient()
    assessment = patient.plans.get().items.filter(kind=PlanItem.Kind.ASSESSMENT).order_by("start")
    schedule = links.patient_schedule_url(patient)
    token = resolve(urlsplit(schedule).path).kwargs["token"]  # the patient's link token
    # Built here, not with links.unsubscribe_url: its cache may hold an earlier server's address.
    unsubscribe = links.make_token("unsubscribe", {"p": patient.pk, "c": "email"})

    def questionnaire_with_errors():
        page.goto(links.patient_item_url(patient, assessment[0].pk))
        page.click("button[type=submit]")  # nothing answered: the page names what is missing
        page.wait_for_selector("#form-error")

    _scan_all(
        subtests,
        page,
        {
            "admin-login": lambda: page.goto("/admin/login/"),
            "patient-schedule": lambda: page.goto(schedule),
            "patient-preferences": lambda: page.goto(reverse("patient-preferences", args=[token])),
            "patient-questionnaire": lambda: page.goto(
                links.patient_item_url(patient, assessment[0].pk)
            ),
            "patient-questionnaire-errors": questionnaire_with_errors,
            "patient-journal": lambda: page.goto(links.patient_journal_url(patient)),
            "unsubscribe-confirm": lambda: page.goto(reverse("unsubscribe", args=[unsubscribe])),
            "not-found": lambda: page.goto("/no-such-page/"),
        },
    )
