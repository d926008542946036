"""Hand-built statements load rows as the ORM does: converted values, unread fields deferred."""

from __future__ import annotations

import pytest
from django.db import connection

from backend.api.statements import columns, quote
from backend.clinics.models import Provider

pytestmark = pytest.mark.django_db


def test_loaded_values_equal_the_orms(provider):
    provider.mobile = "+12025550142"
    provider.save(update_fields=["mobile"])
    selected = columns(Provider, frozenset({"id", "active", "mobile"}), "p", connection.alias)
    sql = f"SELECT {', '.join(selected.sql)} FROM {quote(connection.alias, Provider)} p"
    with connection.cursor() as cursor:
        cursor.execute(sql + " WHERE p.id = %s", [provider.pk])
        loaded = selected.load(iter(cursor.fetchone()))
    stored = Provider.objects.get(pk=provider.pk)
    # A phone number field's own converter and SQLite's boolean one have both run.
    assert (loaded.pk, loaded.active, loaded.mobile) == (stored.pk, True, stored.mobile)
    assert type(loaded.mobile) is type(stored.mobile) and loaded.active is True
    assert loaded.get_deferred_fields() == {"user_id", "clinic_id", "role"}
    assert loaded.role == stored.role  # a deferred field loads on first use
