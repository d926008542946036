"""A throwaway PgBouncer in transaction pooling mode, as a clinic network puts one in front of
PostgreSQL so that many worker hosts share a few server connections.

PgBouncer refuses to run as root, so when we are root it runs as the `postgres` OS user
(`runuser`), with its ini, auth file, log and pid file in a directory of its own. Any database
name is passed through to the PostgreSQL server (`* = host=... port=...`), so each bench point can
use a fresh database. Authentication is `trust` on loopback, like the private PostgreSQL cluster
behind it; the auth file still lists the users PgBouncer accepts.

Transaction pooling hands a client a server connection for one transaction only: session state
(a session-level SET, prepared statements, advisory locks held across transactions, server-side
cursors WITH HOLD) does not follow the client. See `session_setting_leaks` for the one this
project has.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg


class PgBouncer:
    def __init__(
        self,
        base: Path,
        *,
        port: int,
        server_port: int,
        users: list[str],
        pool_size: int,
        max_client_conn: int = 2000,
    ) -> None:
        self.base, self.port, self.server_port = base, port, server_port
        self.users, self.pool_size, self.max_client_conn = users, pool_size, max_client_conn
        self.ini, self.logfile = base / "pgbouncer.ini", base / "pgbouncer.log"
        self.proc: subprocess.Popen | None = None
        self.as_root = os.geteuid() == 0

    def write_config(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "userlist.txt").write_text("".join(f'"{u}" ""\n' for u in self.users))
        self.ini.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.server_port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.base / 'userlist.txt'}\n"
            f"admin_users = {self.users[0]}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\nmin_pool_size = 0\nreserve_pool_size = 0\n"
            f"max_client_conn = {self.max_client_conn}\n"
            # psycopg2 sends it; harmless to accept for psycopg 3 clients too.
            "ignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.logfile}\npidfile = {self.base / 'pgbouncer.pid'}\n"
            "log_connections = 0\nlog_disconnections = 0\nlog_pooler_errors = 1\n"
        )
        if self.as_root:
            for path in (self.base, *self.base.iterdir()):
                shutil.chown(path, "postgres", "postgres")

    def start(self) -> None:
        self.write_config()
        cmd = ["pgbouncer", str(self.ini)]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        self.proc = subprocess.Popen(
            cmd, cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(psycopg.Error):
                self.show("VERSION")
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not start; see {self.logfile}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            # `runuser` forwards SIGTERM to pgbouncer (its own session: the whole group).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, 9)
                self.proc.wait(10)
        self.proc = None

    def url(self, db: str, user: str | None = None) -> str:
        return f"postgres://{user or self.users[0]}@127.0.0.1:{self.port}/{db}"

    def show(self, what: str) -> list[dict]:
        """An admin console command (`SHOW POOLS`); the console speaks the simple protocol only,
        which psycopg's client-side-binding cursor uses for a query without parameters."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.users[0], dbname="pgbouncer",
            autocommit=True, connect_timeout=3, cursor_factory=psycopg.ClientCursor,
        ) as conn:  # fmt: skip
            cur = conn.execute(f"SHOW {what}")
            names = [c.name for c in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def counts(self, db: str) -> tuple[int, int]:
        """(client connections, server connections) of `db`'s pools right now."""
        clients = servers = 0
        for pool in self.show("POOLS"):
            if pool["database"] != db:
                continue
            clients += sum(int(pool.get(k) or 0) for k in ("cl_active", "cl_waiting"))
            servers += sum(
                int(pool.get(k) or 0)
                for k in ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login")
            )
        return clients, servers

    def errors_logged(self) -> list[str]:
        with contextlib.suppress(OSError):
            return [
                line
                for line in self.logfile.read_text(errors="replace").splitlines()
                if " ERROR " in line or " FATAL " in line
            ]
        return []


def session_setting_leaks(bouncer: PgBouncer, db: str, setting: str, n: int) -> list[str]:
    """What `n` new clients see for `setting`, each holding its own server connection.

    Each client opens a transaction and keeps it open, so PgBouncer must give every one of them a
    different server connection; a value other than the server's default shows a session-level
    SET that an earlier client left on that server connection.
    """
    conns, seen = [], []
    try:
        for _ in range(n):
            conn = psycopg.connect(bouncer.url(db), connect_timeout=5)
            conns.append(conn)
            seen.append(conn.execute(f"SHOW {setting}").fetchone()[0])  # opens a transaction
    finally:
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.rollback()
                conn.close()
    return seen
