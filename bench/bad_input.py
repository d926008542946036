"""Bad input, three sources, cases tried and server errors found (the goal: 0 server errors).

  schemathesis        every operation of the API's OpenAPI schema through the WSGI app, as a
                      coordinator and as a patient (real tokens), --api-examples per operation
                      and role; responses >= 500 are server errors (conformance to the schema
                      counted apart)
  hypothesis_engine   the planning engine (scheduler/): the suite's three properties and a fourth
                      on wild input, --engine-examples each; any exception but the documented
                      PlanningError, or a failed invariant, is an error
  webhooks            Twilio status and inbound URLs and the email provider's receipt URL:
                      unsigned, wrongly signed and malformed requests (--webhook-examples per
                      generator): none accepted, none >= 500, nothing recorded; then signed
                      malformed ones: none >= 500

Run: .venv/bin/python bench/bad_input.py                 (final: under flock /tmp/bench.lock)
     .venv/bin/python bench/bad_input.py --quick         (a development run in a minute or two)
     .venv/bin/python bench/bad_input.py --only engine --engine-examples 5000 --seed 1

Django runs with production settings (DEBUG off, a random SECRET_KEY, no HTTPS redirect: the
TLS proxy's job). It uses its own PostgreSQL database (aftercare_d_bad_input on 127.0.0.1:5432,
created, migrated
and dropped by the run; --database-url to change) and Redis db 14 (flushed at the start). Each
server error is printed with its input and traceback before the figures. Exit status 1 if any
source found a server error or an unsigned webhook was accepted.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/aftercare_d_bad_input"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
SOURCES = ("api", "engine", "webhooks")
QUICK = {"api_examples": 5, "engine_examples": 40, "webhook_examples": 30}


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs (nproc {os.sched_getaffinity(0).__len__()}), {model}, " \
        f"Python {platform.python_version()}"  # fmt: skip


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    if not name.startswith("aftercare_d_"):
        raise SystemExit(f"refusing to recreate {name!r}: the bench's databases are aftercare_d_*")
    with psycopg.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
        dbname="postgres", autocommit=True,
    ) as conn:  # fmt: skip
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    parts = urlparse(url)
    with psycopg.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
        dbname="postgres", autocommit=True,
    ) as conn:  # fmt: skip
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def main() -> int:
    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", default=",".join(SOURCES), help="sources: " + ", ".join(SOURCES))
    ap.add_argument("--api-examples", type=int, default=40,
                    help="schemathesis examples per operation and role (40)")  # fmt: skip
    ap.add_argument("--engine-examples", type=int, default=500,
                    help="hypothesis examples per engine property (500)")  # fmt: skip
    ap.add_argument(
        "--webhook-examples",
        type=int,
        default=400,
        help="hypothesis examples per webhook generator, 6 generators (400)",
    )
    ap.add_argument(
        "--seed",
        type=int,
        default=None,
        help="derandomise (a fixed search; default: a fresh random search)",
    )
    ap.add_argument("--quick", action="store_true",
                    help="development run: " + ", ".join(f"--{k.replace('_', '-')} {v}"
                                                          for k, v in QUICK.items()))  # fmt: skip
    ap.add_argument("--database-url", default=DEFAULT_DB)
    ap.add_argument("--redis-url", default=DEFAULT_REDIS)
    ap.add_argument("--keep-db", action="store_true")
    opts = ap.parse_args()
    if opts.quick:
        for key, value in QUICK.items():
            if f"--{key.replace('_', '-')}" not in sys.argv:
                setattr(opts, key, value)
    only = [s.strip() for s in opts.only.split(",") if s.strip()]
    if unknown := set(only) - set(SOURCES):
        ap.error(f"unknown source(s): {sorted(unknown)}")

    print(f"machine: {machine()}")
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()  # fmt: skip
    print(f"code: {rev} (working tree)", flush=True)

    # Our own database and Redis db, before Django reads its settings. Production settings
    # (DEBUG off: Django's debug page would itself crash on some bad bodies, a development-only
    # failure) behind an HTTPS proxy that has already done the redirect.
    os.environ.update(
        DJANGO_SETTINGS_MODULE="backend.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="testserver,localhost,127.0.0.1,aftercare.example.org",
        SECURE_SSL_REDIRECT="false",
        DATABASE_URL=opts.database_url,
        REDIS_URL=opts.redis_url,
    )
    for name in ("EMAIL_BACKEND", "SMS_BACKEND", "TWILIO_AUTH_TOKEN", "ANYMAIL"):
        os.environ.pop(name, None)
    sys.path[:0] = [str(ROOT)]
    os.chdir(ROOT)
    recreate_database(opts.database_url)
    import redis

    redis.Redis.from_url(opts.redis_url).flushdb()

    import django

    django.setup()
    import logging

    logging.disable(logging.CRITICAL)  # refused and crashing requests log; the tally says it all
    from django.core.management import call_command

    from bench.bad_input_support import api_fuzz, engine_fuzz, seed, webhook_fuzz

    started = time.monotonic()
    sources = []
    try:
        call_command("migrate", verbosity=0, interactive=False)
        seeded = seed.seed()
        print(f"database {urlparse(opts.database_url).path.lstrip('/')} migrated and seeded "
              f"in {time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
        if "api" in only:
            tokens = {"coordinator": seeded.coordinator_token, "patient": seeded.patient_token}
            sources.append(api_fuzz.run(tokens, opts.api_examples, opts.seed))
            print(f"schemathesis done in {sources[-1].seconds:.0f} s", flush=True)
        if "engine" in only:
            sources.append(engine_fuzz.run(opts.engine_examples, opts.seed))
            print(f"hypothesis on the engine done in {sources[-1].seconds:.0f} s", flush=True)
        if "webhooks" in only:
            sources.append(webhook_fuzz.run(opts.webhook_examples, opts.seed,
                                            seeded.patient_mobile))  # fmt: skip
            print(f"webhooks done in {sources[-1].seconds:.0f} s", flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if not opts.keep_db:
            drop_database(opts.database_url)

    print()
    print(f"{'source':<20}{'cases':>10}{'server errors':>16}{'seconds':>10}")
    for s in sources:
        print(f"{s.name:<20}{s.cases:>10}{s.errors:>16}{s.seconds:>10.0f}")
    for s in sources:
        print(f"\n{s.name}:")
        for key, value in sorted(s.counts.items()):
            print(f"  {key}: {value}")
        for finding in s.findings:
            print(f"  FINDING {finding}")
    print()
    figures: dict[str, object] = {}
    by = {s.name: s for s in sources}
    if "schemathesis" in by:
        s = by["schemathesis"]
        figures["schemathesis_operations"] = s.counts["operations"]
        figures["schemathesis_cases"] = s.cases
        figures["schemathesis_operation_roles_answered_2xx"] = s.counts[
            "operation-role pairs answered 2xx"
        ]
        figures["schemathesis_server_errors"] = s.errors
        figures["schemathesis_conformance_failures"] = s.counts["schema conformance failures"]
    if "hypothesis_engine" in by:
        s = by["hypothesis_engine"]
        figures["hypothesis_engine_examples"] = s.cases
        figures["hypothesis_engine_refusals"] = sum(
            v for k, v in s.counts.items() if k.startswith("refused")
        )
        figures["hypothesis_engine_errors"] = s.errors
        figures["hypothesis_engine_property_failures"] = s.counts["property failures"]
    if "webhooks" in by:
        s = by["webhooks"]
        figures["webhook_cases"] = s.cases
        figures["webhook_unsigned_cases"] = sum(
            v for k, v in s.counts.items() if k.startswith("unsigned answered")
        )
        figures["webhook_server_errors"] = s.errors
        figures["webhook_unsigned_accepted"] = s.counts["unsigned accepted"]
        figures["webhook_tables_changed_by_unsigned"] = s.counts[
            "tables changed by refused requests"
        ]
    figures["server_errors_total"] = sum(s.errors for s in sources)
    figures["run_time_s"] = round(time.monotonic() - started)
    for key, value in figures.items():
        print(f"{key}: {value}")
    bad = figures["server_errors_total"] or figures.get("webhook_unsigned_accepted")
    return 1 if bad or figures.get("webhook_tables_changed_by_unsigned") else 0


if __name__ == "__main__":
    sys.exit(main())
