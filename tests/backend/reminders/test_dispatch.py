"""The outbox: claiming, leases, expiry, and exactly-once sending through a real worker."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import time_machine
from django.db.models.functions import Now

from backend.reminders import delivery, dispatch, outbox
from backend.reminders.models import DeliveryAttempt, Reminder
from tests.backend.conftest import NOW


def _due_soon(plan, n, at):
    """Make the first n patient SMS/email reminders of a plan due at `at`."""
    ids = list(
        plan.reminders.filter(audience="patient")
        .order_by("send_at", "id")
        .values_list("id", flat=True)[:n]
    )
    Reminder.objects.filter(id__in=ids).update(send_at=at, not_after=at + dt.timedelta(hours=6))
    return ids


@pytest.mark.django_db
def test_claim_takes_only_due_rows_oldest_first_and_bounded(make_plan):
    plan = make_plan()
    ids = _due_soon(plan, 5, NOW - dt.timedelta(minutes=1))
    claimed = dispatch.claim_due(now=NOW, limit=3)
    assert len(claimed) == 3 and set(claimed) <= set(ids)
    assert (
        Reminder.objects.filter(id__in=claimed, status="queued", lease_expires_at__gt=Now()).count()
        == 3
    )
    rest = dispatch.claim_due(now=NOW, limit=100)
    assert set(rest) == set(ids) - set(claimed)
    assert dispatch.claim_due(now=NOW, limit=100) == []


@pytest.mark.django_db
def test_an_expired_lease_makes_the_reminder_due_again(make_plan):
    plan = make_plan()
    [rid] = _due_soon(plan, 1, NOW)
    assert rid in dispatch.claim_due(now=NOW)
    # The worker died: nothing happens until the lease ends (by the database's clock, whatever
    # the dispatcher's clock says), then the row is claimed again.
    assert rid not in dispatch.claim_due(now=NOW + dt.timedelta(hours=1))
    Reminder.objects.filter(id=rid).update(lease_expires_at=Now() - dt.timedelta(seconds=1))
    assert rid in dispatch.claim_due(now=NOW)


@pytest.mark.django_db
def test_a_reminder_past_not_after_expires_instead_of_going_late(make_plan):
    plan = make_plan()
    [rid] = _due_soon(plan, 1, NOW)
    Reminder.objects.filter(id=rid).update(not_after=NOW + dt.timedelta(minutes=5))
    assert rid not in dispatch.claim_due(now=NOW + dt.timedelta(hours=1))
    assert Reminder.objects.get(id=rid).status == "expired"


@pytest.mark.django_db
def test_a_second_worker_cannot_take_a_row_being_sent(make_plan):
    plan = make_plan()
    [rid] = _due_soon(plan, 1, NOW)
    dispatch.claim_due(now=NOW)
    [first] = outbox.take_batch([rid])
    assert outbox.begin_send(first)
    assert outbox.take_batch([rid]) == []


@pytest.mark.django_db
def test_a_worker_whose_row_was_taken_over_records_its_attempt_but_not_its_result(make_plan):
    plan = make_plan()
    [rid] = _due_soon(plan, 1, NOW)
    dispatch.claim_due(now=NOW)
    [stale] = outbox.take_batch([rid])
    # A duplicate broker message: a second worker takes the row before the first sends it.
    [newer] = outbox.take_batch([rid])
    assert newer.lease_token != stale.lease_token
    assert not outbox.begin_send(stale), "the first worker must not send it"
    assert outbox.begin_send(newer)
    assert not outbox.record_sent(stale, backend="email", message_id="late-1", now=NOW)
    row = Reminder.objects.get(id=rid)
    assert row.status == "queued" and row.sending_until is not None  # the newer send owns it
    assert list(DeliveryAttempt.objects.filter(reminder_id=rid).values_list(
        "provider_message_id", "success")) == [("late-1", True)]  # fmt: skip
    assert outbox.record_sent(newer, backend="email", message_id="new-1", now=NOW)
    row.refresh_from_db()
    assert (row.status, row.sending_until, row.sent_at, row.attempts) == ("sent", None, NOW, 1)
    assert DeliveryAttempt.objects.filter(reminder_id=rid).count() == 2


@pytest.mark.django_db
def test_send_time_checks_skip_with_reason(make_plan, sms_outbox):
    plan = make_plan()
    first = plan.items.get(key="dosing-1")
    day_after = first.reminders.filter(requires_attended=True).first()
    Reminder.objects.filter(pk=day_after.pk).update(
        send_at=NOW, not_after=NOW + dt.timedelta(days=1)
    )
    # Marked missed after the reminder was claimed: it must not go.
    dispatch.claim_due(now=NOW)
    type(first).objects.filter(pk=first.pk).update(status="missed")
    assert delivery.deliver(day_after.pk, now=NOW).status == "skipped"
    day_after.refresh_from_db()
    assert day_after.status == "skipped" and "did not take place" in day_after.status_reason


@pytest.mark.django_db
def test_opt_out_after_planning_is_honoured_at_send_time(make_plan, patient, sms_outbox):
    plan = make_plan()
    sms = plan.reminders.filter(channel="sms", audience="patient").first()
    Reminder.objects.filter(pk=sms.pk).update(send_at=NOW, not_after=NOW + dt.timedelta(days=1))
    dispatch.claim_due(now=NOW)
    type(patient).objects.filter(pk=patient.pk).update(sms_opted_out_at=NOW)
    assert delivery.deliver(sms.pk, now=NOW).status == "skipped"
    assert sms_outbox == []


@pytest.mark.django_db
def test_quiet_hours_at_send_time_move_the_reminder_to_their_end(make_plan, sms_outbox):
    plan = make_plan()
    reminder = plan.reminders.filter(audience="patient").first()
    night = dt.datetime(2026, 3, 3, 3, 0, tzinfo=dt.UTC)  # 22:00 in New York
    Reminder.objects.filter(pk=reminder.pk).update(
        send_at=night, not_after=night + dt.timedelta(days=1)
    )
    dispatch.claim_due(now=night)
    assert delivery.deliver(reminder.pk, now=night).status == "retry_later"
    reminder.refresh_from_db()
    assert reminder.status == "scheduled"
    assert reminder.send_at == dt.datetime(2026, 3, 3, 13, 0, tzinfo=dt.UTC)  # 08:00 New York


@pytest.mark.django_db
def test_sms_budget_is_enforced_at_send_time(make_plan, sms_outbox):
    plan = make_plan()
    texts = list(plan.reminders.filter(channel="sms", audience="patient").order_by("send_at")[:2])
    assert len(texts) == 2
    at = dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.UTC)
    Reminder.objects.filter(pk__in=[t.pk for t in texts]).update(
        send_at=at, not_after=at + dt.timedelta(hours=3)
    )
    dispatch.claim_due(now=at)
    outcomes = sorted(delivery.deliver(t.pk, now=at).status for t in texts)
    assert outcomes == ["sent", "skipped"]
    assert len(sms_outbox) == 1


@pytest.mark.django_db
def test_transient_errors_retry_with_backoff_and_permanent_ones_fail(make_plan, monkeypatch):
    from backend.reminders.channels import DeliveryError

    plan = make_plan()
    rid, rid2 = _due_soon(plan, 2, NOW)
    dispatch.claim_due(now=NOW)

    def provider_fails(error):
        def hand_over():
            raise error

        return lambda r, now: ("email", hand_over)

    monkeypatch.setattr(delivery, "_build", provider_fails(DeliveryError("timeout")))
    outcome = delivery.deliver(rid, now=NOW)
    assert outcome.status == "retry_soon" and 0 < outcome.countdown <= 120
    row = Reminder.objects.get(id=rid)
    assert row.status == "queued" and row.attempts == 1 and "timeout" in row.last_error
    monkeypatch.setattr(
        delivery, "_build", provider_fails(DeliveryError("invalid number", permanent=True))
    )
    assert delivery.deliver(rid2, now=NOW).status == "failed"
    assert Reminder.objects.get(id=rid2).status == "failed"
    assert DeliveryAttempt.objects.filter(reminder_id__in=[rid, rid2], success=False).count() == 2


def test_backoff_grows_and_long_waits_are_not_broker_messages():
    waits = [delivery.backoff_seconds(n) for n in range(1, 8)]
    assert waits[0] <= 15 and waits[-1] > 120
    assert all(w >= 1 for w in waits)


@pytest.mark.django_db(transaction=True)
def test_due_reminders_go_out_once_through_a_real_worker(
    make_plan, sms_outbox, celery_app_clean, celery_worker, mailoutbox
):
    """Beat's task, the broker and a real worker: due rows become sent, each exactly once."""
    from backend.reminders.tasks import dispatch_due

    daytime = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # 11:00 in New York: no quiet hours
    plan = make_plan(now=daytime - dt.timedelta(days=1))
    with time_machine.travel(daytime, tick=True):
        now = dt.datetime.now(dt.UTC)
        ids = _due_soon(plan, 6, now - dt.timedelta(seconds=1))
        dispatch_due.delay()
        dispatch_due.delay()  # a second beat, or a retried tick
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not Reminder.objects.filter(id__in=ids, status__in=["scheduled", "queued"]).exists():
                break
            time.sleep(0.2)
    statuses = dict(Reminder.objects.filter(id__in=ids).values_list("id", "status"))
    assert set(statuses.values()) <= {"sent", "skipped"}, statuses
    sent = [i for i, s in statuses.items() if s == "sent"]
    assert sent
    assert DeliveryAttempt.objects.filter(reminder_id__in=ids, success=True).count() == len(sent)
    # Rows already due at plan time (a provider's readiness notice a day before the session) go
    # out with them: every message out is one sent row, once.
    sent_rows = Reminder.objects.filter(plan=plan, status="sent").count()
    assert len(sms_outbox) + len(mailoutbox) == sent_rows >= len(sent)


