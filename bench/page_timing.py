"""Timing staff pages in one process, for bench/dashboard.py and bench/scale.py.

`setup()` starts Django on the production code paths (DEBUG off, so no query log; the settings'
security switches that need HTTPS turned off, since the test client speaks plain HTTP) and makes
this module the URL conf: every production route, plus `/bench/bare/`, a login-required view that
answers a constant. That view is the baseline each page is divided by, measured in the same run,
so a busy machine slows both alike.
"""

from __future__ import annotations

import os

PRODUCTION_LIKE = {
    "DJANGO_SETTINGS_MODULE": "backend.settings",
    "DEBUG": "false",  # no query log; the production code paths
    "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "testserver",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "LOG_LEVEL": "WARNING",
}
BARE_PATH = "/bench/bare/"


def setup() -> None:
    """Django configured as above; call once, before importing models."""
    os.environ.update(PRODUCTION_LIKE)
    import django

    django.setup()
    from django.conf import settings

    settings.ROOT_URLCONF = __name__
    # Static URLs without the manifest `collectstatic` writes: nothing is served here, and the
    # checkout's staticfiles/ may be missing or half-written by another command.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def bare(request):
    from django.http import HttpResponse

    return HttpResponse("ok")


def __getattr__(name: str):
    # The URL conf is built on first use, after setup() (django.urls needs settings loaded).
    if name == "urlpatterns":
        from django.contrib.auth.decorators import login_required
        from django.urls import include, path

        return [
            path(BARE_PATH.strip("/") + "/", login_required(bare)),
            path("", include("backend.urls")),
        ]
    raise AttributeError(name)
