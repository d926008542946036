"""Questionnaire responses and flags in the API: the same role x object rules as the pages;
staff enter paper answers; clinicians (not coordinators) acknowledge flags."""

from __future__ import annotations

import pytest

from backend.measures import services as measures
from backend.measures.models import QuestionnaireResponse
from backend.plans.models import PlanItem
from backend.safety.models import Flag

pytestmark = pytest.mark.django_db


def _assessment(plan) -> PlanItem:
    return plan.items.filter(kind=PlanItem.Kind.ASSESSMENT).order_by("start").first()


def _answers(item, *, item9: int = 0, each: int = 0) -> dict:
    return {
        i.code: {
            f"q{q.number}": item9 if (i.code, q.number) == ("phq9", 9) else each
            for q in i.questions("en")
        }
        for i in measures.instruments_for(item)
    }


@pytest.fixture()
def urgent(plan):
    item = _assessment(plan)
    measures.questionnaires_submit(
        patient=plan.patient, item=item, answers=_answers(item, item9=2), language="en",
        now=item.start,
    )  # fmt: skip
    return Flag.objects.get(patient=plan.patient)


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("provider", True),
        ("provider_other", True),  # any clinician of the clinic may need to act on a flag
        ("coordinator", True),
        ("admin", True),
        ("coordinator_other", False),
        ("patient", None),
        ("anonymous", None),
    ],
)
def test_flags_are_read_within_the_clinic_only(client_as, urgent, role, sees):
    client = client_as(role)
    listing = client.get("/api/v1/flags/")
    detail = client.get(f"/api/v1/flags/{urgent.pk}/")
    if sees is None:
        assert listing.status_code in (401, 403) and detail.status_code in (401, 403)
        return
    assert listing.status_code == 200
    ids = [row["id"] for row in listing.json()["results"]]
    assert (urgent.pk in ids) is sees
    assert detail.status_code == (200 if sees else 404)


@pytest.mark.parametrize(
    ("role", "sees"),
    [("provider", True), ("provider_other", False), ("coordinator", True),
     ("coordinator_other", False), ("admin", True)],
)  # fmt: skip
def test_responses_are_read_by_the_patients_care_team(client_as, plan, role, sees):
    item = _assessment(plan)
    measures.questionnaires_submit(
        patient=plan.patient, item=item, answers=_answers(item, each=1), language="en",
        now=item.start,
    )  # fmt: skip
    rows = client_as(role).get("/api/v1/responses/", {"instrument": "phq9"}).json()["results"]
    assert bool(rows) is sees
    if sees:
        assert rows[0]["total"] == 8 and rows[0]["band"] == "mild" and not rows[0]["urgent"]


def test_staff_enter_paper_answers_scored_flagged_and_attributed(client_as, users, plan):
    item = _assessment(plan)
    body = {"item": item.pk, "language": "en", "answers": _answers(item, item9=1)}
    response = client_as("provider").post("/api/v1/responses/", body, format="json")
    assert response.status_code == 201, response.json()
    assert {row["instrument"] for row in response.json()} == {"phq9", "gad7"}
    stored = QuestionnaireResponse.objects.get(item=item, instrument="phq9")
    assert stored.source == "staff" and stored.entered_by == users["provider"]
    assert stored.urgent and Flag.objects.filter(response=stored, kind="urgent").exists()
    item.refresh_from_db()
    assert item.status == "completed"


def test_incomplete_paper_answers_are_refused_naming_each_missing_question(client_as, plan):
    item = _assessment(plan)
    answers = _answers(item)
    del answers["phq9"]["q9"], answers["gad7"]["q2"]
    body = {"item": item.pk, "answers": answers}
    response = client_as("coordinator").post("/api/v1/responses/", body, format="json")
    assert response.status_code == 400
    text = str(response.json())
    assert "phq9-q9" in text and "gad7-q2" in text
    assert not QuestionnaireResponse.objects.filter(item=item).exists()


def test_a_clinician_acknowledges_a_flag_a_coordinator_may_not(client_as, users, urgent):
    refused = client_as("coordinator").post(
        f"/api/v1/flags/{urgent.pk}/acknowledge/", {"note": "seen"}, format="json"
    )
    assert refused.status_code == 403
    empty = client_as("provider").post(
        f"/api/v1/flags/{urgent.pk}/acknowledge/", {"note": ""}, format="json"
    )
    assert empty.status_code == 400 and "note" in empty.json()["errors"][0]["field"]
    done = client_as("provider").post(
        f"/api/v1/flags/{urgent.pk}/acknowledge/", {"note": "Called; safe."}, format="json"
    )
    assert done.status_code == 200
    assert done.json()["acknowledgement_note"] == "Called; safe."
    assert done.json()["acknowledged_by"]
    urgent.refresh_from_db()
    assert urgent.acknowledged_by == users["provider"]
    assert not urgent.alerts.filter(status="scheduled").exists()
