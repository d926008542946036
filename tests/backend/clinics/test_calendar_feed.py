"""Providers' private calendar feeds (backend/clinics/calendar_feed.py): what a calendar app reads
from the URL, who may issue and revoke it, and that it costs the same few queries however full
the calendar is."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar

from backend.clinics import calendar_feed, services
from backend.plans import services as plan_services
from backend.plans.models import PlanItem
from scheduler.privacy import private_words_in
from tests.factories import (
    ClinicFactory,
    CoordinatorFactory,
    PatientFactory,
    ProviderFactory,
    make_plan,
)
from tests.support.clock import SUITE_NOW

NEW_YORK = ZoneInfo("America/New_York")
DST_STARTS = dt.datetime(2026, 3, 8, 7, 0, tzinfo=dt.UTC)  # 02:00 EST -> 03:00 EDT


def _path(url: str) -> str:
    return urlsplit(url).path


def _fetch(client, url: str):
    return client.get(_path(url))


def _events(response) -> dict[str, object]:
    """The feed's events by UID, parsed by icalendar as a calendar app would."""
    calendar = Calendar.from_ical(response.content)
    return {str(e["uid"]): e for e in calendar.walk("VEVENT")}


def _uids(plan) -> set[str]:
    live = plan.items.exclude(status=PlanItem.Status.CANCELLED)
    return {f"plan-item-{pk}@aftercare.invalid" for pk in live.values_list("pk", flat=True)}


@pytest.fixture()
def clinic():
    return ClinicFactory(time_zone="America/New_York")


@pytest.fixture()
def provider(clinic):
    return ProviderFactory(clinic=clinic)


@pytest.fixture()
def plan(clinic, provider):
    patient = PatientFactory(clinic=clinic, first_name="Ada", last_name="Aardvarkson")
    # The first session three days after SUITE_NOW (Thursday 5 March 2026): the course runs on
    # across the night US clocks spring forward (Sunday 8 March).
    return make_plan(
        patient=patient, provider=provider, start_date=dt.date(2026, 3, 5), now=SUITE_NOW
    ).plan


@pytest.mark.django_db
def test_the_feed_round_trips_every_items_start_and_end_across_a_dst_change(client, provider, plan):
    url = services.provider_feed_issue(provider=provider, now=SUITE_NOW)
    response = _fetch(client, url)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    calendar = Calendar.from_ical(response.content)
    assert [tz["tzid"] for tz in calendar.walk("VTIMEZONE")] == ["America/New_York"]
    events = _events(response)
    items = list(plan.items.exclude(status=PlanItem.Status.CANCELLED))
    assert len(items) >= 4 and len(events) == len(items)
    offsets = set()
    for item in items:
        event = events[f"plan-item-{item.pk}@aftercare.invalid"]
        start, end = event.decoded("dtstart"), event.decoded("dtend")
        # Wall time in the clinic's zone, named by TZID, equal to the instant in the database.
        assert event["dtstart"].params["TZID"] == "America/New_York"
        assert start == item.start and end == item.end
        assert start.utcoffset() == item.start.astimezone(NEW_YORK).utcoffset()
        assert int(event["sequence"]) == item.calendar_sequence
        offsets.add(start.utcoffset())
    # Items on both sides of the change: EST (-5 h) and EDT (-4 h).
    assert offsets == {dt.timedelta(hours=-5), dt.timedelta(hours=-4)}
    assert any(i.start < DST_STARTS for i in items) and any(i.start > DST_STARTS for i in items)


@pytest.mark.django_db
def test_a_moved_session_keeps_its_uid_and_raises_its_sequence(client, provider, plan):
    url = services.provider_feed_issue(provider=provider, now=SUITE_NOW)
    item = plan.items.filter(kind="dosing").order_by("start").first()
    plan_services.item_reschedule(
        item=item, new_start=item.start + dt.timedelta(hours=1), now=SUITE_NOW
    )
    item.refresh_from_db()
    event = _events(_fetch(client, url))[f"plan-item-{item.pk}@aftercare.invalid"]
    assert int(event["sequence"]) == item.calendar_sequence >= 1
    assert event.decoded("dtstart") == item.start


