import pytest
from django.db import connection

from backend.celery import app as celery_app


@pytest.mark.django_db
def test_health_ok_when_database_and_broker_answer(client):
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
