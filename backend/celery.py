"""The Celery app: Redis broker, JSON only, two queues, and limits that keep Redis honest.

Why these numbers: on Redis, a message that is not acknowledged within `visibility_timeout`
is delivered again. Sending tasks acknowledge late (after the work), so the timeout must exceed
the longest a sending task can run plus the longest countdown of a Celery retry; otherwise a slow
send would be sent twice. Longer waits than MAX_CELERY_RETRY_DELAY_S never become broker
messages: the reminder row goes back to `scheduled` with a later `send_at` (decided in
backend.reminders.delivery, written by backend.reminders.outbox.record_later).
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

DISPATCH_QUEUE = "dispatch"
SEND_QUEUE = "send"
TASK_SOFT_TIME_LIMIT_S = 50
TASK_TIME_LIMIT_S = 60
MAX_CELERY_RETRY_DELAY_S = 120
VISIBILITY_TIMEOUT_S = 3 * (TASK_TIME_LIMIT_S + MAX_CELERY_RETRY_DELAY_S)  # 540 s

app = Celery("aftercare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_queues=(Queue(DISPATCH_QUEUE), Queue(SEND_QUEUE)),
    task_default_queue=SEND_QUEUE,
    task_routes={
        "reminders.dispatch_due": {"queue": DISPATCH_QUEUE},
        # Creating the day's digests is bookkeeping like dispatching: it never waits on a provider.
        "reminders.create_digests": {"queue": DISPATCH_QUEUE},
        "reminders.*": {"queue": SEND_QUEUE},
    },
    task_soft_time_limit=TASK_SOFT_TIME_LIMIT_S,
    task_time_limit=TASK_TIME_LIMIT_S,
    # A sending worker takes one message at a time, so a worker that dies holds at most one.
    worker_prefetch_multiplier=1,
    broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
    broker_connection_retry_on_startup=True,
    worker_send_task_events=False,
    task_track_started=False,
)
app.autodiscover_tasks()


@setup_logging.connect
def use_django_logging(**kwargs) -> None:
    """Worker and beat log through Django's LOGGING (JSON in production, with the task id, and
    redacted: backend/core/logging.py) instead of Celery's own format. The level is LOG_LEVEL's."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
