"""Token authentication that loads the staff role links with the token, in one query."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token check, with `user.coordinator` and `user.provider` joined in.

    Every API request asks for the caller's role (core/scope.py's role_of), which reads the
    one-to-one links. select_related fetches the two staff links with the token and caches a
    missing one as None too, so `hasattr(user, "coordinator")` is answered without a further
    query. The patient link is not joined: its row is wide, and only a patient's own requests
    read it (one query, when role_of first asks for it), while every staff request would pay
    for the join.
    """

    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = model.objects.select_related("user__coordinator", "user__provider").get(key=key)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
