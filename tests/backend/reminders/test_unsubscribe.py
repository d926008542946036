"""Email unsubscribe: a GET only asks (link scanners follow links), the POST unsubscribes, and
RFC 8058 one-click POSTs from mail providers work without a CSRF token. Tokens are signed and
expire after 90 days."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.urls import reverse

from backend.patients.models import ConsentMethod, Patient
from backend.reminders import compose, links
from backend.reminders.models import Reminder
from tests.factories import (
    SHARED_CLINIC_NAME as CLINIC_NAME,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.UTC)  # the day after the suite's clock
ONE_CLICK = "List-Unsubscribe=One-Click"


@pytest.fixture()
def client() -> Client:
    # Mail providers' one-click POSTs carry no CSRF token or cookie: enforce CSRF like production.
    return Client(enforce_csrf_checks=True)


def one_click(client: Client, url: str):
    return client.post(url, data=ONE_CLICK, content_type="application/x-www-form-urlencoded")


def snapshot(plan) -> list[tuple]:
    return list(plan.reminders.order_by("pk").values_list("pk", "channel", "status"))


def url_in_header(plan) -> str:
    """The unsubscribe URL exactly as a real reminder email carries it."""
    reminder = plan.reminders.filter(audience="patient", channel="email").first()
    email = compose.build_email(reminder, compose.render(reminder), now=T0)
    return re.fullmatch(r"<(.+)>", email.headers["List-Unsubscribe"])[1]


def test_get_shows_a_confirm_page_and_changes_nothing(client, plan):
    before = snapshot(plan)

    response = client.get(url_in_header(plan))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'method="post"' in page
    assert CLINIC_NAME in page
    patient = Patient.objects.get(pk=plan.patient_id)
    assert patient.email_opted_out_at is None
    assert patient.may_email
    assert snapshot(plan) == before


def test_head_changes_nothing(client, plan):
    before = snapshot(plan)

    client.head(url_in_header(plan))

    assert Patient.objects.get(pk=plan.patient_id).email_opted_out_at is None
    assert snapshot(plan) == before


def test_one_click_post_opts_out_of_email_and_cancels_pending_email(client, plan):
    sms_before = [row for row in snapshot(plan) if row[1] == "sms"]

    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        response = one_click(client, url_in_header(plan))

    assert response.status_code == 200
    assert "not get email reminders" in response.content.decode()
    patient = Patient.objects.get(pk=plan.patient_id)
    assert patient.email_opted_out_at == T0 + dt.timedelta(hours=1)
    assert patient.email_consent_method == ConsentMethod.EMAIL_LINK
    assert not patient.may_email
    email = plan.reminders.filter(channel="email", audience="patient")
    assert set(email.values_list("status", flat=True)) == {Reminder.Status.CANCELLED}
    assert set(email.values_list("status_reason", flat=True)) == {"patient opted out of email"}
    # The provider's own notices are not the patient's to stop.
    provider_notices = plan.reminders.filter(audience="provider")
    assert provider_notices.exists()
    assert set(provider_notices.values_list("status", flat=True)) == {Reminder.Status.SCHEDULED}
    # SMS is a separate consent.
    assert [row for row in snapshot(plan) if row[1] == "sms"] == sms_before
    assert patient.sms_opted_out_at is None


def test_sent_email_reminders_stay_sent(client, plan):
    sent = plan.reminders.filter(channel="email").first()
    Reminder.objects.filter(pk=sent.pk).update(status=Reminder.Status.SENT)

    one_click(client, url_in_header(plan))

    sent.refresh_from_db()
    assert sent.status == Reminder.Status.SENT


def test_posting_twice_keeps_the_first_opt_out_time(client, plan):
    url = url_in_header(plan)
    with time_machine.travel(T0, tick=False):
        one_click(client, url)
    with time_machine.travel(T0 + dt.timedelta(days=2), tick=False):
        assert one_click(client, url).status_code == 200

    assert Patient.objects.get(pk=plan.patient_id).email_opted_out_at == T0


def _tampered_tokens(patient_id: int) -> dict[str, str]:
    good = links.make_token("unsubscribe", {"p": patient_id, "c": "email"})
    payload, stamp, signature = good.split(":")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    other = signing.b64_encode(b'{"p":999,"c":"email"}').decode()
    return {
        "signature-flipped": f"{payload}:{stamp}:{flipped}",
        "payload-swapped": f"{other}:{stamp}:{signature}",
        "signature-cut": f"{payload}:{stamp}",
        "garbage": "not-a-token",
        "patient-link-token": links.make_token("patient", {"p": patient_id}),
    }


@pytest.mark.parametrize(
    "kind",
    ["signature-flipped", "payload-swapped", "signature-cut", "garbage", "patient-link-token"],
)
def test_tampered_token_is_refused(client, plan, kind):
    url = reverse("unsubscribe", args=[_tampered_tokens(plan.patient_id)[kind]])
    before = snapshot(plan)

    assert client.get(url).status_code == 400
    assert one_click(client, url).status_code == 400

    assert Patient.objects.get(pk=plan.patient_id).email_opted_out_at is None
    assert snapshot(plan) == before


def test_token_expires_after_ninety_days(client, plan):
    with time_machine.travel(T0, tick=False):
        url = links.unsubscribe_url(plan.patient_id)
    before = snapshot(plan)

    with time_machine.travel(T0 + dt.timedelta(days=89), tick=False):
        assert client.get(url).status_code == 200  # still good inside the 90 days
    with time_machine.travel(T0 + dt.timedelta(days=91), tick=False):
        assert client.get(url).status_code == 400
        assert one_click(client, url).status_code == 400

    assert Patient.objects.get(pk=plan.patient_id).email_opted_out_at is None
    assert snapshot(plan) == before


def test_the_unsubscribe_link_follows_a_changed_public_base_url_at_once(settings):
    """Only the token is cached: a link built after PUBLIC_BASE_URL changes carries the new base
    (it once kept the first base it was built with for the rest of the day)."""
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    first = links.unsubscribe_url(4242, "email")
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8200"
    again = links.unsubscribe_url(4242, "email")
    assert first.startswith("http://127.0.0.1:8000/unsubscribe/")
    assert again.startswith("http://127.0.0.1:8200/unsubscribe/")
    assert first.rsplit("/unsubscribe/", 1)[1] == again.rsplit("/unsubscribe/", 1)[1]
