"""The production guard runs at settings import, so it is tested in a fresh interpreter."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _import_settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS"}}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import backend.settings"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_refuses_default_secret_key_with_debug_off():
    result = _import_settings(DEBUG="false", ALLOWED_HOSTS="care.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY is the development default" in result.stderr
    assert "ALLOWED_HOSTS" not in result.stderr.split("ImproperlyConfigured")[-1]


def test_refuses_empty_allowed_hosts_with_debug_off():
    result = _import_settings(DEBUG="false", SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is empty" in result.stderr


def test_starts_with_safe_production_settings():
    result = _import_settings(DEBUG="false", SECRET_KEY="x" * 50, ALLOWED_HOSTS="care.example.org")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("debug", ["true", "1"])
def test_development_defaults_are_allowed_with_debug_on(debug):
    result = _import_settings(DEBUG=debug)
    assert result.returncode == 0, result.stderr


def test_a_send_lease_shorter_than_the_task_limit_is_a_system_check_error(settings):
    from backend.core.checks import check_outbox_leases

    settings.DEBUG = False
    settings.REMINDER_SEND_LEASE_S = 30
    settings.REMINDER_DISPATCH_LEASE_S = 300
    assert [e.id for e in check_outbox_leases()] == ["aftercare.E001"]
    settings.REMINDER_DISPATCH_LEASE_S = 20
    assert [e.id for e in check_outbox_leases()] == ["aftercare.E001", "aftercare.W001"]
    settings.REMINDER_SEND_LEASE_S = 90
    settings.REMINDER_DISPATCH_LEASE_S = 300
    assert check_outbox_leases() == []
