"""Token authentication that loads the user's role links with the token, in one query."""

from __future__ import annotations

from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token check, with `user.coordinator`, `user.provider` and `user.patient` joined in.

    Every API request asks for the caller's role; a missing one-to-one is cached as None by
    select_related, so the role costs no further query.
    """

    def authenticate_credentials(self, key):
        try:
            # Staff roles are joined in; a patient's wide row is loaded only for patients (their
            # one extra query), which keeps the staff hot path's query small.
            token = Token.objects.select_related("user", "user__coordinator", "user__provider").get(
                key=key
            )
        except Token.DoesNotExist as exc:
            raise exceptions.AuthenticationFailed("Invalid token.") from exc
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return (token.user, token)
