"""The outbox's state machine (backend.reminders.outbox): a cancel wins over a send in flight,
leases run on the database's clock, a provider's acceptance survives a database blip, a fault
gives rows back at once, and nothing outside outbox.py writes a reminder's status."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.db.models.functions import Now
from kombu.exceptions import OperationalError as BrokerError

from backend.plans import services as plan_services
from backend.reminders import consent, delivery, dispatch, eligibility, outbox, tasks
from backend.reminders.channels import DeliveryError
from backend.reminders.models import DeliveryAttempt, Reminder
from backend.reminders.outbox import Outcome
from tests.backend.conftest import NOW
from tests.conftest import ROOT


def _due(plan, n, at=NOW, **filters):
    ids = list(
        plan.reminders.filter(audience="patient", **filters)
        .order_by("send_at", "id")
        .values_list("id", flat=True)[:n]
    )
    Reminder.objects.filter(id__in=ids).update(send_at=at, not_after=at + dt.timedelta(hours=6))
    return ids


class Provider:
    """Stands in for the provider call of `delivery._build`; `during` runs inside the call."""

    def __init__(self, monkeypatch, *, during=None, error: Exception | None = None):
        self.calls: list[int] = []
        self.during, self.error = during, error
        monkeypatch.setattr(delivery, "_build", self.build)

    def build(self, reminder, *, now):
        def hand_over():
            self.calls.append(reminder.id)
            if self.during:
                self.during(reminder)
            if self.error:
                raise self.error
            return f"msg-{reminder.id}"

        return "email", hand_over


def _status(rid) -> str:
    return Reminder.objects.values_list("status", flat=True).get(id=rid)


# --- 1. a cancel that meets a row in flight wins --------------------------------------------------


@pytest.mark.django_db
def test_a_cancel_committed_after_the_take_stops_the_send(make_plan, monkeypatch):
    plan = make_plan()
    [rid] = _due(plan, 1)
    dispatch.claim_due(now=NOW)
    real_check = eligibility.check

    def cancel_meanwhile(reminder, *, now):
        # The worker took the row; a coordinator cancels its session before it is sent.
        plan_services.item_cancel(item=reminder.item, now=NOW)
        return real_check(reminder, now=now)

    monkeypatch.setattr(eligibility, "check", cancel_meanwhile)
    provider = Provider(monkeypatch)
    assert delivery.deliver(rid, now=NOW).status == Outcome.NOT_TAKEN
    assert provider.calls == [], "nothing goes to the provider after a cancel committed"
    assert _status(rid) == "cancelled"


@pytest.mark.django_db
def test_a_cancel_while_the_provider_has_the_message_leaves_it_sent(make_plan, monkeypatch):
    plan = make_plan()
    [rid] = _due(plan, 1)
    dispatch.claim_due(now=NOW)
    cancels = []
    Provider(
        monkeypatch,
        during=lambda r: cancels.append(
            outbox.cancel(Reminder.objects.filter(id=r.id), reason="plan paused")
        ),
    )
    assert delivery.deliver(rid, now=NOW).status == Outcome.SENT
    assert cancels == [1]  # the cancel did reach the row...
    row = Reminder.objects.get(id=rid)
    # ...but the provider had it first: the database says what the patient received.
    assert (row.status, row.provider_message_id, row.sending_until) == ("sent", f"msg-{rid}", None)
    assert DeliveryAttempt.objects.filter(reminder_id=rid, success=True).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("result", ["transient error", "permanent error"])
def test_a_failed_attempt_never_brings_a_cancelled_row_back(make_plan, monkeypatch, result):
    plan = make_plan()
    [rid] = _due(plan, 1)
    dispatch.claim_due(now=NOW)
    Provider(
        monkeypatch,
        during=lambda r: outbox.cancel(Reminder.objects.filter(id=r.id), reason="answered"),
        error=DeliveryError("timeout", permanent=result == "permanent error"),
    )
    delivery.deliver(rid, now=NOW)
    assert _status(rid) == "cancelled"
    assert DeliveryAttempt.objects.filter(reminder_id=rid, success=False).count() == 1


@pytest.mark.django_db
def test_quiet_hours_after_a_cancel_leave_the_row_cancelled(make_plan, monkeypatch):
    """The worker's "later" (quiet hours) used to turn CANCELLED back into SCHEDULED."""
    plan = make_plan()
    [rid] = _due(plan, 1)
    dispatch.claim_due(now=NOW)

    def later_after_a_cancel(reminder, *, now):
        plan_services.item_mark_completed(item=reminder.item, now=reminder.item.start)
        outbox.cancel(Reminder.objects.filter(id=reminder.id), reason="answered")
        return eligibility.Verdict(
            eligibility.Status.LATER, "quiet hours", NOW + dt.timedelta(hours=9)
        )

    monkeypatch.setattr(eligibility, "check", later_after_a_cancel)
    assert delivery.deliver(rid, now=NOW).status == Outcome.RETRY_LATER
    assert _status(rid) == "cancelled"


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["plan_pause", "item_cancel", "opt_out", "staff"])
def test_every_cancel_reaches_rows_a_worker_holds(make_plan, patient, monkeypatch, how):
    """Pausing a plan and opting out used to leave rows a worker held alone (and sent them)."""
    plan = make_plan()
    [rid] = _due(plan, 1, channel="email")
    dispatch.claim_due(now=NOW)
    [held] = outbox.take_batch([rid])
    if how == "plan_pause":
        plan_services.plan_pause(plan=plan, now=NOW)
    elif how == "item_cancel":
        plan_services.item_cancel(item=held.item, now=NOW)
    elif how == "opt_out":
        consent.opt_out(patient=patient, channel="email", method="web", now=NOW)
    else:
        from backend.reminders.services import reminder_cancel

        reminder_cancel(reminder=held)
    assert _status(rid) == "cancelled"
    assert not outbox.begin_send(held), "the worker must not send a cancelled row"
    # Its record cannot bring it back either.
    outbox.record_later(held, send_at=NOW, reason="quiet hours")
    assert _status(rid) == "cancelled"


