"""Password guessing is stopped: an account, and separately an address, is locked after a few
wrong passwords (django-axes), on the admin's login form and the API's token login alike."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import PASSWORD, CoordinatorFactory

LOGIN = reverse("admin:login")


def admin_login(client, username: str, password: str, address: str = "198.51.100.7"):
    return client.post(
        f"{LOGIN}?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def logged_in(client) -> bool:
    return client.get("/admin/").status_code == 200


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture()
def coordinator(db):
    return CoordinatorFactory().user


@pytest.mark.django_db
def test_twenty_five_wrong_passwords_then_the_right_one_is_refused(client, coordinator):
    for _ in range(25):
        admin_login(client, coordinator.username, "wrong-guess")
    response = admin_login(client, coordinator.username, PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)


@pytest.mark.django_db
def test_the_account_is_locked_whichever_address_the_guesses_come_from(client, coordinator):
    for n in range(settings.AXES_FAILURE_LIMIT):
        admin_login(client, coordinator.username, "wrong-guess", address=f"203.0.113.{n + 1}")
    response = admin_login(client, coordinator.username, PASSWORD, address="192.0.2.50")
    assert response.status_code == 429
    assert not logged_in(client)


@pytest.mark.django_db
def test_an_address_guessing_many_accounts_is_locked(client, coordinator):
    for n in range(settings.AXES_FAILURE_LIMIT):
        admin_login(client, f"someone{n}", "wrong-guess")
    response = admin_login(client, coordinator.username, PASSWORD)
    assert response.status_code == 429
    assert not logged_in(client)


@pytest.mark.django_db
def test_a_few_typos_then_the_right_password_still_logs_in(client, coordinator):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        admin_login(client, coordinator.username, "wrong-guess")
    response = admin_login(client, coordinator.username, PASSWORD)
    assert response.status_code == 302
    assert logged_in(client)


@pytest.mark.django_db
def test_the_api_token_login_shares_the_lockout(client, coordinator):
    url = "/api/v1/auth/token/"
    for n in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            url,
            {"username": coordinator.username, "password": "wrong"},
            REMOTE_ADDR=f"203.0.113.{n + 1}",
        )
    response = client.post(
        url, {"username": coordinator.username, "password": PASSWORD}, REMOTE_ADDR="192.0.2.9"
    )
    assert response.status_code == 429
    assert "token" not in response.json()
    assert "Too many failed logins" in response.json()["errors"][0]["detail"]
