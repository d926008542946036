"""The #13 data migrations: stored rules lose their 'priority' (now fixed by message kind), and
the library's version 2 replaces version 1 for new plans while old plans keep theirs."""

from __future__ import annotations

import copy
import importlib

import pytest
from django.apps import apps

from backend.protocols.models import Protocol
from tests.factories import IV_INDUCTION, ClinicFactory, make_plan, protocol

strip = importlib.import_module("backend.protocols.migrations.0005_rules_without_priority")
library_v2 = importlib.import_module("backend.protocols.migrations.0006_library_version_2")


def with_priorities(definition: dict) -> dict:
    old = copy.deepcopy(definition)
    for n, rule in enumerate(old["reminder_rules"]):
        rule["priority"] = 90 - n
    return old


@pytest.mark.django_db
def test_priorities_are_stripped_from_definitions_and_plan_overrides():
    current = protocol(IV_INDUCTION)
    plan = make_plan().plan
    plan.options = {"reminder_overrides": {"day_after": {"priority": 10, "channels": ["email"]}}}
    plan.save(update_fields=["options"])
    v1 = Protocol.objects.create(
        clinic=None,
        slug=IV_INDUCTION,
        version=1,
        name=current.name,
        definition=with_priorities(current.definition),
    )
    clinic_copy = Protocol.objects.create(
        clinic=ClinicFactory(),
        slug=IV_INDUCTION,
        version=3,
        name=current.name,
        definition=with_priorities(current.definition),
    )

    strip.strip_priorities(apps, None)

    for row in (v1, clinic_copy):
        row.refresh_from_db()
        assert not [r for r in row.definition["reminder_rules"] if "priority" in r]
        row.engine_protocol()  # parses again
    plan.refresh_from_db()
    assert plan.options["reminder_overrides"] == {"day_after": {"channels": ["email"]}}


@pytest.mark.django_db
def test_version_2_is_installed_and_older_library_versions_retired():
    current = protocol(IV_INDUCTION)
    assert current.version == 2
    v1 = Protocol.objects.create(
        clinic=None, slug=IV_INDUCTION, version=1, name=current.name, definition=current.definition
    )
    mine = Protocol.objects.create(
        clinic=ClinicFactory(),
        slug=IV_INDUCTION,
        version=1,
        name=current.name,
        definition=current.definition,
        is_active=True,
    )

    library_v2.install_and_retire(apps, None)

    v1.refresh_from_db()
    mine.refresh_from_db()
    assert not v1.is_active and mine.is_active
    assert protocol(IV_INDUCTION).pk == current.pk
    assert Protocol.objects.filter(clinic=None, slug=IV_INDUCTION, version=2).count() == 1
