"""/metrics (Prometheus text format, for operators): the outbox read from the database at scrape
time, and events counted where they happen (task failures in a real worker, webhook receipts)."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.db.models.functions import Now
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from backend.celery import app as celery_app
from backend.core.models import PeriodicTick
from backend.reminders.models import Reminder
from tests.factories import make_plan
from tests.support.clock import SUITE_NOW

TOKEN = "metrics-scrape-token-1"


@celery_app.task(name="tests.metrics.always_fails")
def always_fails() -> None:
    raise RuntimeError("a task that fails, for the failure counter")


def _scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


@pytest.fixture()
def scrape(client, settings):
    settings.MONITORING_TOKEN = TOKEN
    return lambda: _scrape(client)


@pytest.mark.django_db
def test_reminders_by_status_and_channel_and_the_dispatch_lag_come_from_the_database(scrape):
    plan = make_plan(now=SUITE_NOW).plan
    plan.reminders.update(send_at=Now() + dt.timedelta(days=1))
    late = plan.reminders.filter(channel="sms").order_by("id").first()
    Reminder.objects.filter(pk=late.pk).update(send_at=Now() - dt.timedelta(minutes=6))
    Reminder.objects.filter(pk=plan.reminders.filter(channel="email").first().pk).update(
        status=Reminder.Status.SENT
    )
    PeriodicTick.record("reminders.dispatch_due")

    metrics = scrape()
    for status in Reminder.Status.values:
        for channel in Reminder.Channel.values:
            expected = Reminder.objects.filter(status=status, channel=channel).count()
            key = ("aftercare_reminders", (("channel", channel), ("status", status)))
            assert metrics[key] == expected, key
    assert metrics[("aftercare_reminders", (("channel", "email"), ("status", "sent")))] == 1
    assert 360 <= metrics[("aftercare_dispatch_lag_seconds", ())] < 420
    tick = ("aftercare_periodic_task_age_seconds", (("task", "reminders.dispatch_due"),))
    assert 0 <= metrics[tick] < 30
    assert metrics[("aftercare_database_up", ())] == 1

    Reminder.objects.filter(pk=late.pk).update(status=Reminder.Status.SENT)
    assert scrape()[("aftercare_dispatch_lag_seconds", ())] == 0


@pytest.mark.django_db
def test_webhook_receipts_are_counted_by_endpoint_and_status_class(client, scrape):
    labels = {"endpoint": "twilio_status", "status": "4xx"}
    before = REGISTRY.get_sample_value("aftercare_webhook_receipts_total", labels) or 0
    assert client.post("/webhooks/twilio/status/", {"MessageSid": "SMx"}).status_code == 403
    key = ("aftercare_webhook_receipts_total", (("endpoint", "twilio_status"), ("status", "4xx")))
    assert scrape()[key] == before + 1


@pytest.mark.django_db(transaction=True)
def test_a_task_that_fails_in_a_real_worker_is_counted(celery_app_clean, celery_worker, scrape):
    labels = {"task": "tests.metrics.always_fails"}
    before = REGISTRY.get_sample_value("aftercare_task_failures_total", labels) or 0
    always_fails.delay()
    deadline = time.monotonic() + 20
    while (REGISTRY.get_sample_value("aftercare_task_failures_total", labels) or 0) == before:
        assert time.monotonic() < deadline, "the failure was never counted"
        time.sleep(0.1)
    key = ("aftercare_task_failures_total", (("task", "tests.metrics.always_fails"),))
    assert scrape()[key] == before + 1


@pytest.mark.django_db
def test_metrics_name_no_patient(scrape, client):
    plan = make_plan(now=SUITE_NOW).plan
    patient = plan.patient
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    for private in (patient.first_name, patient.last_name, patient.email, str(patient.mobile)):
        assert private not in text


def test_one_scrape_sums_what_every_process_of_the_host_counted(tmp_path):
    """prometheus_client's multiprocess mode: a send worker's latency and a web process's
    receipts, written by two processes, come out of a third's scrape."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DEBUG": "true"}
    setup = "import django; django.setup(); from backend.core import metrics as m; "
    for statement in (
        "m.SEND_LATENCY.labels('sms').observe(0.2)",
        "m.WEBHOOK_RECEIPTS.labels('twilio_inbound', '2xx').inc()",
    ):
        subprocess.run([sys.executable, "-c", setup + statement], env=env, cwd=ROOT, check=True)
    scraper = (
        setup + "from prometheus_client import CollectorRegistry, generate_latest, multiprocess; "
        "r = CollectorRegistry(); multiprocess.MultiProcessCollector(r); "
        "print(generate_latest(r).decode())"
    )
    text = subprocess.run(
        [sys.executable, "-c", scraper], env=env, cwd=ROOT, check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    assert 'aftercare_send_latency_seconds_count{channel="sms"} 1.0' in text, text
    assert 'aftercare_webhook_receipts_total{endpoint="twilio_inbound",status="2xx"} 1.0' in text, (
        text
    )


@pytest.mark.django_db(transaction=True)
def test_a_send_through_a_real_worker_records_its_latency_and_lateness(
    celery_app_clean, celery_worker, make_plan, sms_outbox, scrape
):
    from backend.reminders.tasks import dispatch_due

    plan = make_plan()
    reminder = plan.reminders.filter(audience="patient", channel="sms").order_by("id").first()
    Reminder.objects.filter(pk=reminder.pk).update(
        send_at=SUITE_NOW - dt.timedelta(seconds=40), not_after=SUITE_NOW + dt.timedelta(hours=6)
    )
    labels = {"channel": "sms"}
    sends = REGISTRY.get_sample_value("aftercare_send_latency_seconds_count", labels) or 0
    late = REGISTRY.get_sample_value("aftercare_send_lateness_seconds_sum", labels) or 0
    dispatch_due.delay()
    deadline = time.monotonic() + 30
    while Reminder.objects.get(pk=reminder.pk).status != "sent":
        assert time.monotonic() < deadline, Reminder.objects.get(pk=reminder.pk).status
        time.sleep(0.1)
    metrics = scrape()
    key = ("aftercare_send_latency_seconds_count", (("channel", "sms"),))
    assert metrics[key] == sends + 1 and len(sms_outbox) == 1
    lateness = metrics[("aftercare_send_lateness_seconds_sum", (("channel", "sms"),))] - late
    assert 40 <= lateness < 100
