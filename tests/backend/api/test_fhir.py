"""The FHIR export is a valid R4 Bundle (checked with fhir.resources' R4B models, which match R4
for Bundle, CarePlan, Appointment and CommunicationRequest)."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.bundle import Bundle

from backend.plans import services
from backend.plans.models import PlanItem

pytestmark = pytest.mark.django_db


def test_plan_bundle_validates_and_covers_the_plan(coordinator_client, plan):
    second = plan.items.get(key="dosing-2")
    services.item_mark_completed(item=plan.items.get(key="dosing-1"), now=second.end)
    services.item_mark_missed(item=second, now=second.end)
    response = coordinator_client.get(f"/api/v1/plans/{plan.pk}/fhir/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(response.json())

    resources = [entry.resource for entry in bundle.entry]
    by_type: dict[str, list] = {}
    for resource in resources:
        by_type.setdefault(resource.get_resource_type(), []).append(resource)
    (care_plan,) = by_type["CarePlan"]
    assert care_plan.status == "active" and care_plan.intent == "plan"
    assert len(care_plan.activity) == plan.items.count()
    sessions = plan.items.exclude(kind__in=[PlanItem.Kind.ASSESSMENT, PlanItem.Kind.TASK])
    assert len(by_type["Appointment"]) == sessions.count()
    assert {a.status for a in by_type["Appointment"]} == {"fulfilled", "noshow", "booked"}
    assert len(by_type["CommunicationRequest"]) == plan.reminders.count()
    assert {"Patient", "Practitioner"} <= set(by_type)

    # Every reference points at an entry of the bundle.
    urls = {entry.fullUrl for entry in bundle.entry}
    refs = {a.reference.reference for a in care_plan.activity if a.reference}
    refs |= {r.recipient[0].reference for r in by_type["CommunicationRequest"]}
    assert refs <= urls


def test_cancelled_plan_exports_as_revoked(coordinator_client, plan):
    services.plan_cancel(plan=plan)
    body = coordinator_client.get(f"/api/v1/plans/{plan.pk}/fhir/").json()
    Bundle.model_validate(body)
    care_plan = next(
        e["resource"] for e in body["entry"] if e["resource"]["resourceType"] == "CarePlan"
    )
    assert care_plan["status"] == "revoked"


def test_answered_questionnaires_export_as_responses_and_score_observations(
    coordinator_client, plan
):
    from fhir.resources.R4B.observation import Observation
    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

    from backend.measures import services as measures

    item = plan.items.filter(kind=PlanItem.Kind.ASSESSMENT).order_by("start").first()
    answers = {
        i.code: {f"q{q.number}": 2 for q in i.questions("en")}
        for i in measures.instruments_for(item)
    }
    measures.questionnaires_submit(
        patient=plan.patient, item=item, answers=answers, language="en", now=item.start
    )
    body = coordinator_client.get(f"/api/v1/plans/{plan.pk}/fhir/").json()
    bundle = Bundle.model_validate(body)
    resources = [entry.resource for entry in bundle.entry]
    responses = [r for r in resources if isinstance(r, QuestionnaireResponse)]
    scores = [r for r in resources if isinstance(r, Observation)]
    assert {r.questionnaire for r in responses} == {
        "http://loinc.org/q/44249-1",
        "http://loinc.org/q/69737-5",
    }
    phq9 = next(r for r in responses if r.questionnaire.endswith("44249-1"))
    assert [i.linkId for i in phq9.item] == [str(n) for n in range(1, 11)]
    assert phq9.item[8].answer[0].valueCoding.display == "More than half the days"
    totals = {o.code.coding[0].code: o.valueInteger for o in scores}
    assert totals == {"44261-6": 18, "70274-6": 14}
    urls = {entry.fullUrl for entry in bundle.entry}
    assert {o.derivedFrom[0].reference for o in scores} <= urls
