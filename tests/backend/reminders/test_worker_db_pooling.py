"""Behind PgBouncer's transaction pooling a worker must not change its session: the setting would
stay on the pooled server connection and reach the next client (a web request)."""

from __future__ import annotations

import pytest
from django.db import connection

from backend.reminders import worker_db

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="synchronous_commit is PostgreSQL's"
)


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize("pooling, expected", [(False, "off"), (True, "on")])
def test_a_worker_sets_async_commit_on_its_session_only_without_pooling(
    settings, monkeypatch, pooling, expected
):
    settings.DATABASE_TRANSACTION_POOLING = pooling
    monkeypatch.setattr(worker_db, "_in_worker_process", True)
    with connection.cursor() as cursor:
        cursor.execute("RESET synchronous_commit")
    worker_db._async_commit_in_workers(sender=None, connection=connection)
    try:
        assert _synchronous_commit() == expected
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")
