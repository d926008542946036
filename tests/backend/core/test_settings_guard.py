"""The production guard runs at settings import, so it is tested in a fresh interpreter."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SECRET = "k7Qp2vX9sLm4Rt8Wz1Nb6Hc3Jd5Fg0Ya-Eu2Io7Pq9Ls4Tr6Vw8Xy1Zm3Bn5Cd"  # a test value only


def _import_settings(**env: str) -> subprocess.CompletedProcess[str]:
    unset = {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "NUM_PROXIES", "EMAIL_BACKEND", "ANYMAIL"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
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
    result = _import_settings(DEBUG="false", SECRET_KEY=SECRET)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS is empty" in result.stderr


def test_debug_is_off_unless_asked_for_so_the_development_key_is_refused():
    result = _import_settings()
    assert result.returncode != 0
    assert "SECRET_KEY is the development default" in result.stderr


def _deploy_check(**env: str) -> subprocess.CompletedProcess[str]:
    production = {"DEBUG": "false", "SECRET_KEY": SECRET, "ALLOWED_HOSTS": "care.example.org"}
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, **production, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_the_deploy_check_without_warnings():
    result = _deploy_check()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(("proxies", "trusted"), [("0", False), ("1", True)])
def test_the_forwarded_proto_header_is_trusted_only_behind_a_proxy(proxies, trusted):
    code = "import backend.settings as s; print(hasattr(s, 'SECURE_PROXY_SSL_HEADER'))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k != "DEBUG"},
            "DEBUG": "false",
            "SECRET_KEY": SECRET,
            "ALLOWED_HOSTS": "care.example.org",
            "NUM_PROXIES": proxies,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == str(trusted), result.stderr


@pytest.mark.parametrize(
    "weak", ["x" * 60, "short-but-random-Qp2vX9sLm4", "django-insecure-" + "a1b2c3" * 9]
)
def test_refuses_a_secret_key_django_would_flag(weak):
    result = _import_settings(DEBUG="false", SECRET_KEY=weak, ALLOWED_HOSTS="care.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_refuses_an_anymail_backend_without_a_webhook_secret():
    production = {"DEBUG": "false", "SECRET_KEY": SECRET, "ALLOWED_HOSTS": "care.example.org"}
    backend = "anymail.backends.postmark.EmailBackend"
    refused = _import_settings(
        **production, EMAIL_BACKEND=backend, ANYMAIL="POSTMARK_SERVER_TOKEN=t"
    )
    assert refused.returncode != 0
    assert "WEBHOOK_SECRET" in refused.stderr
    secret = "POSTMARK_SERVER_TOKEN=t,WEBHOOK_SECRET=user:pass"
    assert _import_settings(**production, EMAIL_BACKEND=backend, ANYMAIL=secret).returncode == 0


def test_starts_with_safe_production_settings():
    result = _import_settings(DEBUG="false", SECRET_KEY=SECRET, ALLOWED_HOSTS="care.example.org")
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
    settings.REMINDER_DISPATCH_LEASE_S = 20  # shorter than the dispatcher's 30 s interval
    assert [e.id for e in check_outbox_leases()] == ["aftercare.E001", "aftercare.W001"]
    settings.REMINDER_SEND_LEASE_S = 90
    settings.REMINDER_DISPATCH_LEASE_S = 45  # the default: shorter than the send lease is fine
    assert check_outbox_leases() == []
