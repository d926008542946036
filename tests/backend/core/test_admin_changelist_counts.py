"""The plan and patient changelists count only the rows they list (the paginator's one COUNT of
the scoped, searched rows), never the whole table again for "n total": on a clinic network that
second COUNT reads 100,000 patients for a search among a clinic's few."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CoordinatorFactory, PatientFactory, make_plan

PAGES = ("/admin/plans/treatmentplan/", "/admin/patients/patient/")


def _counts(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT COUNT(")]


@pytest.mark.django_db
@pytest.mark.parametrize("page", PAGES)
def test_a_searched_changelist_counts_its_scoped_rows_once(client, clinic, provider, page):
    coordinator = CoordinatorFactory(clinic=clinic)
    for last_name in ("Lindqvist", "Lindgren", "Okafor"):
        make_plan(patient=PatientFactory(clinic=clinic, last_name=last_name), provider=provider)
    other = make_plan(patient=PatientFactory(last_name="Lindberg")).plan  # another clinic
    client.force_login(coordinator.user)

    response = client.get(f"{page}?q=Lind")
    assert response.context["cl"].result_count == 2  # this clinic's two, not the other's
    assert other.patient.last_name not in response.content.decode()
    counts = _counts(client, f"{page}?q=Lind")
    assert len(counts) == 1, counts
    assert "clinic_id" in counts[0]  # the scoped rows, not the table
    assert len(_counts(client, page)) == 1