# --- 2. leases run on the database's clock --------------------------------------------------------


@pytest.mark.django_db
def test_leases_are_set_on_the_database_clock(make_plan):
    plan = make_plan()
    [rid] = _due(plan, 1)
    dispatch.claim_due(
        now=NOW
    )  # the app's clock says 2026-03-02 (the suite's); the database's differs
    row = Reminder.objects.annotate(db_now=Now()).get(id=rid)
    lease = row.lease_expires_at - row.db_now
    assert dt.timedelta(0) < lease <= outbox.dispatch_lease()


@pytest.mark.django_db
@pytest.mark.parametrize("skew", [dt.timedelta(minutes=2), dt.timedelta(hours=3)])
def test_a_process_whose_clock_is_ahead_neither_releases_nor_steals_a_row(make_plan, skew):
    plan = make_plan()
    [rid] = _due(plan, 1)
    dispatch.claim_due(now=NOW)
    [held] = outbox.take_batch([rid])
    assert outbox.begin_send(held)
    # A dispatcher and a second worker whose clocks run ahead: the lease is judged by the
    # database, so the row stays with the first worker.
    assert rid not in dispatch.claim_due(now=NOW + skew)
    assert outbox.take_batch([rid]) == []
    assert _status(rid) == "queued"
    assert outbox.record_sent(held, backend="email", message_id="m-1", now=NOW)
    assert _status(rid) == "sent"


