"""Token login, rate-limited per client address; the API's catch-all 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import NotFound, Throttled, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.settings import api_settings

from backend.api.throttles import LoginRateThrottle


class TokenView(ObtainAuthToken):
    """Exchange a username and password for an API token (`Authorization: Token <key>`)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    # ObtainAuthToken names DRF's own parsers; the API's (settings) bound the JSON nesting.
    parser_classes = api_settings.DEFAULT_PARSER_CLASSES

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            # django-axes refused even to check the password: say so, rather than "wrong password".
            if getattr(request, "axes_locked_out", False):
                raise Throttled(
                    detail="Too many failed logins for this account or address; try again later."
                ) from None
            raise

    throttle_classes = [LoginRateThrottle]


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@permission_classes([AllowAny])
def not_found(request, *args, **kwargs):
    raise NotFound()
