"""`make prod-check`: the production stack of docker-compose.yml run natively, then smoke-tested.

This machine has no Docker engine, so the containers' commands run as local processes: the
services' OWN commands, read from docker-compose.yml (migrate, gunicorn web, the send worker, the
dispatcher, beat) and the Dockerfile's collectstatic step, with DEBUG=false and the production
settings (backend/settings.py, guarded by backend.core.checks.guard_production_settings), with the
variables of .env.example given local values, against the machine's PostgreSQL (a throwaway
database `aftercare_prodcheck_*`, dropped at the end) and Redis (one database number, flushed
before and after). Then, over HTTP against gunicorn:

- plain http is redirected to https, and a request a TLS proxy forwards (`X-Forwarded-Proto:
  https`, `NUM_PROXIES=1`: there is no TLS on loopback, and SSL redirect stays on) carries HSTS,
  nosniff, X-Frame-Options, Referrer-Policy and Cross-Origin-Opener-Policy; the CSRF cookie and,
  after a real admin login, the session cookie are Secure;
- Django's deployment checklist (`manage.py check --deploy`) passes;
- a staff member gets an API token (`/api/v1/auth/token/`), adds a patient and builds a plan
  through the REST API, and asks for one of its reminders to be sent now: the dispatcher claims
  it, the send worker sends it over SMTP (Django's SMTP backend, as production) to a local
  aiosmtpd server, and the database records it sent with a successful delivery attempt;
- /health/ answers 200 once beat and the dispatcher have ticked (it is 503 before);
  /health/detail/ and /metrics refuse an anonymous caller and answer the monitoring token;
- an admin stylesheet is served by whitenoise under its hashed name from the staticfiles
  manifest, compressed, with a cache lifetime of a year;
- each compose health check of the services started here (`healthcheck.test`) passes.

What differs from the containers, and why (printed at the start):
- `0.0.0.0:8000` / `127.0.0.1:8000` become 127.0.0.1 and a free port (other stacks may hold
  8000), and `/tmp/...` paths a private run directory (a container's /tmp is its own);
- `$$` is compose's escape for `$`; HOSTNAME is set as a container's would be;
- STATIC_ROOT is the run directory (the image collects into /app/staticfiles);
- HTTP(S)_PROXY point at a closed loopback port, so no process can reach a real provider.
PostgreSQL and Redis are the machine's servers, not containers, and Flower is not run (it is not
installed here: the compose file uses its official image).

Every process started is stopped (its whole process group) on success, failure and Ctrl-C. Exit
status 0 when every check passed, 1 naming each failed check, 2 when the stack could not start.

Run: make prod-check   (or .venv/bin/python -m ops.prod_check)
Environment: PRODCHECK_POSTGRES (default postgres://postgres@127.0.0.1:5432/postgres, where the
throwaway database is created), PRODCHECK_REDIS_URL (default redis://127.0.0.1:6379/11; never
database 0).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import http.client
import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import psycopg
import redis
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PUBLIC_HOST = "care.prodcheck.test"  # RFC 6761: .test never resolves
DB_PREFIX = "aftercare_prodcheck_"
LOCK_PATH = Path(tempfile.gettempdir()) / "aftercare-prodcheck.lock"
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/11"
STAFF_USERNAME = "coordinator"  # seed_demo's coordinator; its password is replaced by a random one
ONE_YEAR_S = 365 * 24 * 3600
STARTUP_TIMEOUT_S = 60
TICK_TIMEOUT_S = 90  # beat's first dispatcher tick is one 30 s interval after it starts
SEND_TIMEOUT_S = 90
BUDGET_S = 180


class StackError(Exception):
    """The stack could not be started or died: nothing after it can be checked."""


class CheckFailed(Exception):
    """One check's finding; the others still run."""


def say(started: float, message: str) -> None:
    print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)


# --- What the containers run -------------------------------------------------------------------


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def app_service_names(compose: dict) -> tuple[list[str], list[str]]:
    """(one-shot, long-running) services built from this repository, in compose's order.

    One-shot: a service others wait for with `service_completed_successfully` (migrate)."""
    built = [name for name, s in compose["services"].items() if s.get("build") == "."]
    awaited = {
        dep
        for s in compose["services"].values()
        for dep, cond in (s.get("depends_on") or {}).items()
        if isinstance(cond, dict) and cond.get("condition") == "service_completed_successfully"
    }
    return [n for n in built if n in awaited], [n for n in built if n not in awaited]


