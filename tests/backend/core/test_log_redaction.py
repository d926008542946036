"""No patient link token, address, number or message body reaches a log: the real servers' access
logs (gunicorn in production, runserver for `make run`) and the file backends' lines."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from backend.core.embedded_redis import free_port
from backend.reminders.channels import OutgoingSms
from backend.reminders.channels.sms import FileBackend
from tests.conftest import ROOT
from tests.support.clock import wait_until

# Token-shaped (payload:stamp:signature) but not signed by us: the pages answer without a database.
TOKEN = "eyJwIjoxLCJnIjowfQ:1vx4ka:o1ufEAmuLUIFT7wD_hCQZhOK5NzbnQo98rhR3jXSSXw"
SERVERS = {
    "gunicorn": [
        sys.executable, "-m", "gunicorn", "backend.wsgi:application", "--bind", "127.0.0.1:{port}",
        "--workers", "1", "--access-logfile", "-",
        "--logger-class", "backend.core.logging.RedactingGunicornLogger",
    ],
    "runserver": [sys.executable, "manage.py", "runserver", "127.0.0.1:{port}", "--noreload"],
}  # fmt: skip


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_access_logs_carry_no_link_token(server, tmp_path):
    port = free_port()
    log_path = tmp_path / "server.log"
    command = [part.format(port=port) for part in SERVERS[server]]
    env = {**os.environ, "DEBUG": "true", "PYTHONUNBUFFERED": "1"}
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _get(f"{base}/p/{TOKEN}/") == 404, timeout=30, what=f"{server} up")
        assert _get(f"{base}/unsubscribe/{TOKEN}/?utm=x") == 400
        wait_until(lambda: "/unsubscribe/" in log_path.read_text(), timeout=10, what="log line")
    finally:
        process.terminate()
        process.wait(10)
    written = log_path.read_text()
    assert "/p/[token]/" in written and "/unsubscribe/[token]/" in written, written
    assert TOKEN not in written
    assert TOKEN.split(":")[0] not in written


def test_the_file_sms_backend_logs_no_number_or_words(settings, tmp_path, caplog):
    settings.OUTBOX_DIR = str(tmp_path)
    message = OutgoingSms(
        to="+12025550143", body=f"Your link: https://x.example/p/{TOKEN}/", reminder_id=7
    )
    with caplog.at_level(logging.INFO):
        FileBackend().send(message)
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "reminder 7" in logged
    assert "2025550143" not in logged and TOKEN not in logged and "Your link" not in logged
