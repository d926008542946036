"""Benchmark: the API under load on loopback, against a bare Django view, in one run.

Needs PostgreSQL; the database is migrated and seeded (existing rows are kept)::

    psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE aftercare_bench"
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/aftercare_bench
    .venv/bin/python bench/api_load.py

Starts gunicorn (gthread workers, one per core) on bench/api_wsgi.py, which adds `/bench/bare/`
(a Django view returning a constant, through the same middleware) to the production URLs. Then
a thread pool of keep-alive http.client connections loads, in alternating phases, plan detail
(GET /api/v1/plans/{id}/ as the coordinator: a 12-week plan with its items; its reminders have
their own endpoint and are not in this body), upcoming check-ins
(GET /api/v1/check-ins/upcoming/?days=90 as the provider) and the bare view.
Prints median and 95th-percentile latency and requests per second for each, and as its last line
`plan_detail_vs_bare_p50: <ratio>` (limit: at most 4).

Options (environment): BENCH_SECONDS per phase (default 8), BENCH_CONCURRENCY (default 4),
BENCH_PLANS to seed (default 30), BENCH_WORKERS gunicorn processes (default: CPU count).
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
PLANS = int(os.environ.get("BENCH_PLANS", "30"))
WORKERS = int(os.environ.get("BENCH_WORKERS", str(os.cpu_count() or 2)))
PLANS_PER_PROVIDER = 10
ROUNDS = 2  # each target is loaded ROUNDS times, phases alternating, to even out drift


def _environment() -> dict:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("DATABASE_URL=postgres://... is required (see the module docstring).")
    return {
        **os.environ, "DJANGO_SETTINGS_MODULE": "backend.settings", "DEBUG": "false",
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING",
        "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false",
        "SECURE_SSL_REDIRECT": "false",  # the load runs over plain HTTP on loopback
    }  # fmt: skip


def _seed() -> dict:
    """Migrate and create a clinic, its staff with tokens, and PLANS plans; return the targets."""
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from tests.factories import (
        ClinicFactory,
        CoordinatorFactory,
        PatientFactory,
        ProviderFactory,
        make_plan,
        next_weekday,
    )

    call_command("migrate", verbosity=0)
    now = timezone.now()
    run = f"{now:%Y%m%d%H%M%S}"  # fresh staff each run; earlier rows stay as extra data
    clinic = ClinicFactory(name=f"Bench Clinic {run}")
    coordinator = CoordinatorFactory(clinic=clinic, user__username=f"bench-coord-{run}")
    # A provider is never booked twice, so the plans are shared out, PLANS_PER_PROVIDER each;
    # the benchmark's provider (the first) is responsible for the plan read in detail.
    providers = [
        ProviderFactory(clinic=clinic, user__username=f"bench-provider-{run}-{n}")
        for n in range(-(-PLANS // PLANS_PER_PROVIDER))
    ]
    provider = providers[0]
    plans = []
    for n in range(PLANS):
        start = next_weekday(clinic, 2 + n % 10, now=now)
        plans.append(
            make_plan(
                patient=PatientFactory(clinic=clinic),
                provider=providers[n % len(providers)],
                start_date=start,
            ).plan
        )
    theirs = plans[:: len(providers)]  # the first provider's plans
    detail = theirs[len(theirs) // 2]
    # Production runs autovacuum, which keeps planner statistics current; a freshly seeded
    # database has none until then, and PostgreSQL would plan the check-ins join blind.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {
        "bare": ("/bench/bare/", None),
        "plan_detail": (
            f"/api/v1/plans/{detail.pk}/",
            Token.objects.get_or_create(user=coordinator.user)[0].key,
        ),
        "check_ins": (
            "/api/v1/check-ins/upcoming/?days=90",
            Token.objects.get_or_create(user=provider.user)[0].key,
        ),
        "sizes": f"plan {detail.pk}: {detail.items.count()} items, "
        f"{detail.reminders.count()} reminders; {len(plans)} plans seeded at {dt.date.today()}",
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_gunicorn(env: dict, port: int) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn", "bench.api_wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "--worker-class", "gthread",
        "--threads", "4", "--keep-alive", "30", "--log-level", "warning", "--chdir", str(ROOT),
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health/")
            connection.getresponse().read()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    sys.exit("gunicorn did not start")


def _load(port: int, path: str, token: str | None, seconds: float) -> tuple[list[float], int]:
    """Run CONCURRENCY keep-alive clients against one path; return latencies (ms) and errors."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        while time.monotonic() < stop:
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                ok = False
            if ok:
                mine.append((time.perf_counter() - began) * 1000)
            else:
                with lock:
                    errors[0] += 1
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors[0]


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    env = _environment()
    os.environ.update(env)
    targets = _seed()
    print(targets.pop("sizes"))
    port = _free_port()
    server = _start_gunicorn(env, port)
    results: dict[str, dict] = {name: {"lat": [], "errors": 0, "time": 0.0} for name in targets}
    try:
        for path, token in targets.values():  # warm-up: imports, connections, caches
            _load(port, path, token, 1.0)
        for _ in range(ROUNDS):
            for name, (path, token) in targets.items():
                lat, errors = _load(port, path, token, SECONDS)
                results[name]["lat"] += lat
                results[name]["errors"] += errors
                results[name]["time"] += SECONDS
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    print(f"gunicorn: {WORKERS} gthread workers x 4 threads; {CONCURRENCY} keep-alive clients; "
          f"{ROUNDS} x {SECONDS:g} s per target")  # fmt: skip
    print(f"{'target':<12} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8}")
    medians = {}
    for name, r in results.items():
        if not r["lat"]:
            sys.exit(f"{name}: no successful requests ({r['errors']} errors)")
        medians[name] = statistics.median(r["lat"])
        print(f"{name:<12} {len(r['lat']):>9} {r['errors']:>7} {medians[name]:>8.2f} "
              f"{_p(r['lat'], 95):>8.2f} {len(r['lat']) / r['time']:>8.1f}")  # fmt: skip
    print(f"check_ins_vs_bare_p50: {medians['check_ins'] / medians['bare']:.2f}")
    print(f"plan_detail_vs_bare_p50: {medians['plan_detail'] / medians['bare']:.2f}")


if __name__ == "__main__":
    main()
