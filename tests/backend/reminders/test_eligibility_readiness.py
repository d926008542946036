"""The coordinator's T-24 h alert (`provider_readiness_missing`) is skipped at send time once the
patient has confirmed being ready for the session."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.plans import readiness
from backend.reminders import eligibility
from backend.reminders.models import Reminder

pytestmark = pytest.mark.django_db


def _readiness_alert(plan, item) -> Reminder:
    """The rule's row (the engine plans it from the protocols; written here so this test does not
    depend on which protocols carry the rule)."""
    found = Reminder.objects.filter(item=item, message_kind="provider_readiness_missing").first()
    if found is not None:
        return found
    return Reminder.objects.create(
        plan=plan,
        item=item,
        key=f"{item.key}:readiness_check:email",
        audience=Reminder.Audience.PROVIDER,
        provider=plan.provider,
        channel=Reminder.Channel.EMAIL,
        message_kind="provider_readiness_missing",
        send_at=item.start - dt.timedelta(hours=24),
        not_after=item.start,
        rule="readiness_check",
    )


def test_the_alert_goes_out_while_the_session_is_not_confirmed_and_not_once_it_is(plan):
    dose = plan.items.get(key="dosing-1")
    alert = _readiness_alert(plan, dose)
    at = dose.start - dt.timedelta(hours=24)

    assert eligibility.check(alert, now=at).status == "send"

    answers = dict.fromkeys(readiness.FIELDS, True)
    readiness.readiness_confirm(
        item=dose, answers=answers, via="sms", now=at - dt.timedelta(hours=2)
    )

    assert eligibility.check(alert, now=at) == eligibility.Verdict("skip", "readiness confirmed")


def test_an_unticked_statement_keeps_the_alert(plan):
    dose = plan.items.get(key="dosing-1")
    alert = _readiness_alert(plan, dose)
    at = dose.start - dt.timedelta(hours=24)
    answers = {**dict.fromkeys(readiness.FIELDS, True), "ride_home": False}
    readiness.readiness_confirm(
        item=dose, answers=answers, via="link", now=at - dt.timedelta(hours=2)
    )

    assert eligibility.check(alert, now=at).status == "send"


def test_another_sessions_confirmation_does_not_skip_this_alert(plan):
    first, second = plan.items.get(key="dosing-1"), plan.items.get(key="dosing-2")
    alert = _readiness_alert(plan, second)
    answers = dict.fromkeys(readiness.FIELDS, True)
    readiness.readiness_confirm(
        item=first, answers=answers, via="link", now=first.start - dt.timedelta(hours=3)
    )

    assert eligibility.check(alert, now=second.start - dt.timedelta(hours=24)).status == "send"


def test_a_verdicts_status_is_an_enum_that_reads_as_its_word():
    verdict = eligibility.Verdict("skip", "readiness confirmed")
    assert verdict.status is eligibility.Status.SKIP
    assert verdict.status == "skip" and f"{verdict.status}" == "skip"
    assert verdict == eligibility.Verdict(eligibility.Status.SKIP, "readiness confirmed")
    assert hash(verdict) == hash(eligibility.Verdict("skip", "readiness confirmed"))
