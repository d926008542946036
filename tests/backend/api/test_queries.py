"""List endpoints run a bounded number of queries, however many rows the page holds."""

from __future__ import annotations

import pytest

from tests.backend.conftest import NOW
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

# The client is force-authenticated, so no token lookup: count + page (+ one per prefetch).
LISTS = {
    "plans/": 3,
    "items/": 2,
    "reminders/": 2,
    "patients/": 2,
    "check-ins/upcoming/?days=90": 2,
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
def test_plan_detail_queries_are_fixed(plans, make_plan, client_as, django_assert_max_num_queries):
    created = [make_plan(now=NOW) for _ in range(plans)]
    with django_assert_max_num_queries(3):
        response = client_as("coordinator").get(f"/api/v1/plans/{created[-1].pk}/")
    assert response.status_code == 200
