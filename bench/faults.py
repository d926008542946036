"""Fault injection with real processes: what a broker or database restart, a killed worker, a
skewed clock or a second beat costs the outbox, counted on the provider's side and the database's.

Run: .venv/bin/python bench/faults.py       (as root: the private PostgreSQL runs as `postgres`)
     .venv/bin/python bench/faults.py --scenarios baseline,pg_clean_restart --reminders 200
     .venv/bin/python bench/faults.py --quick --only dispatcher_down,clock_ahead_10min
                                                 (--quick: 100 rows, a 30 s dispatcher outage)
     .venv/bin/python bench/faults.py --code HEAD~3   (measure another commit: `git archive` into a
                                                  temporary directory; the bench itself stays)
The code measured is copied first (by default the working tree as it is at the start), so edits
made while the bench runs do not mix two versions in one run.

Nothing touches the machine's shared PostgreSQL or Redis: the bench starts its OWN PostgreSQL
cluster (initdb into a temporary directory, Debian's binaries, port --pg-port) and its OWN
redis-server (--redis-port, nothing on disk) and removes both at the end, whatever happens.

Each scenario gets a fresh database (a copy of one migrated and seeded template), an empty
Redis, and the production process layout as real subprocesses (Procfile / docker-compose):
celery beat with the DatabaseScheduler (the periodic tasks as the migrations define them), a
dispatcher worker on the `dispatch` queue and --send-workers workers on `send`, each in its own
process group, restarted like `restart: unless-stopped` if one dies. The leases are the measured
code's defaults (printed at the start) unless --dispatch-lease / --send-lease say otherwise.
--reminders rows (a --sms-share of them texts) fall due evenly over --window seconds. The fault
hits --fault-at seconds into that window, right after the next message a worker hands the
provider: that worker is mid-batch, its next send about to go out. The "provider" is a pair of
channel backends (bench/faults_support/backends.py) that wait --latency-ms (a provider's API
round trip) and then append one line per accepted message to a shared file; duplicates are
counted from that file per reminder.

Per scenario (table, then `name: value` lines last):
  due         reminders that fell due
  sent        reminders the provider accepted at least once
  duplicated  provider-side copies beyond the first (what patients received twice); texts
              among them in `<scenario>_duplicated_sms`
  provider    every message the provider accepted (sent + duplicated)
  db_sends    successful DeliveryAttempt rows for them; db_gap = provider - db_sends (the
              database's undercount of what went out)
  sent_rows   rows with status `sent`
  lost        due, never accepted by the provider, and still not in a final status at the end
  unsent      final but never sent (skipped / expired / failed: should be 0 here)
  late_p99_s / late_max_s  lateness (first provider acceptance - send_at), the bench's clock
  early       sent more than 1 s before send_at; early_max_s the earliest, before send_at
  delayed     sent more than --late-s after send_at
  fault_due / fault_sent_once  (dispatcher_down) rows that fell due while no dispatcher ran,
              and how many of them the provider accepted exactly once
  resume_s    fault end -> the provider's first acceptance after it
  recovery_s  fault end -> the last acceptance of a reminder more than --late-s late (the backlog
              the fault caused has drained); inf if a row was never sent
  restarts    processes that died and were restarted (killed workers included)
With --repeat N every scenario runs N times: the counts are sums over the runs, the times the
worst run's.

Scenarios: baseline; worker_kill (the send worker that just sent SIGKILLed, its whole process
group, mid-batch; replaced at once); redis_restart (redis-server stopped, --outage s, started
empty); pg_clean_restart (pg_ctl stop -m fast, --outage s, start); pg_crash_restart (pg_ctl stop
-m immediate, --outage s, start: crash recovery); skew_dispatcher, skew_sender, skew_beat (that
process's clock --skew seconds ahead through libfaketime; skew_sender skews one send worker);
skew_beat_behind (beat's clock --skew seconds behind), and on request skew_dispatcher_behind,
skew_sender_behind; two_beats (two beats and two dispatcher workers); dispatcher_down (the
dispatcher worker SIGKILLed right after a send and left down --dispatcher-down s, 5 minutes,
while rows keep falling due through the outage, then started again: recovery_s counts from that
restart); clock_ahead_10min (a worker host 10 minutes ahead: the dispatcher and every send worker
under libfaketime +600 s, beat and the database on time; the outbox documents that a skewed clock
sends early or late by the skew, never twice, so `early` is expected and duplicates/lost are not).

Exit status 1 if any reminder was lost, 2 on a bench error.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = sys.executable
FINAL = ("sent", "skipped", "expired", "failed", "cancelled")
FAKETIME_LIB = next(
    iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))),
    Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
)
ALL_SCENARIOS = (
    "baseline",
    "worker_kill",
    "redis_restart",
    "pg_clean_restart",
    "pg_crash_restart",
    "skew_dispatcher",
    "skew_sender",
    "skew_beat",
    "skew_beat_behind",
    "two_beats",
    "dispatcher_down",
    "clock_ahead_10min",
)
MORE_SCENARIOS = ("skew_dispatcher_behind", "skew_sender_behind")
# --quick: a development run in a few minutes (the figures come from a full run).
QUICK = {"reminders": 100, "window": 10.0, "fault_at": 4.0, "dispatcher_down": 30.0,
         "max_wait": 120.0}  # fmt: skip


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    return f"nproc {len(os.sched_getaffinity(0))}, {model}"


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port")


# --- the private services ---------------------------------------------------------------------


class PgCluster:
    """A throwaway PostgreSQL cluster in `base`, run as the `postgres` OS user when we are root."""

    def __init__(self, base: Path, port: int) -> None:
        versions = sorted(
            Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
            key=lambda p: int(p.parent.parent.name),
        )
        if not versions:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        self.bin = versions[-1].parent
        self.base, self.port = base, port
        self.data, self.sock, self.logfile = base / "data", base / "sock", base / "postgres.log"
        self.as_root = os.geteuid() == 0

    def _run(
        self, *cmd: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess:
        full = ["runuser", "-u", "postgres", "--", *cmd] if self.as_root else list(cmd)
        return subprocess.run(
            full, check=check, capture_output=True, text=True, timeout=timeout, cwd="/"
        )

    def init(self) -> None:
        self.base.mkdir(parents=True)
        self.sock.mkdir()
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--locale", "C", "--no-sync",
        )  # fmt: skip
        # fsync=off: a process crash (what the bench injects) keeps what reached the OS either way;
        # it only spares the shared machine's disk. Commits still go through the WAL as usual.
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.sock}'\nfsync = off\n"
                "shared_buffers = 64MB\nmax_connections = 200\n"
                "log_min_messages = warning\n"
            )

    def start(self) -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.logfile),
            "-w", "-t", "120", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop",
            check=False,
        )  # fmt: skip

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def connect(self, db: str = "postgres", timeout: int = 3) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=db,
            autocommit=True, connect_timeout=timeout,
        )  # fmt: skip


class RedisServer:
    def __init__(self, base: Path, port: int) -> None:
        self.base, self.port, self.proc = base, port, None
        base.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.base),
                "--logfile", str(self.base / "redis.log"),
            ],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(redis.RedisError):
                if client.ping():
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("private redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def flush(self) -> None:
        redis.Redis.from_url(self.url).flushall()


# --- the application's processes --------------------------------------------------------------


@dataclass
class Proc:
    name: str
    args: list[str]
    env: dict[str, str]
    cwd: Path
    logdir: Path
    ready_marker: str | None = None
    popen: subprocess.Popen | None = None
    starts: int = 0
    expected_exit: bool = False
    log_path: Path | None = None

    def start(self) -> None:
        self.starts += 1
        self.expected_exit = False
        self.log_path = self.logdir / f"{self.name}.{self.starts}.log"
        with open(self.log_path, "w") as out:
            self.popen = subprocess.Popen(
                self.args, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip

    @property
    def pgid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def ready(self) -> bool:
        if not self.ready_marker or self.log_path is None:
            return True
        with contextlib.suppress(OSError):
            return self.ready_marker in self.log_path.read_text(errors="replace")
        return False

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, sig)

    def kill(self) -> None:
        self.expected_exit = True
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is None:
            return
        self.expected_exit = True
        if self.popen.poll() is None:
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(15)
        self.signal_group(signal.SIGKILL)  # the pool children too, whatever the parent did
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)


@dataclass
class Scenario:
    name: str
    fault: str | None = None  # kill | redis | pg_fast | pg_immediate | dispatcher_down
    skewed: tuple[str, ...] = ()  # dispatcher | sender (one) | senders (all) | beat
    skew_sign: int = 1  # +1: that clock --skew seconds ahead; -1: behind
    skew_s: int | None = None  # this scenario's own offset instead of --skew
    beats: int = 1
    dispatchers: int = 1


SCENARIOS = {
    "baseline": Scenario("baseline"),
    "worker_kill": Scenario("worker_kill", fault="kill"),
    "redis_restart": Scenario("redis_restart", fault="redis"),
    "pg_clean_restart": Scenario("pg_clean_restart", fault="pg_fast"),
    "pg_crash_restart": Scenario("pg_crash_restart", fault="pg_immediate"),
    "skew_dispatcher": Scenario("skew_dispatcher", skewed=("dispatcher",)),
    "skew_sender": Scenario("skew_sender", skewed=("sender",)),
    "skew_beat": Scenario("skew_beat", skewed=("beat",)),
    "skew_beat_behind": Scenario("skew_beat_behind", skewed=("beat",), skew_sign=-1),
    "skew_dispatcher_behind": Scenario(
        "skew_dispatcher_behind", skewed=("dispatcher",), skew_sign=-1
    ),
    "skew_sender_behind": Scenario("skew_sender_behind", skewed=("sender",), skew_sign=-1),
    "two_beats": Scenario("two_beats", beats=2, dispatchers=2),
    # The two: the dispatcher gone for --dispatcher-down seconds (5 minutes) while rows
    # keep falling due, then started again; and a worker host whose clock is 10 minutes ahead
    # (the dispatcher and every send worker; beat and the database on the right time).
    "dispatcher_down": Scenario("dispatcher_down", fault="dispatcher_down"),
    "clock_ahead_10min": Scenario(
        "clock_ahead_10min", skewed=("dispatcher", "senders"), skew_s=600
    ),
}


@dataclass
class Result:
    name: str
    due: int = 0
    sent: int = 0
    duplicated: int = 0
    duplicated_sms: int = 0
    provider: int = 0
    db_sends: int = 0
    sent_rows: int = 0
    lost: int = 0
    unsent: int = 0
    late_p99_s: float = 0.0
    late_max_s: float = 0.0
    early: int = 0
    early_max_s: float = 0.0
    fault_due: int | None = None
    fault_sent_once: int | None = None
    delayed: int = 0
    resume_s: float | None = None
    recovery_s: float | None = None
    restarts: int = 0
    killed: int = 0
    wall_s: float = 0.0
    timed_out: bool = False
    statuses: dict = field(default_factory=dict)

    runs: int = 1

    @property
    def db_gap(self) -> int:
        return self.provider - self.db_sends

    def add(self, other: Result) -> None:
        """Fold in another run of the same scenario: counts add up, times take the worst."""
        for name in ("due", "sent", "duplicated", "provider", "db_sends", "sent_rows", "lost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("unsent", "early", "delayed", "restarts", "killed", "wall_s", "runs"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("duplicated_sms",):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("fault_due", "fault_sent_once"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs is not None:
                setattr(self, name, theirs + (mine or 0))
        for name in ("late_p99_s", "late_max_s", "early_max_s", "resume_s", "recovery_s"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs is not None:
                setattr(self, name, theirs if mine is None else max(mine, theirs))
        self.timed_out = self.timed_out or other.timed_out
        self.statuses = dict(Counter(self.statuses) + Counter(other.statuses))


class Bench:
    def __init__(self, opts: argparse.Namespace, tmp: Path, code_dir: Path) -> None:
        self.o, self.tmp, self.code = opts, tmp, code_dir
        self.pg = PgCluster(tmp / "pg", free_port(opts.pg_port))
        self.redis = RedisServer(tmp / "redis", free_port(opts.redis_port))
        self.procs: list[Proc] = []
        self.template = "faults_template"
        self.leases: tuple[int, int] | None = None

    # -- setup ---------------------------------------------------------------------------------

    def base_env(self, db: str, provider_log: Path) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_", "REDIS_", "REMINDER_", "FAKETIME", "CELERY_"))
            and k not in ("LD_PRELOAD", "DJANGO_SETTINGS_MODULE", "EMAIL_BACKEND", "SMS_BACKEND")
        }
        env.update(
            DJANGO_SETTINGS_MODULE="backend.settings",
            DEBUG="true",
            DATABASE_URL=self.pg.url(db),
            REDIS_URL=self.redis.url,
            EMAIL_BACKEND="faults_support.backends.EmailBackend",
            SMS_BACKEND="faults_support.backends.SmsBackend",
            FAULTS_PROVIDER_LOG=str(provider_log),
            FAULTS_SEND_LATENCY_MS=str(self.o.latency_ms),
            OUTBOX_DIR=str(self.tmp / "outbox"),
            LOG_LEVEL="INFO",  # the workers' " ready." line (Celery logs through LOGGING)
            PYTHONUNBUFFERED="1",
            PYTHONPATH=os.pathsep.join([str(self.code), str(BENCH)]),
            PATH=f"{Path(PYTHON).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        if self.o.dispatch_lease:
            env["REMINDER_DISPATCH_LEASE_S"] = str(self.o.dispatch_lease)
        if self.o.send_lease:
            env["REMINDER_SEND_LEASE_S"] = str(self.o.send_lease)
        return env

    def setup(self) -> None:
        log(f"private PostgreSQL ({self.pg.bin.parent.name}) on 127.0.0.1:{self.pg.port}")
        self.pg.init()
        self.pg.start()
        log(f"private redis-server on 127.0.0.1:{self.redis.port}")
        self.redis.start()
        with self.pg.connect() as conn:
            conn.execute(f"CREATE DATABASE {self.template}")
        env = self.base_env(self.template, self.tmp / "seed-provider.log")
        started = time.monotonic()
        for args in (
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
            [PYTHON, "-m", "faults_support.seed", str(self.o.reminders), str(self.o.sms_share)],
        ):
            done = subprocess.run(args, cwd=self.code, env=env, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"{' '.join(args[1:3])} failed:\n{done.stdout}\n{done.stderr}")
            if done.stdout.strip():
                log(done.stdout.strip().splitlines()[-1])
        leases = subprocess.run(
            [PYTHON, "-c", "import django; django.setup(); from django.conf import settings as s; "
             "print(s.REMINDER_DISPATCH_LEASE_S, s.REMINDER_SEND_LEASE_S)"],
            cwd=self.code, env=env, capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        if len(leases) == 2:
            self.leases = tuple(int(x) for x in leases)
            log(f"leases: dispatch {leases[0]} s, send {leases[1]} s")
        log(f"template database migrated and seeded in {time.monotonic() - started:.1f} s")

    def teardown(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(Exception):
                proc.stop()
        with contextlib.suppress(Exception):
            self.redis.stop()
        with contextlib.suppress(Exception):
            if self.pg.data.exists():
                self.pg.stop("immediate")

    # -- one scenario --------------------------------------------------------------------------

    def celery(self, name: str, *args: str) -> list[str]:
        return [PYTHON, "-m", "celery", "-A", "backend", *args]

    def make_procs(self, sc: Scenario, env: dict[str, str], logdir: Path) -> list[Proc]:
        skew_env = {
            **env,
            "LD_PRELOAD": str(FAKETIME_LIB),
            "FAKETIME": f"{sc.skew_sign * (sc.skew_s or self.o.skew):+d}s",
            "FAKETIME_DONT_RESET": "1",
        }

        def worker(name: str, queue: str, concurrency: int, skewed: bool) -> Proc:
            args = [
                PYTHON, "-m", "celery", "-A", "backend", "worker", "--queues", queue,
                "--concurrency", str(concurrency), "--pool", "prefork",
                "--hostname", f"{name}@faults", "--loglevel", "INFO",
                "--without-heartbeat", "--without-mingle", "--without-gossip",
            ]  # fmt: skip
            return Proc(name, args, skew_env if skewed else env, self.code, logdir, " ready.")

        procs = []
        for i in range(sc.beats):
            args = [
                PYTHON, "-m", "celery", "-A", "backend", "beat", "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler", "--loglevel", "INFO",
                "--pidfile", str(logdir / f"beat{i}.pid"),
            ]  # fmt: skip
            skewed = "beat" in sc.skewed and i == 0
            procs.append(Proc(f"beat{i}", args, skew_env if skewed else env, self.code, logdir))
        for i in range(sc.dispatchers):
            skewed = "dispatcher" in sc.skewed and i == 0
            procs.append(worker(f"dispatcher{i}", "dispatch", 1, skewed))
        for i in range(self.o.send_workers):
            skewed = "senders" in sc.skewed or ("sender" in sc.skewed and i == 0)
            procs.append(worker(f"sender{i}", "send", self.o.send_concurrency, skewed))
        return procs

    def window_for(self, sc: Scenario) -> float:
        """Rows fall due over --window seconds; with the dispatcher down for minutes they keep
        falling due through the whole outage and a little after it."""
        if sc.fault == "dispatcher_down":
            return max(self.o.window, self.o.fault_at + self.o.dispatcher_down + 10.0)
        return self.o.window

    def run(self, sc: Scenario, run: int = 0) -> Result:
        o = self.o
        window = self.window_for(sc)
        result = Result(sc.name)
        wall_started = time.monotonic()
        db = f"faults_{sc.name}"
        logdir = self.tmp / "logs" / (f"{sc.name}.{run + 1}" if run else sc.name)
        logdir.mkdir(parents=True)
        provider_log = logdir / "provider.log"
        provider_log.touch()
        with self.pg.connect() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {db}")
            conn.execute(f"CREATE DATABASE {db} TEMPLATE {self.template}")
        with self.pg.connect(db) as conn:
            # Beat's first tick at once, as on a long-running deployment.
            conn.execute(
                "UPDATE django_celery_beat_periodictask SET last_run_at = now() - interval '1 hour'"
            )
        self.redis.flush()
        env = self.base_env(db, provider_log)
        procs = self.make_procs(sc, env, logdir)
        self.procs = procs
        for proc in procs:
            proc.start()
        deadline = time.monotonic() + 90
        while not all(p.ready() for p in procs):
            dead = [p.name for p in procs if not p.alive()]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"{sc.name}: {dead or 'processes'} did not start; logs {logdir}")
            time.sleep(0.2)
        log(f"{sc.name}: {len(procs)} processes ready")

        # Make the rows due: evenly over the window, starting a second from now (database clock).
        lead = 1.0
        with self.pg.connect(db) as conn:
            conn.execute(
                """
                UPDATE reminders_reminder
                SET send_at = now() + make_interval(
                        secs => %s + substring(key from 7)::int * %s::float8 / %s),
                    not_after = now() + interval '3 hours'
                WHERE key LIKE 'fault-%%'
                """,
                (lead, window, o.reminders),
            )
        t0 = time.time() + lead  # the first row's send_at, on this process's (unskewed) clock
        log(f"{sc.name}: {o.reminders} reminders fall due over {window:.0f} s")

        seen: list[tuple[float, str, str, int]] = []  # (stamp, channel, reminder id, pgid)
        reader = ProviderReader(provider_log)
        fault = FaultRunner(self, sc, procs, reader, t0 + o.fault_at)
        if sc.fault:
            fault.thread.start()
        check_conn = None
        last_check, pending = 0.0, None
        settled_since = None
        end_by = t0 + window + o.max_wait
        while True:
            now = time.time()
            seen.extend(reader.poll(now))
            for proc in procs:
                if not proc.alive() and not proc.expected_exit and not fault.busy_with(proc):
                    log(f"{sc.name}: {proc.name} exited ({proc.popen.returncode}); restarting")
                    result.restarts += 1
                    proc.start()
            if now - last_check >= 1.0:
                last_check = now
                try:
                    if check_conn is None or check_conn.closed:
                        check_conn = self.pg.connect(db, timeout=1)
                    pending = check_conn.execute(
                        "SELECT count(*) FROM reminders_reminder WHERE key LIKE 'fault-%%' "
                        "AND status NOT IN ('sent','skipped','expired','failed','cancelled')"
                    ).fetchone()[0]
                except psycopg.Error:
                    pending = None
                    with contextlib.suppress(Exception):
                        check_conn.close()
                    check_conn = None
            done_faulting = not sc.fault or fault.done.is_set()
            if done_faulting and now > t0 + window and pending == 0:
                settled_since = settled_since or now
                if now - settled_since >= o.settle:
                    break
            else:
                settled_since = None
            if now > end_by and done_faulting:
                result.timed_out = True
                log(f"{sc.name}: gave up waiting ({pending} rows still pending)")
                break
            time.sleep(0.1)
        seen.extend(reader.poll(time.time()))
        with contextlib.suppress(Exception):
            check_conn.close()
        for proc in procs:
            proc.stop()
        seen.extend(reader.poll(time.time()))
        if fault.error:
            raise RuntimeError(f"{sc.name}: fault injection failed: {fault.error}")
        result.killed = fault.killed
        result.restarts += fault.killed
        self.measure(sc, db, result, seen, t0, fault.fault_start, fault.fault_end)
        result.wall_s = time.monotonic() - wall_started
        if not o.keep:
            with self.pg.connect() as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {db}")
        return result

    def measure(self, sc, db, result, seen, t0, fault_start, fault_end) -> None:
        with self.pg.connect(db) as conn:
            rows = conn.execute(
                "SELECT id, status, extract(epoch FROM send_at)::float8 FROM reminders_reminder "
                "WHERE key LIKE 'fault-%%'"
            ).fetchall()
            db_sends = dict(
                conn.execute(
                    "SELECT a.reminder_id, count(*) FROM reminders_deliveryattempt a "
                    "JOIN reminders_reminder r ON r.id = a.reminder_id "
                    "WHERE r.key LIKE 'fault-%%' AND a.success GROUP BY a.reminder_id"
                ).fetchall()
            )
        # send_at is on the database's clock, stamps on ours: the same machine, the same clock.
        offset = 0.0
        ids = {str(r[0]) for r in rows}
        copies = Counter(rid for _, _, rid, _ in seen if rid in ids)
        first: dict[str, float] = {}
        for stamp, _, rid, _ in seen:
            if rid in ids and rid not in first:
                first[rid] = stamp
        result.due = len(rows)
        result.statuses = dict(Counter(r[1] for r in rows))
        result.sent = len(copies)
        result.provider = sum(copies.values())
        texts = Counter(rid for _, channel, rid, _ in seen if rid in ids and channel == "sms")
        result.duplicated_sms = sum(texts.values()) - len(texts)
        result.duplicated = result.provider - result.sent
        result.db_sends = sum(db_sends.values())
        result.sent_rows = result.statuses.get("sent", 0)
        result.lost = sum(1 for r in rows if str(r[0]) not in first and r[1] not in FINAL)
        result.unsent = sum(1 for r in rows if str(r[0]) not in first and r[1] in FINAL)
        lateness = {rid: first[rid] - (send_at + offset) for rid_int, _, send_at in rows
                    if (rid := str(rid_int)) in first}  # fmt: skip
        values = sorted(lateness.values())
        if values:
            result.late_p99_s = values[min(len(values) - 1, math.ceil(0.99 * len(values)) - 1)]
            result.late_max_s = values[-1]
            result.early = sum(1 for v in values if v < -1.0)
            result.early_max_s = max(0.0, -values[0])
            result.delayed = sum(1 for v in values if v > self.o.late_s)
        if sc.fault == "dispatcher_down" and fault_start is not None and fault_end is not None:
            # The rows that fell due while no dispatcher ran: each must reach the provider once.
            during = [str(r[0]) for r in rows if fault_start <= r[2] + offset < fault_end]
            result.fault_due = len(during)
            result.fault_sent_once = sum(1 for rid in during if copies[rid] == 1)
        if fault_end is not None:
            after = [stamp for stamp, *_ in seen if stamp >= fault_end]
            result.resume_s = (min(after) - fault_end) if after else None
            if result.lost:
                result.recovery_s = math.inf
            else:
                late = [first[rid] for rid, v in lateness.items() if v > self.o.late_s]
                result.recovery_s = max([0.0, *[s - fault_end for s in late]])


class ProviderReader:
    """Tails the provider file; each line is stamped with the bench's clock when first seen (the
    workers' own clocks may be skewed on purpose)."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.partial = path, 0, b""

    def poll(self, now: float) -> list[tuple[float, str, str, int]]:
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read()
        self.offset += len(chunk)
        data = self.partial + chunk
        lines = data.split(b"\n")
        self.partial = lines.pop()
        out = []
        for raw in lines:
            parts = raw.decode(errors="replace").split("\t")
            if len(parts) >= 4:
                out.append((now, parts[2], parts[3], int(parts[1])))
        return out


