"""Acknowledging a flag (who may, with what, and what it withdraws), where open flags show, and
whether a flag's alerts may still go out at send time."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from backend.plans import services as plan_services
from backend.plans.models import TreatmentPlan
from backend.reminders import delivery, dispatch, eligibility
from backend.reminders.models import Reminder
from backend.safety import selectors
from backend.safety import services as safety
from backend.safety.models import Flag
from tests.backend.safety.helpers import element, flag_path, html_of, raise_urgent_flag
from tests.factories import CoordinatorFactory, ProviderFactory
from tests.support.clock import SUITE_NOW as NOW

pytestmark = pytest.mark.django_db

URGENT, BACKUP = safety.URGENT_KIND, safety.BACKUP_KIND
NOTE = "Called Avery at once: safe at home, safety plan reviewed, seen tomorrow."


def statuses(flag) -> dict[tuple[int, str, str], str]:
    return {
        (a.provider_id, a.channel, a.message_kind): a.status
        for a in Reminder.objects.filter(flag=flag)
    }


# --- who may acknowledge, and with what -------------------------------------------------------


@pytest.mark.parametrize("note", ["", "   \n "], ids=["empty", "blank"])
def test_acknowledging_needs_a_note_saying_what_was_done(plan, team, note):
    flag = raise_urgent_flag(plan, now=NOW)

    with pytest.raises(ValidationError) as refused:
        safety.flag_acknowledge(flag=flag, user=team.provider.user, note=note, now=NOW)

    assert "note" in refused.value.message_dict
    flag.refresh_from_db()
    assert flag.open
    assert set(statuses(flag).values()) == {"scheduled"}


def test_a_coordinator_sees_the_flag_but_may_not_acknowledge_it(plan, team, clinic):
    flag = raise_urgent_flag(plan, now=NOW)
    coordinator = CoordinatorFactory(clinic=clinic).user

    assert flag in selectors.flags_for(coordinator)
    with pytest.raises(PermissionDenied):
        safety.flag_acknowledge(flag=flag, user=coordinator, note=NOTE, now=NOW)
    flag.refresh_from_db()
    assert flag.open


def test_a_provider_of_another_clinic_gets_a_404_for_the_flag_page_and_cannot_acknowledge(
    client, plan, team
):
    flag = raise_urgent_flag(plan, now=NOW)
    stranger = ProviderFactory().user  # a clinic of their own

    client.force_login(stranger)
    assert client.get(flag_path(flag)).status_code == 404
    assert client.post(flag_path(flag), {"note": NOTE}).status_code == 404
    with pytest.raises(PermissionDenied):
        safety.flag_acknowledge(flag=flag, user=stranger, note=NOTE, now=NOW)
    flag.refresh_from_db()
    assert flag.open


def test_any_active_clinician_of_the_clinic_may_acknowledge_but_only_once(plan, team):
    flag = raise_urgent_flag(plan, now=NOW)

    safety.flag_acknowledge(flag=flag, user=team.on_call.user, note=NOTE, now=NOW)
    with pytest.raises(ValidationError) as again:
        safety.flag_acknowledge(flag=flag, user=team.provider.user, note="Me too.", now=NOW)

    assert "Already acknowledged by" in again.value.message_dict["flag"][0]
    flag.refresh_from_db()
    assert (flag.acknowledged_by, flag.acknowledgement_note) == (team.on_call.user, NOTE)


# --- acknowledging on the flag page -----------------------------------------------------------


def test_the_provider_acknowledges_on_the_flag_page_and_the_pending_backup_alerts_are_withdrawn(
    client, plan, team
):
    flag = raise_urgent_flag(plan, now=NOW)
    Reminder.objects.filter(flag=flag, message_kind=URGENT).update(status="sent", sent_at=NOW)
    client.force_login(team.provider.user)

    page = client.get(flag_path(flag))
    assert page.status_code == 200
    assert 'id="acknowledge"' in html_of(page)
    assert "item 9" in element(html_of(page), "ul", "reasons")

    acknowledged_at = NOW + dt.timedelta(minutes=12)
    with time_machine.travel(acknowledged_at, tick=False):
        done = client.post(flag_path(flag), {"note": NOTE})

    assert done.status_code == 302 and done.url == flag_path(flag)
    flag.refresh_from_db()
    assert (flag.acknowledged_by, flag.acknowledged_at, flag.acknowledgement_note) == (
        team.provider.user,
        acknowledged_at,
        NOTE,
    )
    assert statuses(flag) == {
        (team.provider.pk, "email", URGENT): "sent",
        (team.provider.pk, "sms", URGENT): "sent",
        (team.on_call.pk, "email", URGENT): "sent",
        (team.on_call.pk, "sms", URGENT): "sent",
        (team.backup.pk, "email", BACKUP): "cancelled",
        (team.backup.pk, "sms", BACKUP): "cancelled",
    }
    assert set(
        Reminder.objects.filter(flag=flag, status="cancelled").values_list(
            "status_reason", flat=True
        )
    ) == {"flag acknowledged"}
    after = html_of(client.get(flag_path(flag)))
    assert "Acknowledged by" in element(after, "p", "acknowledged") and NOTE in after
    assert 'id="acknowledge"' not in after


def test_an_empty_note_on_the_flag_page_is_refused_and_the_flag_stays_open(client, plan, team):
    flag = raise_urgent_flag(plan, now=NOW)
    client.force_login(team.provider.user)

    page = client.post(flag_path(flag), {"note": "  "})

    assert page.status_code == 400
    assert "Say what you did" in element(html_of(page), "p", "note-error")
    flag.refresh_from_db()
    assert flag.open
    assert Reminder.objects.filter(flag=flag, message_kind=BACKUP, status="scheduled").count() == 2


def test_an_acknowledged_flag_leaves_the_dashboard_and_the_plan_admin_page(
    client, plan, team, clinic
):
    flag = raise_urgent_flag(plan, now=NOW)
    client.force_login(team.provider.user)
    coordinator = Client()
    coordinator.force_login(CoordinatorFactory(clinic=clinic).user)
    dashboard = reverse("provider-dashboard")
    plan_page = reverse("admin:plans_treatmentplan_change", args=[plan.pk])

    listed = element(html_of(client.get(dashboard)), "section", "flags")
    assert flag_path(flag) in listed and "Avery Quinlan" in listed
    admin_page = coordinator.get(plan_page)
    assert admin_page.status_code == 200
    block = element(html_of(admin_page), "div", "open-flags")
    assert "1 flag waiting for a clinician" in block and "item 9" in block

    assert client.post(flag_path(flag), {"note": NOTE}).status_code == 302

    assert 'id="flags"' not in html_of(client.get(dashboard))
    after = coordinator.get(plan_page)
    assert after.status_code == 200
    assert 'id="open-flags"' not in html_of(after)


# --- at send time -----------------------------------------------------------------------------


def test_the_alerts_of_a_flag_on_a_paused_plan_still_go_out(plan, team, mailoutbox, sms_outbox):
    plan_services.plan_pause(plan=plan, now=NOW)
    raised = NOW + dt.timedelta(minutes=1)
    message = safety.receive_message(
        clinic=plan.clinic, patient=plan.patient, source="sms", body="I want to die", now=raised
    )
    flag = Flag.objects.get(message=message)
    assert flag.plan == plan and flag.plan.status == TreatmentPlan.Status.PAUSED

    first = list(Reminder.objects.filter(flag=flag, message_kind=URGENT))
    backup = list(Reminder.objects.filter(flag=flag, message_kind=BACKUP))
    assert len(first) == 4 and len(backup) == 2
    assert {eligibility.check(r, now=raised).status for r in first} == {"send"}
    assert {eligibility.check(r, now=flag.backup_due_at).status for r in backup} == {"send"}

    ids = dispatch.claim_due(now=raised)
    assert set(ids) == {r.pk for r in first}
    delivery.deliver_many(ids, now=raised)
    assert set(Reminder.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}
    assert {m.to[0] for m in mailoutbox} == {team.provider.user.email, team.on_call.user.email}
    assert {m.to for m in sms_outbox} == {str(team.provider.mobile), str(team.on_call.mobile)}


def test_a_backup_alert_queued_when_the_flag_is_acknowledged_is_cancelled_not_sent(
    plan, team, mailoutbox, sms_outbox
):
    flag = raise_urgent_flag(plan, now=NOW)
    Reminder.objects.filter(flag=flag, message_kind=URGENT).update(status="sent", sent_at=NOW)
    due = flag.backup_due_at
    backup = set(
        Reminder.objects.filter(flag=flag, message_kind=BACKUP).values_list("pk", flat=True)
    )
    claimed = dispatch.claim_due(now=due)
    assert backup <= set(claimed)  # in the broker when the clinician acknowledges
    rows = list(Reminder.objects.filter(pk__in=backup))

    safety.flag_acknowledge(flag=flag, user=team.provider.user, note=NOTE, now=due)
    # A cancel wins over a row in flight (backend.reminders.outbox).
    assert set(Reminder.objects.filter(pk__in=backup).values_list("status", "status_reason")) == {
        ("cancelled", "flag acknowledged")
    }
    delivery.deliver_many(sorted(backup), now=due)
    assert set(Reminder.objects.filter(pk__in=backup).values_list("status", "status_reason")) == {
        ("cancelled", "flag acknowledged")
    }
    assert mailoutbox == [] and sms_outbox == []
    # Had the worker read the row before the cancel, the send-time check stops it all the same.
    assert {eligibility.check(r, now=due) for r in rows} == {
        eligibility.Verdict("skip", "flag acknowledged")
    }


@pytest.mark.parametrize("change", ["pause", "cancel"])
def test_pausing_or_cancelling_the_plan_leaves_an_open_flags_escalation_in_place(
    plan, team, change
):
    """A course put on hold (often because of the very crisis the flag is about) is no reason to
    stop telling a clinician: alerts "stop only once a clinician has acknowledged the flag"
    (backend/reminders/eligibility.py)."""
    flag = raise_urgent_flag(plan, now=NOW)

    if change == "pause":
        plan_services.plan_pause(plan=plan, now=NOW + dt.timedelta(minutes=5))
    else:
        plan_services.plan_cancel(plan=plan, reason="admitted", now=NOW + dt.timedelta(minutes=5))

    pending = Reminder.objects.filter(flag=flag, status="scheduled")
    assert set(pending.values_list("provider_id", "message_kind")) == {
        (team.provider.pk, URGENT),
        (team.on_call.pk, URGENT),
        (team.backup.pk, BACKUP),
    }, dict(Reminder.objects.filter(flag=flag).values_list("key", "status_reason"))
