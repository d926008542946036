"""Start-up guards: refuse to run in production on settings that would be unsafe."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


def guard_production_settings(
    *,
    debug: bool,
    secret_key: str,
    dev_secret_key: str,
    allowed_hosts: list[str],
    email_backend: str = "",
    anymail: dict | None = None,
) -> None:
    """Raise ImproperlyConfigured when DEBUG is off and a development default is still in use.

    Called from settings so that every entry point (web, worker, beat, manage.py) refuses alike,
    before anything can serve a request with a public secret key.
    """
    if debug:
        return
    problems = []
    if (
        not secret_key
        or secret_key == dev_secret_key
        or secret_key.startswith(("change-me", "django-insecure-"))
        or len(secret_key) < 50  # Django's own deploy check (security.W009) asks for this much
        or len(set(secret_key)) < 5
    ):
        problems.append(
            "SECRET_KEY is the development default, a placeholder, shorter than 50 characters or "
            "too repetitive: "
            "set SECRET_KEY to a long random value "
            '(python -c "import secrets; print(secrets.token_urlsafe(50))").'
        )
    if not allowed_hosts:
        problems.append(
            "ALLOWED_HOSTS is empty: set ALLOWED_HOSTS to the host names this service answers "
            "to, comma-separated (for example ALLOWED_HOSTS=care.example.org)."
        )
    if email_backend.startswith("anymail.") and not (anymail or {}).get("WEBHOOK_SECRET"):
        problems.append(
            f"EMAIL_BACKEND is {email_backend} but ANYMAIL has no WEBHOOK_SECRET: its delivery "
            "receipts would be unauthenticated. Set ANYMAIL='WEBHOOK_SECRET=user:password' and "
            "the same credentials in the provider's webhook URL."
        )
    if problems:
        raise ImproperlyConfigured("Refusing to start with DEBUG off. " + " ".join(problems))


def check_outbox_leases(app_configs=None, **kwargs):
    """aftercare.E001: a send lease shorter than the task time limit lets a second worker take a
    row the first is still sending; aftercare.W001: a dispatch lease shorter than the dispatcher's
    interval makes rows that wait in a busy send queue due again at every tick, multiplying
    broker messages (never sends: a worker takes a row under its own lease token)."""
    from django.conf import settings
    from django.core.checks import Error, Warning

    from backend.celery import TASK_TIME_LIMIT_S
    from backend.reminders.tasks import DISPATCH_INTERVAL_S

    problems = []
    if settings.REMINDER_SEND_LEASE_S <= TASK_TIME_LIMIT_S and not settings.DEBUG:
        problems.append(
            Error(
                f"REMINDER_SEND_LEASE_S ({settings.REMINDER_SEND_LEASE_S}) must exceed the Celery "
                f"task time limit ({TASK_TIME_LIMIT_S} s).",
                hint="Unset REMINDER_SEND_LEASE_S to use the default of 90 s.",
                id="aftercare.E001",
            )
        )
    if settings.REMINDER_DISPATCH_LEASE_S < DISPATCH_INTERVAL_S:
        problems.append(
            Warning(
                f"REMINDER_DISPATCH_LEASE_S is shorter than the dispatcher's interval "
                f"({DISPATCH_INTERVAL_S} s).",
                hint="Rows waiting in the send queue would be queued again at every tick.",
                id="aftercare.W001",
            )
        )
    return problems