class FaultRunner:
    """Injects the scenario's fault in a thread, so the main loop keeps counting meanwhile."""

    def __init__(self, bench: Bench, sc: Scenario, procs, reader: ProviderReader, at: float):
        self.bench, self.sc, self.procs, self.at = bench, sc, procs, at
        self.done = threading.Event()
        self.fault_start: float | None = None
        self.fault_end: float | None = None
        self.error: str | None = None
        self.killed = 0
        self.replacing: set[str] = set()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.watch_log = reader.path

    def busy_with(self, proc: Proc) -> bool:
        return proc.name in self.replacing

    def _run(self) -> None:
        try:
            time.sleep(max(0.0, self.at - time.time()))
            getattr(self, f"_{self.sc.fault}")()
            self.fault_start = self.fault_start or self.fault_end
        except Exception as exc:  # reported by the main loop
            self.error = repr(exc)
            self.fault_end = self.fault_end or time.time()
        finally:
            self.done.set()

    def next_send(self, timeout: float = 30) -> int | None:
        """Wait for the next message a worker hands the provider; return its process group.

        Every fault is injected right after such a send: the worker is mid-batch, the rest of
        its batch taken and its next send about to go out, the moment where a fault costs most.
        """
        reader = ProviderReader(self.watch_log)
        reader.poll(0)  # skip what came before
        deadline = time.time() + timeout
        while time.time() < deadline:
            lines = reader.poll(0)
            if lines:
                return lines[-1][3]
            time.sleep(0.002)
        return None

    def _kill(self) -> None:
        o = self.bench.o
        senders = [p for p in self.procs if p.name.startswith("sender")]
        for n in range(o.kills):
            # The send worker seen sending, killed right after that send (its process group is on
            # the provider's line).
            by_group = {p.pgid: p for p in senders}
            victim = None
            deadline = time.time() + 30
            while victim is None and time.time() < deadline:
                victim = by_group.get(self.next_send(deadline - time.time()))
            hit = victim is not None
            victim = victim or senders[n % len(senders)]
            self.replacing.add(victim.name)
            victim.kill()
            self.killed += 1
            when = "right after one of its sends" if hit else "no send seen in 30 s"
            log(f"{self.sc.name}: SIGKILL {victim.name} ({when})")
            victim.start()  # the supervisor's replacement
            self.replacing.discard(victim.name)
            self.fault_end = time.time()
            if n + 1 < o.kills:
                time.sleep(o.window / (2 * o.kills))

    def _redis(self) -> None:
        r = self.bench.redis
        when = "right after a send" if self.next_send() else "no send seen in 30 s"
        log(f"{self.sc.name}: stopping redis-server for {self.bench.o.outage:.1f} s ({when})")
        r.stop()
        time.sleep(self.bench.o.outage)
        r.start()
        self.fault_end = time.time()
        log(f"{self.sc.name}: redis-server back (empty)")

    def _pg(self, mode: str) -> None:
        pg = self.bench.pg
        when = "right after a send" if self.next_send() else "no send seen in 30 s"
        log(f"{self.sc.name}: pg_ctl stop -m {mode}, {self.bench.o.outage:.1f} s down ({when})")
        pg.stop(mode)
        time.sleep(self.bench.o.outage)
        pg.start()
        self.fault_end = time.time()
        log(f"{self.sc.name}: PostgreSQL accepting connections again")

    def _dispatcher_down(self) -> None:
        """SIGKILL every dispatcher worker (its process group) right after a send and keep it down
        for --dispatcher-down seconds while beat keeps queueing ticks, then start it again (what
        a supervisor or an operator does). The time to recover counts from that restart."""
        down = self.bench.o.dispatcher_down
        dispatchers = [p for p in self.procs if p.name.startswith("dispatcher")]
        when = "right after a send" if self.next_send() else "no send seen in 30 s"
        for proc in dispatchers:
            self.replacing.add(proc.name)
            proc.kill()
            self.killed += 1
        self.fault_start = time.time()
        log(f"{self.sc.name}: SIGKILL the dispatcher, down for {down:.0f} s ({when})")
        time.sleep(down)
        for proc in dispatchers:
            proc.start()
            self.replacing.discard(proc.name)
        self.fault_end = time.time()
        log(f"{self.sc.name}: dispatcher started again")

    def _pg_fast(self) -> None:
        self._pg("fast")

    def _pg_immediate(self) -> None:
        self._pg("immediate")


