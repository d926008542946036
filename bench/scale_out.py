"""Scale out: the send workers split over several processes as separate hosts would run them,
through PgBouncer in transaction pooling mode, with more database clients than PostgreSQL's
default max_connections (100) allows.

Run: .venv/bin/python bench/scale_out.py                    (as root: PostgreSQL and PgBouncer
                                                            run as the `postgres` OS user)
     .venv/bin/python bench/scale_out.py --points 1,2 --reminders 500   (a quick look)
     .venv/bin/python bench/scale_out.py --direct             (also: the top point straight at
                                                            PostgreSQL, what PgBouncer prevents)

Nothing touches the machine's shared PostgreSQL or Redis. The bench starts, with bench/faults.py's
own helpers: a private PostgreSQL cluster with max_connections = 100 (PostgreSQL's default), a
private redis-server, and a private PgBouncer (bench/scale_out_support/pgbouncer.py, pool_mode =
transaction, --pool-size server connections). The application connects as a non-superuser role
(`aftercare_c_app`), as a clinic's would, so PostgreSQL's reserved superuser slots do not count.

Each point gets a fresh database (a copy of one migrated and seeded template: --reminders rows
from bench/faults_support/seed.py, a --sms-share of them texts) and the production process
layout as real subprocesses (Procfile / docker-compose): one dispatcher worker on the `dispatch`
queue and P send workers (`celery -A backend worker --queues send --concurrency C`), each its own
process group as on its own host. Every row is made due at once, then the bench sends the
dispatcher's tick itself (`reminders.dispatch_due`, as beat would, again every --tick-s while
rows are pending) instead of running beat, so each point starts at the same moment. The
"provider" (bench/faults_support/backends.py) waits --latency-ms per message, then appends one
line per accepted message to a file: duplicates are counted there, per reminder.

Points (--points, send worker processes; each with --concurrency pool processes): 1, 2, 4, 8,
then --over-limit: 8 processes with enough concurrency that database clients exceed 100.

Per point, printed as a table and then as `name: value` lines last:
  per_s          reminders/s: due rows / (tick sent -> last first acceptance by the provider)
  vs_1           per_s against the 1-process point of the same run
  clients_peak   client connections PgBouncer held at once (sampled every 0.25 s)
  server_peak    connections PostgreSQL had for the point's database at once
  errors         ERROR/CRITICAL log records of the workers (a failed task is one) + failed
                 delivery attempts + rows that ended failed/skipped/expired + PgBouncer errors
  too_many_clients  those of the workers' error records that are a refused connection (PostgreSQL's
                 "too many clients" or "remaining connection slots are reserved ...", which
                 Celery's one-line record may cut to "OperationalError('conn...")
  duplicated     provider-side copies beyond the first (patients who got one twice)
  db_gap         provider acceptances - successful DeliveryAttempt rows
  lost           due, never accepted by the provider, not final at the end

Exit status 1 if any point through PgBouncer had errors, duplicates or lost rows; 2 on a bench
error.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg
from celery import Celery

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.faults import (  # noqa: E402
    BENCH,
    PYTHON,
    PgCluster,
    Proc,
    ProviderReader,
    RedisServer,
    code_snapshot,
    free_port,
)
from bench.scale_out_support.pgbouncer import PgBouncer, session_setting_leaks  # noqa: E402

APP_ROLE = "aftercare_c_app"
TEMPLATE = "aftercare_c_template"
FINAL = ("sent", "skipped", "expired", "failed", "cancelled")
# One log record at ERROR or above (its traceback's lines follow it and are not counted again).
ERROR_RECORD = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) ")
# PostgreSQL refusing a connection for want of slots: all taken, or only the superusers' left.
REFUSED = re.compile(
    r"too many clients|remaining connection slots are reserved|OperationalError\('conn"
)
PG_MAX_CONNECTIONS = 100  # PostgreSQL's default


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


@dataclass
class Point:
    processes: int
    concurrency: int
    direct: bool = False  # straight at PostgreSQL instead of through PgBouncer

    @property
    def name(self) -> str:
        via = "direct" if self.direct else "pgbouncer"
        return f"{self.processes}x{self.concurrency}_{via}"

    @property
    def clients(self) -> int:
        """Database clients the layout opens: a connection per pool process, the dispatcher's."""
        return self.processes * self.concurrency + 1


