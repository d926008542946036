"""Token authentication that loads the user's staff role links with the token, in one query."""

from __future__ import annotations

from functools import cache

from django.contrib.auth import get_user_model
from django.db import connections, router
from django.db.models import Model
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from backend.clinics.models import Coordinator, Provider

# What a request reads of the user and of a staff link. The rest (the password hash, the login
# dates, a provider's role and phone) stays deferred: Django loads a deferred field on first use.
USER_FIELDS = frozenset({"id", "is_superuser", "username", "first_name", "last_name", "email",
                         "is_staff", "is_active"})  # fmt: skip
LINK_FIELDS = frozenset({"id", "user_id", "clinic_id"})
LINKS = (Coordinator, Provider)  # the staff roles, joined in; a patient's row loads for patients


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token check, with `user.coordinator` and `user.provider` joined in.

    Every API request asks for the caller's role, so the links are read with the token and left
    on the user as select_related leaves them: the one found, and None cached for the others, so
    `hasattr(user, "coordinator")` costs no further query.

    The statement is put together once per process from the models' metadata: built and unpacked
    by the ORM on every request, the same query cost over three times what the database took to
    answer it, and more than everything else in a cached plan read.
    """

    def authenticate_credentials(self, key):
        db = router.db_for_read(Token)
        with connections[db].cursor() as cursor:
            cursor.execute(_token_query(db), [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        values = iter(row)
        user = _load(get_user_model(), db, USER_FIELDS, values)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token = Token.from_db(db, ["key"], [key])  # the key the query matched, as stored
        token.user = user
        for model in LINKS:
            link = _load(model, db, LINK_FIELDS, values)
            related = model._meta.get_field("user").remote_field  # user.<related_name>
            if link.pk is None:
                related.set_cached_value(user, None)  # what select_related caches for "none"
            else:
                setattr(user, related.get_accessor_name(), link)
        return (user, token)


@cache
def _selected(model: type[Model], names: frozenset[str]) -> tuple:
    """The model's fields named in `names`, in the model's field order (as from_db expects)."""
    return tuple(f for f in model._meta.concrete_fields if f.attname in names)


def _load(model: type[Model], db: str, names: frozenset[str], values) -> Model:
    """An instance from the next len(names) values of the row; other fields deferred."""
    fields = _selected(model, names)
    return model.from_db(db, [f.attname for f in fields], [next(values) for _ in fields])


@cache
def _token_query(db: str) -> str:
    """SELECT the user's columns, then each link's, for the user holding one token key.

    The token is found by a subquery rather than a join: PostgreSQL plans the statement in about
    half the time, and planning was most of what the database spent on it.
    """
    quote = connections[db].ops.quote_name
    user_model = get_user_model()
    user_pk = f"u.{quote(user_model._meta.pk.column)}"

    def column(model: type[Model], name: str) -> str:
        return quote(model._meta.get_field(name).column)

    selected = [f"u.{quote(f.column)}" for f in _selected(user_model, USER_FIELDS)]
    joins = []
    for n, model in enumerate(LINKS):
        selected += [f"l{n}.{quote(f.column)}" for f in _selected(model, LINK_FIELDS)]
        joins.append(
            f"LEFT JOIN {quote(model._meta.db_table)} l{n} "
            f"ON l{n}.{column(model, 'user')} = {user_pk}"
        )
    token = (
        f"SELECT {column(Token, 'user')} FROM {quote(Token._meta.db_table)} "  # noqa: S608
        f"WHERE {column(Token, 'key')} = %s"
    )
    # Identifiers only, from the models' metadata; the key is always a query parameter.
    return (
        f"SELECT {', '.join(selected)} FROM {quote(user_model._meta.db_table)} u "  # noqa: S608
        f"{' '.join(joins)} WHERE {user_pk} = ({token})"
    )
