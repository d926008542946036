"""Token authentication that loads the user's staff role links with the token, in one query."""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.db import connections, router
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from backend.api.statements import Columns, columns, quote
from backend.clinics.models import Coordinator, Provider

# What a request reads of the user and of a staff link. The rest (the password hash, the login
# dates, a provider's role and phone) stays deferred: Django loads a deferred field on first use.
USER_FIELDS = frozenset({"id", "is_superuser", "username", "first_name", "last_name", "email",
                         "is_staff", "is_active"})  # fmt: skip
LINK_FIELDS = frozenset({"id", "user_id", "clinic_id"})
# The staff roles, joined in with the fields a request reads (a provider's `active` decides
# whether they have a role at all); a patient's row loads for patients.
LINKS = ((Coordinator, LINK_FIELDS), (Provider, LINK_FIELDS | {"active"}))


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token check, with `user.coordinator` and `user.provider` joined in.

    Every API request asks for the caller's role, so the links are read with the token and left
    on the user as select_related leaves them: the one found, and None cached for the others, so
    `hasattr(user, "coordinator")` costs no further query.

    The statement is put together once per process (see statements.py): built and unpacked by the
    ORM on every request, the same query cost over three times what the database took to answer
    it, and more than everything else in a cached plan read.
    """

    def authenticate_credentials(self, key):
        db = router.db_for_read(Token)
        sql, user_columns, link_columns = _token_statement(db)
        with connections[db].cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        values = iter(row)
        user = user_columns.load(values)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token = Token.from_db(db, ["key"], [key])  # the key the query matched, as stored
        token.user = user
        for link_of in link_columns:
            link = link_of.load(values)
            related = link_of.model._meta.get_field("user").remote_field  # user.<related_name>
            if link.pk is None:
                related.set_cached_value(user, None)  # what select_related caches for "none"
            else:
                setattr(user, related.get_accessor_name(), link)
        return (user, token)


@cache
def _token_statement(db: str) -> tuple[str, Columns, tuple[Columns, ...]]:
    """SELECT the user's columns, then each link's, for the user holding one token key.

    The token is found by a subquery rather than a join: PostgreSQL plans the statement in about
    half the time, and planning was most of what the database spent on it.
    """
    user_model = get_user_model()
    user_columns = columns(user_model, USER_FIELDS, "u", db)
    user_pk = f"u.{quote(db, user_model, user_model._meta.pk.name)}"
    link_columns = tuple(
        columns(model, fields, f"l{n}", db) for n, (model, fields) in enumerate(LINKS)
    )
    joins = [
        f"LEFT JOIN {quote(db, model)} l{n} ON l{n}.{quote(db, model, 'user')} = {user_pk}"
        for n, (model, _) in enumerate(LINKS)
    ]
    selected = [*user_columns.sql, *(sql for c in link_columns for sql in c.sql)]
    # Identifiers only, from the models' metadata; the key is always a query parameter.
    token = (
        f"SELECT {quote(db, Token, 'user')} FROM {quote(db, Token)} "  # noqa: S608
        f"WHERE {quote(db, Token, 'key')} = %s"
    )
    sql = (
        f"SELECT {', '.join(selected)} FROM {quote(db, user_model)} u {' '.join(joins)} "  # noqa: S608
        f"WHERE {user_pk} = ({token})"
    )
    return sql, user_columns, link_columns
