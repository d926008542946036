"""Token login, rate-limited per client address."""

from __future__ import annotations

from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny

from backend.api.throttles import LoginRateThrottle


class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token (`Authorization: Token <key>`)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [LoginRateThrottle]
