"""Rate limits: login attempts per client address, writes per user.

Rates live in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] under the scopes `login` and `writes`. They
are read at request time (DRF's own classes read them once at import), so settings overrides in
tests and deployments take effect.
"""

from __future__ import annotations

from django.core.cache import caches
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle


class _FreshRates:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    @property
    def cache(self):
        """The `throttle` cache: shared across web processes when it is Redis (see settings)."""
        return caches["throttle"]


class LoginRateThrottle(_FreshRates, AnonRateThrottle):
    """Token requests are keyed by client address whoever they claim to be."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class WriteRateThrottle(_FreshRates, ScopedRateThrottle):
    """Unsafe methods only, per user; reads are not throttled."""

    def allow_request(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)