@dataclass(frozen=True)
class Relocation:
    """The few container facts a native run must translate, each said aloud at the start."""

    port: int
    run_dir: Path

    def arg(self, value: str) -> str:
        value = value.replace("$$", "$")
        for container in ("0.0.0.0:8000", "127.0.0.1:8000"):
            value = value.replace(container, f"127.0.0.1:{self.port}")
        return re.sub(r"(?<![\w/])/tmp/", f"{self.run_dir}/", value)

    def argv(self, argv: list[str]) -> list[str]:
        return [self.arg(a) for a in argv]

    def healthcheck(self, test: list[str]) -> list[str]:
        kind, *rest = test
        if kind == "CMD-SHELL":
            return ["sh", "-c", self.arg(rest[0])]
        if kind == "CMD":
            return self.argv(rest)
        raise StackError(f"healthcheck test of kind {kind!r} is not understood")


def dockerfile_manage_steps() -> list[list[str]]:
    """The Dockerfile's build-time `RUN DEBUG=true python manage.py collectstatic` step as argv.

    compilemessages is left out: `make install` (which prod-check depends on) compiles the same
    catalogues here, skipping the virtualenv the image does not have."""
    steps = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("RUN ") and "manage.py collectstatic" in line:
            steps.append(shlex.split(line.removeprefix("RUN ")))
    if not steps:
        raise StackError("the Dockerfile has no `manage.py collectstatic` step")
    return steps


def example_env() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def stack_env(
    *, database_url: str, redis_url: str, smtp_port: int, run_dir: Path, monitoring_token: str
) -> dict[str, str]:
    """.env.example with local values: every variable set here must be one it lists, so the
    example cannot fall behind what the services need."""
    example = example_env()
    if example.get("DEBUG") != "false":
        raise StackError(".env.example must say DEBUG=false: it is the production configuration")
    local = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": PUBLIC_HOST,
        "CSRF_TRUSTED_ORIGINS": f"https://{PUBLIC_HOST}",
        "PUBLIC_BASE_URL": f"https://{PUBLIC_HOST}",
        "NUM_PROXIES": "1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "THROTTLE_CACHE_URL": redis_url,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_USE_TLS": "false",
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "TWILIO_FROM_NUMBER": "+15005550006",
        "MONITORING_TOKEN": monitoring_token,
        "FLOWER_BASIC_AUTH": f"ops:{secrets.token_urlsafe(24)}",
    }
    unlisted = set(local) - set(example)
    if unlisted:
        raise StackError(f".env.example does not list {sorted(unlisted)}")
    env = {k: os.environ[k] for k in ("LANG", "LC_ALL", "TMPDIR") if k in os.environ}
    env.update(example)
    env.update(local)
    closed = f"http://127.0.0.1:{closed_port()}"
    env.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        PYTHONUNBUFFERED="1",
        HOSTNAME=socket.gethostname(),
        HOME=str(run_dir),  # gunicorn's control socket and any dotfile stay in this run
        STATIC_ROOT=str(run_dir / "static"),
        HTTP_PROXY=closed,
        HTTPS_PROXY=closed,
        http_proxy=closed,
        https_proxy=closed,
        NO_PROXY="127.0.0.1,localhost",  # the compose health checks' own requests (curl)
        no_proxy="127.0.0.1,localhost",
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    return free_port()


# --- Processes ----------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    argv: list[str]
    popen: subprocess.Popen
    log: Path
    one_shot: bool = False  # expected to exit (a build step); long-running ones must not

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return ""
        return "\n".join(f"    {self.name}| {line}" for line in text[-lines:])


