"""The optional patient login (backend.patients.login): an emailed link that works once, for
15 minutes, opens the patient's own pages only, and a form that answers the same for any
address."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core import signing
from django.core.cache import caches
from django.urls import reverse

from backend.patients import login
from backend.reminders import links
from tests.factories import PatientFactory, ProviderFactory, make_plan
from tests.support.clock import SUITE_NOW

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://\S+/patient/login/[^/\s]+/")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.fixture(autouse=True)
def fresh_throttles(settings):
    settings.PUBLIC_BASE_URL = "http://testserver"
    caches["throttle"].clear()
    yield
    caches["throttle"].clear()


@pytest.fixture()
def account(plan):
    patient = plan.patient
    patient.user = User.objects.create_user("avery", email=patient.email)
    patient.save(update_fields=["user"])
    return patient


def _ask(client, email: str, address: str = "127.0.0.1"):
    return client.post(reverse("patient-login"), {"email": email}, REMOTE_ADDR=address)


def _link(mailoutbox) -> str:
    (message,) = mailoutbox
    return LINK.search(message.body).group(0).removeprefix("http://testserver")


def test_the_emailed_link_opens_the_patients_schedule_once(client, account, mailoutbox):
    response = _ask(client, account.email.upper())  # the address as typed, case aside
    assert response.status_code == 200 and b'id="login-sent"' in response.content
    message = mailoutbox[0]
    assert message.to == [account.email] and message.subject == "Your link to your schedule"
    assert "15 minutes" in message.body and "works once" in message.body
    path = _link(mailoutbox)

    assert client.get(path).status_code == 200  # a mail scanner's GET spends nothing
    opened = client.post(path)
    assert opened.status_code == 302
    assert opened["Location"] == links.patient_schedule_url(account)
    schedule = client.get(opened["Location"].removeprefix("http://testserver"))
    assert schedule.status_code == 200 and account.first_name.encode() in schedule.content
    # The session knows the patient: /patient/ leads back to a fresh schedule link.
    assert client.get(reverse("patient-home"))["Location"] == links.patient_schedule_url(account)

    again = client.post(path)
    assert again.status_code == 404 and b'id="login-refused"' in again.content
    assert client.get(path).status_code == 404


def test_the_link_expires_after_15_minutes(client, account, mailoutbox):
    _ask(client, account.email)
    path = _link(mailoutbox)
    with time_machine.travel(SUITE_NOW + login.LOGIN_MAX_AGE + dt.timedelta(seconds=5)):
        assert client.post(path).status_code == 404
    with time_machine.travel(SUITE_NOW + login.LOGIN_MAX_AGE - dt.timedelta(seconds=30)):
        assert client.post(path).status_code == 302


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, account, mailoutbox):
    known = _ask(client, account.email)
    unknown = _ask(client, "nobody@example.com")

    assert known.status_code == unknown.status_code == 200
    assert CSRF.sub("", known.content.decode()) == CSRF.sub("", unknown.content.decode())
    assert len(mailoutbox) == 1


@pytest.mark.parametrize("case", ["no consent", "two patients", "no account", "opted out"])
def test_no_link_unless_exactly_one_emailable_patient_with_an_account(
    client, account, mailoutbox, case, clinic, provider
):
    if case == "no consent":
        account.email_consent = False
        account.save(update_fields=["email_consent"])
    elif case == "two patients":
        twin = PatientFactory(clinic=clinic, email=account.email)
        make_plan(patient=twin, provider=provider, now=SUITE_NOW)
    elif case == "no account":
        account.user = None
        account.save(update_fields=["user"])
    else:
        account.email_opted_out_at = SUITE_NOW
        account.save(update_fields=["email_opted_out_at"])

    mailoutbox.clear()  # what setting up sent (a new plan's messages)
    response = _ask(client, account.email)

    assert response.status_code == 200 and b'id="login-sent"' in response.content
    assert mailoutbox == []


def test_another_patients_link_never_opens_this_patients_pages(client, account, mailoutbox, clinic):
    other = PatientFactory(clinic=clinic, last_name="Elsewhere")
    other.user = User.objects.create_user("other")
    other.save(update_fields=["user"])
    make_plan(patient=other, provider=ProviderFactory(clinic=clinic), now=SUITE_NOW)
    _ask(client, other.email)
    path = _link(mailoutbox)
    token = path.rstrip("/").split("/")[-1]
    # The same token with its payload rewritten to name this patient: the signature fails.
    payload, *signature = token.split(":")
    claims = json.loads(signing.b64_decode(payload.encode()))
    claims["p"] = account.pk
    forged = ":".join([signing.b64_encode(json.dumps(claims).encode()).decode(), *signature])
    schedule_token = links.patient_schedule_url(account).rstrip("/").split("/")[-1]
    for bad in (forged, schedule_token, "forged-token"):
        assert client.post(reverse("patient-login-open", args=[bad])).status_code == 404

    opened = client.post(path)
    assert opened["Location"] == links.patient_schedule_url(other)
    assert opened["Location"] != links.patient_schedule_url(account)
    # And a login token is no schedule link.
    assert client.get(reverse("patient-schedule", args=[token])).status_code == 404


def test_a_spanish_speaking_patient_gets_the_email_in_spanish(client, account, mailoutbox):
    account.language = "es"
    account.save(update_fields=["language"])
    _ask(client, account.email)
    assert mailoutbox[0].subject == "Su enlace a su calendario"
    assert "15 minutos" in mailoutbox[0].body


def test_asking_too_often_for_one_address_is_refused_whether_or_not_it_is_known(
    client, account, mailoutbox
):
    for email, address in ((account.email, "192.0.2.1"), ("nobody@example.com", "192.0.2.2")):
        answers = [_ask(client, email, address).status_code for _ in range(6)]
        assert answers == [200] * 5 + [429]
    assert len(mailoutbox) == 5


def test_asking_too_often_from_one_client_address_is_refused(client, account, mailoutbox):
    answers = [_ask(client, f"someone{n}@example.com").status_code for n in range(11)]
    assert answers == [200] * 10 + [429]
    assert _ask(client, account.email).status_code == 429 and mailoutbox == []


def test_a_bad_address_is_refused_on_its_field(client):
    response = _ask(client, "not-an-address")
    assert response.status_code == 400 and b'id="email-error"' in response.content


def test_home_without_a_login_leads_to_the_login_form(client):
    assert client.get(reverse("patient-home"))["Location"] == reverse("patient-login")


def test_a_login_links_token_never_reaches_a_log(client, account, mailoutbox):
    from backend.core.logging import REDACTED, redact_link_tokens

    _ask(client, account.email)
    path = _link(mailoutbox)
    token = path.rstrip("/").split("/")[-1]
    line = f'"GET {path} HTTP/1.1" 200'
    assert token not in redact_link_tokens(line)
    assert f"/patient/login/{REDACTED}/" in redact_link_tokens(line)
    assert (
        redact_link_tokens('"POST /patient/login/ HTTP/1.1"') == '"POST /patient/login/ HTTP/1.1"'
    )