@pytest.mark.django_db(transaction=True)
def test_a_following_tick_claims_rows_that_fall_due_during_it(make_plan, celery_app_clean):
    from backend.reminders.tasks import dispatch_due

    plan = make_plan(now=dt.datetime.now(dt.UTC))
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)
    [rid] = _due_soon(plan, 1, soon)
    Reminder.objects.exclude(id=rid).update(status="cancelled")
    started = time.monotonic()
    assert dispatch_due(follow_seconds=3) == 1
    assert Reminder.objects.get(id=rid).status == "queued"
    assert 2.5 <= time.monotonic() - started < 10
    # Without following, a tick returns at once when nothing is due.
    started = time.monotonic()
    assert dispatch_due() == 0
    assert time.monotonic() - started < 1


@pytest.mark.django_db
def test_beat_runs_the_dispatcher_every_30_s_following_for_25():
    import json

    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="reminders.dispatch_due")
    assert task.interval.every == 30 and json.loads(task.kwargs) == {"follow_seconds": 25}
    # No expiry: it was judged on the worker's clock, and a worker 30 s ahead dropped every tick.
    # A late tick is harmless (claims are conditional UPDATEs).
    assert task.expire_seconds is None and task.expires is None


@pytest.mark.django_db(transaction=True)
def test_a_dropped_tick_is_a_warning(celery_app_clean, celery_worker, caplog):
    from backend.reminders.tasks import dispatch_due

    caplog.set_level("WARNING", logger="backend.reminders.tasks")
    dispatch_due.apply_async(expires=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    deadline = time.monotonic() + 20

    def ours():
        return [r for r in caplog.records if r.name == "backend.reminders.tasks"]

    while time.monotonic() < deadline and not ours():
        time.sleep(0.1)
    [record] = ours()
    assert record.levelname == "WARNING" and "reminders.dispatch_due" in record.getMessage()
    assert "expired" in record.getMessage()


@pytest.mark.django_db
def test_one_broken_row_does_not_hold_up_its_batch(make_plan, clinic, sms_outbox, mailoutbox):
    """A row whose message cannot be built fails with its reason; the others still go."""
    plan = make_plan()
    ids = _due_soon(plan, 4, NOW)
    dispatch.claim_due(now=NOW)
    clinic.sender_name = "Smith, Jones & Co"  # needs quoting in a From header
    clinic.save()
    broken = Reminder.objects.get(id=ids[0])
    broken.message_kind = "no_such_kind"
    broken.save()
    outcomes = delivery.deliver_many(ids, now=NOW)
    assert outcomes[ids[0]].status == "failed"
    assert "cannot build the message" in Reminder.objects.get(id=ids[0]).last_error
    assert {outcomes[i].status for i in ids[1:]} <= {"sent", "skipped", "retry_later"}
    assert any(outcomes[i].status == "sent" for i in ids[1:])
    assert any('"Smith, Jones & Co"' in m.from_email for m in mailoutbox)


@pytest.mark.django_db
def test_rows_a_batch_did_not_reach_go_back_to_scheduled(make_plan, monkeypatch):
    plan = make_plan()
    ids = _due_soon(plan, 3, NOW)
    dispatch.claim_due(now=NOW)
    monkeypatch.setattr(delivery, "BATCH_BUDGET_S", -1)  # out of time before the first row
    outcomes = delivery.deliver_many(ids, now=NOW)
    assert {o.status for o in outcomes.values()} == {"not_taken"}
    rows = Reminder.objects.filter(id__in=ids)
    assert set(rows.values_list("status", flat=True)) == {"scheduled"}
    assert set(rows.values_list("attempts", flat=True)) == {0}
    assert set(rows.values_list("sending_until", flat=True)) == {None}


def test_transient_failures_keep_retrying_with_a_capped_backoff():
    assert delivery.backoff_seconds(30) <= delivery.BACKOFF_CAP_S
    assert delivery.MAX_ATTEMPTS >= 20
