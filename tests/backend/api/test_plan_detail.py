"""Plan detail: cached rendered JSON, ETags and 304s, the browsable API, a fixed query count."""

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
    """The body as DRF renders it from the database, with no cache involved."""
    plan = (
        TreatmentPlan.objects.select_related("patient", "provider__user", "protocol")
        .prefetch_related(ITEMS)
        .get(pk=plan.pk)
    )
    return JSONRenderer().render(PlanSerializer(plan).data, "application/json")


def test_a_cached_body_is_byte_for_byte_a_fresh_render(coordinator_client, plan):
    miss = coordinator_client.get(_url(plan))
    hit = coordinator_client.get(_url(plan))
    assert miss.status_code == hit.status_code == 200
    assert miss.content == hit.content == _fresh_json(plan)
    assert hit["Content-Type"] == "application/json"
    assert hit["Vary"] == "Accept" and hit["Allow"] == "GET, HEAD, OPTIONS"
    assert hit["ETag"] == miss["ETag"]


def test_a_hit_neither_serializes_nor_renders(coordinator_client, plan, monkeypatch):
    coordinator_client.get(_url(plan))
    calls = []
    for cls, name in ((JSONRenderer, "render"), (PlanSerializer, "to_representation")):
        original = getattr(cls, name)
        monkeypatch.setattr(
            cls, name, lambda *a, _o=original, _n=name, **k: calls.append(_n) or _o(*a, **k)
        )
    assert coordinator_client.get(_url(plan)).status_code == 200
    assert calls == []


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


def test_the_etag_is_the_same_after_the_cache_is_gone(coordinator_client, plan):
    """Another process (or this one, after expiry) renders the same bytes: the same ETag."""
    from django.core.cache import cache

    etag = coordinator_client.get(_url(plan))["ETag"]
    cache.clear()
    response = coordinator_client.get(_url(plan), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304


def test_an_etag_never_gets_past_the_permission_checks(client_as, plan):
    """A caller who may not read the plan gets the same 401/403/404 with or without an ETag."""
    etag = client_as("coordinator").get(_url(plan))["ETag"]
    expected = dict(zip(ROLES, (304, 404, 304, 404, 403, 403, 401, 304), strict=True))
    got = {
        role: client_as(role).get(_url(plan), HTTP_IF_NONE_MATCH=etag).status_code for role in ROLES
    }
    assert got == expected


def test_the_browsable_api_and_indented_json_still_render(coordinator_client, plan):
    coordinator_client.get(_url(plan))  # the JSON body is cached now
    for response in (
        coordinator_client.get(_url(plan) + "?format=api"),
        coordinator_client.get(_url(plan), HTTP_ACCEPT="text/html"),
    ):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        assert plan.protocol.name in response.content.decode()
        assert "ETag" not in response  # the ETag names the JSON body only
    indented = coordinator_client.get(_url(plan), HTTP_ACCEPT="application/json; indent=4")
    assert indented.status_code == 200
    assert indented.content.startswith(b"{\n    ")
    assert json.loads(indented.content) == json.loads(_fresh_json(plan))


def test_a_hit_with_a_token_runs_two_queries(users, plan, django_assert_num_queries):
    """The token with the caller's role in one query, the plan's scope check in another."""
    client = APIClient()
    token = Token.objects.create(user=users["coordinator"])
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    client.get(_url(plan))
    with django_assert_num_queries(2):
        assert client.get(_url(plan)).status_code == 200


def test_the_schema_documents_etag_and_304(coordinator_client):
    schema = coordinator_client.get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/plans/{id}/"]["get"]
    assert "304" in operation["responses"]
    assert "ETag" in operation["responses"]["200"]["headers"]
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert "If-None-Match" in headers
