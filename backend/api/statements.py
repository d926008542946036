"""Hand-built SELECTs for the checks the API runs on every request, loaded as the ORM would.

The token check and a cached read's scope check run on every request. Built by the ORM each
time, each cost several times what the database took to answer it: compiling the query, or for a
raw queryset working out its columns and converters again. So their statements are put together
once per process from the models' metadata, and their rows become model instances the way the
ORM makes them: the database backend's and the field's converters applied (SQLite hands back
naive datetimes, for one), the fields not selected deferred until first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from django.db import connections
from django.db.models import Field, Model


class Columns:
    """Some of a model's fields, as selected from the model's table under `alias`."""

    def __init__(self, model: type[Model], names: frozenset[str], alias: str, db: str):
        connection = connections[db]
        self.model, self.db = model, db
        # In the model's field order, as Model.from_db expects them.
        self.fields: tuple[Field, ...] = tuple(
            f for f in model._meta.concrete_fields if f.attname in names
        )
        self.attnames = [f.attname for f in self.fields]
        self.sql = [f"{alias}.{connection.ops.quote_name(f.column)}" for f in self.fields]
        self.converters = []  # (position, converters, column), as the SQL compiler builds them
        for position, field in enumerate(self.fields):
            col = field.get_col(alias)
            found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if found:
                self.converters.append((position, found, col))

    def load(self, row: Iterator) -> Model:
        """An instance from the next len(fields) values of `row`; the other fields deferred."""
        values = [next(row) for _ in self.fields]
        connection = connections[self.db]
        for position, converters, col in self.converters:
            for convert in converters:
                values[position] = convert(values[position], col, connection)
        return self.model.from_db(self.db, self.attnames, values)


@cache
def columns(model: type[Model], names: frozenset[str], alias: str, db: str) -> Columns:
    return Columns(model, names, alias, db)


def quote(db: str, model: type[Model], name: str | None = None) -> str:
    """The quoted table name of `model`, or of its field `name`'s column."""
    opts = model._meta
    identifier = opts.db_table if name is None else opts.get_field(name).column
    return connections[db].ops.quote_name(identifier)
