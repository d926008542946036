"""Database connections of Celery worker processes.

Connections are kept across tasks (CELERY_DB_REUSE_MAX) and checked before each task as Django
checks them before each request: an unusable or too old one (CONN_MAX_AGE) is closed and
reopened on first use, so a database restart costs one failed check, not failed reminders.

Worker processes also write to PostgreSQL with `synchronous_commit = off`, except a text's send
record, which commits synchronously (backend.reminders.outbox: a resent text can break the
patient's SMS budget).

Every write a worker makes can be redone safely: a claim that is forgotten leaves the row
`scheduled` (claimed again), a forgotten email record leaves it `queued` (sent again when its
lease ends). Commits are still acknowledged before the worker moves on, so a killed *worker*
loses nothing; only a crash or failover of the *database server* can forget the last fraction of
a second of worker writes (https://www.postgresql.org/docs/current/wal-async-commit.html), and
the cost of that is a duplicate email, never a lost one. Web requests (plan changes) keep
synchronous commits. Waiting for the flush was most of the cost of a send (bench/dispatch.py).

Behind PgBouncer in transaction pooling (DATABASE_TRANSACTION_POOLING), a session setting would
stay on a pooled server connection and reach whichever client gets it next, web requests included
(bench/scale_out.py found 6 of 30 pooled connections handed out with it off). There the session
is left alone, and the workers' own database role carries the setting
(`ALTER ROLE aftercare_worker SET synchronous_commit = off`; docs/production.md).
"""

from __future__ import annotations

from celery.signals import task_prerun, worker_process_init
from django.conf import settings
from django.db import close_old_connections
from django.db.backends.signals import connection_created
from django.dispatch import receiver

_in_worker_process = False


@worker_process_init.connect
def _mark_worker_process(**kwargs) -> None:
    global _in_worker_process
    _in_worker_process = True


@receiver(connection_created, weak=False, dispatch_uid="aftercare-worker-async-commit")
def _async_commit_in_workers(sender, connection, **kwargs) -> None:
    if settings.DATABASE_TRANSACTION_POOLING:
        return  # a session setting would leak to the pool's next client
    if _in_worker_process and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")


@task_prerun.connect
def _check_connections_before_each_task(**kwargs) -> None:
    close_old_connections()