# --- reporting --------------------------------------------------------------------------------


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.1f}"
    return str(value)


COLUMNS = [
    *("due", "sent", "duplicated", "duplicated_sms", "provider", "db_sends", "db_gap"),
    *("sent_rows", "lost"),
    *("unsent", "late_p99_s", "late_max_s", "early", "early_max_s", "delayed"),
    *("fault_due", "fault_sent_once", "resume_s", "recovery_s"),
    *("restarts", "wall_s"),
]


def report(results: list[Result], opts, leases) -> dict[str, object]:
    width = max(len(r.name) for r in results) + 2
    print()
    widths = [max(10, len(c)) for c in COLUMNS]
    print(
        "scenario".ljust(width) + " ".join(c.rjust(w) for c, w in zip(COLUMNS, widths, strict=True))
    )
    for r in results:
        cells = [fmt(getattr(r, c)).rjust(w) for c, w in zip(COLUMNS, widths, strict=True)]
        flag = "  (timed out)" if r.timed_out else ""
        print(r.name.ljust(width) + " ".join(cells) + flag)
    print()
    for r in results:
        print(f"  {r.name}: {r.runs} run(s), statuses at the end {r.statuses}")
    print()
    by = {r.name: r for r in results}
    figures: dict[str, object] = {}
    for r in results:
        keys = ("due", "sent", "duplicated", "duplicated_sms", "db_sends", "db_gap", "lost")
        for key in (*keys, "recovery_s"):
            value = getattr(r, key)
            if key == "recovery_s" and value is None:
                continue
            figures[f"{r.name}_{key}"] = value
    if "baseline" in by:
        figures["baseline_duplicates"] = by["baseline"].duplicated
    if "worker_kill" in by:
        r = by["worker_kill"]
        figures["worker_kill_duplicates"] = r.duplicated
        figures["worker_kill_killed_workers"] = r.killed
        figures["worker_kill_recovery_s"] = r.recovery_s
    if "redis_restart" in by:
        figures["redis_restart_duplicates"] = by["redis_restart"].duplicated
        figures["redis_restart_recovery_s"] = by["redis_restart"].recovery_s
    if "pg_clean_restart" in by:
        figures["pg_clean_restart_duplicates"] = by["pg_clean_restart"].duplicated
    if "pg_crash_restart" in by:
        figures["pg_crash_restart_duplicates"] = by["pg_crash_restart"].duplicated
    pg = [by[n].recovery_s for n in ("pg_clean_restart", "pg_crash_restart") if n in by]
    if pg:
        figures["pg_restart_recovery_s"] = max(x for x in pg if x is not None)
    skews = [r for r in results if r.name.startswith("skew_")]
    if skews:
        figures["clock_skew_duplicates"] = sum(r.duplicated for r in skews)
        figures["clock_skew_lost"] = sum(r.lost for r in skews)
        figures["clock_skew_early"] = sum(r.early for r in skews)
    if "two_beats" in by:
        figures["two_beats_duplicates"] = by["two_beats"].duplicated
    if "dispatcher_down" in by:
        r = by["dispatcher_down"]
        figures["dispatcher_down_s"] = opts.dispatcher_down
        figures["dispatcher_down_due_during_outage"] = r.fault_due
        figures["dispatcher_down_sent_once_during_outage"] = r.fault_sent_once
        figures["dispatcher_down_recovery_s"] = r.recovery_s
    if "clock_ahead_10min" in by:
        r = by["clock_ahead_10min"]
        figures["clock_ahead_10min_early"] = r.early
        figures["clock_ahead_10min_early_max_s"] = r.early_max_s
    figures["db_provider_gap_total"] = sum(abs(r.db_gap) for r in results)
    figures["lost_total"] = sum(r.lost for r in results)
    figures["duplicates_total"] = sum(r.duplicated for r in results)

    # The goals (#16), where this run measured them.
    goals = []
    if "pg_clean_restart" in by:
        goals.append(("pg_clean_restart_duplicates == 0", by["pg_clean_restart"].duplicated == 0))
    if "worker_kill" in by:
        r = by["worker_kill"]
        goals.append(("worker_kill_duplicates <= killed workers", r.duplicated <= r.killed))
    if "pg_crash_restart" in by:
        # A crash may forget the last asynchronous commits: emails only (documented); a text's
        # record commits synchronously, so no text goes out twice.
        r = by["pg_crash_restart"]
        goals.append(("pg_crash_restart: no text sent twice", r.duplicated_sms == 0))
    # The database knows every send but a killed worker's last (at most one per killed worker)
    # and, after a PostgreSQL crash, emails whose asynchronous record was lost.
    exempt = {"worker_kill", "pg_crash_restart"}
    goals.append(
        (
            "db_sends == provider sends (every scenario but worker_kill, pg_crash_restart)",
            all(r.db_gap == 0 for r in results if r.name not in exempt),
        )
    )
    if "worker_kill" in by:
        r = by["worker_kill"]
        goals.append(("worker_kill: provider - db_sends <= killed", 0 <= r.db_gap <= r.killed))
    for n in ("redis_restart", "pg_clean_restart", "pg_crash_restart"):
        if n in by:
            rec = by[n].recovery_s
            goals.append((f"{n}_recovery_s <= 60", rec is not None and rec <= 60))
    if skews:
        goals.append(("clock_skew_duplicates == 0", figures["clock_skew_duplicates"] == 0))
    if "dispatcher_down" in by:
        r = by["dispatcher_down"]
        goals.append(("dispatcher_down_duplicates == 0", r.duplicated == 0))
        goals.append(
            (
                "dispatcher_down: every row due during the outage sent exactly once",
                r.fault_due is not None and r.fault_sent_once == r.fault_due,
            )
        )
        goals.append(
            (
                "dispatcher_down_recovery_s <= 60 (from the restart)",
                r.recovery_s is not None and r.recovery_s <= 60,
            )
        )
    if "clock_ahead_10min" in by:
        r = by["clock_ahead_10min"]
        goals.append(("clock_ahead_10min_duplicates == 0", r.duplicated == 0))
        goals.append(("clock_ahead_10min_lost == 0", r.lost == 0))
    goals.append(("lost_total == 0", figures["lost_total"] == 0))
    print("goals (#16):")
    for name, ok in goals:
        print(f"  {'met   ' if ok else 'MISSED'} {name}")
    figures["goals_missed"] = sum(1 for _, ok in goals if not ok)
    if leases:
        figures["dispatch_lease_s"], figures["send_lease_s"] = leases
    print()
    for key, value in figures.items():
        print(f"{key}: {fmt(value)}")
    return figures


