"""WSGI entry point for bench/api_load.py: the production app plus one bare view.

`/bench/bare/` is a plain Django view returning a constant, served through the same middleware
stack as the API, so the benchmark can compare the API against the cost of Django itself. It
lives here, not in the production URLs: this module becomes the URL conf.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

from django.conf import settings
from django.core.wsgi import get_wsgi_application

settings.ROOT_URLCONF = __name__
application = get_wsgi_application()  # sets Django up before the URL conf imports models

from django.http import JsonResponse  # noqa: E402
from django.urls import include, path  # noqa: E402


def bare(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/bare/", bare), path("", include("backend.urls"))]