@pytest.mark.django_db
def test_patients_are_named_by_initials_unless_the_clinic_shows_names(
    client, clinic, provider, plan
):
    url = services.provider_feed_issue(provider=provider, now=SUITE_NOW)
    summaries = [str(e["summary"]) for e in _events(_fetch(client, url)).values()]
    assert summaries and all(s.endswith(" · A.A.") for s in summaries)
    assert not any("Aardvarkson" in s or "Ada" in s for s in summaries)
    assert not any(private_words_in(s) for s in summaries)  # no drug or diagnosis word

    services.clinic_update(clinic=clinic, changes={"calendar_shows_names": True})
    summaries = [str(e["summary"]) for e in _events(_fetch(client, url)).values()]
    assert all(s.endswith(" · Ada Aardvarkson") for s in summaries)


@pytest.mark.django_db
def test_cancelled_items_are_dropped_from_the_feed(client, provider, plan):
    url = services.provider_feed_issue(provider=provider, now=SUITE_NOW)
    item = plan.items.filter(kind="dosing").order_by("start").last()
    uid = f"plan-item-{item.pk}@aftercare.invalid"
    assert uid in _events(_fetch(client, url))
    plan_services.item_cancel(item=item, reason="Patient asked", now=SUITE_NOW)
    assert uid not in _events(_fetch(client, url))


@pytest.mark.django_db
def test_a_revoked_or_rotated_url_answers_404_and_the_new_one_works(client, provider, plan):
    first = services.provider_feed_issue(provider=provider, now=SUITE_NOW)
    assert _fetch(client, first).status_code == 200
    second = services.provider_feed_issue(provider=provider, now=SUITE_NOW)
    assert second != first
    assert _fetch(client, first).status_code == 404  # rotating revokes the old URL
    assert _fetch(client, second).status_code == 200
    provider.refresh_from_db()
    secret = _path(second).rsplit("/", 1)[-1].removesuffix(".ics")
    assert secret not in provider.calendar_feed_key_hash  # only the hash is kept
    assert provider.calendar_feed_key_hash == calendar_feed.key_hash(secret)

    services.provider_feed_revoke(provider=provider)
    revoked = _fetch(client, second)
    forged = client.get("/calendar/" + "x" * 43 + ".ics")
    assert revoked.status_code == forged.status_code == 404
    # The same answer (the 404 page, which names only the path asked for): nothing tells them apart.
    assert revoked["Content-Type"] == forged["Content-Type"] and b"VCALENDAR" not in revoked.content


@pytest.mark.django_db
def test_a_provider_who_has_left_has_no_feed(client, provider, plan):
    url = services.provider_feed_issue(provider=provider, now=SUITE_NOW)
    services.provider_deactivate(provider=provider)
    assert _fetch(client, url).status_code == 404
    with pytest.raises(Exception, match=r"provider\.inactive"):
        services.provider_feed_issue(provider=provider, now=SUITE_NOW)


@pytest.mark.django_db
def test_another_providers_items_never_appear(client, clinic, provider, plan):
    other = ProviderFactory(clinic=clinic)
    other_plan = make_plan(
        patient=PatientFactory(clinic=clinic, last_name="Zebedeeson"),
        provider=other,
        start_date=dt.date(2026, 3, 6),
        now=SUITE_NOW,
    ).plan
    mine = _events(_fetch(client, services.provider_feed_issue(provider=provider, now=SUITE_NOW)))
    theirs = _events(_fetch(client, services.provider_feed_issue(provider=other, now=SUITE_NOW)))
    assert set(mine) == _uids(plan) and set(theirs) == _uids(other_plan)
    assert not set(mine) & set(theirs)


@pytest.mark.django_db
def test_the_feed_reads_the_same_few_queries_however_many_items(client, clinic, provider, plan):
    url = services.provider_feed_issue(provider=provider, now=SUITE_NOW)
    with CaptureQueriesContext(connection) as one_plan:
        small = _fetch(client, url)
    for n in range(3):
        make_plan(
            patient=PatientFactory(clinic=clinic),
            provider=provider,
            start_date=dt.date(2026, 3, 9 + n),
            now=SUITE_NOW,
        )
    with CaptureQueriesContext(connection) as four_plans:
        large = _fetch(client, url)
    assert len(_events(large)) > 3 * len(_events(small)) > 0
    assert len(four_plans) == len(one_plan) == 2  # the provider by key hash, then the items


