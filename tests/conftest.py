"""Test session set-up: a fixed clock for every test, and a real broker for every test that
needs Celery.

Every test runs at ``SUITE_NOW`` (tests/support/clock.py) with the clock ticking, whatever day the
suite runs; a test about a particular date travels there itself. Hypothesis runs derandomised, so a
red build always reproduces; ``HYPOTHESIS_PROFILE=explore`` searches afresh and deeper.

With REDIS_URL set (CI on the machine's Redis) the suite uses it; otherwise this session starts an
embedded redis-server on a free port and stops it at the end. Celery tests run a real worker
thread (celery.contrib.pytest's `celery_worker`) bound to the project's own app, so the tasks,
queues and serialisation under test are the production ones.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import time_machine
from hypothesis import settings as hypothesis_settings

from tests.support.clock import SUITE_NOW

ROOT = Path(__file__).resolve().parent.parent
_embedded = None


hypothesis_settings.register_profile("deterministic", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", max_examples=500)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


def pytest_configure(config):
    global _embedded
    # The SQLite test database lives in var/, whichever services are configured.
    (ROOT / "var").mkdir(exist_ok=True)
    url = os.environ.get("REDIS_URL")
    if not url:
        from backend.core.embedded_redis import EmbeddedRedis

        # Under libfaketime (CI's moved-clock runs) redis-server hangs at start-up: jemalloc and the
        # preloaded clock call each other. Redis is only the broker; it keeps the machine's clock.
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        _embedded = EmbeddedRedis(ROOT / "var" / "test-redis", env=env)
        url = _embedded.start()
        os.environ["REDIS_URL"] = url
    from django.conf import settings

    from backend.celery import app

    settings.REDIS_URL = url
    settings.CELERY_BROKER_URL = url
    app.conf.broker_url = url


def pytest_unconfigure(config):
    if _embedded is not None:
        _embedded.stop()


@pytest.fixture(autouse=True)
def clock():
    """The test's clock: SUITE_NOW, ticking. ``clock.move_to(instant)`` to be elsewhere."""
    with time_machine.travel(SUITE_NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ["REDIS_URL"]


@pytest.fixture(scope="session")
def celery_app():
    from backend.celery import app

    return app


@pytest.fixture()
def celery_app_clean(celery_app, redis_url):
    """The project app with both queues emptied before the test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete("dispatch", "send")
    return celery_app


@pytest.fixture(scope="session")
def celery_includes():
    return ["backend.core.tasks", "backend.reminders.tasks"]


@pytest.fixture(scope="session")
def celery_worker_pool():
    return "solo"


@pytest.fixture(scope="session")
def celery_worker_parameters():
    # No result backend (results are never used in production), so no ping round-trip.
    return {"perform_ping_check": False, "queues": ("dispatch", "send"), "loglevel": "WARNING"}
