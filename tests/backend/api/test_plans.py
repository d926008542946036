"""Plans and items through the API: the same services as the admin, shaped for clients."""

from __future__ import annotations

import datetime as dt

import pytest

from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder
from tests.backend.api.helpers import build_body

pytestmark = pytest.mark.django_db


def test_build_returns_the_plan_with_items_and_reminders(coordinator_client, plan, users):
    response = coordinator_client.post(
        "/api/v1/plans/", build_body(plan, options={"boosters": False}, notes="n"), format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    saved = TreatmentPlan.objects.get(pk=body["id"])
    assert saved.created_by == users["coordinator"]
    assert [i["key"] for i in body["items"]] == list(
        saved.items.order_by("sequence").values_list("key", flat=True)
    )
    assert sum(i["kind"] == "dosing" for i in body["items"]) == 6
    assert len(body["reminders"]) == saved.reminders.count() > 0
    first = body["items"][0]
    # ISO 8601 with offsets: UTC instants, plus the start in the item's own zone.
    assert first["start"].endswith("Z")
    assert dt.datetime.fromisoformat(first["start_local"]).utcoffset() in (
        dt.timedelta(hours=-5), dt.timedelta(hours=-4),
    )  # fmt: skip


def test_preview_saves_nothing(coordinator_client, plan):
    before = (TreatmentPlan.objects.count(), PlanItem.objects.count(), Reminder.objects.count())
    response = coordinator_client.post("/api/v1/plans/preview/", build_body(plan), format="json")
    assert response.status_code == 200, response.content
    assert response.json()["items"] and response.json()["reminders"]
    assert (
        TreatmentPlan.objects.count(),
        PlanItem.objects.count(),
        Reminder.objects.count(),
    ) == before


def test_reschedule_lists_what_moved(coordinator_client, plan):
    item = plan.items.get(key="dosing-1")
    new_start = item.start + dt.timedelta(hours=5)
    response = coordinator_client.patch(
        f"/api/v1/items/{item.pk}/", {"start": new_start.isoformat()}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert dt.datetime.fromisoformat(body["item"]["start"]) == new_start
    changes = body["changes"]
    assert [m["label"] for m in changes["items_moved"]][:1] == [item.title]
    assert changes["reminders_moved"] and changes["summary"].startswith("moved")


def test_outcomes_pause_resume_cancel(client_as, plan, clock):
    provider, coordinator = client_as("provider"), client_as("coordinator")
    item = plan.items.get(key="dosing-1")
    clock.move_to(plan.items.get(key="dosing-2").end)  # both sessions have taken place
    done = provider.post(
        f"/api/v1/items/{item.pk}/complete/", {"outcome_notes": "well"}, format="json"
    )
    assert done.json()["item"]["status"] == "completed"
    missed = plan.items.get(key="dosing-2")
    body = provider.post(f"/api/v1/items/{missed.pk}/missed/", {}, format="json").json()
    assert body["item"]["status"] == "missed"
    assert body["changes"]["reminders_cancelled"] >= 0

    paused = coordinator.post(f"/api/v1/plans/{plan.pk}/pause/").json()
    assert paused["plan"]["status"] == "paused" and paused["changes"]["reminders_cancelled"] > 0
    again = coordinator.post(f"/api/v1/plans/{plan.pk}/pause/")
    assert again.status_code == 400 and again.json()["errors"][0]["field"] == "status"
    resumed = coordinator.post(f"/api/v1/plans/{plan.pk}/resume/").json()
    assert resumed["plan"]["status"] == "active"
    cancelled = coordinator.post(
        f"/api/v1/plans/{plan.pk}/cancel/", {"reason": "moved away"}
    ).json()
    assert cancelled["plan"]["status"] == "cancelled"
    assert cancelled["changes"]["items_cancelled"]
    # Only the notices telling people about the cancellation are still to go out.
    pending = plan.reminders.filter(status__in=Reminder.PENDING)
    assert not pending.exclude(message_kind="session_cancelled").exists()


def test_reminder_filters_cancel_and_send_now(coordinator_client, plan):
    url = f"/api/v1/reminders/?plan={plan.pk}&channel=sms&status=scheduled"
    rows = coordinator_client.get(url).json()["results"]
    assert rows and {r["channel"] for r in rows} == {"sms"}
    first, last = rows[0]["send_at"], rows[-1]["send_at"]
    window = coordinator_client.get(
        "/api/v1/reminders/", {"plan": plan.pk, "due_after": first, "due_before": last}
    ).json()
    assert all(first <= r["send_at"] < last for r in window["results"])
    cancelled = coordinator_client.post(f"/api/v1/reminders/{rows[0]['id']}/cancel/").json()
    assert cancelled["status"] == "cancelled"
    sent = coordinator_client.post(f"/api/v1/reminders/{rows[1]['id']}/send-now/").json()
    assert sent["status"] == "scheduled" and sent["status_reason"] == "sent now by staff"


def test_upcoming_check_ins(client_as, plan):
    soon = client_as("provider").get("/api/v1/check-ins/upcoming/", {"days": 30}).json()["results"]
    assert soon and {r["kind"] for r in soon} == {"check_in"}
    assert soon[0]["patient"]["id"] == plan.patient_id
    assert client_as("provider").get("/api/v1/check-ins/upcoming/").json()["results"] == []
    bad = client_as("coordinator").get("/api/v1/check-ins/upcoming/", {"days": 0})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "days"


def test_my_schedule_shows_only_my_own(client_as, plan):
    mine = client_as("patient").get("/api/v1/me/schedule/").json()
    assert {i["id"] for i in mine["items"]} <= set(plan.items.values_list("id", flat=True))
    assert mine["items"] and all(i["kind"] != "task" for i in mine["items"])
    patient_rows = set(plan.reminders.filter(audience="patient").values_list("id", flat=True))
    assert mine["reminders"] and {r["id"] for r in mine["reminders"]} <= patient_rows
    assert client_as("patient_other").get("/api/v1/me/schedule/").json() == {
        "items": [], "reminders": [],
    }  # fmt: skip


def test_protocols_are_versioned_and_checked_by_the_engine(coordinator_client, plan):
    protocol = coordinator_client.get(f"/api/v1/protocols/{plan.protocol_id}/").json()
    body = {
        "slug": protocol["slug"],
        "name": "Induction, revised",
        "definition": protocol["definition"],
    }
    created = coordinator_client.post("/api/v1/protocols/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["version"] == protocol["version"] + 1
    broken = {**body, "definition": {**protocol["definition"], "items": "none"}}
    refused = coordinator_client.post("/api/v1/protocols/", broken, format="json")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "definition"
    library = coordinator_client.patch(
        f"/api/v1/protocols/{plan.protocol_id}/", {"name": "Ours now"}, format="json"
    )
    assert library.status_code == 403, "the built-in library is read-only"


@pytest.mark.django_db
def test_plan_detail_is_cached_until_the_plan_changes(make_plan, django_assert_max_num_queries):
    """A second read is served from the cache; any service change shows up at once."""
    import datetime as dt

    from rest_framework.test import APIClient

    from backend.clinics.models import Coordinator
    from backend.plans import services
    from tests.backend.conftest import NOW

    plan = make_plan()
    user = type(plan.provider.user).objects.create_user("coord-cache")
    Coordinator.objects.create(user=user, clinic=plan.clinic)
    client = APIClient()
    client.force_authenticate(user)
    url = f"/api/v1/plans/{plan.pk}/"
    first = client.get(url).json()
    with django_assert_max_num_queries(2):  # the user's role and the plan row; no items
        assert client.get(url).json() == first
    third = plan.items.get(key="dosing-3")
    services.item_reschedule(item=third, new_start=third.start + dt.timedelta(hours=2), now=NOW)
    moved = next(i for i in client.get(url).json()["items"] if i["key"] == "dosing-3")
    assert moved["start"] != next(i for i in first["items"] if i["key"] == "dosing-3")["start"]
    first = plan.items.get(key="dosing-1")
    services.item_mark_completed(item=first, now=first.end)
    done = next(i for i in client.get(url).json()["items"] if i["key"] == "dosing-1")
    assert done["status"] == "completed"
