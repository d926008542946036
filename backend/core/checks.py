"""Start-up guards: refuse to run in production on settings that would be unsafe."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


def guard_production_settings(
    *, debug: bool, secret_key: str, dev_secret_key: str, allowed_hosts: list[str]
) -> None:
    """Raise ImproperlyConfigured when DEBUG is off and a development default is still in use.

    Called from settings so that every entry point (web, worker, beat, manage.py) refuses alike,
    before anything can serve a request with a public secret key.
    """
    if debug:
        return
    problems = []
    if not secret_key or secret_key == dev_secret_key:
        problems.append(
            "SECRET_KEY is the development default: set SECRET_KEY to a long random value "
            '(python -c "import secrets; print(secrets.token_urlsafe(50))").'
        )
    if not allowed_hosts:
        problems.append(
            "ALLOWED_HOSTS is empty: set ALLOWED_HOSTS to the host names this service answers "
            "to, comma-separated (for example ALLOWED_HOSTS=care.example.org)."
        )
    if problems:
        raise ImproperlyConfigured("Refusing to start with DEBUG off. " + " ".join(problems))
