"""List endpoints run a bounded number of queries, however many rows the page holds."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.backend.conftest import NOW
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

# The client is force-authenticated (a token adds one query): the role lookup (two for a
# provider: the coordinator link is tried first), count, page, and one per prefetch.
LISTS = {
    "plans/": 5,
    "items/": 4,
    "reminders/": 4,
    "patients/": 4,
    "check-ins/upcoming/?days=90": 4,
}


@pytest.mark.parametrize("plans", [2, 6])
@pytest.mark.parametrize("path", LISTS)
def test_list_queries_do_not_grow_with_the_page(
    path, plans, make_plan, client_as, clinic, django_assert_max_num_queries
):
    for _ in range(plans):
        make_plan(now=NOW, patient=PatientFactory(clinic=clinic))
    for role in ("coordinator", "provider"):
        client = client_as(role)
        with django_assert_max_num_queries(LISTS[path]):
            response = client.get(f"/api/v1/{path}")
        assert response.status_code == 200
        assert len(response.json()["results"]) >= plans


@pytest.mark.parametrize("plans", [2, 6])
def test_plan_detail_queries_are_fixed(plans, make_plan, client_as, django_assert_num_queries):
    """The plan's validator (its revision and the names it shows, within scope; the forced user
    comes with their role link); on a miss of the cached body also the plan with the rows it
    names, and its items."""
    created = [make_plan(now=NOW) for _ in range(plans)]
    client = client_as("coordinator")
    with django_assert_num_queries(3):
        first = client.get(f"/api/v1/plans/{created[-1].pk}/")
    with django_assert_num_queries(1):
        cached = client.get(f"/api/v1/plans/{created[-1].pk}/")
    assert first.status_code == cached.status_code == 200
    assert first.content == cached.content


def test_check_ins_read_only_the_columns_they_show(make_plan, client_as, clinic):
    """The plan and its patient are joined for the patient's name alone: none of their other
    columns (the engine's notes, contact details, consent) is read for a page of check-ins."""
    patient = PatientFactory(clinic=clinic)
    make_plan(now=NOW, patient=patient)
    for role in ("coordinator", "provider"):
        client = client_as(role)
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/check-ins/upcoming/?days=90")
        rows = response.json()["results"]
        assert rows and {r["patient"]["name"] for r in rows} == {str(patient)}
        (page,) = [q["sql"] for q in queries if "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]]
        selected = page.split(" FROM ", 1)[0]
        assert set(re.findall(r'"patients_patient"\."(\w+)"', selected)) == {
            "id", "first_name", "last_name",
        }  # fmt: skip
        assert set(re.findall(r'"plans_treatmentplan"\."(\w+)"', selected)) == {"id", "patient_id"}