@dataclass
class Stack:
    """Long-running processes, each in its own process group, all stopped by `stop`."""

    env: dict[str, str]
    run_dir: Path
    processes: list[Process] = field(default_factory=list)

    def run(
        self, name: str, argv: list[str], *, timeout: float, extra_env: dict | None = None
    ) -> str:
        """A one-shot command (migrate, collectstatic): its output, or StackError with it."""
        log = self.run_dir / f"{name}.log"
        with log.open("w") as out:
            try:
                result = subprocess.run(
                    argv, cwd=ROOT, env={**self.env, **(extra_env or {})}, stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=timeout, start_new_session=True,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise StackError(f"{name} took longer than {timeout:.0f} s") from None
        output = log.read_text(errors="replace")
        if result.returncode != 0:
            raise StackError(f"{name} exited with {result.returncode}:\n{output[-3000:]}")
        return output

    def start(
        self, name: str, argv: list[str], *, extra_env: dict | None = None, one_shot: bool = False
    ) -> Process:
        log = self.run_dir / f"{name}.log"
        out = log.open("w")
        popen = subprocess.Popen(
            argv, cwd=ROOT, env={**self.env, **(extra_env or {})}, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        out.close()
        process = Process(name, argv, popen, log, one_shot)
        self.processes.append(process)
        return process

    def finish(self, process: Process, *, timeout: float) -> None:
        """Wait for a one-shot process started in the background; StackError unless it exits 0."""
        try:
            code = process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StackError(f"{process.name} took longer than {timeout:.0f} s") from None
        self.processes.remove(process)
        if code != 0:
            raise StackError(f"{process.name} exited with {code}:\n{process.tail(40)}")

    def assert_alive(self) -> None:
        for process in self.processes:
            code = process.popen.poll()
            if code is not None and not process.one_shot:
                last = process.tail(1).split("| ", 1)[-1].strip()
                raise StackError(f"{process.name} exited with {code} ({last}):\n{process.tail(40)}")

    def stop(self, grace_s: float = 20) -> list[str]:
        """SIGTERM to every process group (warm shutdown), SIGKILL to what is left after grace."""
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        report = []
        for process in self.processes:
            try:
                code = process.popen.wait(timeout=max(deadline - time.monotonic(), 0.1))
                report.append(f"{process.name} (exit {code})")
            except subprocess.TimeoutExpired:
                report.append(f"{process.name} (killed)")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGKILL)  # stray children too
        self.processes.clear()
        return report


def wait_until(
    what: str, probe: Callable[[], object], *, timeout: float, stack: Stack, every: float = 0.5
):
    """Poll `probe` until it returns something truthy; StackError if a process dies meanwhile."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        stack.assert_alive()
        try:
            last = probe()
        except (OSError, http.client.HTTPException) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise CheckFailed(f"{what}: not within {timeout:.0f} s (last: {last!r})")


# --- HTTP as a TLS proxy would forward it ---------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: Message
    body: bytes

    def json(self):
        return json.loads(self.body)

    def cookies(self) -> dict[str, str]:
        """Set-Cookie headers by cookie name, as sent."""
        headers = self.headers.get_all("Set-Cookie") or []
        return {header.split("=", 1)[0].strip(): header for header in headers}


@dataclass
class Client:
    port: int
    token: str = ""
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, *, body=None, https: bool = True, headers: dict | None = None,
        form: bool = False,
    ) -> Response:  # fmt: skip
        sent = {"Host": PUBLIC_HOST, "Accept": "application/json"}
        if https:  # what the proxy in front adds; NUM_PROXIES=1 makes Django believe it
            sent.update({"X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"})
        if self.token:
            sent["Authorization"] = f"Token {self.token}"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        payload = None
        if body is not None:
            if form:
                payload = urllib.parse.urlencode(body).encode()
                sent["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                payload = json.dumps(body).encode()
                sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=payload, headers=sent)
            raw = conn.getresponse()
            response = Response(raw.status, raw.msg, raw.read())
        finally:
            conn.close()
        for name, header in response.cookies().items():
            self.cookies[name] = header.split(";", 1)[0].split("=", 1)[1]
        return response

    def expect(self, status: int, method: str, path: str, **kwargs) -> Response:
        response = self.request(method, path, **kwargs)
        if response.status != status:
            raise CheckFailed(
                f"{method} {path}: {response.status}, expected {status}: {response.body[:500]!r}"
            )
        return response


# --- A local SMTP server: the production SMTP backend's counterpart ------------------------------


class Mailbox:
    """aiosmtpd on a free loopback port; keeps each message's recipients and subject."""

    def __init__(self) -> None:
        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.received: list[tuple[list[str], str]] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        import email
        import email.policy

        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.received.append(([r.lower() for r in envelope.rcpt_tos], str(message["Subject"])))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[str]:
        with self._lock:
            return [subject for rcpts, subject in self.received if address.lower() in rcpts]


# --- The run ------------------------------------------------------------------------------------


@contextlib.contextmanager
def exclusive_lock(started: float) -> Iterator[None]:
    """One prod-check at a time on this machine: they share the Redis database number."""
    with LOCK_PATH.open("a") as handle:
        deadline = time.monotonic() + 300
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StackError(f"another prod-check holds {LOCK_PATH}") from None
                say(started, "waiting for another prod-check to finish")
                time.sleep(5)
        yield


@contextlib.contextmanager
def throwaway_database(admin_url: str, started: float) -> Iterator[str]:
    """A fresh database next to `admin_url`'s, dropped at the end (connections and all)."""
    name = f"{DB_PREFIX}{int(time.time())}_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # Leftovers of a run that was killed outright (this run holds the lock, so no other
        # prod-check is using one).
        for (stale,) in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", [DB_PREFIX + "%"]
        ).fetchall():
            conn.execute(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urllib.parse.urlsplit(admin_url)
    try:
        yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        say(started, f"dropped database {name}")


@contextlib.contextmanager
def own_redis_database(url: str, started: float) -> Iterator[str]:
    """The one Redis database this run may use, emptied before and after (never database 0)."""
    client = redis.Redis.from_url(url)
    if client.connection_pool.connection_kwargs.get("db", 0) == 0:
        raise StackError("PRODCHECK_REDIS_URL must name a Redis database other than 0")
    client.ping()
    client.flushdb()
    try:
        yield url
    finally:
        with contextlib.suppress(redis.RedisError):
            client.flushdb()
            say(started, f"emptied Redis {url}")
        client.close()


def next_weekday(days: int) -> dt.date:
    day = dt.date.today() + dt.timedelta(days=days)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


@dataclass
class Checks:
    started: float
    failures: list[str] = field(default_factory=list)
    stack: Stack | None = None

    def run(self, name: str, check: Callable[[], str]) -> None:
        """Record one check's pass or failure; a process that died stops the run (StackError)."""
        if self.stack:
            self.stack.assert_alive()
        began = time.monotonic()
        try:
            detail = check()
        except CheckFailed as exc:
            self.failures.append(f"{name}: {exc}")
            say(self.started, f"FAILED {name}: {exc}")
        else:
            say(self.started, f"ok     {name}: {detail} ({time.monotonic() - began:.1f} s)")


def check_https_redirect(client: Client) -> str:
    plain = client.request("GET", "/admin/login/", https=False)
    location = plain.headers.get("Location", "")
    if plain.status != 301 or location != f"https://{PUBLIC_HOST}/admin/login/":
        raise CheckFailed(f"plain http: {plain.status} to {location!r}, expected 301 to https")
    if plain.headers.get("Strict-Transport-Security"):
        raise CheckFailed("HSTS sent over plain http")
    health = client.request("GET", "/health/", https=False)
    if health.status in (301, 302):
        raise CheckFailed("/health/ redirects plain http: probes could not reach it")
    return "plain http redirected (301) to https; /health/ answers plain http"


def check_security_headers(client: Client) -> str:
    page = client.expect(200, "GET", "/admin/login/", headers={"Accept": "text/html"})
    h = page.headers
    problems = []
    hsts = h.get("Strict-Transport-Security", "")
    hsts_age = re.search(r"max-age=(\d+)", hsts)
    if not hsts_age or int(hsts_age[1]) < ONE_YEAR_S:
        problems.append(f"Strict-Transport-Security {hsts!r}")
    expected = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    for name, value in expected.items():
        if (h.get(name) or "").lower() != value.lower():
            problems.append(f"{name} {h.get(name)!r} (expected {value!r})")
    csrf = page.cookies().get("csrftoken", "")
    if "secure" not in csrf.lower():
        problems.append(f"csrftoken cookie not Secure: {csrf!r}")
    if problems:
        raise CheckFailed("; ".join(problems))
    return f"HSTS {hsts!r}, nosniff, X-Frame-Options DENY, Referrer-Policy, COOP, Secure CSRF"


def check_admin_login(port: int, password: str) -> str:
    browser = Client(port)
    browser.expect(200, "GET", "/admin/login/", headers={"Accept": "text/html"})
    token = browser.cookies.get("csrftoken")
    if not token:
        raise CheckFailed("the login page set no csrftoken cookie")
    origin = f"https://{PUBLIC_HOST}"
    response = browser.request(
        "POST", "/admin/login/?next=/admin/", form=True,
        body={"csrfmiddlewaretoken": token, "username": STAFF_USERNAME, "password": password,
              "next": "/admin/"},
        headers={"Origin": origin, "Referer": f"{origin}/admin/login/", "Accept": "text/html"},
    )  # fmt: skip
    session = response.cookies().get("sessionid", "")
    if response.status != 302 or not session:
        raise CheckFailed(f"admin login: {response.status}, no session: {response.body[:300]!r}")
    flags = {part.strip().lower() for part in session.split(";")[1:]}
    if not {"secure", "httponly"} <= flags:
        raise CheckFailed(f"session cookie flags {sorted(flags)}, expected Secure and HttpOnly")
    browser.expect(200, "GET", "/admin/", headers={"Accept": "text/html"})
    return "staff login through the admin: session cookie Secure and HttpOnly; /admin/ 200"


def check_static(client: Client, static_root: Path) -> str:
    manifest = static_root / "staticfiles.json"
    if not manifest.exists():
        raise CheckFailed(
            "collectstatic wrote no staticfiles.json: STORAGES['staticfiles'] is not a manifest "
            "storage, so files keep their plain names and whitenoise may cache them for 60 s "
            "only (backend/settings.py: whitenoise.storage.CompressedManifestStaticFilesStorage)"
        )
    hashed = json.loads(manifest.read_text())["paths"]["admin/css/base.css"]
    response = client.expect(
        200, "GET", f"/static/{hashed}", headers={"Accept": "text/css", "Accept-Encoding": "gzip"}
    )
    cache = response.headers.get("Cache-Control", "")
    age = re.search(r"max-age=(\d+)", cache)
    problems = []
    if not age or int(age[1]) < ONE_YEAR_S or "immutable" not in cache:
        problems.append(f"Cache-Control {cache!r}, expected a year or more and immutable")
    if response.headers.get("Content-Encoding") != "gzip":
        problems.append("not served compressed (whitenoise's .gz)")
    if not response.body:
        problems.append("empty body")
    if problems:
        raise CheckFailed(f"/static/{hashed}: " + "; ".join(problems))
    return f"/static/{hashed} by whitenoise: {cache!r}, gzip"


def check_protected_operations(client: Client, monitoring_token: str) -> str:
    anonymous = Client(client.port)
    for path in ("/health/detail/", "/metrics"):
        refused = anonymous.request("GET", path)
        if refused.status != 401:
            raise CheckFailed(f"{path} answered an anonymous caller {refused.status}")
    bearer = {"Authorization": f"Bearer {monitoring_token}"}
    detail = anonymous.expect(200, "GET", "/health/detail/", headers=bearer).json()
    metrics = anonymous.expect(200, "GET", "/metrics", headers=bearer, https=False)
    if b"# TYPE" not in metrics.body:
        raise CheckFailed("/metrics is not Prometheus text")
    if "dispatcher" not in detail:
        raise CheckFailed(f"/health/detail/ without the dispatcher's report: {detail}")
    return "/health/detail/ and /metrics: 401 anonymous, 200 with the monitoring token"


@dataclass
class ApiRun:
    plan_id: int = 0
    reminder_id: int = 0
    provider_email: str = ""
    items: int = 0
    reminders: int = 0
    emails_before: int = 0  # to the provider, before this reminder (seed_demo sends one too)


def build_plan_through_the_api(port: int, password: str, run: ApiRun, mailbox: Mailbox) -> str:
    client = Client(port)
    got = client.expect(
        200, "POST", "/api/v1/auth/token/", body={"username": STAFF_USERNAME, "password": password}
    )
    client.token = got.json()["token"]
    clinic = client.expect(200, "GET", "/api/v1/clinics/").json()["results"][0]
    providers = client.expect(200, "GET", f"/api/v1/providers/?clinic={clinic['id']}").json()
    prescriber = next(
        (p for p in providers["results"] if p["role"] == "prescriber" and p["email"]), None
    )
    if prescriber is None:
        raise CheckFailed("no prescriber with an email in the seeded clinic")
    protocols = client.expect(200, "GET", "/api/v1/protocols/?page_size=200").json()["results"]
    if not protocols:
        raise CheckFailed("no protocol in the library")
    patient = client.expect(
        201, "POST", "/api/v1/patients/",
        body={"clinic": clinic["id"], "first_name": "Robin", "last_name": "Testwell",
              "date_of_birth": "1980-02-03", "email": "robin.testwell@example.com",
              "mobile": "+12025550187", "time_zone": "America/New_York"},
    ).json()  # fmt: skip
    plan = None
    for protocol in protocols:
        plan = client.expect(
            201, "POST", "/api/v1/plans/",
            body={"patient": patient["id"], "protocol": protocol["id"],
                  "provider": prescriber["id"], "start_date": next_weekday(3).isoformat()},
        ).json()  # fmt: skip
        if not plan["items"] or not plan["reminders"]:
            raise CheckFailed(f"plan {plan['id']} was built with no items or no reminders")
        to_provider = [
            r for r in plan["reminders"]
            if (r["audience"], r["channel"], r["status"]) == ("provider", "email", "scheduled")
        ]  # fmt: skip
        if to_provider:
            break
    else:
        raise CheckFailed("no protocol gives a plan a scheduled provider email to send")
    reminder = to_provider[0]
    run.emails_before = len(mailbox.to(prescriber["email"]))
    sent = client.expect(200, "POST", f"/api/v1/reminders/{reminder['id']}/send-now/").json()
    run.plan_id, run.reminder_id = plan["id"], sent["id"]
    run.provider_email, run.items, run.reminders = (
        prescriber["email"],
        len(plan["items"]),
        len(plan["reminders"]),
    )
    return (
        f"token login, patient {patient['id']} added, plan {plan['id']} built "
        f"({run.items} items, {run.reminders} reminders); reminder {run.reminder_id} "
        f"(provider email) asked to send now"
    )


def check_reminder_sent(
    port: int, password: str, run: ApiRun, mailbox: Mailbox, database_url: str, stack: Stack
) -> str:
    if not run.reminder_id:
        raise CheckFailed("no reminder was asked to send (see the API check)")
    client = Client(port)
    client.token = client.expect(
        200, "POST", "/api/v1/auth/token/", body={"username": STAFF_USERNAME, "password": password}
    ).json()["token"]

    def sent():
        body = client.expect(200, "GET", f"/api/v1/reminders/{run.reminder_id}/").json()
        return body if body["status"] == "sent" else None

    wait_until(f"reminder {run.reminder_id} sent", sent, timeout=SEND_TIMEOUT_S, stack=stack)
    subjects = wait_until(
        f"the email to {run.provider_email}",
        lambda: (got := mailbox.to(run.provider_email))[run.emails_before :] and got,
        timeout=10, stack=stack,
    )  # fmt: skip
    with psycopg.connect(database_url) as conn:
        status, sent_at = conn.execute(
            "SELECT status, sent_at FROM reminders_reminder WHERE id = %s",
            [run.reminder_id],
        ).fetchone()
        attempts = conn.execute(
            "SELECT success, backend FROM reminders_deliveryattempt WHERE reminder_id = %s",
            [run.reminder_id],
        ).fetchall()
    if status != "sent" or sent_at is None or [a[0] for a in attempts] != [True]:
        raise CheckFailed(f"database: status {status}, sent_at {sent_at}, attempts {attempts}")
    return (
        f"the send worker handed it to SMTP (subject {subjects[-1]!r}); the database "
        f"records it sent at {sent_at:%H:%M:%S} UTC with one successful {attempts[0][1]} attempt"
    )


# /health/ answers 503 until the dispatcher's first tick (backend/core/health.py), and Django logs
# every 503 at ERROR, as an uptime check would see it. The wait for 200 polls through that on
# purpose; any other 5xx or ERROR line fails the run.
EXPECTED_BEFORE_FIRST_TICK = ("Service Unavailable: /health/", "503 /health/")


def check_no_errors_logged(stack: Stack) -> str:
    """No server error answered and nothing logged at ERROR or above, in any process, but the
    /health/ 503s before the first tick."""
    found = []
    lines = 0
    for process in stack.processes:
        for line in process.log.read_text(errors="replace").splitlines():
            lines += 1
            try:
                record = json.loads(line)
            except ValueError:
                if line.startswith("Traceback"):
                    found.append(f"{process.name}: {line}")
                continue
            if not isinstance(record, dict):
                continue
            if record.get("level") in ("ERROR", "CRITICAL"):
                found.append(f"{process.name}: {record.get('name')}: {record.get('message')}")
            elif str(record.get("status", "")).startswith("5"):
                found.append(f"{process.name}: {record.get('status')} {record.get('path')}")
    found = [
        line for line in found if not line.split(": ", 1)[-1].endswith(EXPECTED_BEFORE_FIRST_TICK)
    ]
    if found:
        raise CheckFailed(f"{len(found)} error lines, first: " + " | ".join(found[:3]))
    return f"no 5xx answered, nothing at ERROR in {lines} log lines"


def check_compose_healthchecks(
    compose: dict, names: list[str], where: Relocation, env: dict[str, str]
) -> str:
    results: dict[str, str] = {}

    def one(name: str) -> None:
        check = compose["services"][name]["healthcheck"]
        argv = where.healthcheck(check["test"])
        timeout = float(str(check.get("timeout", "30s")).rstrip("s"))
        try:
            done = subprocess.run(
                argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout + 5
            )
            results[name] = "ok" if done.returncode == 0 else (
                f"exit {done.returncode}: {(done.stdout + done.stderr).strip()[-300:]}"
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            results[name] = f"timed out after {timeout:.0f} s"

    threads = [threading.Thread(target=one, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = {n: r for n, r in results.items() if r != "ok"}
    if failed:
        raise CheckFailed("; ".join(f"{n}: {r}" for n, r in failed.items()))
    return ", ".join(f"{n} ok" for n in names)


def split_env_prefix(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """`DEBUG=true python manage.py ...` as a shell runs it: leading assignments are its env."""
    env = {}
    while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", argv[0]):
        key, _, value = argv[0].partition("=")
        env[key] = value
        argv = argv[1:]
    return env, argv


def deploy_checklist(stack: Stack) -> str:
    output = stack.run(
        "check-deploy",
        ["python", "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        timeout=60,
    )
    return output.strip().splitlines()[-1] if output.strip() else "no issues"


def seed(stack: Stack, password: str) -> None:
    """seed_demo's clinic, staff and patients; the staff login then gets a random password."""
    stack.run("seed_demo", ["python", "manage.py", "seed_demo", "--force"], timeout=120)
    stack.run(
        "staff-password",
        ["python", "manage.py", "shell", "-c",
         "import os; from django.contrib.auth.models import User; "
         f"u = User.objects.get(username={STAFF_USERNAME!r}); "
         "u.set_password(os.environ['PRODCHECK_STAFF_PASSWORD']); u.save()"],
        timeout=60, extra_env={"PRODCHECK_STAFF_PASSWORD": password},
    )  # fmt: skip


def smoke(stack: Stack, checks: Checks, *, compose, long_running, where, mailbox, database_url,
          monitoring_token, run_dir, password) -> None:  # fmt: skip
    """The checks against the running stack, each recorded pass or fail on its own."""
    started = checks.started
    client = Client(where.port)
    wait_until(
        "gunicorn answering", lambda: client.request("GET", "/health/live/", https=False),
        timeout=STARTUP_TIMEOUT_S, stack=stack,
    )  # fmt: skip
    say(started, "ok     gunicorn answers")

    def healthy() -> str:
        def probe():
            response = client.request("GET", "/health/", https=False)
            return response.status == 200 and response.body.decode()

        body = wait_until("/health/ 200", probe, timeout=TICK_TIMEOUT_S, stack=stack, every=1)
        return f"/health/ 200 {body}"

    api = ApiRun()
    checks.run("https", lambda: check_https_redirect(client))
    checks.run("security headers", lambda: check_security_headers(Client(where.port)))
    checks.run("admin login", lambda: check_admin_login(where.port, password))
    checks.run("static files", lambda: check_static(client, run_dir / "static"))
    checks.run("API plan", lambda: build_plan_through_the_api(where.port, password, api, mailbox))
    checks.run("health once beat and the dispatcher ticked", healthy)
    checks.run(
        "reminder sent through the worker",
        lambda: check_reminder_sent(where.port, password, api, mailbox, database_url, stack),
    )
    checks.run("operator endpoints", lambda: check_protected_operations(client, monitoring_token))
    checks.run(
        "compose health checks",
        lambda: check_compose_healthchecks(compose, long_running, where, stack.env),
    )
    checks.run("logs", lambda: check_no_errors_logged(stack))
    stack.assert_alive()


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, {model}, load average {load}"


def _interrupt(*_args) -> None:
    raise KeyboardInterrupt


def main() -> int:
    started = time.monotonic()
    compose = load_compose()
    one_shot, long_running = app_service_names(compose)
    if not one_shot or not long_running:
        print("prod-check FAILED: docker-compose.yml names no migrate or no long-running service")
        return 2
    # A CI timeout's SIGTERM unwinds through every cleanup below, as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    checks = Checks(started)
    stack: Stack | None = None
    with contextlib.ExitStack() as cleanup:
        try:
            cleanup.enter_context(exclusive_lock(started))
            run_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="prodcheck-")))
            database_url = cleanup.enter_context(
                throwaway_database(os.environ.get("PRODCHECK_POSTGRES", DEFAULT_POSTGRES), started)
            )
            redis_url = cleanup.enter_context(
                own_redis_database(os.environ.get("PRODCHECK_REDIS_URL", DEFAULT_REDIS), started)
            )
            mailbox = Mailbox()
            mailbox.controller.start()
            cleanup.callback(mailbox.controller.stop)
            monitoring_token = secrets.token_urlsafe(32)
            env = stack_env(
                database_url=database_url, redis_url=redis_url, smtp_port=mailbox.port,
                run_dir=run_dir, monitoring_token=monitoring_token,
            )  # fmt: skip
            where = Relocation(port=free_port(), run_dir=run_dir)
            stack = checks.stack = Stack(env, run_dir)
            cleanup.callback(lambda: say(started, f"stopped: {', '.join(stack.stop())}"))
            say(started, f"machine: {machine()}")
            say(started, f"database {database_url.rsplit('/', 1)[1]}, Redis {redis_url}")
            say(
                started,
                f"native run: 0.0.0.0:8000 -> 127.0.0.1:{where.port}, /tmp/ -> {run_dir}/, "
                f"Host {PUBLIC_HOST} with X-Forwarded-Proto https (NUM_PROXIES=1), SMTP "
                f"127.0.0.1:{mailbox.port}, outbound HTTP(S) to a closed port",
            )
            # The image's build step, in the background: it needs no database, and compressing
            # every file is the slowest step here. gunicorn starts only after it (whitenoise
            # reads STATIC_ROOT once, at start).
            began = time.monotonic()
            building = []
            for number, step in enumerate(dockerfile_manage_steps()):
                extra, argv = split_env_prefix(step)
                build = stack.start(f"build-{number}", argv, extra_env=extra, one_shot=True)
                building.append((step, build))
            for name in one_shot:
                argv = where.argv(compose["services"][name]["command"])
                began = time.monotonic()
                stack.run(name, argv, timeout=120)
                say(started, f"ok     {name}: {' '.join(argv)} ({time.monotonic() - began:.1f} s)")
            checks.run("manage.py check --deploy", lambda: deploy_checklist(stack))
            password = secrets.token_urlsafe(24)
            seed(stack, password)
            say(started, f"ok     seed_demo --force; {STAFF_USERNAME}'s password made random")
            for step, process in building:
                stack.finish(process, timeout=240)
                say(started, f"ok     Dockerfile: {' '.join(step)} "
                             f"({time.monotonic() - began:.1f} s, beside the above)")  # fmt: skip
            for name in long_running:
                argv = where.argv(compose["services"][name]["command"])
                stack.start(name, argv)
                say(started, f"start  {name}: {' '.join(argv)}")
            smoke(
                stack, checks, compose=compose, long_running=long_running, where=where,
                mailbox=mailbox, database_url=database_url, monitoring_token=monitoring_token,
                run_dir=run_dir, password=password,
            )  # fmt: skip
        except (StackError, CheckFailed, psycopg.Error, redis.RedisError) as exc:
            # Nothing after this can be checked.
            checks.failures.append(f"stack: {exc.__class__.__name__}: {exc}")
            say(started, f"FAILED stack: {exc}")
            for process in stack.processes if stack else []:
                print(process.tail(8), flush=True)
        except KeyboardInterrupt:
            checks.failures.append("stack: interrupted")
    elapsed = time.monotonic() - started
    if elapsed > BUDGET_S:  # said, not failed: a loaded machine is slow, not broken
        print(f"prod-check took {elapsed:.0f} s, more than the {BUDGET_S} s it should (load?)")
    if checks.failures:
        print(f"prod-check FAILED ({len(checks.failures)}) after {elapsed:.1f} s:")
        for failure in checks.failures:
            print(f"  - {failure.splitlines()[0]}")
        return 2 if any(f.startswith("stack") for f in checks.failures) else 1
    print(f"prod-check passed in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