@dataclass
class Result:
    point: Point
    due: int = 0
    sent: int = 0
    duplicated: int = 0
    db_sends: int = 0
    lost: int = 0
    errors: int = 0
    error_samples: tuple[str, ...] = ()
    too_many_clients: int = 0
    per_s: float = 0.0
    elapsed_s: float = 0.0
    clients_peak: int = 0
    server_peak: int = 0
    timed_out: bool = False
    statuses: dict | None = None

    @property
    def provider(self) -> int:
        return self.sent + self.duplicated

    @property
    def db_gap(self) -> int:
        return self.provider - self.db_sends


class Sampler:
    """Peak client (PgBouncer) and server (PostgreSQL) connections of one database, sampled in a
    thread while a point runs."""

    def __init__(self, pg: PgCluster, bouncer: PgBouncer | None, db: str) -> None:
        self.pg, self.bouncer, self.db = pg, bouncer, db
        self.clients_peak = self.server_peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conn = None
        while not self.stop.wait(0.25):
            with contextlib.suppress(psycopg.Error):
                if conn is None or conn.closed:
                    conn = self.pg.connect(timeout=2)
                servers = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND usename = %s",
                    (self.db, APP_ROLE),
                ).fetchone()[0]
                self.server_peak = max(self.server_peak, servers)
                if self.bouncer is None:
                    self.clients_peak = self.server_peak
                else:
                    self.clients_peak = max(self.clients_peak, self.bouncer.counts(self.db)[0])
        with contextlib.suppress(Exception):
            conn.close()


