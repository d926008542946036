"""Celery configuration and a real round trip through the broker and a worker."""

import time

import pytest

from backend.celery import (
    MAX_CELERY_RETRY_DELAY_S,
    SEND_QUEUE,
    TASK_TIME_LIMIT_S,
    VISIBILITY_TIMEOUT_S,
)
from backend.celery import app as celery_app
from backend.core.models import WorkerHeartbeat


def test_json_only_and_limits():
    conf = celery_app.conf
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.task_time_limit == TASK_TIME_LIMIT_S
    assert conf.worker_prefetch_multiplier == 1
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert visibility == VISIBILITY_TIMEOUT_S
    assert visibility > TASK_TIME_LIMIT_S + MAX_CELERY_RETRY_DELAY_S


def test_queues_are_separate_for_dispatching_and_sending():
    route = celery_app.amqp.router.route
    assert route({}, "reminders.dispatch_due")["queue"].name == "dispatch"
    assert route({}, "reminders.send_reminder")["queue"].name == SEND_QUEUE


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_task_from_the_broker(celery_app_clean, celery_worker):
    from backend.core.tasks import heartbeat

    heartbeat.delay("roundtrip-test")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if WorkerHeartbeat.objects.filter(hostname="roundtrip-test").exists():
            break
        time.sleep(0.1)
    assert WorkerHeartbeat.objects.filter(hostname="roundtrip-test").exists()


@pytest.mark.django_db
def test_periodic_tasks_come_from_the_migration():
    from django_celery_beat.models import PeriodicTask

    dispatch = PeriodicTask.objects.get(task="reminders.dispatch_due")
    assert dispatch.enabled and dispatch.interval.every == 30
    assert dispatch.interval.period == "seconds" and dispatch.queue == "dispatch"
