"""The address a request came from, by one rule for the API's throttles and the admin's lockout.

REMOTE_ADDR, unless NUM_PROXIES trusted proxies sit in front, in which case the address that many
hops back in X-Forwarded-For: DRF's own rule (BaseThrottle.get_ident), so a client can never pick
its own address by sending the header.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


def client_address(request: HttpRequest) -> str:
    return BaseThrottle().get_ident(request)