# --- 3. the provider's acceptance survives a database blip ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_lost_connection_while_recording_a_send_keeps_the_record_and_sends_once(
    make_plan, mailoutbox, monkeypatch
):
    monkeypatch.setattr(outbox, "DB_RETRY_PAUSES_S", (0.01, 0.01))
    plan = make_plan()
    [rid] = _due(plan, 1, channel="email")
    dispatch.claim_due(now=NOW)
    failures = []

    def blip_on_first_record(execute, sql, params, many, context):
        if (
            not failures
            and sql.lstrip().upper().startswith("INSERT")
            and "deliveryattempt" in sql.lower()
        ):
            failures.append(sql)
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(blip_on_first_record):
        assert delivery.deliver(rid, now=NOW).status == Outcome.SENT
    assert failures, "the first record met the error"
    row = Reminder.objects.get(id=rid)
    assert row.status == "sent" and row.provider_message_id
    assert list(
        DeliveryAttempt.objects.filter(reminder_id=rid).values_list("success", flat=True)
    ) == [True]
    # Never again: the row's acceptance is on record.
    assert dispatch.claim_due(now=NOW + dt.timedelta(hours=1)) == []
    assert delivery.deliver(rid, now=NOW).status == Outcome.NOT_TAKEN
    assert len(mailoutbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_send_the_database_never_heard_of_is_recorded_through_the_broker(
    make_plan, mailoutbox, monkeypatch
):
    """The database stays away through every retry of the record: the provider's id goes to the
    broker, and the task records the send once the database is back; the row never goes again."""
    monkeypatch.setattr(outbox, "DB_RETRY_PAUSES_S", (0.01, 0.01))
    plan = make_plan()
    [rid] = _due(plan, 1, channel="email")
    dispatch.claim_due(now=NOW)
    handed = []
    monkeypatch.setattr(tasks.record_sent, "apply_async", lambda **kw: handed.append(kw["kwargs"]))

    def database_gone(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT") and "deliveryattempt" in sql.lower():
            raise OperationalError("could not connect to server")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(database_gone), pytest.raises(OperationalError):
        delivery.deliver(rid, now=NOW)
    assert len(mailoutbox) == 1 and _status(rid) == "queued"
    [message] = handed
    assert message["message_id"] and message["reminder_id"] == rid
    # The database is back; the worker runs the task.
    tasks.record_sent.run(**message)
    row = Reminder.objects.get(id=rid)
    assert (row.status, row.provider_message_id) == ("sent", message["message_id"])
    assert DeliveryAttempt.objects.filter(reminder_id=rid, success=True).count() == 1
    assert dispatch.claim_due(now=NOW + dt.timedelta(hours=1)) == []
    assert len(mailoutbox) == 1


# --- 4. a fault gives the rows back at once -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_database_error_mid_batch_gives_untried_rows_back_at_once(make_plan, monkeypatch):
    monkeypatch.setattr(outbox, "DB_RETRY_PAUSES_S", (0.01,))
    plan = make_plan()
    ids = _due(plan, 4, channel="email")
    dispatch.claim_due(now=NOW)
    provider = Provider(monkeypatch)
    real_begin = outbox.begin_send

    def begin_fails_on_third(reminder):
        if len(provider.calls) == 2:
            raise OperationalError("terminating connection due to administrator command")
        return real_begin(reminder)

    monkeypatch.setattr(outbox, "begin_send", begin_fails_on_third)
    with pytest.raises(OperationalError):
        delivery.deliver_many(ids, now=NOW)
    rows = dict(Reminder.objects.filter(id__in=ids).values_list("id", "status"))
    assert [rows[i] for i in ids] == ["sent", "sent", "scheduled", "scheduled"]
    # Due again now, not after a lease.
    assert set(dispatch.claim_due(now=NOW)) == set(ids[2:])


@pytest.mark.django_db(transaction=True)
def test_a_broker_error_gives_the_claimed_rows_back_at_once(make_plan, monkeypatch):
    plan = make_plan()
    ids = _due(plan, 3)

    def broker_down(*args, **kwargs):
        raise BrokerError("Error 111 connecting to redis. Connection refused.")

    monkeypatch.setattr(tasks.send_batch, "delay", broker_down)
    monkeypatch.setattr(tasks.timezone, "now", lambda: NOW)
    with pytest.raises(BrokerError):
        tasks.dispatch_due()
    assert set(Reminder.objects.filter(id__in=ids).values_list("status", flat=True)) == {
        "scheduled"
    }
    assert set(dispatch.claim_due(now=NOW)) == set(ids)


# --- 5. durability: a text's record commits synchronously -----------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("channel", ["sms", "email"])
def test_a_texts_record_waits_for_the_disk_and_an_emails_does_not(make_plan, channel):
    plan = make_plan()
    [rid] = _due(plan, 1, channel=channel)
    dispatch.claim_due(now=NOW)
    [held] = outbox.take_batch([rid])
    assert outbox.begin_send(held)
    statements = []

    def capture(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        outbox.record_sent(held, backend=channel, message_id="m-1", now=NOW)
    synchronous = any("synchronous_commit TO ON" in s for s in statements)
    assert synchronous == (channel == "sms" and connection.vendor == "postgresql")
    assert _status(rid) == "sent"


# --- naming copies --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_copies_follow_one_naming_rule_and_old_names_still_work(make_plan):
    plan = make_plan()
    [rid] = _due(plan, 1)
    first = Reminder.objects.get(id=rid)
    Reminder.objects.filter(id=rid).update(status="sent")
    # A copy made under the older rule stays recognised as a copy of the same engine key.
    old = Reminder.objects.get(id=rid)
    old.pk, old.key, old.status = None, f"{first.key}:resend1", "sent"
    old.save()
    assert outbox.base_key(old.key) == outbox.base_key(f"{first.key}@{rid}") == first.key
    copy = outbox.send_now(reminder=first, now=NOW)
    assert copy.key == f"{first.key}@{old.pk}" and copy.status == "scheduled"
    again = outbox.send_now(reminder=first, now=NOW)
    assert again.key == f"{first.key}@{copy.pk}"
    keys = list(plan.reminders.values_list("key", flat=True))
    assert len(keys) == len(set(keys))


# --- structural proof: nothing else writes a reminder's status ------------------------------------

STATUS_FIELDS = {"status", "delivery_status"}
WRITE_CALLS = {"update", "create", "update_with_history", "update_or_create", "get_or_create"}


def _writes_reminder_status(tree: ast.AST, source: str) -> list[int]:
    """Lines that write a reminder's status: `.update(status=Reminder.Status.X)` and the like,
    `x.status = Reminder.Status.X`, `Reminder(status=...)`, `{"status": Reminder.Status.X}` and
    bulk updates of Reminder rows naming "status" among their fields."""

    def text(node) -> str:
        return ast.get_source_segment(source, node) or ""

    def about_reminders(*nodes) -> bool:
        return any("Reminder" in text(n) or "reminder" in text(n) for n in nodes)

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            for kw in node.keywords:
                if kw.arg in STATUS_FIELDS and (
                    (name in WRITE_CALLS and about_reminders(func, kw.value, *node.args))
                    or name == "Reminder"
                ):
                    lines.append(node.lineno)
            if name.startswith("bulk_update") and about_reminders(*node.args):
                fields = " ".join(text(a) for a in node.args[1:]) + " ".join(
                    text(k.value) for k in node.keywords
                )
                if '"status"' in fields or '"delivery_status"' in fields:
                    lines.append(node.lineno)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if (
                        isinstance(sub, ast.Attribute)
                        and sub.attr in STATUS_FIELDS
                        and about_reminders(sub.value, node.value)
                    ):
                        lines.append(node.lineno)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value in STATUS_FIELDS
                    and "Reminder.Status" in text(value)
                ):
                    lines.append(node.lineno)
    return lines


def test_the_scan_finds_the_ways_a_status_was_written():
    samples = {
        "Reminder.objects.filter(pk=1).update(status=Reminder.Status.CANCELLED)": 1,
        "reminder.status = Reminder.Status.SENT": 1,
        "row.status, row.x = (Reminder.Status.SCHEDULED, None)": 1,
        'bulk_update_with_history(rows, Reminder, ["status"])': 1,
        'updates = {"status": Reminder.Status.FAILED}': 1,
        "update_with_history(Reminder.objects.all(), status=Reminder.Status.CANCELLED)": 1,
        "Reminder.objects.filter(status=Reminder.Status.SENT).count()": 0,
        "item.status = PlanItem.Status.CANCELLED": 0,
    }
    for source, expected in samples.items():
        assert len(_writes_reminder_status(ast.parse(source), source)) == expected, source


# Synthetic data for benchmarks: creates rows with the outcome a dispatcher would have left on
# them (bulk_create), and changes no existing row's status.
SEEDS_OF_NEW_ROWS = {"backend/core/network_seed.py"}


def _offenders() -> list[str]:
    found = []
    for path in sorted((ROOT / "backend").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative in SEEDS_OF_NEW_ROWS or relative == "backend/reminders/outbox.py":
            continue
        if "/migrations/" in relative:
            continue
        source = path.read_text()
        found += [f"{relative}:{n}" for n in _writes_reminder_status(ast.parse(source), source)]
    return found


def test_nothing_outside_the_outbox_writes_a_reminders_status():
    assert _offenders() == [], "write a reminder's status through backend.reminders.outbox"


def test_the_record_of_an_attempt_has_one_path_on_every_database():
    source = Path(outbox.__file__).read_text() + Path(delivery.__file__).read_text()
    assert "_meta.get_field" not in source and "get_db_prep" not in source
    assert "cursor.execute(sql" not in source