class Bench:
    def __init__(self, opts: argparse.Namespace, tmp: Path, code: Path) -> None:
        self.o, self.tmp, self.code = opts, tmp, code
        self.pg = PgCluster(tmp / "pg", free_port(opts.pg_port))
        self.redis = RedisServer(tmp / "redis", free_port(opts.redis_port))
        self.bouncer = PgBouncer(
            tmp / "pgbouncer",
            port=free_port(opts.pgbouncer_port),
            server_port=self.pg.port,
            users=[APP_ROLE],
            pool_size=opts.pool_size,
        )
        self.procs: list[Proc] = []
        self.celery = Celery("scale-out-ticks", broker=self.redis.url)
        self.leak: list[str] = []

    # -- setup ---------------------------------------------------------------------------------

    def env(self, database_url: str, provider_log: Path) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_", "REDIS_", "REMINDER_", "FAKETIME", "CELERY_"))
            and k not in ("LD_PRELOAD", "DJANGO_SETTINGS_MODULE", "EMAIL_BACKEND", "SMS_BACKEND")
            # Prepared statements need PgBouncer 1.21+ with max_prepared_statements (settings.py).
            and k != "DB_PREPARE_THRESHOLD"
        }
        env.update(
            DJANGO_SETTINGS_MODULE="backend.settings",
            DEBUG="true",  # the development defaults (secret key, hosts); nothing else changes
            DATABASE_URL=database_url,
            # Through PgBouncer: nothing set on the session (backend/settings.py, worker_db.py).
            DATABASE_TRANSACTION_POOLING=str(f":{self.bouncer.port}/" in database_url).lower(),
            REDIS_URL=self.redis.url,
            EMAIL_BACKEND="faults_support.backends.EmailBackend",
            SMS_BACKEND="faults_support.backends.SmsBackend",
            FAULTS_PROVIDER_LOG=str(provider_log),
            FAULTS_SEND_LATENCY_MS=str(self.o.latency_ms),
            OUTBOX_DIR=str(self.tmp / "outbox"),
            # INFO: Celery logs through Django's LOGGING, and its " ready." line is INFO.
            LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
            PYTHONPATH=os.pathsep.join([str(self.code), str(BENCH)]),
            PATH=f"{Path(PYTHON).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        return env

    def direct_url(self, db: str) -> str:
        return f"postgres://{APP_ROLE}@127.0.0.1:{self.pg.port}/{db}"

    def pooled_url(self, db: str) -> str:
        # Django behind transaction pooling: DATABASE_TRANSACTION_POOLING (set in env()) turns off
        # server-side cursors and the workers' session-level synchronous_commit.
        return self.bouncer.url(db)

    def setup(self) -> None:
        log(f"private PostgreSQL ({self.pg.bin.parent.name}) on 127.0.0.1:{self.pg.port}")
        self.pg.init()
        with open(self.pg.data / "postgresql.conf", "a") as conf:  # the last line wins
            conf.write(f"max_connections = {PG_MAX_CONNECTIONS}\n")
        self.pg.start()
        log(f"private redis-server on 127.0.0.1:{self.redis.port}")
        self.redis.start()
        with self.pg.connect() as conn:
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN CREATEDB")
            conn.execute(f"CREATE DATABASE {TEMPLATE} OWNER {APP_ROLE}")
            self.max_connections = int(conn.execute("SHOW max_connections").fetchone()[0])
            self.reserved = int(conn.execute("SHOW superuser_reserved_connections").fetchone()[0])
        log(f"max_connections = {self.max_connections} ({self.reserved} reserved for superusers)")
        self.bouncer.start()
        log(
            f"PgBouncer on 127.0.0.1:{self.bouncer.port}: pool_mode = transaction, "
            f"default_pool_size = {self.bouncer.pool_size}"
        )
        env = self.env(self.direct_url(TEMPLATE), self.tmp / "seed-provider.log")
        started = time.monotonic()
        for args in (
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
            [PYTHON, "-m", "faults_support.seed", str(self.o.reminders), str(self.o.sms_share)],
        ):
            done = subprocess.run(args, cwd=self.code, env=env, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"{' '.join(args[1:3])} failed:\n{done.stdout}\n{done.stderr}")
        log(f"template migrated and seeded ({self.o.reminders} rows) in "
            f"{time.monotonic() - started:.1f} s")  # fmt: skip

    def teardown(self) -> None:
        with contextlib.suppress(Exception):
            stop_all(self.procs)
        with contextlib.suppress(Exception):
            self.bouncer.stop()
        with contextlib.suppress(Exception):
            self.redis.stop()
        with contextlib.suppress(Exception):
            if self.pg.data.exists():
                self.pg.stop("immediate")

    # -- one point -----------------------------------------------------------------------------

    def make_procs(self, point: Point, env: dict[str, str], logdir: Path) -> list[Proc]:
        def worker(name: str, queue: str, concurrency: int) -> Proc:
            args = [
                PYTHON, "-m", "celery", "-A", "backend", "worker", "--queues", queue,
                "--concurrency", str(concurrency), "--pool", "prefork",
                "--hostname", f"{name}@scale-out", "--loglevel", "INFO",
                "--without-heartbeat", "--without-mingle", "--without-gossip",
            ]  # fmt: skip
            return Proc(name, args, env, self.code, logdir, " ready.")

        procs = [worker("dispatcher", "dispatch", 1)]
        procs += [worker(f"sender{i}", "send", point.concurrency) for i in range(point.processes)]
        return procs

    def tick(self) -> None:
        """What beat sends every 30 s: one dispatcher tick (here without following new rows)."""
        self.celery.send_task(
            "reminders.dispatch_due", kwargs={"follow_seconds": 0}, queue="dispatch"
        )

    def run(self, point: Point, index: int) -> Result:
        o, result = self.o, Result(point)
        db = f"aftercare_c_p{index}_{point.name}"
        logdir = self.tmp / "logs" / point.name
        logdir.mkdir(parents=True)
        provider_log = logdir / "provider.log"
        provider_log.touch()
        with self.pg.connect() as conn:
            conn.execute(f"CREATE DATABASE {db} TEMPLATE {TEMPLATE} OWNER {APP_ROLE}")
        self.redis.flush()
        url = self.direct_url(db) if point.direct else self.pooled_url(db)
        procs = self.make_procs(point, self.env(url, provider_log), logdir)
        self.procs = procs
        for proc in procs:
            proc.start()
        deadline = time.monotonic() + 60 + 5 * len(procs)
        while not all(p.ready() for p in procs):
            dead = [p.name for p in procs if not p.alive()]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"{point.name}: {dead or 'workers'} did not start; see {logdir}")
            time.sleep(0.2)
        log(f"{point.name}: {len(procs)} worker processes ready "
            f"({point.clients} database clients at most), via {url.split('?')[0]}")  # fmt: skip

        sampler = Sampler(self.pg, None if point.direct else self.bouncer, db)
        sampler.thread.start()
        with self.pg.connect(db) as conn:
            conn.execute(
                "UPDATE reminders_reminder SET send_at = now(), not_after = now() + interval "
                "'3 hours' WHERE key LIKE 'fault-%%'"
            )
        reader = ProviderReader(provider_log)
        seen: list[tuple[float, str, str, int]] = []
        started = time.time()
        self.tick()
        last_tick, last_check, pending = started, 0.0, None
        end_by = started + o.max_wait
        check = self.pg.connect(db)
        while True:
            now = time.time()
            seen.extend(reader.poll(now))
            if now - last_check >= 0.5:
                last_check = now
                pending = check.execute(
                    "SELECT count(*) FROM reminders_reminder WHERE key LIKE 'fault-%%' "
                    "AND status NOT IN ('sent','skipped','expired','failed','cancelled')"
                ).fetchone()[0]
                if pending == 0:
                    break
            if now - last_tick >= o.tick_s:
                self.tick()
                last_tick = now
            if now > end_by:
                result.timed_out = True
                log(f"{point.name}: gave up after {o.max_wait:.0f} s, {pending} rows pending")
                break
            time.sleep(0.05)
        check.close()
        seen.extend(reader.poll(time.time()))
        sampler.stop.set()
        sampler.thread.join(5)
        if not point.direct:
            # Before the workers go: what a new client of the same pool (a web process, say) is
            # handed on the server connections the workers used.
            self.leak = session_setting_leaks(
                self.bouncer, db, "synchronous_commit", self.bouncer.pool_size
            )
        stop_all(procs)
        seen.extend(reader.poll(time.time()))
        self.measure(db, result, seen, started, procs)
        result.clients_peak, result.server_peak = sampler.clients_peak, sampler.server_peak
        with self.pg.connect() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        return result

    def measure(self, db, result: Result, seen, started: float, procs: list[Proc]) -> None:
        with self.pg.connect(db) as conn:
            rows = conn.execute(
                "SELECT id, status FROM reminders_reminder WHERE key LIKE 'fault-%%'"
            ).fetchall()
            attempts = conn.execute(
                "SELECT a.success, count(*) FROM reminders_deliveryattempt a "
                "JOIN reminders_reminder r ON r.id = a.reminder_id "
                "WHERE r.key LIKE 'fault-%%' GROUP BY a.success"
            ).fetchall()
        ids = {str(r[0]) for r in rows}
        copies = Counter(rid for _, _, rid, _ in seen if rid in ids)
        first: dict[str, float] = {}
        for stamp, _, rid, _ in seen:
            first.setdefault(rid, stamp)
        result.due = len(rows)
        result.statuses = dict(Counter(r[1] for r in rows))
        result.sent = len(copies)
        result.duplicated = sum(copies.values()) - len(copies)
        by_success = dict(attempts)
        result.db_sends = by_success.get(True, 0)
        result.lost = sum(1 for r in rows if str(r[0]) not in copies and r[1] not in FINAL)
        unsent_final = sum(1 for r in rows if str(r[0]) not in copies and r[1] in FINAL)
        samples = []
        for proc in procs:
            for path in proc.logdir.glob(f"{proc.name}.*.log"):
                samples += [ln for ln in path.read_text(errors="replace").splitlines()
                            if ERROR_RECORD.search(ln)]  # fmt: skip
        result.too_many_clients = sum(bool(REFUSED.search(ln)) for ln in samples)
        bouncer_errors = [] if result.point.direct else self.bouncer.errors_logged()
        result.errors = len(samples) + by_success.get(False, 0) + unsent_final
        result.errors += len(bouncer_errors) - getattr(self, "_bouncer_errors_before", 0)
        self._bouncer_errors_before = len(bouncer_errors)
        result.error_samples = tuple((samples + bouncer_errors)[:3])
        if first:
            result.elapsed_s = max(first.values()) - started
            result.per_s = result.sent / result.elapsed_s if result.elapsed_s > 0 else 0.0


