"""Plan detail: a fresh body every read, ETags and 304s from that body, the browsable API, and a
fixed query count."""

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


def test_a_read_with_a_token_runs_three_queries(users, plan, django_assert_num_queries):
    """The token with the caller and their role links, the plan with its patient, provider and
    protocol, and the plan's items."""
    client = APIClient()
    token = Token.objects.create(user=users["coordinator"])
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    with django_assert_num_queries(3):
        assert client.get(_url(plan)).status_code == 200


def test_the_schema_documents_etag_and_304(coordinator_client):
    schema = coordinator_client.get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/plans/{id}/"]["get"]
    assert "304" in operation["responses"]
    assert "ETag" in operation["responses"]["200"]["headers"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert "If-None-Match" in headers
