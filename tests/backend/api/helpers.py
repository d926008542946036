"""Request bodies and dates shared by the API tests."""

from __future__ import annotations

import datetime as dt

from tests.backend.conftest import NOW

ROLES = (
    "coordinator", "coordinator_other", "provider", "provider_other",
    "patient", "patient_other", "anonymous", "admin",
)  # fmt: skip


def patient_payload(clinic_id: int, **overrides) -> dict:
    body = {
        "clinic": clinic_id, "first_name": "Ada", "last_name": "Stone",
        "date_of_birth": "1979-05-01", "email": "ada@example.com", "mobile": "+12025550199",
        "time_zone": "America/Chicago",
    }  # fmt: skip
    body.update(overrides)
    return body


def future_weekday(days: int = 2) -> dt.date:
    day = (NOW + dt.timedelta(days=days)).date()
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def build_body(plan, **overrides) -> dict:
    body = {
        "patient": plan.patient_id, "protocol": plan.protocol_id, "provider": plan.provider_id,
        "start_date": future_weekday(3).isoformat(),
    }  # fmt: skip
    body.update(overrides)
    return body


def errors_of(response) -> dict[str | None, str]:
    """{field: code} of an error response, asserting its shape on the way."""
    body = response.json()
    assert set(body) == {"type", "errors"}, body
    assert all(set(e) == {"field", "code", "detail"} for e in body["errors"]), body
    return {e["field"]: e["code"] for e in body["errors"]}
