"""Bad input is a 400 in the one error shape, naming the field and the rule; never a 500."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.plans import services
from tests.backend.api.helpers import build_body, errors_of, patient_payload
from tests.backend.conftest import NOW

pytestmark = pytest.mark.django_db


def test_impossible_date_names_the_field(coordinator_client, plan):
    response = coordinator_client.post(
        "/api/v1/plans/", build_body(plan, start_date="2026-02-30"), format="json"
    )
    assert response.status_code == 400
    assert errors_of(response) == {"start_date": "invalid"}
    assert response.json()["type"] == "validation_error"


def test_start_date_in_the_past_names_the_engine_rule(coordinator_client, plan):
    past = (NOW - dt.timedelta(days=7)).date().isoformat()
    response = coordinator_client.post(
        "/api/v1/plans/", build_body(plan, start_date=past), format="json"
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "start_date"
    assert error["code"].startswith("start_date.")
    assert "past" in error["detail"] and "rule:" in error["detail"]


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "localtime", "US", "../etc/passwd"])
def test_unknown_time_zone(coordinator_client, clinic, users, zone):
    body = patient_payload(clinic.pk, time_zone=zone)
    response = coordinator_client.post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400
    assert errors_of(response) == {"time_zone": "unknown_time_zone"}
    assert "IANA" in response.json()["errors"][0]["detail"]


@pytest.mark.parametrize("born", ["0001-01-01", "9999-12-31", "1899-12-31", "2026-03-03"])
def test_impossible_dates_of_birth_name_the_field(coordinator_client, clinic, users, born):
    body = patient_payload(clinic.pk, date_of_birth=born)
    response = coordinator_client.post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400
    assert errors_of(response) == {"date_of_birth": "date_of_birth.out_of_range"}


@pytest.mark.parametrize("mobile", ["12345", "+1 555 000", "call me"])
def test_invalid_phone(coordinator_client, clinic, users, mobile):
    response = coordinator_client.post(
        "/api/v1/patients/", patient_payload(clinic.pk, mobile=mobile), format="json"
    )
    assert response.status_code == 400
    assert errors_of(response) == {"mobile": "invalid_phone_number"}


def test_rescheduling_a_completed_item(coordinator_client, plan):
    item = plan.items.get(key="dosing-1")
    services.item_mark_completed(item=item, now=item.end)
    new_start = (item.start + dt.timedelta(days=1)).isoformat()
    response = coordinator_client.patch(
        f"/api/v1/items/{item.pk}/", {"start": new_start}, format="json"
    )
    assert response.status_code == 400
    assert errors_of(response) == {"start": "item.not_scheduled"}
    assert "only a scheduled item" in response.json()["errors"][0]["detail"]


def test_naive_datetime_is_refused(coordinator_client, plan):
    item = plan.items.get(key="dosing-2")
    response = coordinator_client.patch(
        f"/api/v1/items/{item.pk}/", {"start": "2026-03-06T11:00:00"}, format="json"
    )
    assert response.status_code == 400
    assert errors_of(response) == {"start": "naive"}


def test_rescheduling_into_the_past_names_the_field(coordinator_client, plan):
    item = plan.items.get(key="dosing-2")
    past = (NOW - dt.timedelta(hours=1)).isoformat()
    response = coordinator_client.patch(f"/api/v1/items/{item.pk}/", {"start": past}, format="json")
    assert response.status_code == 400
    assert list(errors_of(response)) == ["start"]


def test_garbage_json(coordinator_client):
    response = coordinator_client.generic(
        "POST", "/api/v1/plans/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert errors_of(response) == {None: "parse_error"}
    assert response.json()["type"] == "client_error"


def test_not_found_has_the_shape(coordinator_client, users):
    response = coordinator_client.get("/api/v1/plans/999999/")
    assert response.status_code == 404
    assert errors_of(response) == {None: "not_found"}


def test_huge_ids_are_404_not_500(coordinator_client, users):
    assert coordinator_client.get("/api/v1/plans/99999999999999999999999999/").status_code == 404
    response = coordinator_client.get("/api/v1/reminders/?plan=99999999999999999999999")
    assert response.status_code == 400
    assert list(errors_of(response)) == ["plan"]


def test_option_the_engine_refuses_names_the_option(coordinator_client, plan):
    body = build_body(plan, options={"session_counts": {"dosing": 50}})
    response = coordinator_client.post("/api/v1/plans/preview/", body, format="json")
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"].startswith("options.session_counts")
    assert "." in error["code"]  # the engine's dotted rule id


def test_unknown_reminder_rule_override(coordinator_client, plan):
    body = build_body(plan, options={"reminder_overrides": {"no-such-rule": None}})
    response = coordinator_client.post("/api/v1/plans/", body, format="json")
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "options.reminder_overrides"


def test_plan_for_a_patient_of_another_clinic_is_refused_without_leaking(client_as, plan):
    response = client_as("coordinator_other").post(
        "/api/v1/plans/", build_body(plan), format="json"
    )
    assert response.status_code == 400
    assert set(errors_of(response)) == {"patient", "provider"}
    assert errors_of(response)["patient"] == "does_not_exist"


def test_login_attempts_are_rate_limited(client_as, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "3/min", "writes": "100/min"},
    }
    anonymous = client_as("anonymous")
    codes = [
        anonymous.post("/api/v1/auth/token/", {"username": "x", "password": "y"}).status_code
        for _ in range(4)
    ]
    assert codes == [400, 400, 400, 429]


def test_a_forged_forwarded_for_header_does_not_escape_the_login_limit(client_as, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "3/min", "writes": "100/min"},
    }
    anonymous = client_as("anonymous")
    codes = [
        anonymous.post(
            "/api/v1/auth/token/",
            {"username": "x", "password": "y"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(4)
    ]
    assert codes == [400, 400, 400, 429]


def test_writes_are_throttled_per_user(coordinator_client, plan, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "3/min", "writes": "2/min"},
    }
    url = f"/api/v1/patients/{plan.patient_id}/"
    codes = [
        coordinator_client.patch(url, {"language": "es"}, format="json").status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    assert coordinator_client.get(url).status_code == 200  # reads are not throttled
    assert errors_of(coordinator_client.patch(url, {}, format="json")) == {None: "throttled"}


def test_far_future_dates_are_a_400_naming_the_field_not_a_500(coordinator_client, plan):
    body = build_body(plan, start_date="9999-12-30")
    response = coordinator_client.post("/api/v1/plans/preview/", body, format="json")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["start_date"]
    item = plan.items.get(key="dosing-3")
    response = coordinator_client.patch(
        f"/api/v1/items/{item.pk}/", {"start": "9999-12-31T10:00:00Z"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] in {"start", "new_start"}


@pytest.mark.parametrize(
    ("url", "field"),
    [("/api/v1/items/", "start_after"), ("/api/v1/reminders/", "due_before")],
)
def test_time_filters_accept_any_offset_python_parses(coordinator_client, plan, url, field):
    # PostgreSQL refuses offsets beyond ±15:59; Python parses up to ±23:59. Found by schemathesis.
    first = plan.items.order_by("start").first().start
    shifted = first.astimezone(dt.timezone(-dt.timedelta(hours=17, minutes=11)))
    response = coordinator_client.get(url, {"plan": plan.pk, field: shifted.isoformat()})
    assert response.status_code == 200, response.content
    utc = coordinator_client.get(url, {"plan": plan.pk, field: first.isoformat()})
    assert [r["id"] for r in response.json()["results"]] == [r["id"] for r in utc.json()["results"]]


def test_time_filter_out_of_range_after_normalising_names_the_field(coordinator_client, plan):
    response = coordinator_client.get(
        "/api/v1/items/", {"plan": plan.pk, "start_before": "0001-01-01T00:00:00+05:00"}
    )
    assert response.status_code == 400
    assert errors_of(response) == {"start_before": "out_of_range"}


def test_moving_an_item_where_the_clinic_is_closed_names_start(coordinator_client, plan):
    item = plan.items.get(key="dosing-3")
    late_evening = item.start.astimezone(dt.timezone(dt.timedelta(hours=-17, minutes=-11)))
    late_evening = late_evening.replace(hour=11, minute=0) + dt.timedelta(days=1)
    response = coordinator_client.patch(
        f"/api/v1/items/{item.pk}/", {"start": late_evening.isoformat()}, format="json"
    )
    assert response.status_code == 400
    assert errors_of(response) == {"start": "calendar.closed"}


@pytest.mark.parametrize(
    ("role", "method", "url"),
    [
        ("anonymous", "POST", "/api/v1/auth/token/"),
        ("coordinator", "POST", "/api/v1/plans/preview/"),
        ("patient", "PATCH", "/api/v1/me/"),
    ],
)
def test_deeply_nested_json_is_a_400_in_the_api_shape_not_a_500(client_as, role, method, url):
    body = "[" * 100_000 + "]" * 100_000
    response = client_as(role).generic(method, url, body, content_type="application/json")
    assert response.status_code == 400, response.content[:200]
    assert errors_of(response) == {None: "parse_error"}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", '{"username": "' + "x" * 3_000_000 + '", "password": "y"}'),
        ("application/x-www-form-urlencoded", "username=" + "x" * 3_000_000),
    ],
)
def test_an_oversized_body_is_a_413_in_the_api_shape(client_as, settings, content_type, body):
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = client_as("anonymous").generic(
        "POST", "/api/v1/auth/token/", body, content_type=content_type
    )
    assert response.status_code == 413
    assert errors_of(response) == {None: "request_too_large"}
