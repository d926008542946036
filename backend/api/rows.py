"""One row by primary key within the caller's scope, for the checks a cached read runs every time.

A cached plan read still asks the database two things per request: who the caller is and
whether the plan, as it is now, is theirs to see. Compiling that second question through the ORM
took several times longer than the database took to answer it, so it is written here once per
shape, from the models' metadata and the same lookups `scope()` applies.
"""

from __future__ import annotations

from functools import cache

from django.db import connections, router
from django.db.models import Model
from django.db.models.constants import LOOKUP_SEP

from backend.api.permissions import scope_filter


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
    sql = _row_query(model, fields, tuple(lookups), db)
    return next(iter(model.objects.db_manager(db).raw(sql, [pk, *lookups.values()])), None)


@cache
def _row_query(model: type[Model], fields: tuple[str, ...], lookups: tuple[str, ...], db: str):
    """SELECT pk and fields FROM the model's table WHERE pk = %s AND each lookup = %s."""
    quote = connections[db].ops.quote_name
    opts = model._meta
    for name in lookups:
        if LOOKUP_SEP in name:
            raise ValueError(f"scoped_row() needs a field of {opts.label}, not the lookup {name}")
    pk = quote(opts.pk.column)
    selected = [pk] + [quote(opts.get_field(name).column) for name in fields]
    where = [f"{pk} = %s"] + [f"{quote(opts.get_field(name).column)} = %s" for name in lookups]
    # Identifiers only, from the model's metadata; every value is a query parameter.
    return f"SELECT {', '.join(selected)} FROM {quote(opts.db_table)} WHERE {' AND '.join(where)}"  # noqa: S608
