"""scoped_row(): the same rows as scope(), one at a time, with only the asked-for fields."""

from __future__ import annotations

import pytest

from backend.api.permissions import scope
from backend.api.rows import scoped_row
from backend.plans.models import PlanItem, TreatmentPlan
from tests.backend.api.helpers import ROLES
from tests.backend.conftest import NOW
from tests.factories import PatientFactory, ProviderFactory

pytestmark = pytest.mark.django_db

LOOKUPS = {"clinic": "clinic", "provider": "provider"}


@pytest.fixture()
def plans(plan, make_plan, clinic, other_clinic, users, iv_protocol):
    """The users' plan, one of another provider at the same clinic, one at another clinic."""
    from backend.plans import services

    colleague = ProviderFactory(clinic=clinic)
    theirs = services.plan_create(
        patient=PatientFactory(clinic=clinic), provider=colleague, protocol=iv_protocol,
        start_date=plan.start_date, now=NOW,
    ).plan  # fmt: skip
    elsewhere = services.plan_create(
        patient=PatientFactory(clinic=other_clinic), provider=ProviderFactory(clinic=other_clinic),
        protocol=iv_protocol, start_date=plan.start_date, now=NOW,
    ).plan  # fmt: skip
    return [plan, theirs, elsewhere]


def test_every_role_sees_the_rows_scope_keeps(plans, users):
    for role in ROLES:
        user = users[role]
        kept = set(scope(TreatmentPlan.objects.all(), user, **LOOKUPS).values_list("pk", flat=True))
        for plan in plans:
            row = scoped_row(TreatmentPlan, plan.pk, user, **LOOKUPS, fields=("revision",))
            assert (row is not None) == (plan.pk in kept), (role, plan)
    missing = max(p.pk for p in plans) + 1
    assert scoped_row(TreatmentPlan, missing, users["admin"], **LOOKUPS, fields=()) is None


def test_only_the_asked_for_fields_are_loaded(plan, users):
    row = scoped_row(
        TreatmentPlan, plan.pk, users["coordinator"], **LOOKUPS, fields=("revision", "updated_at")
    )
    stored = TreatmentPlan.objects.get(pk=plan.pk)
    assert (row.pk, row.revision, row.updated_at) == (plan.pk, stored.revision, stored.updated_at)
    assert row.updated_at.tzinfo is not None
    assert {"notes", "status", "clinic_id"} <= row.get_deferred_fields()


def test_lookups_across_relations_are_refused(plan, users):
    with pytest.raises(ValueError, match="plan__clinic"):
        scoped_row(
            PlanItem, 1, users["coordinator"], clinic="plan__clinic", provider=None, fields=()
        )
