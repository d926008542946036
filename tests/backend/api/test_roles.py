"""Every endpoint x every role: allowed calls succeed, others get 401/403/404, never data.

Roles, in column order: coordinator of the plan's clinic, coordinator of another clinic, the
plan's provider, another provider of the same clinic, the plan's patient, a patient of another
clinic, anonymous, admin. "has"/"none" mean 200 with the plan's own object in the page or not.
Each role's call runs in a rolled-back savepoint, so one plan serves the whole row.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from backend.plans.models import PlanItem
from backend.reminders.models import Reminder
from tests.backend.api.helpers import ROLES, build_body, patient_payload

H, N = "has", "none"
STAFF_LIST = (H, N, H, H, 403, 403, 401, H)  # clinic-wide lists
PLAN_LIST = (H, N, H, N, 403, 403, 401, H)  # lists of the plan's rows
CLINIC_READ = (200, 404, 200, 200, 403, 403, 401, 200)
PLAN_READ = (200, 404, 200, 404, 403, 403, 401, 200)
PLAN_WRITE = (200, 404, 403, 403, 403, 403, 401, 200)
OUTCOME = (200, 404, 200, 404, 403, 403, 401, 200)
ADMIN_ONLY = (403, 403, 403, 403, 403, 403, 401, 200)
CREATE = (201, 400, 403, 403, 403, 403, 401, 201)  # 400: the other clinic's ids are unknown
PATIENT_ONLY = (403, 403, 403, 403, 200, 200, 401, 403)
ANYONE = (200,) * 8


def _provider(c):
    return {"clinic": c["clinic"], "username": "new-dr", "role": "nurse"}


# id: (method, path template, body maker, expected per role, object that should be listed)
MATRIX = {
    "clinics-list": ("get", "clinics/", None, STAFF_LIST, "clinic"),
    "clinics-read": ("get", "clinics/{clinic}/", None, CLINIC_READ, None),
    "clinics-update": ("patch", "clinics/{clinic}/", lambda c: {"name": "N"}, ADMIN_ONLY, None),
    "providers-list": ("get", "providers/", None, STAFF_LIST, "provider"),
    "providers-read": ("get", "providers/{provider}/", None, CLINIC_READ, None),
    "providers-create": ("post", "providers/", _provider, (*ADMIN_ONLY[:-1], 201), None),
    "patients-list": ("get", "patients/", None, PLAN_LIST, "patient"),
    "patients-read": ("get", "patients/{patient}/", None, PLAN_READ, None),
    "patients-create": ("post", "patients/", lambda c: patient_payload(c["clinic"]), CREATE, None),
    "patients-update": ("patch", "patients/{patient}/", lambda c: {"language": "es"},
                        PLAN_WRITE, None),
    # Only admins delete; this patient has a plan, so even they get 409.
    "patients-delete": ("delete", "patients/{patient}/", None, (*ADMIN_ONLY[:-1], 409), None),
    "protocols-list": ("get", "protocols/", None, (H, H, H, H, 403, 403, 401, H), "protocol"),
    "protocols-read": ("get", "protocols/{protocol}/", None, (200, 200, *CLINIC_READ[2:]), None),
    # The plan's protocol is from the built-in library: only administrators change it.
    "protocols-retire": ("patch", "protocols/{protocol}/", lambda c: {"is_active": False},
                         (403, 403, *PLAN_WRITE[2:]), None),
    "plans-list": ("get", "plans/", None, PLAN_LIST, "plan"),
    "plans-read": ("get", "plans/{plan}/", None, PLAN_READ, None),
    "plans-fhir": ("get", "plans/{plan}/fhir/", None, PLAN_READ, None),
    "plans-create": ("post", "plans/", lambda c: c["build"], CREATE, None),
    "plans-preview": ("post", "plans/preview/", lambda c: c["build"],
                      (200, 400, *CREATE[2:-1], 200), None),
    "plans-pause": ("post", "plans/{plan}/pause/", None, PLAN_WRITE, None),
    # An active plan cannot be resumed: a 400 proves the call got through to the service.
    "plans-resume": ("post", "plans/{plan}/resume/", None,
                     (400, *PLAN_WRITE[1:-1], 400), None),
    "plans-cancel": ("post", "plans/{plan}/cancel/", lambda c: {"reason": "moved"},
                     PLAN_WRITE, None),
    "items-list": ("get", "items/", None, PLAN_LIST, "item"),
    "items-read": ("get", "items/{item}/", None, PLAN_READ, None),
    "items-reschedule": ("patch", "items/{item}/", lambda c: {"start": c["new_start"]},
                         PLAN_WRITE, None),
    "items-complete": ("post", "items/{item}/complete/", lambda c: {"outcome_notes": "ok"},
                       OUTCOME, None),
    "items-missed": ("post", "items/{item}/missed/", lambda c: {"replan": True}, OUTCOME, None),
    "items-cancel": ("post", "items/{item}/cancel/", None, PLAN_WRITE, None),
    "reminders-list": ("get", "reminders/", None, PLAN_LIST, "reminder"),
    "reminders-read": ("get", "reminders/{reminder}/", None, PLAN_READ, None),
    "reminders-cancel": ("post", "reminders/{reminder}/cancel/", None, PLAN_WRITE, None),
    "reminders-send-now": ("post", "reminders/{reminder}/send-now/", None, PLAN_WRITE, None),
    "check-ins": ("get", "check-ins/upcoming/?days=30", None, PLAN_LIST, "check_in"),
    "me-schedule": ("get", "me/schedule/", None, PATIENT_ONLY, None),
    "me-read": ("get", "me/", None, PATIENT_ONLY, None),
    "me-update": ("patch", "me/", lambda c: {"prefers_sms": False}, PATIENT_ONLY, None),
    "schema": ("get", "schema/", None, ANYONE, None),
    "docs": ("get", "docs/", None, ANYONE, None),
    "token-bad-password": ("post", "auth/token/", lambda c: {"username": "coord", "password": "no"},
                           (400,) * 8, None),
}  # fmt: skip


@pytest.fixture()
def context(plan, users):
    item = plan.items.get(key="dosing-1")
    return {
        "clinic": plan.clinic_id, "provider": plan.provider_id, "patient": plan.patient_id,
        "protocol": plan.protocol_id, "plan": plan.pk, "item": item.pk,
        "reminder": plan.reminders.filter(status=Reminder.Status.SCHEDULED).first().pk,
        "check_in": plan.items.filter(kind=PlanItem.Kind.CHECK_IN).first().pk,
        "build": build_body(plan), "new_start": item.start.replace(hour=15).isoformat(),
    }  # fmt: skip


def _call(client, method, url, body):
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


@pytest.mark.django_db(transaction=False)
@pytest.mark.parametrize("endpoint", MATRIX)
def test_endpoint_for_every_role(endpoint, context, client_as, plan, clock):
    method, template, body, expected, listed = MATRIX[endpoint]
    if endpoint in ("items-complete", "items-missed"):
        clock.move_to(plan.items.get(key="dosing-1").end)  # an outcome once the session is over
    url = "/api/v1/" + template.format(**context)
    wrong = []
    for role, want in zip(ROLES, expected, strict=True):
        with transaction.atomic():
            response = _call(client_as(role), method, url, body(context) if body else None)
            got = response.status_code
            if want in (H, N) and got == 200:
                ids = {row["id"] for row in response.json()["results"]}
                got = H if context[listed] in ids else N
            if got != want:
                wrong.append(f"{role}: expected {want}, got {got} {response.content[:200]!r}")
            transaction.set_rollback(True)
    assert not wrong, "\n".join(wrong)
