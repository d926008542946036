"""The coordinator workflow in the Django admin, through the test client.

Who sees what (clinic scoping, read-only providers, anonymous users), the New plan flow (preview
saves nothing, confirm creates, engine errors are form errors), the item and plan actions, and
bounded query counts on the plan list and the plan page.
"""

from __future__ import annotations

import datetime as dt
import re
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from backend.patients.models import Patient
from backend.plans.engine import clinic_calendar
from backend.plans.models import PlanItem, TreatmentPlan
from backend.reminders.models import Reminder
from tests.factories import (
    ESKETAMINE,
    IV_INDUCTION,
    ClinicFactory,
    CoordinatorFactory,
    PatientFactory,
    ProviderFactory,
    make_plan,
    next_weekday,
    protocol,
)
from tests.support.clock import SUITE_NOW as NOW

# Measured (SQLite and PostgreSQL, warm caches): the plan list runs 10 queries whatever the number
# of plans, the plan page 18 whatever the number of items and reminders. The bounds leave room for
# a couple of fixed queries more, never for one per plan, provider, item or reminder; the tests
# also check that the count is the same for small and large inputs.
CHANGELIST_MAX_QUERIES = 12
CHANGE_PAGE_MAX_QUERIES = 22  # +1 for the clinic's time zone (ClinicTimeZoneMiddleware)


def changelist_url() -> str:
    return reverse("admin:plans_treatmentplan_changelist")


def change_url(plan) -> str:
    return reverse("admin:plans_treatmentplan_change", args=[plan.pk])


def action_url(plan, action: str) -> str:
    return reverse("admin:plans_treatmentplan_action", args=[plan.pk, action])


def item_url(item) -> str:
    return reverse("admin:plans_treatmentplan_item", args=[item.plan_id, item.pk])


def new_url() -> str:
    return reverse("admin:plans_treatmentplan_new")


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture()
def home(db):
    """One clinic with a coordinator, a prescriber (in the Providers group) and a patient."""
    clinic = ClinicFactory(name="Harbour Clinic")
    return SimpleNamespace(
        clinic=clinic,
        coordinator=CoordinatorFactory(clinic=clinic),
        provider=ProviderFactory(clinic=clinic),
        patient=PatientFactory(clinic=clinic, first_name="Wren", last_name="Okafor"),
    )


@pytest.fixture()
def elsewhere(db):
    """Another clinic, with its own patient and plan."""
    clinic = ClinicFactory(name="Faraway Clinic", time_zone="America/Denver")
    provider = ProviderFactory(
        clinic=clinic, user__first_name="Quill", user__last_name="Vantablack"
    )
    patient = PatientFactory(clinic=clinic, first_name="Zebedee", last_name="Farrowmere")
    plan = make_plan(patient=patient, provider=provider).plan
    return SimpleNamespace(clinic=clinic, provider=provider, patient=patient, plan=plan)


@pytest.fixture()
def coordinator_client(client, home):
    client.force_login(home.coordinator.user)
    return client


@pytest.fixture()
def plan(home):
    """The IV course from Thursday 5 March 2026, planned on the suite's Monday 2 March: dosing
    session 3 is on Monday 9 March at 09:00, an hour after the integration session for dose 2."""
    return make_plan(
        patient=home.patient, provider=home.provider, start_date=dt.date(2026, 3, 5), now=NOW
    ).plan


def new_plan_data(home, *, start_date: dt.date | None = None, slug: str = IV_INDUCTION) -> dict:
    return {
        "patient": home.patient.pk,
        "protocol": protocol(slug).pk,
        "start_date": (start_date or next_weekday(home.clinic)).isoformat(),
        "provider": home.provider.pk,
        "dosing_sessions": "",
    }


