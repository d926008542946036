"""Short links in SMS texts: one stable code per signed link, a 302 to it, refused when revoked
or expired (the same page as a refused signed link), and never in an email."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.patients import services as patient_services
from backend.reminders import compose, links
from backend.reminders.models import ShortLink
from tests.backend.conftest import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture()
def item_url(plan):
    item = plan.items.order_by("start").first()
    return links.patient_item_url(plan.patient, item.pk)


def _code(short: str) -> str:
    return short.rsplit("/l/", 1)[1]


def test_a_short_link_is_stable_for_its_target_and_reuses_its_row(plan, item_url):
    first = links.short_url(plan.patient, item_url, now=NOW)
    again = links.short_url(plan.patient, item_url, now=NOW + dt.timedelta(minutes=5))
    assert first == again
    assert len(first) == links.short_url_length()
    code = _code(first)
    assert len(code) == links.SHORT_CODE_LENGTH
    assert set(code) <= set(links.SHORT_CODE_ALPHABET)
    row = ShortLink.objects.get()
    assert row.patient == plan.patient and item_url.endswith(row.target)
    assert row.expires_at == NOW + links.PATIENT_LINK_MAX_AGE
    other = links.short_url(plan.patient, links.patient_schedule_url(plan.patient), now=NOW)
    assert other != first and ShortLink.objects.count() == 2


def test_a_short_link_redirects_to_the_signed_link(client, plan, item_url):
    short = links.short_url(plan.patient, item_url, now=NOW)
    response = client.get(f"/l/{_code(short)}")
    assert response.status_code == 302
    assert item_url.endswith(response["Location"]) and response["Location"].startswith("/p/")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert client.get(response["Location"]).status_code == 200


def test_an_unknown_code_is_not_found(client):
    response = client.get("/l/Zz23456a")
    assert response.status_code == 404
    assert b"This link does not work" in response.content


def test_revoking_the_patients_links_revokes_their_short_links(client, plan, item_url):
    short = links.short_url(plan.patient, item_url, now=NOW)
    patient_services.patient_revoke_links(patient=plan.patient, now=NOW)
    assert ShortLink.objects.get().revoked_at == NOW
    response = client.get(f"/l/{_code(short)}")
    assert response.status_code == 410
    assert b"been replaced" in response.content and plan.clinic.name.encode() in response.content


def test_an_expired_short_link_is_gone(client, plan, item_url):
    short = links.short_url(plan.patient, item_url, now=NOW - dt.timedelta(days=31))
    response = client.get(f"/l/{_code(short)}")
    assert response.status_code == 410 and b"expired" in response.content


def test_only_links_of_this_site_are_shortened(plan):
    with pytest.raises(ValueError, match="not a link on this site"):
        links.short_url(plan.patient, "https://elsewhere.example/p/x/", now=NOW)


def test_a_rendered_text_carries_the_short_link_and_its_email_the_signed_one(plan):
    reminder = plan.reminders.filter(message_kind="assessment_prompt", channel="sms").first()
    assert reminder is not None
    sms = compose.render(reminder, channel="sms").sms
    again = compose.render(reminder, channel="sms").sms
    assert sms == again  # a worker rendering it twice sends the same code
    assert "/l/" in sms and "/p/" not in sms
    email = compose.render(reminder, channel="email")
    assert "/p/" in email.text and "/l/" not in email.text
    assert ShortLink.objects.filter(patient=plan.patient).count() == 1


def test_a_staff_preview_shows_a_short_link_that_opens_nothing(client, plan):
    from backend.reminders.compose import preview_text

    reminder = plan.reminders.filter(message_kind="assessment_prompt", channel="sms").first()
    text = preview_text(reminder)
    assert f"/l/{links.PREVIEW_CODE}" in text
    assert not ShortLink.objects.exists()
    assert client.get(f"/l/{links.PREVIEW_CODE}").status_code == 404


def test_codes_have_no_character_that_reads_as_another():
    """A code is read aloud or typed from another screen: no 0/O/o, no 1/I/l."""
    assert not set("0Oo1Il") & set(links.SHORT_CODE_ALPHABET)
    assert len(set(links.SHORT_CODE_ALPHABET)) == len(links.SHORT_CODE_ALPHABET)
