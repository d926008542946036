"""Load: the API and the provider dashboard under locust on loopback, against the production
stack started natively with docker-compose.yml's own commands and DEBUG=false.

Run: .venv/bin/python bench/load.py                       (20 and 100 users, 60 s each)
     .venv/bin/python bench/load.py --users 5 --duration 15 --patients 300 --reminders 3000

The stack: the compose file's `migrate`, `web` (gunicorn, its own command and worker count, bound
to 127.0.0.1 instead of 0.0.0.0), `worker`, `dispatcher` and `beat` commands, read from
docker-compose.yml at run time, plus `collectstatic` as the Dockerfile runs it. No `make
prod-check` stack starter had landed when this was written, so the bench starts these itself.
Production settings as .env.example gives them: DEBUG=false, a long random SECRET_KEY,
NUM_PROXIES=1 (a TLS proxy in front: the locust users send its X-Forwarded-Proto and
X-Forwarded-For, see bench/locustfile.py), HTTPS redirect, HSTS and Secure cookies left on, the
throttle counters in Redis (THROTTLE_CACHE_URL). The API's only throttles are on writes and token
logins; this load reads, with tokens made beforehand, so no throttle is changed.

Nothing touches the machine's shared services' data: a database of its own on 127.0.0.1:5432
(aftercare_c_load_<pid>, dropped at the end; --database-url to use another server) and a private
redis-server (bench/faults.py's helper). The code the stack runs is `git archive` of --code
(default HEAD), so others' uncommitted edits never mix into a run; the locust users come from
this working tree's bench/.

The clinic: one clinic of the network seed (bench/load_support/seed.py): --patients patients,
their courses up to --reminders reminders, 8 providers and 2 coordinators. Users: coordinators
(3 in 4, API token): plan list, plan detail, patient search, a plan's items; providers (1 in 4,
signed in through the login form): the dashboard. Every user also fetches a small static file
(WhiteNoise) now and then: the baseline, under the same users in the same run. Statistics are
reset once every user has spawned, so the figures are the steady state.

Prints per user count a table (requests, failures, req/s, p50, p95 per endpoint) and then
`name: value` lines last: requests/s, p50, p95 and errors for the whole load and per endpoint,
and each endpoint's p50 and p95 against the baseline's.
Exit status 1 if any request failed, 2 on a bench error.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.faults import BENCH, PYTHON, Proc, RedisServer, code_snapshot, free_port  # noqa: E402
from bench.scale_out import machine, stop_all  # noqa: E402

BIN = Path(PYTHON).parent
BASELINE = "baseline: static file"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def compose_commands(port: int, beat_pidfile: Path) -> dict[str, list[str]]:
    """The compose services' own commands, run from this virtualenv: gunicorn bound to loopback
    on `port`, beat's pid file in the bench's directory."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    commands = {}
    for name in ("migrate", "web", "worker", "dispatcher", "beat"):
        cmd = list(services[name]["command"])
        if cmd[0] == "python":
            cmd[0] = PYTHON
        elif cmd[0] in ("gunicorn", "celery"):
            cmd = [PYTHON, "-m", cmd[0], *cmd[1:]]
        if "--bind" in cmd:
            cmd[cmd.index("--bind") + 1] = f"127.0.0.1:{port}"
        if "--pidfile" in cmd:
            cmd[cmd.index("--pidfile") + 1] = str(beat_pidfile)
        commands[name] = cmd
    return commands


