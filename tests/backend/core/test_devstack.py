"""`make run` (backend/core/devstack.py): the web process listens on WEB_PORT, and the links in
messages point at it, through PUBLIC_BASE_URL, unless PUBLIC_BASE_URL is given."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from backend.core import devstack
from backend.reminders import compose
from tests.conftest import ROOT


def _settings_seen_by_a_process(env: dict[str, str]) -> str:
    """PUBLIC_BASE_URL and a message link as a process started with ``env`` builds them (the
    worker that renders messages is such a process)."""
    code = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.urls import reverse\n"
        "from backend.reminders import links\n"
        "print(settings.PUBLIC_BASE_URL, links.absolute(reverse('provider-dashboard')))\n"
    )
    env = {**env, "DJANGO_SETTINGS_MODULE": "backend.settings"}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _web_command(env: dict[str, str]) -> str:
    """The Procfile's web command as the shell honcho runs it expands it."""
    [line] = [x for x in (ROOT / "Procfile").read_text().splitlines() if x.startswith("web:")]
    command = line.removeprefix("web:").strip()
    result = subprocess.run(
        ["sh", "-c", f'echo "{command}"'], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_web_port_sets_where_the_web_listens_and_where_message_links_point():
    environ = {k: v for k, v in os.environ.items() if k != "PUBLIC_BASE_URL"}
    env = devstack.process_env({**environ, "WEB_PORT": "8200"})
    assert env["PUBLIC_BASE_URL"] == "http://127.0.0.1:8200"
    assert re.search(r"runserver 127\.0\.0\.1:8200\b", _web_command(env))
    base, link = _settings_seen_by_a_process(env).split()
    assert base.endswith(":8200")
    assert link == "http://127.0.0.1:8200/provider/"


def test_an_explicit_public_base_url_wins_over_web_port():
    env = devstack.process_env(
        {**os.environ, "WEB_PORT": "8200", "PUBLIC_BASE_URL": "https://care.example.org"}
    )
    assert env["PUBLIC_BASE_URL"] == "https://care.example.org"
    assert env["WEB_PORT"] == "8200"
    base, link = _settings_seen_by_a_process(env).split()
    assert (base, link) == ("https://care.example.org", "https://care.example.org/provider/")


def test_without_web_port_the_web_listens_on_8000():
    environ = {k: v for k, v in os.environ.items() if k not in ("WEB_PORT", "PUBLIC_BASE_URL")}
    env = devstack.process_env(environ)
    assert env["PUBLIC_BASE_URL"] == "http://127.0.0.1:8000"
    assert re.search(r"runserver 127\.0\.0\.1:8000\b", _web_command(env))


def test_a_web_port_that_is_not_a_port_is_refused_by_name():
    with pytest.raises(SystemExit, match="WEB_PORT: must be a port number"):
        devstack.process_env({"WEB_PORT": "eighty"})


@pytest.mark.django_db
def test_every_link_in_a_patients_message_starts_with_public_base_url(make_plan, settings):
    settings.PUBLIC_BASE_URL = devstack.process_env({"WEB_PORT": "8200"})["PUBLIC_BASE_URL"]
    plan = make_plan()
    reminder = plan.reminders.select_related("item", "plan__patient", "plan__clinic").get(
        key="dosing-1:prep_48h:email"
    )
    rendered = compose.render(reminder)
    found = re.findall(r"https?://[^\s\"'<>)]+", rendered.text + rendered.html + rendered.sms)
    ours = [url for url in found if "127.0.0.1" in url or "localhost" in url]
    assert ours, "the message carries no link"
    assert all(url.startswith("http://127.0.0.1:8200/") for url in ours), ours
