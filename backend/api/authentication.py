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
USER_FIELDS = {"id", "is_superuser", "username", "first_name", "last_name", "email", "is_staff",
               "is_active"}  # fmt: skip
LINK_FIELDS = {"id", "user_id", "clinic_id"}
LINKS = (Coordinator, Provider)  # the staff roles, joined in; a patient's row loads for patients


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token check, with `user.coordinator` and `user.provider` joined in.

    Every API request asks for the caller's role, so the links are read with the token and left
    on the user as select_related leaves them: the one found, and None cached for the others, so
    `hasattr(user, "coordinator")` costs no further query.

    The statement is put together once per process from the models' metadata instead of being
    compiled by the ORM on every request: compiling a four-table select_related cost more than
    everything else in a cached plan read, the database's own work included.
    """

    def authenticate_credentials(self, key):
        db = router.db_for_read(Token)
        with connections[db].cursor() as cursor:
            cursor.execute(_token_query(db), [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        values = iter(row)
        token = _load(Token, db, {"key"}, values)
        user = _load(get_user_model(), db, USER_FIELDS, values)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token.user = user
        for model in LINKS:
            link = _load(model, db, LINK_FIELDS, values)
            related = model._meta.get_field("user").remote_field  # user.<related_name>
            if link.pk is None:
                related.set_cached_value(user, None)  # what select_related caches for "none"
            else:
                setattr(user, related.get_accessor_name(), link)
        return (user, token)


def _selected(model: type[Model], names: set[str]) -> list:
    """The model's fields named in `names`, in the model's field order (as from_db expects)."""
    return [f for f in model._meta.concrete_fields if f.attname in names]


def _load(model: type[Model], db: str, names: set[str], values) -> Model:
    """An instance from the next len(names) values of the row; other fields deferred."""
    fields = _selected(model, names)
    return model.from_db(db, [f.attname for f in fields], [next(values) for _ in fields])


@cache
def _token_query(db: str) -> str:
    """SELECT token key, user, then each link's columns, for one token key."""
    quote = connections[db].ops.quote_name
    user_model = get_user_model()

    def columns(alias: str, model: type[Model], names: set[str]) -> list[str]:
        return [f"{alias}.{quote(f.column)}" for f in _selected(model, names)]

    def column(model: type[Model], name: str) -> str:
        return quote(model._meta.get_field(name).column)

    selected = columns("t", Token, {"key"}) + columns("u", user_model, USER_FIELDS)
    joins = [
        f"JOIN {quote(user_model._meta.db_table)} u "
        f"ON u.{quote(user_model._meta.pk.column)} = t.{column(Token, 'user')}"
    ]
    for n, model in enumerate(LINKS):
        selected += columns(f"l{n}", model, LINK_FIELDS)
        joins.append(
            f"LEFT JOIN {quote(model._meta.db_table)} l{n} "
            f"ON l{n}.{column(model, 'user')} = u.{quote(user_model._meta.pk.column)}"
        )
    # Identifiers only, from the models' metadata; the key is always a query parameter.
    return (
        f"SELECT {', '.join(selected)} FROM {quote(Token._meta.db_table)} t {' '.join(joins)} "  # noqa: S608
        f"WHERE t.{column(Token, 'key')} = %s"
    )
