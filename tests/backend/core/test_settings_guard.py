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
