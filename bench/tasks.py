"""A no-op Celery task for the raw-throughput baseline of bench/dispatch.py."""

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
