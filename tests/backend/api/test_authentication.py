"""Token authentication: one query finds the token, the user and their staff role links
(select_related; a patient's link is one query more); a token answers for every role as a session
does."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from backend.api.authentication import TokenAuthentication
from backend.api.permissions import Role, role_of
from tests.backend.api.helpers import ROLES

pytestmark = pytest.mark.django_db

ROLE_OF = {
    "coordinator": Role.COORDINATOR, "provider": Role.PROVIDER, "admin": Role.ADMIN,
    "patient": Role.PATIENT,
}  # fmt: skip


def _token(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


@pytest.mark.parametrize("role", ROLE_OF)
def test_one_query_finds_a_staff_user_and_their_role(role, users):
    key = _token(users[role])
    with CaptureQueriesContext(connection) as queries:
        user, token = TokenAuthentication().authenticate_credentials(key)
        found = role_of(user)
        staff_links = (hasattr(user, "coordinator"), hasattr(user, "provider"))
    assert found is ROLE_OF[role]
    assert staff_links == (role == "coordinator", role == "provider")
    assert len(queries) == (2 if role == "patient" else 1)  # a patient's link: one query more
    assert hasattr(user, "patient") is (role == "patient")
    assert user == users[role] and token.key == key and token.user is user
    assert user.auth_token is token


def test_the_role_links_carry_their_ids(users, provider):
    user, _ = TokenAuthentication().authenticate_credentials(_token(users["coordinator"]))
    coordinator = users["coordinator"].coordinator
    assert (user.coordinator.pk, user.coordinator.clinic_id) == (
        coordinator.pk, coordinator.clinic_id,
    )  # fmt: skip
    assert user.coordinator.user is user
    user, _ = TokenAuthentication().authenticate_credentials(_token(provider.user))
    assert (user.provider.pk, user.provider.clinic_id) == (provider.pk, provider.clinic_id)


def test_the_user_and_links_read_as_stored(users, provider):
    user, token = TokenAuthentication().authenticate_credentials(_token(provider.user))
    stored = type(user).objects.get(pk=user.pk)
    assert (user.date_joined, user.password) == (stored.date_joined, stored.password)
    assert user.date_joined.tzinfo is not None
    assert (user.provider.role, user.provider.active) == (provider.role, provider.active)
    assert token.created == Token.objects.get(pk=token.pk).created


def test_unknown_tokens_and_inactive_users_are_refused(users, plan):
    client = APIClient()
    url = f"/api/v1/plans/{plan.pk}/"
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get(url).status_code == 401
    coordinator = users["coordinator"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {_token(coordinator)}")
    assert client.get(url).status_code == 200
    coordinator.is_active = False
    coordinator.save(update_fields=["is_active"])
    assert client.get(url).status_code == 401


@pytest.mark.parametrize("path", ["plans/{plan}/", "plans/", "items/{item}/"])
def test_a_token_answers_for_every_role_as_a_session_does(path, users, plan, client_as):
    url = "/api/v1/" + path.format(plan=plan.pk, item=plan.items.first().pk)
    for role in ROLES:
        by_token = APIClient()
        if users[role] is not None:
            by_token.credentials(HTTP_AUTHORIZATION=f"Token {_token(users[role])}")
        forced = client_as(role).get(url)
        tokened = by_token.get(url)
        assert (role, tokened.status_code) == (role, forced.status_code)
        assert tokened.content == forced.content, role


@pytest.mark.django_db
def test_a_deactivated_provider_keeps_no_access_to_the_api_or_the_dashboard(users, plan, client):
    provider_user = users["provider"]
    token = Token.objects.create(user=provider_user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    url = f"/api/v1/plans/{plan.pk}/"
    assert api.get(url).status_code == 200
    client.force_login(provider_user)
    assert client.get("/provider/").status_code == 200

    provider_user.provider.active = False
    provider_user.provider.save(update_fields=["active"])
    assert api.get(url).status_code == 403
    assert client.get("/provider/").status_code == 403
