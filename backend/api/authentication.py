"""Token authentication that loads the user's role links with the token, in one query."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token check, with `user.coordinator`, `user.provider` and `user.patient` joined in.

    Every API request asks for the caller's role (core/scope.py's role_of), which reads these
    one-to-one links. select_related fetches them with the token and caches the missing ones as
    None too, so `hasattr(user, "coordinator")` is answered without a further query.
    """

    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = model.objects.select_related(
                "user__coordinator", "user__provider", "user__patient"
            ).get(key=key)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
