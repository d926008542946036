"""Plan detail: the body as the database holds it at every read (a per-process cache of rendered
bodies, keyed on what one scoped query reads at each request), ETags and 304s from that body, the
browsable API, and a fixed query count."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from backend.api.serializers.plans import PlanSerializer
from backend.api.views.plans import ITEMS
from backend.plans import services
from backend.plans.models import TreatmentPlan
from tests.backend.api.helpers import ROLES
from tests.backend.conftest import NOW

pytestmark = pytest.mark.django_db


def _url(plan) -> str:
    return f"/api/v1/plans/{plan.pk}/"


def _fresh_json(plan) -> bytes:
    """The body as DRF renders it from the database as it is now."""
    plan = (
        TreatmentPlan.objects.select_related("patient", "provider__user", "protocol")
        .prefetch_related(ITEMS)
        .get(pk=plan.pk)
    )
    return JSONRenderer().render(PlanSerializer(plan).data, "application/json")


def test_the_body_is_the_plan_as_stored_with_its_etag(coordinator_client, plan):
    first = coordinator_client.get(_url(plan))
    second = coordinator_client.get(_url(plan))
    assert first.status_code == second.status_code == 200
    assert first.content == second.content == _fresh_json(plan)
    assert second["Content-Type"] == "application/json"
    assert second["Vary"] == "Accept" and second["Allow"] == "GET, HEAD, OPTIONS"
    # The same body, read again (by this process or any other), has the same ETag.
    assert second["ETag"] == first["ETag"]


def test_renamed_patient_and_provider_show_at_once_and_the_old_etag_is_refused(
    client_as, users, plan
):
    """Neither name is the plan's own: renaming them changes no plan column, yet the very next
    read shows both new names, and the ETag taken before the renames no longer gives a 304."""
    coordinator = client_as("coordinator")
    before = coordinator.get(_url(plan))
    assert before.json()["patient"]["name"] == str(plan.patient)
    old_etag = before["ETag"]

    renamed = coordinator.patch(
        f"/api/v1/patients/{plan.patient_id}/", {"first_name": "Marguerite"}, format="json"
    )
    assert renamed.status_code == 200, renamed.content
    provider_user = plan.provider.user  # a provider's name is their login's, as the admin edits it
    provider_user.first_name, provider_user.last_name = "Imogen", "Okafor"
    provider_user.save(update_fields=["first_name", "last_name"])
    role = client_as("admin").patch(
        f"/api/v1/providers/{plan.provider_id}/", {"role": "nurse"}, format="json"
    )
    assert role.status_code == 200, role.content

    after = coordinator.get(_url(plan), HTTP_IF_NONE_MATCH=old_etag)
    assert after.status_code == 200
    body = after.json()
    assert body["patient"]["name"] == f"Marguerite {plan.patient.last_name}"
    assert body["provider"]["name"].startswith("Imogen Okafor (")
    assert body["provider"]["name"] != before.json()["provider"]["name"]
    assert after.content == _fresh_json(plan)
    assert after["ETag"] != old_etag
    assert TreatmentPlan.objects.get(pk=plan.pk).updated_at == plan.updated_at  # plan untouched
    # The new ETag is the one that now gives a 304.
    assert coordinator.get(_url(plan), HTTP_IF_NONE_MATCH=after["ETag"]).status_code == 304


def test_a_service_change_gives_a_new_body_and_etag(coordinator_client, plan):
    first = coordinator_client.get(_url(plan))
    item = plan.items.get(key="dosing-3")
    services.item_reschedule(item=item, new_start=item.start + dt.timedelta(hours=2), now=NOW)
    second = coordinator_client.get(_url(plan))
    assert second.content == _fresh_json(plan) != first.content
    assert second["ETag"] != first["ETag"]
    # The old ETag no longer matches: the client gets the new body, not a 304.
    again = coordinator_client.get(_url(plan), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200 and again.content == second.content


def test_if_none_match_gives_304_without_a_body(coordinator_client, plan):
    etag = coordinator_client.get(_url(plan))["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    for header in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        response = coordinator_client.get(_url(plan), HTTP_IF_NONE_MATCH=header)
        assert response.status_code == 304, header
        assert response.content == b""
        assert response["ETag"] == etag
    assert coordinator_client.get(_url(plan), HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_an_etag_never_gets_past_the_permission_checks(client_as, plan):
    """A caller who may not read the plan gets the same 401/403/404 with or without an ETag."""
    etag = client_as("coordinator").get(_url(plan))["ETag"]
    expected = dict(zip(ROLES, (304, 404, 304, 404, 403, 403, 401, 304), strict=True))
    got = {
        role: client_as(role).get(_url(plan), HTTP_IF_NONE_MATCH=etag).status_code for role in ROLES
    }
    assert got == expected


def test_the_browsable_api_and_indented_json_still_render(coordinator_client, plan):
    json_etag = coordinator_client.get(_url(plan))["ETag"]
    for response in (
        coordinator_client.get(_url(plan) + "?format=api", HTTP_IF_NONE_MATCH=json_etag),
        coordinator_client.get(_url(plan), HTTP_ACCEPT="text/html", HTTP_IF_NONE_MATCH=json_etag),
    ):
        # The JSON body's ETag names that body only: an HTML page is never a 304 for it.
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        assert plan.protocol.name in response.content.decode()
        assert response.get("ETag") != json_etag
    indented = coordinator_client.get(
        _url(plan), HTTP_ACCEPT="application/json; indent=4", HTTP_IF_NONE_MATCH=json_etag
    )
    assert indented.status_code == 200
    assert indented.content.startswith(b"{\n    ")
    assert json.loads(indented.content) == json.loads(_fresh_json(plan))


def test_a_first_read_runs_four_queries_and_a_cached_read_two(
    users, plan, django_assert_num_queries
):
    """The token with the caller and their role links, and the plan's validator (its revision,
    `updated_at` and the names it shows, within the caller's scope); on a miss also the plan with
    its patient, provider and protocol, and the plan's items."""
    client = APIClient()
    token = Token.objects.create(user=users["coordinator"])
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    with django_assert_num_queries(4):
        first = client.get(_url(plan))
    with django_assert_num_queries(2):
        cached = client.get(_url(plan))
    with django_assert_num_queries(2):
        not_modified = client.get(_url(plan), HTTP_IF_NONE_MATCH=first["ETag"])
    assert first.status_code == cached.status_code == 200 and not_modified.status_code == 304
    assert cached.content == first.content == _fresh_json(plan)


