"""A patient confirms a session or asks to move it (backend.plans.session_requests): the rules,
the clinic inbox, the coordinator's reschedule that answers it, the patient pages behind the
signed link, and the plans admin list, scoped per clinic."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from backend.plans import services, session_requests
from backend.plans.models import PlanItem, SessionRequest
from backend.reminders import links
from backend.safety.models import Flag, PatientMessage
from tests.factories import CoordinatorFactory, PatientFactory, ProviderFactory, make_plan
from tests.support.clock import SUITE_NOW

pytestmark = pytest.mark.django_db

NOW = SUITE_NOW


def _session(plan, kind="dosing") -> PlanItem:
    return plan.items.filter(kind=kind).order_by("start").first()


def _move(plan, **kwargs):
    item = kwargs.pop("item", None) or _session(plan)
    values = {"preferred_weekdays": [1, 3], "note": "", "via": "link", "now": NOW, **kwargs}
    return session_requests.request_reschedule(patient=plan.patient, item=item, **values)


def _rule(problem: ValidationError) -> dict[str, str]:
    return {field: " ".join(errors) for field, errors in problem.message_dict.items()}


# --- the service -------------------------------------------------------------------------------


def test_a_request_to_move_is_recorded_and_reaches_the_clinic_inbox(plan):
    item = _session(plan)

    result = _move(plan, item=item, preferred_weekdays=[3, 1, 3], note="My ride fell through.")

    row = SessionRequest.objects.get()
    assert result.created and row == result.request
    assert (row.item, row.kind, row.via, row.status) == (item, "reschedule", "link", "open")
    assert row.preferred_weekdays == [1, 3] and row.session_start == item.start
    assert row.note == "My ride fell through." and row.created_at == NOW
    message = PatientMessage.objects.get()
    assert (message.item, message.patient, message.clinic) == (item, plan.patient, plan.clinic)
    assert "Asked to move" in message.body and "Tue, Thu" in message.body
    assert "The patient wrote: My ride fell through." in message.body
    assert not Flag.objects.exists()


def test_words_of_distress_in_the_note_raise_an_urgent_flag_at_once(plan):
    result = _move(plan, note="I can't go on, I want to kill myself")

    assert result.urgent
    flag = Flag.objects.get()
    assert flag.kind == Flag.Kind.URGENT and flag.patient == plan.patient


def test_a_confirmation_without_a_note_needs_nobody_and_with_one_reaches_the_inbox(plan):
    item = _session(plan, "integration")
    first = session_requests.request_confirm(patient=plan.patient, item=item, via="sms", now=NOW)
    assert first.message is None and first.request.kind == "confirm"
    assert not PatientMessage.objects.exists()

    second = session_requests.request_confirm(
        patient=plan.patient, item=item, note="Running 10 minutes late", via="link", now=NOW
    )

    assert not second.created and SessionRequest.objects.count() == 1  # updated, not duplicated
    assert "Running 10 minutes late" in PatientMessage.objects.get().body


def test_a_second_request_to_move_updates_the_open_one_instead_of_adding_a_row(plan):
    item = _session(plan)
    _move(plan, item=item, preferred_weekdays=[0])
    later = NOW + dt.timedelta(hours=1)

    second = _move(plan, item=item, preferred_weekdays=[4, 5], note="Fridays best", now=later)

    row = SessionRequest.objects.get()
    assert not second.created and row.pk == second.request.pk
    assert (row.preferred_weekdays, row.note, row.created_at) == ([4, 5], "Fridays best", later)


def test_confirming_withdraws_an_open_request_to_move_and_the_other_way_round(plan):
    item = _session(plan)
    moved = _move(plan, item=item).request
    session_requests.request_confirm(patient=plan.patient, item=item, via="link", now=NOW)

    moved.refresh_from_db()
    assert moved.status == "withdrawn"
    assert list(session_requests.open_requests().values_list("kind", flat=True)) == ["confirm"]


@pytest.mark.parametrize(
    ("weekdays", "field", "rule"),
    [
        ([7], "preferred_weekdays", "session_request.weekdays"),
        ([-1], "preferred_weekdays", "session_request.weekdays"),
        (["monday"], "preferred_weekdays", "session_request.weekdays"),
        ("0,1", "preferred_weekdays", "session_request.weekdays"),
    ],
)
def test_preferred_days_outside_monday_to_sunday_are_refused_on_their_field(
    plan, weekdays, field, rule
):
    with pytest.raises(ValidationError) as caught:
        _move(plan, preferred_weekdays=weekdays)
    errors = _rule(caught.value)
    assert list(errors) == [field] and rule in errors[field]
    assert not SessionRequest.objects.exists()


def test_a_note_longer_than_the_limit_is_refused_naming_the_field_and_rule(plan):
    with pytest.raises(ValidationError) as caught:
        _move(plan, note="x" * (session_requests.NOTE_MAX + 1))
    errors = _rule(caught.value)
    assert "session_request.note_length" in errors["note"] and "1000" in errors["note"]


def test_an_unknown_channel_is_refused(plan):
    with pytest.raises(ValidationError) as caught:
        _move(plan, via="fax")
    assert "session_request.via" in _rule(caught.value)["via"]


def test_only_the_patients_own_scheduled_future_sessions_take_a_request(plan, clinic):
    other = PatientFactory(clinic=clinic, last_name="Other")
    with pytest.raises(ValidationError) as caught:
        session_requests.request_reschedule(patient=other, item=_session(plan), via="link", now=NOW)
    assert "session_request.own_item" in _rule(caught.value)["item"]

    check_in = plan.items.filter(kind="check_in").first()
    with pytest.raises(ValidationError) as caught:
        _move(plan, item=check_in)
    assert "session_request.kind" in _rule(caught.value)["item"]

    item = _session(plan)
    with pytest.raises(ValidationError) as caught:
        _move(plan, item=item, now=item.start + dt.timedelta(minutes=1))
    assert "session_request.future" in _rule(caught.value)["item"]

    services.item_cancel(item=item, now=NOW)
    with pytest.raises(ValidationError) as caught:
        _move(plan, item=item)
    assert "session_request.not_scheduled" in _rule(caught.value)["item"]
    assert not SessionRequest.objects.exists()


def test_the_coordinators_reschedule_answers_the_open_request_in_the_same_change(make_plan, clinic):
    plan = make_plan()
    item = plan.items.get(key="dosing-3")
    row = _move(plan, item=item).request
    coordinator = CoordinatorFactory(clinic=clinic).user

    services.item_reschedule(
        item=item, new_start=item.start + dt.timedelta(days=1), now=NOW, answered_by=coordinator
    )

    row.refresh_from_db()
    assert (row.status, row.answered_by, row.answered_at) == ("answered", coordinator, NOW)
    assert row.answer.startswith("Moved to ")
    assert not session_requests.open_requests().exists()


def test_cancelling_the_session_or_the_course_answers_its_requests(plan):
    first, second = plan.items.filter(kind="dosing").order_by("start")[:2]
    a = _move(plan, item=first).request
    b = session_requests.request_confirm(
        patient=plan.patient, item=second, via="link", now=NOW
    ).request

    services.item_cancel(item=first, now=NOW)
    a.refresh_from_db()
    assert (a.status, a.answer) == ("answered", "Session cancelled.")
    services.plan_cancel(plan=plan, now=NOW)
    b.refresh_from_db()
    assert (b.status, b.answer) == ("answered", "Course cancelled.")


def test_a_failed_reschedule_leaves_the_request_open(plan):
    item = _session(plan)
    row = _move(plan, item=item).request
    with pytest.raises(ValidationError):
        services.item_reschedule(item=item, new_start=NOW - dt.timedelta(days=1), now=NOW)
    row.refresh_from_db()
    assert row.status == "open"


def test_session_for_reply_is_the_next_session_within_the_window(plan):
    first = plan.items.filter(kind__in=["dosing", "integration", "preparation", "booster"])
    first = first.order_by("start").first()
    assert session_requests.session_for_reply(plan.patient, NOW) == first
    far = first.start - session_requests.REPLY_WINDOW - dt.timedelta(hours=1)
    assert session_requests.session_for_reply(plan.patient, far) is None


# --- the patient pages -------------------------------------------------------------------------


def _path(plan, name, item) -> str:
    token = links.patient_schedule_url(plan.patient).rstrip("/").split("/")[-1]
    return reverse(name, args=[token, item.pk])


def test_the_move_page_has_labelled_weekday_boxes_and_records_the_request(client, plan):
    item = _session(plan, "integration")
    path = _path(plan, "patient-session-move", item)

    page = client.get(path).content.decode()
    assert 'type="checkbox" name="preferred_weekdays" value="0"' in page
    assert '<label for="id_preferred_weekdays_1">' in page and "Tuesday" in page
    assert '<label for="id_note">' in page

    response = client.post(path, {"preferred_weekdays": ["1", "3"], "note": "Mornings"})
    assert response.status_code == 200
    assert "your clinic has your request to move this session" in response.content.decode()
    row = SessionRequest.objects.get()
    assert (row.kind, row.via, row.preferred_weekdays, row.note) == (
        "reschedule",
        "link",
        [1, 3],
        "Mornings",
    )


def test_the_move_page_refuses_a_bad_day_on_its_field(client, plan):
    path = _path(plan, "patient-session-move", _session(plan, "integration"))
    response = client.post(path, {"preferred_weekdays": ["9"]})
    assert response.status_code == 400
    assert 'id="weekdays-error"' in response.content.decode()
    assert not SessionRequest.objects.exists()


def test_the_move_page_speaks_spanish_to_a_spanish_speaking_patient(client, plan):
    plan.patient.language = "es"
    plan.patient.save(update_fields=["language"])
    page = client.get(_path(plan, "patient-session-move", _session(plan, "integration")))
    text = page.content.decode()
    assert 'lang="es"' in text and "Pedir cambio de una sesión" in text and "martes" in text


def test_confirm_for_a_dosing_session_inside_72_hours_leads_to_the_readiness_form(
    client, plan, clock
):
    dose = _session(plan)
    clock.move_to(dose.start - dt.timedelta(hours=20))
    response = client.get(_path(plan, "patient-session-confirm", dose))
    assert response.status_code == 302
    assert response["Location"].endswith(f"/items/{dose.pk}/")


def test_confirm_for_a_dosing_session_further_ahead_records_attendance(client, plan):
    dose = _session(plan)
    path = _path(plan, "patient-session-confirm", dose)
    assert client.get(path).status_code == 200
    response = client.post(path, {"note": ""})
    assert "you have confirmed" in response.content.decode()
    assert SessionRequest.objects.get().kind == "confirm"


def test_another_patients_session_is_not_found_behind_this_link(client, plan, clinic, provider):
    other = PatientFactory(clinic=clinic, last_name="Elsewhere")
    other_plan = make_plan(patient=other, provider=provider, now=NOW).plan
    path = _path(plan, "patient-session-move", _session(other_plan, "integration"))
    assert client.get(path).status_code == 404
    assert client.post(path, {"preferred_weekdays": ["1"]}).status_code == 404
    assert not SessionRequest.objects.exists()


# --- the admin ---------------------------------------------------------------------------------


def test_the_admin_lists_open_requests_of_the_coordinators_clinic_only(client, plan, clinic):
    row = _move(plan, note="Can we do Thursday?").request
    other_clinic_patient = PatientFactory(last_name="Zebedeeson")
    other_provider = ProviderFactory(clinic=other_clinic_patient.clinic)
    other_plan = make_plan(patient=other_clinic_patient, provider=other_provider, now=NOW).plan
    hidden = _move(other_plan).request
    client.force_login(CoordinatorFactory(clinic=clinic).user)

    page = client.get(reverse("admin:plans_sessionrequest_changelist"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Quinlan" in text and "Can we do Thursday?" in text and "Tuesday, Thursday" in text
    assert "Zebedeeson" not in text
    item_page = reverse("admin:plans_treatmentplan_item", args=[plan.pk, row.item_id])
    assert item_page in text
    assert client.get(
        reverse("admin:plans_sessionrequest_change", args=[hidden.pk])
    ).status_code in (302, 403, 404)
    # The patient's words are shown, never editable.
    change = client.get(reverse("admin:plans_sessionrequest_change", args=[row.pk])).content
    assert b'name="note"' not in change and b"Can we do Thursday?" in change

    # The item page shows the request where the coordinator moves the session.
    assert b"Preferred days: Tuesday, Thursday" in client.get(item_page).content


def test_the_admin_reschedule_closes_the_request_as_answered_by_the_coordinator(
    client, make_plan, clinic
):
    plan = make_plan()
    item = plan.items.get(key="dosing-3")
    row = _move(plan, item=item).request
    user = CoordinatorFactory(clinic=clinic).user
    client.force_login(user)
    local = item.start.astimezone(ZoneInfo(clinic.time_zone)) + dt.timedelta(days=1)

    response = client.post(
        reverse("admin:plans_treatmentplan_item", args=[plan.pk, item.pk]),
        {"reschedule": "1", "new_start": local.strftime("%Y-%m-%d %H:%M")},
    )

    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.status, row.answered_by) == ("answered", user)


def test_the_schedule_offers_confirm_and_move_for_upcoming_sessions_only(client, plan):
    token = links.patient_schedule_url(plan.patient).rstrip("/").split("/")[-1]
    page = client.get(reverse("patient-schedule", args=[token])).content.decode()
    session = _session(plan, "integration")
    check_in = plan.items.filter(kind="check_in").first()
    assert reverse("patient-session-move", args=[token, session.pk]) in page
    assert reverse("patient-session-confirm", args=[token, session.pk]) in page
    assert f'id="move-{check_in.pk}"' not in page
    services.item_cancel(item=session, now=NOW)
    page = client.get(reverse("patient-schedule", args=[token])).content.decode()
    assert f'id="move-{session.pk}"' not in page


def test_mark_answered_closes_a_request_without_moving_the_session(client, plan, clinic):
    item = _session(plan, "integration")
    row = session_requests.request_confirm(
        patient=plan.patient, item=item, via="link", now=NOW
    ).request
    user = CoordinatorFactory(clinic=clinic).user
    client.force_login(user)

    response = client.post(
        reverse("admin:plans_sessionrequest_changelist"),
        {"action": "mark_answered", "_selected_action": [row.pk]},
    )

    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.status, row.answered_by, row.answer) == ("answered", user, "Seen by the clinic.")
    item.refresh_from_db()
    assert item.start == row.session_start
    with pytest.raises(ValidationError) as caught:
        session_requests.request_answer(request=row, by=user, now=NOW)
    assert "session_request.open" in _rule(caught.value)["status"]


def test_a_provider_sees_the_requests_of_their_own_patients_only(client, plan, clinic):
    mine = _move(plan).request
    colleague = ProviderFactory(clinic=clinic)
    other_patient = PatientFactory(clinic=clinic, last_name="Colleagueson")
    theirs = _move(make_plan(patient=other_patient, provider=colleague, now=NOW).plan).request
    client.force_login(plan.provider.user)

    text = client.get(reverse("admin:plans_sessionrequest_changelist")).content.decode()

    assert plan.patient.last_name in text and "Colleagueson" not in text
    change = reverse("admin:plans_sessionrequest_change", args=[theirs.pk])
    assert client.get(change).status_code in (302, 403, 404)
    assert (
        client.get(reverse("admin:plans_sessionrequest_change", args=[mine.pk])).status_code == 200
    )
