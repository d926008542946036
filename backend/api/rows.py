"""One row by primary key within the caller's scope, for the checks a cached read runs every time.

A cached plan read still asks the database, on every request, whether the plan as it is now is
the caller's to see. Through the ORM that question took several times longer to ask than the
database took to answer, so its statement is built once per shape (see statements.py) from the
same lookups `scope()` applies.
"""

from __future__ import annotations

from functools import cache

from django.db import connections, router
from django.db.models import Model
from django.db.models.constants import LOOKUP_SEP

from backend.api.permissions import scope_filter
from backend.api.statements import Columns, columns, quote


def scoped_row(
    model: type[Model], pk: int, user, *, clinic: str, provider: str | None, fields: tuple[str, ...]
) -> Model | None:
    """The row with primary key `pk` if `scope()` would keep it for `user`, else None.

    Only the primary key and `fields` are loaded; the others are deferred. `clinic` and
    `provider` are as for `scope()`, but must be the model's own foreign keys (no joins here).
    """
    lookups = scope_filter(user, clinic=clinic, provider=provider)
    if lookups is None:
        return None
    db = router.db_for_read(model)
    sql, selected = _row_statement(model, fields, tuple(lookups), db)
    with connections[db].cursor() as cursor:
        cursor.execute(sql, [pk, *lookups.values()])
        row = cursor.fetchone()
    return None if row is None else selected.load(iter(row))


@cache
def _row_statement(
    model: type[Model], fields: tuple[str, ...], lookups: tuple[str, ...], db: str
) -> tuple[str, Columns]:
    """SELECT pk and fields FROM the model's table WHERE pk = %s AND each lookup = %s."""
    opts = model._meta
    for name in lookups:
        if LOOKUP_SEP in name:
            raise ValueError(f"scoped_row() needs a field of {opts.label}, not the lookup {name}")
    names = frozenset(opts.get_field(name).attname for name in (opts.pk.name, *fields))
    selected = columns(model, names, "r", db)
    where = [f"r.{quote(db, model, name)} = %s" for name in (opts.pk.name, *lookups)]
    # Identifiers only, from the model's metadata; every value is a query parameter.
    sql = f"SELECT {', '.join(selected.sql)} FROM {quote(db, model)} r WHERE {' AND '.join(where)}"  # noqa: S608
    return sql, selected
