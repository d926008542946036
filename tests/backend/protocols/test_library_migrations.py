"""The #13 data migrations: stored rules lose their 'priority' (now fixed by message kind), and
the library's version 2 replaces version 1 for new plans while old plans keep theirs; and the
#15 migration: version 3 (no per-check-in provider notice) replaces version 2 the same way."""

from __future__ import annotations

import copy
import importlib

import pytest
from django.apps import apps

from backend.protocols.models import Protocol
from tests.factories import IV_INDUCTION, ClinicFactory, make_plan, protocol

strip = importlib.import_module("backend.protocols.migrations.0005_rules_without_priority")
library_v2 = importlib.import_module("backend.protocols.migrations.0006_library_version_2")
library_v3 = importlib.import_module("backend.protocols.migrations.0007_library_version_3")


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
    # The library's YAML is at version 3 since #15; 0006 installs whatever the YAML holds and
    # retires what is older, which is what this checks.
    current = protocol(IV_INDUCTION)
    assert current.version >= 2
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
    installed = Protocol.objects.filter(clinic=None, slug=IV_INDUCTION, version=current.version)
    assert installed.count() == 1


def _rule_kinds(row: Protocol) -> set[str]:
    return {rule["message_kind"] for rule in row.definition["reminder_rules"]}


@pytest.mark.django_db
def test_version_3_drops_the_check_in_notice_and_old_plans_keep_their_version():
    current = protocol(IV_INDUCTION)
    assert current.version == 3
    assert "provider_checkins_tomorrow" not in _rule_kinds(current)
    # A plan built from version 2 (with the notice) keeps that version after the migration.
    v2_definition = copy.deepcopy(current.definition)
    v2_definition["version"] = 2
    v2_definition["reminder_rules"].append(
        {
            "id": "provider_checkins",
            "applies_to": ["check_in"],
            "offset": "-1 working day at 08:00 clinic",
            "not_before": "-7 days",
            "message_kind": "provider_checkins_tomorrow",
            "audience": "provider",
            "channels": ["email"],
            "timing": "announce",
        }
    )
    Protocol.objects.filter(clinic=None, slug=IV_INDUCTION, version=2).delete()
    v2 = Protocol.objects.create(
        clinic=None, slug=IV_INDUCTION, version=2, name=current.name, definition=v2_definition
    )
    v2.engine_protocol()  # the old rule still parses, so old plans re-plan as before
    old_plan = make_plan(protocol_version=v2).plan
    assert old_plan.reminders.filter(message_kind="provider_checkins_tomorrow").exists()

    library_v3.install_and_retire(apps, None)

    v2.refresh_from_db()
    assert not v2.is_active
    assert protocol(IV_INDUCTION).pk == current.pk
    assert Protocol.objects.filter(clinic=None, slug=IV_INDUCTION, version=3).count() == 1
    old_plan.refresh_from_db()
    assert old_plan.protocol_id == v2.pk
    new_plan = make_plan().plan
    assert new_plan.protocol_id == current.pk
    assert not new_plan.reminders.filter(message_kind="provider_checkins_tomorrow").exists()