def stop_all(procs: list[Proc], grace_s: float = 15) -> None:
    """SIGTERM every process group at once (a warm shutdown each), then SIGKILL what is left:
    Proc.stop one by one would take a grace period per host."""
    for proc in procs:
        if proc.popen is not None:
            proc.expected_exit = True
            proc.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        if proc.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(max(0.1, deadline - time.monotonic()))
    for proc in procs:
        if proc.popen is not None:
            proc.signal_group(signal.SIGKILL)  # the pool children too, whatever the parent did
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(10)


def machine() -> str:
    model = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
         if ln.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"nproc {os.cpu_count()}, {model}, {platform.system()} {platform.release()}; "
        f"load average now {load} (other people's runs share the machine)"
    )


def fmt(value) -> str:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.1f}"
    return str(value)


def report(results: list[Result], bench: Bench) -> int:
    cols = ["due", "sent", "per_s", "elapsed_s", "clients_peak", "server_peak", "errors",
            "duplicated", "db_gap", "lost"]  # fmt: skip
    width = max(len(r.point.name) for r in results) + 2
    print()
    print("point".ljust(width) + " ".join(c.rjust(12) for c in cols))
    for r in results:
        flag = "  (timed out)" if r.timed_out else ""
        print(r.point.name.ljust(width) + " ".join(fmt(getattr(r, c)).rjust(12) for c in cols)
              + flag)  # fmt: skip
    print()
    for r in results:
        print(f"  {r.point.name}: statuses {r.statuses}")
        for line in r.error_samples:
            print(f"    e.g. {line[:200]}")
    off = sum(1 for v in bench.leak if v == "off")
    print(
        f"\nsynchronous_commit on {len(bench.leak)} pooled server connections a new client of "
        f"the workers' pool was handed: {Counter(bench.leak)}"
    )
    print()
    pooled = [r for r in results if not r.point.direct]
    base = next((r for r in pooled if r.point.processes == 1), None)
    figures: dict[str, object] = {
        "pg_max_connections": bench.max_connections,
        "pgbouncer_pool_size": bench.bouncer.pool_size,
        "provider_latency_ms": bench.o.latency_ms,
    }
    for r in results:
        key = r.point.name
        figures[f"{key}_per_s"] = round(r.per_s, 1)
        if base and not r.point.direct and base.per_s:
            figures[f"{key}_vs_1_process"] = round(r.per_s / base.per_s, 2)
        for name in ("clients_peak", "server_peak", "errors", "too_many_clients", "duplicated",
                     "db_gap", "lost"):  # fmt: skip
            figures[f"{key}_{name}"] = getattr(r, name)
    over = [r for r in pooled if r.clients_peak > bench.max_connections]
    figures["pgbouncer_points_over_max_connections"] = len(over)
    figures["pgbouncer_errors_total"] = sum(r.errors for r in pooled)
    figures["pgbouncer_duplicates_total"] = sum(r.duplicated for r in pooled)
    figures["pgbouncer_lost_total"] = sum(r.lost for r in pooled)
    figures["pooled_server_conns_left_with_synchronous_commit_off"] = off
    figures["load_average_1m_at_end"] = round(os.getloadavg()[0], 1)
    for key, value in figures.items():
        print(f"{key}: {fmt(value)}")
    bad = any(r.errors or r.duplicated or r.lost or r.timed_out for r in pooled)
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--points", default="1,2,4,8", help="send worker processes per point (1,2,4,8)")
    ap.add_argument("--concurrency", type=int, default=4,
                    help="pool processes of each send worker (4, as compose)")  # fmt: skip
    ap.add_argument("--over-limit", type=int, default=8,
                    help="then this many processes with concurrency enough for more than "
                    "max_connections clients (8; 0: skip)")  # fmt: skip
    ap.add_argument("--direct", action="store_true",
                    help="also run the over-limit point straight at PostgreSQL")  # fmt: skip
    ap.add_argument("--reminders", type=int, default=5000,
                    help="rows per point (5000: 200 send tasks, a task for every pool process "
                    "of the over-limit point)")  # fmt: skip
    ap.add_argument("--sms-share", type=float, default=0.2, help="share of texts (0.2)")
    ap.add_argument("--latency-ms", type=float, default=50.0, help="provider latency (50 ms)")
    ap.add_argument("--pool-size", type=int, default=30, help="PgBouncer default_pool_size (30)")
    ap.add_argument("--tick-s", type=float, default=10.0, help="a dispatcher tick every (10 s)")
    ap.add_argument("--max-wait", type=float, default=300.0, help="per point (300 s)")
    ap.add_argument("--pg-port", type=int, default=55532)
    ap.add_argument("--redis-port", type=int, default=56479)
    ap.add_argument("--pgbouncer-port", type=int, default=6433)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory and logs")
    opts = ap.parse_args()
    points = [Point(int(n), opts.concurrency) for n in opts.points.split(",") if n.strip()]
    if opts.over_limit:
        per = math.ceil((PG_MAX_CONNECTIONS + 1) / opts.over_limit) + 1
        points.append(Point(opts.over_limit, per))
        if opts.direct:
            points.append(Point(opts.over_limit, per, direct=True))

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    print(f"machine: {machine()}")
    print(f"command: {shlex.join([Path(sys.executable).name, *sys.argv])}")
    tmp = Path(tempfile.mkdtemp(prefix="aftercare-scale-out-"))
    os.chmod(tmp, 0o755)  # the postgres user must reach its directories
    code = code_snapshot("worktree", tmp / "code")
    bench = Bench(opts, tmp, code)
    results: list[Result] = []
    status, keep = 0, False
    try:
        bench.setup()
        for i, point in enumerate(points):
            r = bench.run(point, i)
            results.append(r)
            log(f"{point.name}: {r.sent}/{r.due} sent in {r.elapsed_s:.1f} s ({r.per_s:.0f}/s), "
                f"clients peak {r.clients_peak}, server peak {r.server_peak}, errors {r.errors}, "
                f"duplicated {r.duplicated}, lost {r.lost}")  # fmt: skip
    except KeyboardInterrupt:
        log("interrupted")
        status = 2
    except Exception as exc:
        log(f"bench error: {exc!r}")
        status, keep = 2, True
    finally:
        bench.teardown()
        if opts.keep or keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if results:
        bad = report(results, bench)
        status = status or bad
    return status


if __name__ == "__main__":
    sys.exit(main())
