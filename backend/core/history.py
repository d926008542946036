"""Bulk changes that still leave a who-what-when trail (django-simple-history)."""

from __future__ import annotations

from django.db.models import QuerySet
from simple_history.utils import bulk_update_with_history


def update_with_history(queryset: QuerySet, **fields) -> int:
    """`queryset.update(**fields)`, but each changed row gets its history record.

    Values must be plain values, not F() expressions: the history row stores what was written.
    Returns how many rows changed.
    """
    rows = list(queryset.select_for_update())
    for row in rows:
        for name, value in fields.items():
            setattr(row, name, value)
    if rows:
        bulk_update_with_history(rows, queryset.model, list(fields))
    return len(rows)