def _item(response, key: str) -> dict:
    return next(i for i in response.json()["items"] if i["key"] == key)


def test_item_changes_through_the_services_show_at_once(coordinator_client, plan):
    """Completing a session with notes, missing one, cancelling one (its calendar sequence rises)
    and rescheduling one: each shows on the very next read, and retires the ETag before it."""
    first, second, fourth = (plan.items.get(key=f"dosing-{n}") for n in (1, 2, 4))
    last = plan.items.filter(status="scheduled").order_by("-start").first()
    changes = [
        ("dosing-1", lambda: services.item_mark_completed(
            item=first, outcome_notes="Went well.", now=first.end)),
        ("dosing-2", lambda: services.item_mark_missed(
            item=second, outcome_notes="No-show.", now=second.end)),
        (last.key, lambda: services.item_cancel(item=last, reason="Course shortened", now=NOW)),
        ("dosing-4", lambda: services.item_reschedule(
            item=fourth, new_start=fourth.start + dt.timedelta(hours=2), now=NOW)),
    ]  # fmt: skip
    for key, change in changes:
        before = coordinator_client.get(_url(plan))
        assert coordinator_client.get(_url(plan))["ETag"] == before["ETag"]  # cached
        change()
        after = coordinator_client.get(_url(plan), HTTP_IF_NONE_MATCH=before["ETag"])
        assert after.status_code == 200, key
        assert after.content == _fresh_json(plan) != before.content
        assert _item(after, key) != _item(before, key)
        assert after["ETag"] != before["ETag"]
    assert _item(after, "dosing-1")["status"] == "completed"
    assert _item(after, "dosing-1")["outcome_notes"] == "Went well."
    assert _item(after, "dosing-2")["status"] == "missed"
    cancelled = _item(after, last.key)
    assert cancelled["status"] == "cancelled" and cancelled["calendar_sequence"] == 1


def test_plan_changes_and_a_renamed_protocol_show_at_once(coordinator_client, plan):
    before = coordinator_client.get(_url(plan))
    services.plan_pause(plan=plan, now=NOW)
    paused = coordinator_client.get(_url(plan), HTTP_IF_NONE_MATCH=before["ETag"])
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert paused.content == _fresh_json(plan)
    protocol = plan.protocol
    protocol.name = "Renamed protocol"
    protocol.save(update_fields=["name"])
    renamed = coordinator_client.get(_url(plan), HTTP_IF_NONE_MATCH=paused["ETag"])
    assert renamed.status_code == 200
    assert renamed.json()["protocol"]["name"] == "Renamed protocol"
    assert renamed.content == _fresh_json(plan)


def test_a_cached_body_never_reaches_a_caller_outside_the_plans_scope(client_as, users, plan):
    """With the body cached and its ETag known, a coordinator of another clinic, a provider who
    is not responsible for the plan and the plan's own patient get the same 404 or 403 as with
    an empty cache: never the body, never a 304."""
    cached = client_as("coordinator").get(_url(plan))
    assert client_as("coordinator").get(_url(plan))["ETag"] == cached["ETag"]
    for role, status in (("coordinator_other", 404), ("provider_other", 404), ("patient", 403)):
        for headers in ({}, {"HTTP_IF_NONE_MATCH": cached["ETag"]}):
            response = client_as(role).get(_url(plan), **headers)
            assert response.status_code == status, (role, headers)
            assert plan.patient.last_name.encode() not in response.content
            assert "ETag" not in response
    # The plan's own provider, in scope, shares the cached body.
    own = client_as("provider").get(_url(plan), HTTP_IF_NONE_MATCH=cached["ETag"])
    assert own.status_code == 304


def test_a_plan_moved_to_another_provider_leaves_the_old_ones_scope_at_once(client_as, users, plan):
    own = client_as("provider")
    etag = own.get(_url(plan))["ETag"]
    other = users["provider_other"].provider
    TreatmentPlan.objects.filter(pk=plan.pk).update(provider=other)
    assert own.get(_url(plan), HTTP_IF_NONE_MATCH=etag).status_code == 404
    assert client_as("provider_other").get(_url(plan)).json()["provider"]["id"] == other.pk


def test_the_schema_documents_etag_and_304(coordinator_client):
    schema = coordinator_client.get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/plans/{id}/"]["get"]
    assert "304" in operation["responses"]
    assert "ETag" in operation["responses"]["200"]["headers"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert "If-None-Match" in headers
