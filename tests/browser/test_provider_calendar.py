"""A provider makes their own calendar link in Chromium, a calendar app reads it, and revoking it
stops it (backend/clinics/feed_views.py)."""

from __future__ import annotations

import re

import pytest
from icalendar import Calendar

from backend.clinics.models import Provider
from tests.browser.axe import blocking, describe, scan
from tests.browser.test_coordinator_flow import DEMO_PASSWORD


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_provider_creates_subscribes_to_and_revokes_their_calendar_link(
    page, live_server, settings, demo_data, screenshot
):
    settings.PUBLIC_BASE_URL = live_server.url  # the link the page shows points at this server
    provider = Provider.objects.select_related("clinic").get(user__username="provider")
    page.goto("/admin/login/?next=/provider/calendar/")
    page.fill("#id_username", "provider")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/provider/calendar/$"))
    assert page.locator("#feed-state").inner_text() == "You have no calendar link."

    page.get_by_role("button", name="Create my calendar link").click()
    link = page.get_by_label("Calendar link")
    url = link.input_value()
    assert url.startswith(live_server.url + "/calendar/") and url.endswith(".ics")
    assert "shown only this once" in page.content()
    serious = blocking(scan(page)["violations"])
    assert not serious, describe(serious)
    screenshot("provider-calendar-link")

    # What a calendar app fetches: the provider's items, patients by initials.
    feed = page.request.get(url)
    assert feed.status == 200 and feed.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(feed.body()).walk("VEVENT")
    assert events
    last_names = set(provider.plans.values_list("patient__last_name", flat=True))
    assert last_names
    for event in events:
        assert not any(name in str(event["summary"]) for name in last_names)
        assert event["dtstart"].params["TZID"] == provider.clinic.time_zone
        assert re.search(r" · ([A-Z]\.)+$", str(event["summary"])), event["summary"]

    # Reloading the page does not show the link again: only its hash was kept.
    page.goto("/provider/calendar/")
    assert url not in page.content()
    assert page.locator("#feed-state").inner_text().startswith("You have a calendar link")

    page.get_by_role("button", name="Revoke my calendar link").click()
    assert "no longer works" in page.get_by_role("status").inner_text()
    assert page.request.get(url).status == 404


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_coordinator_issues_a_providers_calendar_link_from_the_admin(
    page, live_server, settings, demo_data, screenshot
):
    settings.PUBLIC_BASE_URL = live_server.url
    provider = Provider.objects.get(user__username="provider")
    page.goto("/admin/login/?next=/admin/clinics/provider/")
    page.fill("#id_username", "coordinator")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/clinics/provider/$"))

    page.locator(f'input[name="_selected_action"][value="{provider.pk}"]').check()
    page.select_option('select[name="action"]', "issue_calendar_feed")
    page.get_by_role("button", name="Go", exact=True).click()
    url = page.get_by_label(f"Calendar feed URL of {provider}").input_value()
    screenshot("admin-calendar-feed-issued")
    assert url.startswith(live_server.url + "/calendar/")
    assert page.request.get(url).status == 200

    page.goto("/admin/clinics/provider/")
    page.locator(f'input[name="_selected_action"][value="{provider.pk}"]').check()
    page.select_option('select[name="action"]', "revoke_calendar_feed")
    page.get_by_role("button", name="Go", exact=True).click()
    message = page.locator(".messagelist").inner_text()
    assert "Revoked the calendar feed of 1 provider(s)." in message
    assert page.request.get(url).status == 404
