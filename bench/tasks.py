"""A no-op Celery task for the raw-throughput baseline of bench/dispatch.py.

With BENCH_NULL_MESSAGE=1 (a second worker of the benchmark, never production) the worker sends
reminders without building a message, so the benchmark can show what the outbox machinery
itself costs (claim, broker, take, send-time checks, record) apart from the message content.
"""

import os

import redis
from celery import shared_task

_client = None


@shared_task(name="bench.noop", ignore_result=True, acks_late=True)
def noop(n: int) -> None:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["REDIS_URL"])
    _client.incr("bench:noop:done")


if os.environ.get("BENCH_NULL_MESSAGE"):
    from backend.reminders import delivery

    def _no_message(reminder, *, now):
        return "null", lambda: f"null-{reminder.pk}"

    delivery._build = _no_message