# --- who sees what --------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_the_login_page(client, plan):
    item = plan.items.get(key="dosing-3")
    for url in (changelist_url(), change_url(plan), new_url(), item_url(item)):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url
    response = client.post(action_url(plan, "cancel"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    plan.refresh_from_db()
    assert plan.status == TreatmentPlan.Status.ACTIVE


@pytest.mark.django_db
def test_coordinator_sees_only_their_clinics_plans_and_patients(
    coordinator_client, plan, elsewhere
):
    listing = coordinator_client.get(changelist_url())
    assert listing.status_code == 200
    shown = list(listing.context["cl"].result_list)
    assert shown == [plan]
    assert "Okafor" in listing.text and "Farrowmere" not in listing.text
    # The provider filter names this clinic's staff only.
    assert str(plan.provider) in listing.text and "Vantablack" not in listing.text

    patients = coordinator_client.get(reverse("admin:patients_patient_changelist"))
    assert list(patients.context["cl"].result_list) == [plan.patient]
    assert "Farrowmere" not in patients.text

    # Their own plan page opens; the other clinic's does not (the admin's "does not exist").
    assert coordinator_client.get(change_url(plan)).status_code == 200
    foreign = coordinator_client.get(change_url(elsewhere.plan))
    assert foreign.status_code in (302, 404)
    if foreign.status_code == 302:
        assert foreign["Location"] == reverse("admin:index")
    assert "Farrowmere" not in coordinator_client.get(reverse("admin:index")).text

    # Nor can they act on it, look at its items, or build a plan for the other clinic's patient.
    foreign_item = elsewhere.plan.items.get(key="dosing-3")
    assert coordinator_client.get(item_url(foreign_item)).status_code == 404
    assert coordinator_client.post(action_url(elsewhere.plan, "cancel")).status_code == 404
    elsewhere.plan.refresh_from_db()
    assert elsewhere.plan.status == TreatmentPlan.Status.ACTIVE

    data = {**new_plan_data(elsewhere), "preview": "Preview"}
    refused = coordinator_client.post(new_url(), data)
    assert refused.status_code == 200
    assert {"patient", "provider"} <= set(refused.context["form"].errors)
    assert refused.context["preview"] is None


@pytest.mark.django_db
def test_provider_can_read_their_plans_but_not_change_them(client, home, plan):
    client.force_login(home.provider.user)
    page = client.get(change_url(plan))
    assert page.status_code == 200
    assert "Dosing session 3" in page.text
    # Read-only: no action buttons on the page, and every change is refused with 403.
    assert 'id="plan-cancel"' not in page.text
    assert 'id="plan-pause"' not in page.text

    item = plan.items.get(key="dosing-3")
    reminder = plan.reminders.filter(status=Reminder.Status.SCHEDULED).first()
    new_start = item.start + dt.timedelta(hours=2)
    local = new_start.astimezone(ZoneInfo(home.clinic.time_zone)).strftime("%Y-%m-%dT%H:%M")
    refused = [
        client.post(action_url(plan, "cancel")),
        client.post(action_url(plan, "pause")),
        client.post(item_url(item), {"reschedule": "Reschedule", "new_start": local}),
        client.post(item_url(item), {"completed": "Mark completed"}),
        client.post(reverse("admin:plans_treatmentplan_send_now", args=[plan.pk, reminder.pk])),
        client.post(change_url(plan), {"notes": "changed by a provider"}),
        client.get(new_url()),
        client.post(new_url(), {**new_plan_data(home), "confirm": "Confirm"}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)

    plan.refresh_from_db()
    item.refresh_from_db()
    reminder.refresh_from_db()
    assert plan.status == TreatmentPlan.Status.ACTIVE and plan.notes == ""
    assert item.status == PlanItem.Status.SCHEDULED and item.start != new_start
    assert reminder.status == Reminder.Status.SCHEDULED and reminder.status_reason == ""
    assert TreatmentPlan.objects.count() == 1


# --- New plan ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_add_goes_to_the_new_plan_page(coordinator_client):
    response = coordinator_client.get(reverse("admin:plans_treatmentplan_add"))
    assert response.status_code == 302 and response["Location"] == new_url()
    page = coordinator_client.get(new_url())
    assert page.status_code == 200 and 'id="new-plan-form"' in page.text


@pytest.mark.django_db
def test_preview_shows_items_and_reminders_and_saves_nothing(coordinator_client, home):
    counts = (TreatmentPlan.objects.count(), PlanItem.objects.count(), Reminder.objects.count())
    response = coordinator_client.post(new_url(), {**new_plan_data(home), "preview": "Preview"})

    assert response.status_code == 200
    preview = response.context["preview"]
    dosing = [i for i in preview["items"] if i["kind"] == "dosing"]
    assert len(dosing) == 6  # the IV induction protocol's six sessions
    assert len(preview["reminders"]) > 20
    assert 'id="preview-items"' in response.text and 'id="preview-reminders"' in response.text
    assert "Dosing session 6" in response.text and "Preparation, two days before" in response.text
    assert "nothing is saved yet" in response.text
    assert 'id="confirm-button"' in response.text
    assert (
        TreatmentPlan.objects.count(),
        PlanItem.objects.count(),
        Reminder.objects.count(),
    ) == counts


@pytest.mark.django_db
def test_confirm_creates_the_plan_with_its_items_and_reminders(coordinator_client, home):
    start = next_weekday(home.clinic)
    data = new_plan_data(home, start_date=start)
    previewed = coordinator_client.post(new_url(), {**data, "preview": "Preview"})
    token = previewed.context["preview_token"]
    response = coordinator_client.post(
        new_url(), {**data, "preview_token": token, "confirm": "Confirm and create plan"}
    )

    plan = TreatmentPlan.objects.get()
    assert response.status_code == 302 and response["Location"] == change_url(plan)
    assert (plan.patient, plan.provider, plan.clinic) == (home.patient, home.provider, home.clinic)
    assert plan.protocol.slug == IV_INDUCTION and plan.start_date == start
    assert plan.status == TreatmentPlan.Status.ACTIVE
    assert plan.created_by == home.coordinator.user
    assert plan.items.filter(kind="dosing").count() == 6
    reminders = plan.reminders.count()
    assert reminders > 20
    assert messages_of(response) == [
        f"Plan created with {plan.items.count()} items and {reminders} reminders."
    ]
    page = coordinator_client.get(change_url(plan))
    assert page.status_code == 200 and 'id="timeline"' in page.text


@pytest.mark.django_db
@pytest.mark.parametrize("button", ["preview", "confirm"])
def test_start_date_in_the_past_is_a_form_error_naming_the_rule(coordinator_client, home, button):
    today = timezone.now().astimezone(ZoneInfo(home.clinic.time_zone)).date()
    data = {**new_plan_data(home, start_date=today - dt.timedelta(days=3)), button: "go"}
    response = coordinator_client.post(new_url(), data)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "start_date" in errors
    assert "in the past" in errors["start_date"][0]
    assert "start_date.in_past" in errors["start_date"][0]
    assert "start_date.in_past" in response.text
    assert response.context["preview"] is None
    assert TreatmentPlan.objects.count() == 0 and Reminder.objects.count() == 0


# --- actions ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_reschedule_moves_the_item_and_its_reminders_and_says_what_moved(coordinator_client, plan):
    item = plan.items.get(key="dosing-3")
    zone = ZoneInfo(plan.clinic.time_zone)
    before = {r.key: r.send_at for r in item.reminders.filter(status__in=Reminder.PENDING)}
    assert any(":prep_48h:" in key for key in before)

    form_page = coordinator_client.get(item_url(item))
    assert form_page.status_code == 200 and 'id="reschedule-form"' in form_page.text

    new_start = item.start + dt.timedelta(
        hours=2
    )  # same day, two hours later: within opening hours
    response = coordinator_client.post(
        item_url(item),
        {
            "reschedule": "Reschedule",
            "new_start": new_start.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302 and response["Location"] == change_url(plan)

    item.refresh_from_db()
    assert item.start == new_start
    after = {r.key: r.send_at for r in item.reminders.filter(status__in=Reminder.PENDING)}
    moved = {key for key in before if after.get(key) != before[key]}
    # The preparation reminders (48 h before) move with the session, by the same two hours.
    prep = {key for key in before if ":prep_48h:" in key}
    assert prep and prep <= moved
    assert all(after[key] - before[key] == dt.timedelta(hours=2) for key in prep)

    (message,) = messages_of(response)
    assert message.startswith("Rescheduled: moved Dosing session 3 to ")
    # In the clinic's time, naming its zone (09 March 2026 is after the US clocks went forward).
    assert f"{new_start.astimezone(zone):%a %d %b %H:%M} EDT" in message
    assert "UTC" not in message
    assert re.search(r"\b\d+ reminders? moved with them", message), message
    page = coordinator_client.get(change_url(plan))
    assert new_start.astimezone(zone).strftime("%a %d %b %Y %H:%M") in page.text


@pytest.mark.django_db
def test_reschedule_into_the_past_is_a_form_error(coordinator_client, plan):
    item = plan.items.get(key="dosing-3")
    before = item.start
    past = timezone.now().astimezone(ZoneInfo(plan.clinic.time_zone)) - dt.timedelta(days=1)
    response = coordinator_client.post(
        item_url(item), {"reschedule": "Reschedule", "new_start": past.strftime("%Y-%m-%dT%H:%M")}
    )
    assert response.status_code == 200
    assert "must be in the future" in response.text
    item.refresh_from_db()
    assert item.start == before


@pytest.mark.django_db
def test_reschedule_to_another_working_day_moves_the_day_after_message_too(
    coordinator_client, plan
):
    item = plan.items.get(key="dosing-3")
    zone = ZoneInfo(plan.clinic.time_zone)
    calendar = clinic_calendar(plan.clinic)
    day = item.start.astimezone(zone).date() + dt.timedelta(days=1)
    while day.weekday() >= 5 or not calendar.is_working_day(day):
        day += dt.timedelta(days=1)
    new_start = dt.datetime.combine(day, dt.time(10, 0), tzinfo=zone)
    day_after = item.reminders.get(rule="day_after", channel="email")
    prep_before = item.reminders.get(rule="prep_48h", channel="email").send_at

    response = coordinator_client.post(
        item_url(item), {"reschedule": "Reschedule", "new_start": f"{day:%Y-%m-%d}T10:00"}
    )
    assert response.status_code == 302, (
        response.context and response.context["reschedule_form"].errors
    )
    item.refresh_from_db()
    assert item.start == new_start
    # The day-after message follows the session to the next day; the 48 h notice moves too.
    day_after.refresh_from_db()
    assert day_after.status == Reminder.Status.SCHEDULED
    assert day_after.send_at.astimezone(zone).date() == day + dt.timedelta(days=1)
    assert item.reminders.get(rule="prep_48h", channel="email").send_at != prep_before


@pytest.mark.django_db
def test_cancel_action_cancels_the_plan_and_its_pending_reminders(coordinator_client, plan):
    pending = set(plan.reminders.filter(status__in=Reminder.PENDING).values_list("pk", flat=True))
    assert len(pending) > 20

    response = coordinator_client.post(action_url(plan, "cancel"))
    assert response.status_code == 302 and response["Location"] == change_url(plan)

    plan.refresh_from_db()
    assert plan.status == TreatmentPlan.Status.CANCELLED
    # What stays pending is only the calendar cancellation of each future session.
    still = plan.reminders.filter(status__in=Reminder.PENDING)
    assert set(still.values_list("message_kind", flat=True)) == {"session_cancelled"}
    cancelled = plan.reminders.filter(pk__in=pending, status=Reminder.Status.CANCELLED)
    assert cancelled.count() == len(pending)
    assert set(cancelled.values_list("status_reason", flat=True)) == {"plan cancelled"}
    assert not plan.items.filter(status=PlanItem.Status.SCHEDULED).exists()
    (message,) = messages_of(response)
    assert message.startswith("Plan cancelled: ")
    assert f"{len(pending)} pending reminders cancelled" in message

    # Cancelling twice is refused in plain words, not with a 500.
    again = coordinator_client.post(action_url(plan, "cancel"))
    assert again.status_code == 302
    assert "already cancelled" in messages_of(again)[-1]


@pytest.mark.django_db
def test_a_get_on_an_action_changes_nothing(coordinator_client, plan):
    response = coordinator_client.get(action_url(plan, "cancel"))
    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.status == TreatmentPlan.Status.ACTIVE


# --- bounded queries --------------------------------------------------------------------------


@pytest.mark.django_db
def test_plan_list_runs_a_bounded_number_of_queries(
    coordinator_client, home, elsewhere, django_assert_max_num_queries
):
    make_plan(patient=home.patient, provider=home.provider)
    coordinator_client.get(changelist_url())  # warm the per-process caches (content types)
    with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES) as one_plan:
        one = coordinator_client.get(changelist_url())
    assert one.context["cl"].result_count == 1

    # Four more plans, each with its own patient and its own responsible provider (the provider
    # filter lists them all: one query for all of them, not one each).
    for slug in (IV_INDUCTION, ESKETAMINE, IV_INDUCTION, ESKETAMINE):
        make_plan(
            patient=PatientFactory(clinic=home.clinic),
            provider=ProviderFactory(clinic=home.clinic),
            protocol_slug=slug,
        )
    with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES) as five_plans:
        five = coordinator_client.get(changelist_url())
    assert five.context["cl"].result_count == 5
    assert five.text.count('class="field-item_count"') == 5
    assert len(five_plans) == len(one_plan)


@pytest.mark.django_db
def test_plan_page_runs_a_bounded_number_of_queries_whatever_the_plan_size(
    coordinator_client, home, django_assert_max_num_queries
):
    small = make_plan(patient=home.patient, provider=home.provider, protocol_slug=IV_INDUCTION).plan
    large = make_plan(
        patient=PatientFactory(clinic=home.clinic), provider=home.provider, protocol_slug=ESKETAMINE
    ).plan
    assert large.items.count() > small.items.count()
    assert large.reminders.count() > small.reminders.count()
    coordinator_client.get(change_url(small))  # warm the per-process caches (content types)
    counts = []
    for plan in (small, large):
        with django_assert_max_num_queries(CHANGE_PAGE_MAX_QUERIES) as queries:
            page = coordinator_client.get(change_url(plan))
        counts.append(len(queries))
        assert page.status_code == 200
        # Every item and every reminder is on the page, the reminders grouped by item.
        assert page.text.count('class="item-row"') == plan.items.count()
        assert page.text.count('class="reminder-row"') == plan.reminders.count()
    assert counts[0] == counts[1], counts


@pytest.mark.django_db
def test_item_history_is_visible_and_items_are_read_only(admin_client, plan):
    item = plan.items.get(key="dosing-3")
    history = admin_client.get(f"/admin/plans/planitem/{item.pk}/history/")
    assert history.status_code == 200 and b"Dosing session 3" in history.content
    admin_client.post(f"/admin/plans/planitem/{item.pk}/change/", {"title": "changed"})
    item.refresh_from_db()
    assert item.title == "Dosing session 3"


@pytest.mark.django_db
def test_provider_sees_a_patient_with_two_plans_once(client, home, plan):
    make_plan(patient=home.patient, provider=home.provider, protocol_slug="esketamine-nasal-spray")
    client.force_login(home.provider.user)
    page = client.get(f"/admin/patients/patient/{home.patient.pk}/change/")
    assert page.status_code == 200
    listing = client.get("/admin/patients/patient/")
    assert listing.content.count(b"Okafor") == 1


@pytest.mark.django_db
def test_staff_without_a_clinic_cannot_build_plans(client, home):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user("floating", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="add_treatmentplan"))
    client.force_login(user)
    assert client.get(new_url()).status_code == 403


@pytest.mark.parametrize(
    ("typed", "problem"),
    [("2026-03-08T02:30", "does not exist"), ("2026-11-01T01:30", "happens twice")],
)
def test_reschedule_form_refuses_times_a_dst_change_makes_unclear(typed, problem):
    from backend.plans.forms import RescheduleForm

    form = RescheduleForm({"new_start": typed}, time_zone="America/New_York")
    assert not form.is_valid()
    assert problem in form.errors["new_start"][0]
    ok = RescheduleForm({"new_start": "2026-03-09T10:00"}, time_zone="America/New_York")
    assert ok.is_valid() and ok.cleaned_data["new_start"].utcoffset().total_seconds() == 0


@pytest.mark.django_db
def test_confirm_after_a_changed_input_shows_the_new_preview_and_creates_nothing(
    coordinator_client, home
):
    start = next_weekday(home.clinic)
    previewed = coordinator_client.post(
        new_url(), {**new_plan_data(home, start_date=start), "preview": "Preview"}
    )
    token = previewed.context["preview_token"]
    later = new_plan_data(home, start_date=start + dt.timedelta(days=7))
    for stale in (token, "", "forged"):
        response = coordinator_client.post(
            new_url(), {**later, "preview_token": stale, "confirm": "Confirm and create plan"}
        )
        assert response.status_code == 200
        assert not TreatmentPlan.objects.exists()
        assert "Check this preview, then confirm again" in " ".join(messages_of(response))
    assert response.context["preview_token"] != token  # the page now shows the new plan
    confirmed = coordinator_client.post(
        new_url(),
        {**later, "preview_token": response.context["preview_token"], "confirm": "Confirm"},
    )
    assert confirmed.status_code == 302
    assert TreatmentPlan.objects.get().start_date == start + dt.timedelta(days=7)


def _preview_then_confirm(client, data: dict, **extra):
    previewed = client.post(new_url(), {**data, "preview": "Preview"})
    token = previewed.context["preview_token"]
    confirmed = client.post(new_url(), {**data, **extra, "preview_token": token, "confirm": "OK"})
    return previewed, confirmed


@pytest.mark.django_db
def test_a_second_plan_under_way_needs_an_explicit_choice(coordinator_client, home, plan):
    data = new_plan_data(home, start_date=plan.start_date, slug="esketamine-nasal-spray")
    previewed, refused = _preview_then_confirm(coordinator_client, data)
    warnings = previewed.context["warnings"]
    assert any("already has a plan under way" in w for w in warnings), warnings
    assert refused.status_code == 200 and "existing_plans" in refused.context["form"].errors
    assert TreatmentPlan.objects.count() == 1

    # Replacing frees the old plan's session times, so the plan differs from the one previewed
    # without the choice: Confirm asks for a look at the new preview first.
    _, changed = _preview_then_confirm(coordinator_client, data, existing_plans="replace")
    assert changed.status_code == 200 and "confirm again" in changed.text
    _, replaced = _preview_then_confirm(coordinator_client, {**data, "existing_plans": "replace"})
    assert replaced.status_code == 302
    plan.refresh_from_db()
    assert plan.status == TreatmentPlan.Status.CANCELLED
    assert TreatmentPlan.objects.filter(status="active").get().protocol.slug == (
        "esketamine-nasal-spray"
    )
    assert (
        not plan.reminders.filter(status="scheduled", rule__isnull=False)
        .exclude(message_kind="session_cancelled")
        .exists()
    )


@pytest.mark.django_db
def test_running_two_plans_in_parallel_is_a_choice_that_keeps_both(coordinator_client, home, plan):
    data = new_plan_data(home, start_date=plan.start_date, slug="esketamine-nasal-spray")
    _, confirmed = _preview_then_confirm(coordinator_client, data, existing_plans="parallel")
    assert confirmed.status_code == 302
    assert TreatmentPlan.objects.filter(status="active").count() == 2


@pytest.mark.django_db
def test_a_patient_who_cannot_be_reached_is_named_before_confirm(coordinator_client, home):
    Patient.objects.filter(pk=home.patient.pk).update(email_consent=False, sms_consent=False)
    previewed = coordinator_client.post(new_url(), {**new_plan_data(home), "preview": "Preview"})
    assert any("cannot be reached" in w for w in previewed.context["warnings"])
    assert "cannot be reached" in previewed.text


@pytest.mark.django_db
def test_the_plan_page_offers_only_the_actions_that_apply(coordinator_client, plan):
    def buttons() -> set[str]:
        page = coordinator_client.get(change_url(plan)).text
        return {name for name in ("pause", "resume", "cancel") if f'id="plan-{name}"' in page}

    assert buttons() == {"pause", "cancel"}
    coordinator_client.post(action_url(plan, "pause"))
    assert buttons() == {"resume", "cancel"}
    coordinator_client.post(action_url(plan, "cancel"))
    assert buttons() == set()


@pytest.mark.django_db
def test_a_missing_page_is_the_products_own_404(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "This page does not exist" in response.text
    assert "ask your clinic for a new one" in response.text


# --- Notes ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_notes_are_appended_with_when_and_who_and_never_overwritten(
    coordinator_client, home, plan, clock
):
    user = home.coordinator.user
    user.first_name, user.last_name = "Ines", "Marlow"
    user.save()
    page = coordinator_client.get(change_url(plan))
    assert "add_note" in page.context["adminform"].form.fields
    assert "notes" not in page.context["adminform"].form.fields  # shown read-only

    first = coordinator_client.post(change_url(plan), {"add_note": "Prefers mornings."})
    assert first.status_code == 302
    clock.move_to(NOW + dt.timedelta(days=1, hours=2))
    # "notes" in the post is not a field of the form: the earlier note cannot be replaced.
    second = coordinator_client.post(
        change_url(plan), {"add_note": "Driver confirmed.", "notes": "erased"}
    )
    assert second.status_code == 302

    plan.refresh_from_db()
    assert plan.notes.splitlines() == [
        "2026-03-02 10:00, Ines Marlow: Prefers mornings.",  # the clinic's zone (New York)
        "2026-03-03 12:00, Ines Marlow: Driver confirmed.",
    ]


@pytest.mark.django_db
def test_saving_the_plan_page_without_a_note_changes_nothing(coordinator_client, plan):
    before = TreatmentPlan.objects.values().get(pk=plan.pk)
    assert coordinator_client.post(change_url(plan), {"add_note": "  "}).status_code == 302
    assert TreatmentPlan.objects.values().get(pk=plan.pk) == before


@pytest.mark.django_db
def test_a_plan_cannot_be_deleted_in_the_admin(client, home, plan):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", "root@example.com", "x"))
    delete_url = reverse("admin:plans_treatmentplan_delete", args=[plan.pk])
    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    bulk = client.post(
        changelist_url(),
        {"action": "delete_selected", "_selected_action": [plan.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert TreatmentPlan.objects.filter(pk=plan.pk).exists()