def production_env(database_url: str, redis: RedisServer, tmp: Path, code: Path) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "REDIS_", "REMINDER_", "CELERY_", "SECURE_"))
        and k not in ("DEBUG", "DJANGO_SETTINGS_MODULE", "EMAIL_BACKEND", "SMS_BACKEND")
    }
    redis_base = redis.url.rsplit("/", 1)[0]
    env.update(
        DJANGO_SETTINGS_MODULE="backend.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PUBLIC_BASE_URL="https://127.0.0.1",
        NUM_PROXIES="1",
        DATABASE_URL=database_url,
        REDIS_URL=f"{redis_base}/0",
        THROTTLE_CACHE_URL=f"{redis_base}/1",
        STATIC_ROOT=str(tmp / "static"),
        OUTBOX_DIR=str(tmp / "outbox"),  # the default file backends: nothing leaves the machine
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join([str(code), str(BENCH)]),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def get(port: int, path: str, headers: dict | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def run_locust(opts, port: int, users: int, seed_json: Path, outdir: Path) -> dict[str, dict]:
    prefix = outdir / f"u{users}"
    cmd = [
        PYTHON, "-m", "locust", "-f", str(BENCH / "locustfile.py"), "--headless",
        "-u", str(users), "-r", str(opts.spawn_rate), "-t", f"{opts.duration}s",
        "--host", f"http://127.0.0.1:{port}", "--csv", str(prefix), "--reset-stats",
        "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "10",
    ]  # fmt: skip
    log(f"{users} users: {shlex.join(cmd[1:])}")
    env = {**os.environ, "LOAD_SEED": str(seed_json), "PYTHONPATH": str(BENCH)}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    (outdir / f"u{users}.locust.log").write_text(done.stdout + done.stderr)
    stats: dict[str, dict] = {}
    with open(f"{prefix}_stats.csv") as fh:
        for row in csv.DictReader(fh):
            stats[row["Name"]] = {
                "requests": int(row["Request Count"]),
                "failures": int(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
                "p50": float(row["50%"] or 0),
                "p95": float(row["95%"] or 0),
            }
    with open(f"{prefix}_failures.csv") as fh:
        failures = list(csv.DictReader(fh))
    exceptions = Path(f"{prefix}_exceptions.csv")
    errors = list(csv.DictReader(exceptions.open())) if exceptions.exists() else []
    stats["Aggregated"]["failure_samples"] = [
        f"{f.get('Method')} {f.get('Name')}: {f.get('Error')} x{f.get('Occurrences')}"
        for f in failures
    ] + [f"{e.get('Message', '')[:120]} x{e.get('Count')}" for e in errors]
    stats["Aggregated"]["exceptions"] = sum(int(e.get("Count") or 0) for e in errors)
    return stats


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.split(": ")[-1]).strip("_")


def report(results: dict[int, dict[str, dict]], seeded: dict, workers: str) -> int:
    print()
    print(
        f"clinic: {seeded['patients']} patients, {seeded['plans']} plans; dashboard provider "
        f"with {seeded['provider_plans']} plans; gunicorn --workers {workers} (compose)"
    )
    figures: dict[str, object] = {}
    bad = False
    for users, stats in results.items():
        print(f"\n{users} users")
        heads = ("requests", "failures", "req/s", "p50 ms", "p95 ms")
        print(f"{'endpoint':<28}" + "".join(f"{h:>9}" for h in heads))
        for name, s in stats.items():
            print(
                f"{name:<28}{s['requests']:>9}{s['failures']:>9}{s['rps']:>9.1f}"
                f"{s['p50']:>9.0f}{s['p95']:>9.0f}"
            )
        total = stats["Aggregated"]
        for sample in total["failure_samples"][:5]:
            print(f"  e.g. {sample}")
        base = stats.get(BASELINE)
        errors = total["failures"] + total["exceptions"]
        bad = bad or errors > 0
        figures[f"u{users}_requests_per_s"] = round(total["rps"], 1)
        figures[f"u{users}_p50_ms"] = total["p50"]
        figures[f"u{users}_p95_ms"] = total["p95"]
        figures[f"u{users}_errors"] = errors
        for name, s in stats.items():
            if name in ("Aggregated", "login form", "login"):
                continue
            key = f"u{users}_{slug(name)}"
            figures[f"{key}_per_s"] = round(s["rps"], 1)
            figures[f"{key}_p50_ms"] = s["p50"]
            figures[f"{key}_p95_ms"] = s["p95"]
            if base and name != BASELINE and base["p50"] and base["p95"]:
                figures[f"{key}_p50_vs_baseline"] = round(s["p50"] / base["p50"], 1)
                figures[f"{key}_p95_vs_baseline"] = round(s["p95"] / base["p95"], 1)
    figures["load_average_1m_at_end"] = round(os.getloadavg()[0], 1)
    print()
    for key, value in figures.items():
        print(f"{key}: {value}")
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--users", default="20,100", help="concurrent users per run (20,100)")
    ap.add_argument("--spawn-rate", type=int, default=10, help="users started per second (10)")
    ap.add_argument("--duration", type=int, default=60, help="seconds per run (60)")
    ap.add_argument("--patients", type=int, default=3000, help="the clinic's patients (3000)")
    ap.add_argument("--reminders", type=int, default=40000, help="its reminders (40000)")
    ap.add_argument("--code", default="HEAD", help="git ref the stack runs (HEAD)")
    ap.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                    help="the server to create the bench's database on")  # fmt: skip
    ap.add_argument("--port", type=int, default=8617, help="gunicorn's port (8617)")
    ap.add_argument("--redis-port", type=int, default=56579)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory and logs")
    opts = ap.parse_args()

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    print(f"machine: {machine()}")
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    tmp = Path(tempfile.mkdtemp(prefix="aftercare-load-"))
    code = code_snapshot(opts.code, tmp / "code")
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", opts.code], capture_output=True, text=True
    ).stdout.strip()
    log(f"the stack runs {opts.code} ({rev})")
    admin_url = opts.database_url
    db = f"aftercare_c_load_{os.getpid()}"
    database_url = admin_url.rsplit("/", 1)[0] + f"/{db}"
    redis = RedisServer(tmp / "redis", free_port(opts.redis_port))
    port = free_port(opts.port)
    procs: list[Proc] = []
    results: dict[int, dict[str, dict]] = {}
    seeded: dict = {}
    status, keep = 0, False
    created = False
    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {db}")
            created = True
        redis.start()
        env = production_env(database_url, redis, tmp, code)
        commands = compose_commands(port, tmp / "celerybeat.pid")
        started = time.monotonic()
        seed_json = tmp / "seed.json"
        for args in (
            commands["migrate"],
            # As the Dockerfile does (DEBUG=true there only for the build step's defaults).
            [PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            [PYTHON, "-m", "load_support.seed", str(seed_json), str(opts.patients),
             str(opts.reminders)],
        ):  # fmt: skip
            done = subprocess.run(args, cwd=code, env=env, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"{shlex.join(args[1:4])} failed:\n{done.stdout}\n{done.stderr}")
        seeded = json.loads(seed_json.read_text())
        log(f"migrated, static collected, clinic seeded in {time.monotonic() - started:.0f} s: "
            f"{seeded['patients']} patients, {seeded['plans']} plans")  # fmt: skip
        logdir = tmp / "logs"
        logdir.mkdir()
        for name in ("web", "worker", "dispatcher", "beat"):
            procs.append(Proc(name, commands[name], env, code, logdir))
            procs[-1].start()
        log(f"gunicorn: {shlex.join(commands['web'][1:])}")
        # /health/ answers 200 once the database and broker answer and the dispatcher has ticked:
        # the whole stack is up.
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(OSError, http.client.HTTPException):
                if get(port, "/health/") == 200:
                    break
            dead = [p.name for p in procs if not p.alive()]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"stack not healthy ({dead or 'timeout'}); logs in {logdir}")
            time.sleep(0.5)
        log("stack healthy (/health/ 200)")
        proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.255.0.1"}
        for path in ("/static/admin/img/icon-yes.svg", "/api/v1/plans/"):
            log(f"GET {path} behind the proxy: {get(port, path, proxied)}")
        log(f"GET /api/v1/plans/ over plain HTTP, no proxy: {get(port, '/api/v1/plans/')}")
        for users in [int(u) for u in opts.users.split(",") if u.strip()]:
            results[users] = run_locust(opts, port, users, seed_json, tmp)
            total = results[users]["Aggregated"]
            log(f"{users} users: {total['rps']:.1f} req/s, p50 {total['p50']:.0f} ms, p95 "
                f"{total['p95']:.0f} ms, {total['failures']} failures")  # fmt: skip
        dead = [p.name for p in procs if not p.alive()]
        if dead:
            raise RuntimeError(f"{dead} died during the load; logs in {logdir}")
    except KeyboardInterrupt:
        log("interrupted")
        status = 2
    except Exception as exc:
        log(f"bench error: {exc}")
        status, keep = 2, True
    finally:
        stop_all(procs)
        redis.stop()
        if created:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        if opts.keep or keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if results:
        status = status or report(results, seeded, commands["web"][commands["web"].index(
            "--workers") + 1])  # fmt: skip
    return status


if __name__ == "__main__":
    sys.exit(main())