def code_snapshot(ref: str, into: Path) -> Path:
    """The code the workers run, copied once so that edits in the working tree while the bench
    runs (a migration added half-way) cannot mix two versions in one run. `ref` is a git ref
    (`git archive`), or "worktree": the working tree's tracked and untracked, not ignored, files."""
    into.mkdir(parents=True)
    if ref == "worktree":
        names = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z", "-co", "--exclude-standard"],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        archive = subprocess.run(
            ["tar", "-C", str(ROOT), "--null", "--ignore-failed-read", "-T", "-", "-cf", "-"],
            input=names, check=True, capture_output=True,
        ).stdout  # fmt: skip
    else:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", ref],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scenarios", "--only", default=",".join(ALL_SCENARIOS),
                    help="comma-separated (default: all but " + ", ".join(MORE_SCENARIOS)
                    + "), from: " + ", ".join(ALL_SCENARIOS + MORE_SCENARIOS))  # fmt: skip
    ap.add_argument("--reminders", type=int, default=300, help="rows per scenario (300)")
    ap.add_argument("--sms-share", type=float, default=0.2, help="share of texts (0.2)")
    ap.add_argument("--window", type=float, default=20.0, help="rows fall due over this (20 s)")
    ap.add_argument("--fault-at", type=float, default=8.0, help="fault this far in (8 s)")
    ap.add_argument("--outage", type=float, default=2.5, help="PostgreSQL/Redis down for (2.5 s)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each scenario this many times; counts add up, times take the "
                    "worst (1)")  # fmt: skip
    ap.add_argument("--kills", type=int, default=1, help="send workers SIGKILLed (1)")
    ap.add_argument("--skew", type=int, default=120, help="clock offset, seconds (+120)")
    ap.add_argument(
        "--dispatcher-down",
        type=float,
        default=300.0,
        help="dispatcher_down: the dispatcher stays killed this long (300 s)",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="a development run: --reminders 100 --window 10 --fault-at 4 "
        "--dispatcher-down 30 --max-wait 120 (explicit options still win)",
    )
    ap.add_argument("--latency-ms", type=float, default=50.0, help="provider latency (50 ms)")
    ap.add_argument("--send-workers", type=int, default=3, help="send worker processes (3)")
    ap.add_argument("--send-concurrency", type=int, default=1, help="pool size of each (1)")
    ap.add_argument("--dispatch-lease", type=int, default=0, help="override the setting (s)")
    ap.add_argument("--send-lease", type=int, default=0, help="override the setting (s)")
    ap.add_argument("--max-wait", type=float, default=400.0,
                    help="then wait at most this for all rows to be final (400 s)")  # fmt: skip
    ap.add_argument("--settle", type=float, default=3.0, help="all final for this long = done")
    ap.add_argument("--late-s", type=float, default=10.0,
                    help="a send later than this counts as the fault's backlog (10 s)")  # fmt: skip
    ap.add_argument("--pg-port", type=int, default=55432)
    ap.add_argument("--redis-port", type=int, default=56379)
    ap.add_argument("--code", default="worktree",
                    help="what to measure: 'worktree' (a copy of the working tree, the default) "
                    "or a git ref (git archive)")  # fmt: skip
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory and logs")
    opts = ap.parse_args()
    if opts.quick:
        given = set(sys.argv[1:])
        for flag, value in QUICK.items():
            if f"--{flag.replace('_', '-')}" not in given and not any(
                a.startswith(f"--{flag.replace('_', '-')}=") for a in given
            ):
                setattr(opts, flag, value)
    names = [n.strip() for n in opts.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        ap.error(f"unknown scenario(s): {unknown}")

    def interrupted(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    tmp = Path(tempfile.mkdtemp(prefix="aftercare-faults-"))
    os.chmod(tmp, 0o755)  # the postgres user must reach its data directory
    code_dir = code_snapshot(opts.code, tmp / "code")
    worktree = opts.code == "worktree"
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD" if worktree else opts.code],
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    log(f"measuring {opts.code} ({rev}{' + uncommitted changes' if worktree else ''})")
    print(f"machine: {machine()}")
    print(f"command: {shlex.join([Path(PYTHON).name, *sys.argv])}", flush=True)
    bench = Bench(opts, tmp, code_dir)
    started = time.monotonic()
    results: list[Result] = []
    status, keep = 0, False
    try:
        bench.setup()
        for name in names:
            for n in range(opts.repeat):
                r = bench.run(SCENARIOS[name], run=n)
                log(
                    f"{name}: sent {r.sent}/{r.due}, duplicated {r.duplicated}, db_sends "
                    f"{r.db_sends}, lost {r.lost}, recovery {fmt(r.recovery_s)} s, {r.wall_s:.0f} s"
                )
                if n == 0:
                    results.append(r)
                else:
                    results[-1].add(r)
    except KeyboardInterrupt:
        log("interrupted")
        status = 2
    except Exception as exc:
        log(f"bench error: {exc}")
        status, keep = 2, True  # the logs tell what went wrong
    finally:
        bench.teardown()
        if opts.keep or keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if results:
        report(results, opts, bench.leases)
        print(f"run_time_s: {time.monotonic() - started:.0f}")
    if status:
        return status
    return 1 if any(r.lost for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
