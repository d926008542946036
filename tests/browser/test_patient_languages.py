"""A patient's pages in their language, in Debian's Chromium (issue #15).

The demo patient opens their schedule from their link, clicks the switch to Español, and every
word on the page changes (names, numbers and the clinic's name aside). The choice holds as they
go through their pages; on each, in Spanish and then in English, axe-core finds no serious or
critical WCAG A/AA violation, and at a phone's 375 px nothing scrolls sideways.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.urls import resolve, reverse

from backend.measures import services as measure_services
from backend.patients.models import Patient
from backend.plans.models import PlanItem
from backend.reminders import links
from tests.browser.axe import blocking, describe, scan

PHONE = {"width": 375, "height": 812}
LONG_ENTRY = "Read this after the session: https://example.org/" + "integrationnotes" * 6
WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")
# Words spelled alike in both languages, each checked to be Spanish where it shows: "a" ("llame
# a ..."), "crisis" ("En una crisis ...", the crisis line), "no" ("No marcó").
BOTH_LANGUAGES = {"a", "crisis", "no", "No"}


def _words(page) -> set[str]:
    """The words a reader sees on the page (numbers and punctuation aside)."""
    return set(WORD.findall(page.evaluate("document.body.innerText")))


def _proper_nouns(patient: Patient) -> set[str]:
    """Words that read the same in both languages: names (the patient's, the clinic's, the
    time zone's, each language's own), and the published instruments' names and attribution."""
    texts = [
        patient.first_name,
        patient.clinic.name,
        patient.time_zone,
        "Aftercare SMS",
        LONG_ENTRY,
        *(name for _code, name in django_settings.LANGUAGES),
    ]
    for code in ("phq9", "gad7"):
        instrument = measure_services.scoring.get(code)
        texts += [instrument.name, instrument.copyright]
    return {w for text in texts for w in WORD.findall(text)}


def _pages(patient: Patient) -> dict[str, str]:
    """The patient's pages, by what they are: path."""
    plan = patient.plans.get()
    items = plan.items.order_by("start")

    def first(*kinds):
        return items.filter(kind__in=kinds).first()

    assessment = next(
        i for i in items.filter(kind="assessment") if measure_services.instruments_for(i)
    )
    path = lambda url: urlsplit(url).path  # noqa: E731
    pages = {
        "schedule": path(links.patient_schedule_url(patient)),
        "preferences": path(links.patient_schedule_url(patient)) + "preferences/",
        "journal": path(links.patient_journal_url(patient)),
        "questionnaire": path(links.patient_item_url(patient, assessment.pk)),
        "check-in note": path(links.patient_item_url(patient, first(PlanItem.Kind.CHECK_IN).pk)),
        "session": path(links.patient_item_url(patient, first(PlanItem.Kind.DOSING).pk)),
        "unsubscribe": reverse(
            "unsubscribe", args=[links.make_token("unsubscribe", {"p": patient.pk, "c": "email"})]
        ),
        "link refused": "/p/forged-token/",
        "not found": "/no-such-page/",
    }
    other = first(PlanItem.Kind.INTEGRATION, PlanItem.Kind.PREPARATION)
    if other is not None:
        pages["item"] = path(links.patient_item_url(patient, other.pk))
    return pages


def _no_sideways_scroll(page, name: str) -> None:
    widths = page.evaluate(
        "({scroll: document.documentElement.scrollWidth,"
        " client: document.documentElement.clientWidth})"
    )
    if widths["scroll"] > widths["client"]:
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth)
                .slice(0, 5).map(e => e.tagName + (e.id ? '#' + e.id : '') + ' '
                    + Math.round(e.getBoundingClientRect().right))"""
        )
        raise AssertionError(f"{name} scrolls sideways at 375 px: {widths}; too wide: {wide}")


def _check_pages(page, pages: dict[str, str], language: str, subtests) -> None:
    for name, path in pages.items():
        with subtests.test(msg=f"{name} ({language})"):
            page.goto(path)
            assert page.get_attribute("html", "lang") == language, name
            page.wait_for_selector("#language-switch")
            _no_sideways_scroll(page, f"{name} ({language})")
            serious = blocking(scan(page)["violations"])
            assert not serious, f"{name} ({language}): {describe(serious)}"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_patient_switches_to_spanish_and_every_page_reads_and_works_in_it(
    page, live_server, settings, demo_data, subtests
):
    settings.PUBLIC_BASE_URL = live_server.url
    patient = Patient.objects.select_related("clinic").get(user__username="patient")
    assert patient.language == "en"
    schedule = links.patient_schedule_url(patient)
    assert resolve(urlsplit(schedule).path).url_name == "patient-schedule"

    page.goto(schedule)
    assert page.get_attribute("html", "lang") == "en"
    english = _words(page)
    page.get_by_role("button", name="Español").click()
    page.wait_for_selector("html[lang=es]")
    assert urlsplit(page.url).path == urlsplit(schedule).path  # back on the same page
    spanish = _words(page)
    assert len(spanish) > 15
    same = english & spanish - _proper_nouns(patient) - BOTH_LANGUAGES
    assert not same, f"still in English after the switch: {sorted(same)}"

    # Keyboard alone: the switch is a real button, reached with Tab and pressed with Enter.
    page.focus("#language-en")
    page.keyboard.press("Enter")
    page.wait_for_selector("html[lang=en]")
    page.get_by_role("button", name="Español").click()
    page.wait_for_selector("html[lang=es]")

    page.set_viewport_size(PHONE)
    pages = _pages(patient)
    # A journal entry with a long link in it: the list of entries wraps it instead of widening
    # the page.
    page.goto(pages["journal"])
    page.fill("#text", LONG_ENTRY)
    page.get_by_role("button", name="Guardar").click()
    page.wait_for_selector("#saved")
    _check_pages(page, pages, "es", subtests)  # the choice holds on every page

    page.goto(pages["journal"])
    page.get_by_role("button", name="English").click()
    page.wait_for_selector("html[lang=en]")
    _check_pages(page, pages, "en", subtests)