def _admin_action(client, action: str, provider):
    return client.post(
        "/admin/clinics/provider/",
        {"action": action, "_selected_action": [provider.pk]},
        follow=True,
    )


@pytest.mark.django_db
def test_a_coordinator_issues_and_revokes_their_own_clinics_provider_feeds(
    client, clinic, provider, plan
):
    client.force_login(CoordinatorFactory(clinic=clinic).user)
    response = _admin_action(client, "issue_calendar_feed", provider)
    assert response.status_code == 200
    [url] = [
        line.split('value="')[1].split('"')[0]
        for line in response.content.decode().splitlines()
        if 'value="http' in line
    ]
    client.logout()
    assert _fetch(client, url).status_code == 200

    client.force_login(CoordinatorFactory(clinic=clinic).user)
    _admin_action(client, "revoke_calendar_feed", provider)
    client.logout()
    assert _fetch(client, url).status_code == 404


@pytest.mark.django_db
def test_a_coordinator_of_another_clinic_can_neither_issue_nor_revoke(
    client, clinic, provider, plan
):
    url = services.provider_feed_issue(provider=provider, now=SUITE_NOW)
    provider.refresh_from_db()
    before = provider.calendar_feed_key_hash
    client.force_login(CoordinatorFactory(clinic=ClinicFactory()).user)
    for action in ("issue_calendar_feed", "revoke_calendar_feed"):
        response = _admin_action(client, action, provider)
        assert 'value="http' not in response.content.decode()
    provider.refresh_from_db()
    assert provider.calendar_feed_key_hash == before
    client.logout()
    assert _fetch(client, url).status_code == 200


@pytest.mark.django_db
def test_a_provider_may_not_issue_feeds_in_the_admin(client, clinic, provider, plan):
    client.force_login(provider.user)
    _admin_action(client, "issue_calendar_feed", provider)
    provider.refresh_from_db()
    assert provider.calendar_feed_key_hash == ""


@pytest.mark.django_db
def test_the_providers_own_page_issues_and_revokes_only_their_own_link(
    client, clinic, provider, plan
):
    other = ProviderFactory(clinic=clinic)
    other_url = services.provider_feed_issue(provider=other, now=SUITE_NOW)
    client.force_login(provider.user)
    page = client.get("/provider/calendar/")
    assert page.status_code == 200 and "You have no calendar link." in page.content.decode()
    issued = client.post("/provider/calendar/", {"action": "issue"})
    url = issued.context["feed_url"]
    assert url in issued.content.decode()
    assert "no-store" in issued["Cache-Control"] or "max-age=0" in issued["Cache-Control"]
    assert url not in client.get("/provider/calendar/").content.decode()  # shown once
    client.post("/provider/calendar/", {"action": "revoke"})
    client.logout()
    assert _fetch(client, url).status_code == 404
    assert _fetch(client, other_url).status_code == 200  # someone else's link is untouched


@pytest.mark.django_db
def test_the_providers_page_is_for_active_providers_only(client, clinic, provider):
    assert client.get("/provider/calendar/").status_code == 302  # to the login page
    client.force_login(CoordinatorFactory(clinic=clinic).user)
    assert client.get("/provider/calendar/").status_code == 403
    services.provider_deactivate(provider=provider)
    client.force_login(provider.user)
    assert client.post("/provider/calendar/", {"action": "issue"}).status_code == 403
    bad = ProviderFactory(clinic=clinic)
    client.force_login(bad.user)
    response = client.post("/provider/calendar/", {"action": "steal"})
    assert response.status_code == 400 and "action: must be" in response.content.decode()


def test_a_feed_key_never_reaches_a_log():
    from backend.core.logging import redact_link_tokens

    line = '127.0.0.1 "GET /calendar/q1W2e3R4t5Y6-_Zz.ics HTTP/1.1" 200'
    assert redact_link_tokens(line) == '127.0.0.1 "GET /calendar/[token] HTTP/1.1" 200'
