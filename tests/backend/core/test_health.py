import pytest
from django.db import connection

from backend.celery import app as celery_app


@pytest.mark.django_db
def test_health_ok_when_database_and_broker_answer(client):
    from backend.core.models import PeriodicTick

    PeriodicTick.record("reminders.dispatch_due")
    response = client.get("/health/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ok"


@pytest.mark.django_db
def test_health_503_names_the_broker_when_it_is_unreachable(client, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/health/")
    assert response.status_code == 503
    failed = response.json()["failed"]
    assert len(failed) == 1 and failed[0].startswith("broker:")


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

    dispatch_due()  # a tick, recorded with the database's clock (the suite's clock is elsewhere)
    body = client.get("/health/").json()
    assert body["status"] == "ok"
    assert 0 <= body["dispatcher"]["last_tick_s"] < 30


@pytest.mark.django_db
def test_health_warns_when_the_dispatcher_has_not_ticked(client):
    body = client.get("/health/").json()
    assert body["status"] == "degraded" and body["warnings"] == ["dispatcher: no tick recorded"]


@pytest.mark.django_db
def test_health_warns_when_the_last_tick_is_late(client):
    import datetime as dt

    from django.db.models.functions import Now

    from backend.core.models import PeriodicTick

    PeriodicTick.record("reminders.dispatch_due")
    PeriodicTick.objects.update(ran_at=Now() - dt.timedelta(minutes=5))
    response = client.get("/health/")
    assert response.status_code == 200  # web requests are fine; reminders are not going out
    body = response.json()
    assert body["status"] == "degraded" and body["dispatcher"]["last_tick_s"] >= 300
    assert body["warnings"][0].startswith("dispatcher: last tick")
