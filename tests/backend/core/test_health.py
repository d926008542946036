"""/health/ tells the truth: 503 when the database or broker is down, when the dispatcher has not
ticked for 2 minutes, or when a due reminder is more than 5 minutes late. Every age is read on
the database's clock (the suite's own clock is elsewhere, tests/support/clock.py)."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models.functions import Now

from backend.celery import app as celery_app
from backend.core.models import PeriodicTick, WorkerHeartbeat
from backend.reminders.models import Reminder
from tests.factories import make_plan
from tests.support.clock import SUITE_NOW

DISPATCH = "reminders.dispatch_due"


def _tick(ago: dt.timedelta = dt.timedelta(0)) -> None:
    PeriodicTick.record(DISPATCH)
    PeriodicTick.objects.filter(task=DISPATCH).update(ran_at=Now() - ago)


def _one_reminder_due(ago: dt.timedelta, status=Reminder.Status.SCHEDULED) -> Reminder:
    """A plan whose reminders are all in the future by the database's clock but one."""
    plan = make_plan(now=SUITE_NOW).plan
    plan.reminders.update(send_at=Now() + dt.timedelta(days=1))
    reminder = plan.reminders.order_by("id").first()
    Reminder.objects.filter(pk=reminder.pk).update(send_at=Now() - ago, status=status)
    return reminder


@pytest.mark.django_db
def test_health_ok_when_everything_answers_and_nothing_is_late(client):
    _tick()
    response = client.get("/health/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok" and body["reminders"]["oldest_due_s"] is None
    assert 0 <= body["dispatcher"]["last_tick_s"] < 30


@pytest.mark.django_db
def test_health_503_names_the_broker_when_it_is_unreachable(client, monkeypatch):
    _tick()
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/health/")
    assert response.status_code == 503
    assert [f.split(":")[0] for f in response.json()["failed"]] == ["broker"]


@pytest.mark.django_db
def test_health_503_names_the_database_when_it_fails(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise connection.Database.OperationalError("server closed the connection")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/health/")
    assert response.status_code == 503
    assert [f.split(":")[0] for f in response.json()["failed"]] == ["database"]


@pytest.mark.django_db
def test_health_reports_the_dispatchers_last_tick_by_the_database_clock(client):
    from backend.reminders.tasks import dispatch_due

    dispatch_due()  # a tick, recorded with the database's clock
    body = client.get("/health/").json()
    assert body["status"] == "ok"
    assert 0 <= body["dispatcher"]["last_tick_s"] < 30


@pytest.mark.django_db
def test_health_503_before_the_dispatcher_ever_ticked(client):
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["failed"] == ["dispatcher: no tick recorded"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ago, status", [(dt.timedelta(seconds=100), 200), (dt.timedelta(seconds=125), 503)]
)
def test_health_503_once_the_dispatcher_has_not_ticked_for_two_minutes(client, ago, status):
    _tick(ago)
    response = client.get("/health/")
    assert response.status_code == status, response.content
    body = response.json()
    assert body["dispatcher"]["last_tick_s"] >= ago.total_seconds()
    if status == 503:
        assert body["failed"][0].startswith("dispatcher: last tick")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ago, status",
    [(dt.timedelta(minutes=4), 200), (dt.timedelta(minutes=5, seconds=10), 503)],
)
def test_health_503_once_a_due_reminder_is_five_minutes_late(client, ago, status):
    _tick()
    _one_reminder_due(ago)
    response = client.get("/health/")
    assert response.status_code == status, response.content
    body = response.json()
    assert ago.total_seconds() <= body["reminders"]["oldest_due_s"] < ago.total_seconds() + 60
    if status == 503:
        assert body["failed"] == [
            f"reminders: oldest due {body['reminders']['oldest_due_s']:.0f} s ago"
        ]


@pytest.mark.django_db
def test_a_claimed_row_no_worker_takes_counts_as_late(client):
    """Send workers down: the dispatcher claims and re-claims, the row stays queued and late."""
    _tick()
    _one_reminder_due(dt.timedelta(minutes=7), status=Reminder.Status.QUEUED)
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["failed"][0].startswith("reminders: oldest due")


@pytest.mark.django_db
def test_sent_and_cancelled_reminders_are_never_late(client):
    _tick()
    reminder = _one_reminder_due(dt.timedelta(hours=2))
    for status in (Reminder.Status.SENT, Reminder.Status.CANCELLED, Reminder.Status.EXPIRED):
        Reminder.objects.filter(pk=reminder.pk).update(status=status)
        assert client.get("/health/").status_code == 200


def _bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health/detail/", "/metrics"])
def test_operator_endpoints_need_the_monitoring_token_or_an_administrator(client, settings, path):
    from tests.factories import CoordinatorFactory, ProviderFactory

    settings.MONITORING_TOKEN = "s3cret-monitoring-token"
    _tick()
    assert client.get(path).status_code == 401
    assert client.get(path, **_bearer("wrong")).status_code == 401
    assert client.get(path, **_bearer("s3cret-monitoring-token")).status_code == 200
    for user in (CoordinatorFactory().user, ProviderFactory().user):
        client.force_login(user)
        assert client.get(path).status_code == 403
    client.force_login(User.objects.create_superuser("ops", "ops@example.com", "x"))
    assert client.get(path).status_code == 200
    settings.MONITORING_TOKEN = ""  # no token configured: a bearer never gets in
    client.logout()
    assert client.get(path, **_bearer("")).status_code == 401


@pytest.mark.django_db
def test_health_detail_explains_the_state_without_naming_anyone(client, settings):
    settings.MONITORING_TOKEN = "t0ken-for-detail"
    _tick()
    reminder = _one_reminder_due(dt.timedelta(minutes=6))
    WorkerHeartbeat.objects.create(hostname="worker@host-1", seen_at=SUITE_NOW)
    response = client.get("/health/detail/", **_bearer("t0ken-for-detail"))
    assert response.status_code == 503
    body = response.json()
    assert body["reminders"]["due_scheduled"] == 1 and body["reminders"]["queued"] == 0
    assert body["ticks"][DISPATCH] < 30
    assert body["workers"]["worker@host-1"]["stale"] is True
    patient = reminder.patient
    text = response.content.decode()
    for private in (patient.first_name, patient.last_name, patient.email, str(patient.mobile)):
        assert private and private not in text


@pytest.mark.django_db
def test_liveness_ignores_the_dispatcher_so_a_stopped_sender_keeps_the_pages_up(
    client, monkeypatch
):
    """Load balancers probe /health/live/: the sender being down must not take patients' pages
    out of rotation (that is /health/'s alarm)."""
    assert client.get("/health/").status_code == 503  # never ticked
    assert client.get("/health/live/").json() == {"status": "ok"}

    def broken_cursor(*args, **kwargs):
        raise connection.Database.OperationalError("server closed the connection")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    assert client.get("/health/live/").status_code == 503
