"""Readiness before a dosing or booster session (the attestation): the service, the patient's page
behind the session's link, and what staff see (plan page, item page, dashboard)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from backend.plans import readiness, services
from backend.plans.models import SessionReadiness
from backend.safety.models import Flag, PatientMessage
from scheduler import load_library
from tests.backend.safety.helpers import html_of, item_path
from tests.factories import CoordinatorFactory

pytestmark = pytest.mark.django_db

ALL = dict.fromkeys(readiness.FIELDS, True)


def _first_dose(plan):
    return plan.items.get(key="dosing-1")


def _day_before(item) -> dt.datetime:
    return item.start - dt.timedelta(hours=20)


# --- the service -------------------------------------------------------------------------------


def test_all_four_statements_confirm_the_session_and_nothing_reaches_the_inbox(plan):
    dose = _first_dose(plan)
    now = _day_before(dose)
    assert not readiness.is_confirmed(dose)

    result = readiness.readiness_confirm(item=dose, answers=ALL, via="link", now=now)

    assert result.confirmed and result.message is None
    assert readiness.is_confirmed(dose)
    row = SessionReadiness.objects.get(item=dose)
    assert (row.confirmed_at, row.via, row.answered_at) == (now, "link", now)
    assert PatientMessage.objects.count() == 0


def test_a_statement_left_unticked_is_not_confirmed_and_reaches_the_clinic_inbox(plan):
    dose = _first_dose(plan)
    answers = {**ALL, "ride_home": False}

    result = readiness.readiness_confirm(
        item=dose, answers=answers, via="link", now=_day_before(dose)
    )

    assert not result.confirmed and not readiness.is_confirmed(dose)
    message = PatientMessage.objects.get()
    assert (message.source, message.item, message.patient) == ("readiness", dose, plan.patient)
    assert "NOT confirmed" in message.body and "ride home" in message.body
    assert message.read_at is None  # waits in the inbox for a person


def test_a_note_reaches_the_inbox_even_when_everything_is_confirmed(plan):
    dose = _first_dose(plan)

    result = readiness.readiness_confirm(
        item=dose, answers={**ALL, "note": "I started a new inhaler"}, via="link",
        now=_day_before(dose),
    )  # fmt: skip

    assert result.confirmed
    assert "I started a new inhaler" in PatientMessage.objects.get().body


def test_words_of_distress_in_the_note_raise_an_urgent_flag(plan):
    dose = _first_dose(plan)

    readiness.readiness_confirm(
        item=dose, answers={**ALL, "note": "I want to kill myself"}, via="link",
        now=_day_before(dose),
    )  # fmt: skip

    assert Flag.objects.get().kind == Flag.Kind.URGENT


def test_unticking_after_confirming_withdraws_the_confirmation(plan):
    dose = _first_dose(plan)
    now = _day_before(dose)
    readiness.readiness_confirm(item=dose, answers=ALL, via="link", now=now)

    readiness.readiness_confirm(
        item=dose, answers={**ALL, "no_alcohol": False}, via="link", now=now + dt.timedelta(hours=1)
    )

    assert not readiness.is_confirmed(dose)
    assert SessionReadiness.objects.count() == 1


@pytest.mark.parametrize(
    ("answers", "via", "field"),
    [
        (ALL, "fax", "via"),
        ({**ALL, "mood": True}, "link", "mood"),
        ({**ALL, "fasting": "yes"}, "link", "fasting"),
        ({**ALL, "note": "x" * 2001}, "link", "note"),
    ],
)
def test_bad_answers_are_refused_naming_the_field(plan, answers, via, field):
    dose = _first_dose(plan)
    with pytest.raises(ValidationError) as err:
        readiness.readiness_confirm(item=dose, answers=answers, via=via, now=_day_before(dose))
    assert field in err.value.message_dict
    assert SessionReadiness.objects.count() == 0


@pytest.mark.parametrize(
    ("which", "offset", "rule"),
    [
        ("dosing-1", dt.timedelta(minutes=1), "readiness.after_start"),
        ("dosing-1", -dt.timedelta(days=4), "readiness.too_early"),
        ("integration-1", -dt.timedelta(hours=20), "readiness.kind"),
    ],
)
def test_items_that_take_no_answer_now_are_refused_naming_the_rule(plan, which, offset, rule):
    item = plan.items.get(key=which)
    with pytest.raises(ValidationError) as err:
        readiness.readiness_confirm(item=item, answers=ALL, via="link", now=item.start + offset)
    assert rule in err.value.message_dict["item"][0]


def test_the_statements_carry_the_protocols_numbers():
    """Esketamine's label: no food for 2 h and no liquids for 30 min before a dose."""
    params = {"food_hours": 2, "liquids_minutes": 30, "avoid_alcohol_hours": 24}
    engine = SimpleNamespace(prep_value=params.get)
    texts = dict(readiness.statements(engine, "en"))
    assert (
        texts["fasting"]
        == "I will not eat for 2 hours and not drink for 30 minutes before my session."
    )
    assert "for 24 hours before" in texts["no_alcohol"]
    es = dict(readiness.statements(engine, "es"))
    assert "2 horas" in es["fasting"] and "30 minutos" in es["fasting"]
    one = dict(readiness.statements(SimpleNamespace(prep_value={"food_hours": 1.0}.get), "en"))
    assert one["fasting"] == "I will not eat for 1 hour before my session."


def test_the_built_in_esketamine_protocol_gives_its_numbers():
    engine = load_library()["esketamine-nasal-spray"]
    assert (
        "not eat for 2 hours and not drink for 30 minutes"
        in dict(readiness.statements(engine, "en"))["fasting"]
    )


def test_the_alcohol_statement_never_asks_to_stop_prescribed_medicines():
    """Patients on prescribed benzodiazepines, opioids or gabapentinoids must not stop them on
    their own: the statement is about alcohol, and medicines only as prescribed."""
    engine = SimpleNamespace(prep_value={"avoid_alcohol_hours": 24}.get)
    assert dict(readiness.statements(engine, "en"))["no_alcohol"] == (
        "I will not drink alcohol for 24 hours before, and I take sedatives, sleep medicines and "
        "my other medicines only as my prescriber told me."
    )
    es = dict(readiness.statements(engine, "es"))["no_alcohol"]
    assert "24 horas" in es and "solo como me indicó quien me los recetó" in es
    for language in ("en", "es"):
        for protocol in (engine, None):
            text = dict(readiness.statements(protocol, language))["no_alcohol"]
            assert "sedatives for" not in text and "ni sedantes" not in text, text


def test_the_statements_read_the_numbers_as_the_messages_do():
    """One reading of a protocol's preparation (protocol_text.preparation_context): liquids given
    in hours, and a fasting rule for liquids only, read as the emails read them."""
    from backend.reminders import protocol_text

    engine = SimpleNamespace(prep_value={"liquids_hours": 2}.get)
    prep = protocol_text.preparation_context(engine)
    fasting = dict(readiness.statements(engine, "en"))["fasting"]
    assert fasting == "I will not drink for 2 hours before my session."
    assert protocol_text.duration_words(prep["liquids"], "en") in fasting
    assert not hasattr(readiness, "prep_value") and not hasattr(readiness, "UNITS")


def test_without_numbers_the_statements_still_read_plainly():
    texts = dict(readiness.statements(None, "en"))
    assert texts["fasting"].startswith("I will follow the eating and drinking instructions")
    assert set(texts) == set(readiness.FIELDS)


# --- the patient's page ----------------------------------------------------------------------


def test_the_session_page_shows_the_four_statements_and_confirms_when_all_are_ticked(
    client, plan, clock
):
    dose = _first_dose(plan)
    clock.move_to(_day_before(dose))
    path = item_path(plan.patient, dose)

    page = html_of(client.get(path))
    assert page.count('type="checkbox"') == 4 and 'id="readiness-form"' in page

    response = client.post(path, {f: "on" for f in readiness.FIELDS})

    assert response.status_code == 200
    assert 'id="readiness-confirmed"' in html_of(response)
    assert readiness.is_confirmed(dose)
    assert SessionReadiness.objects.get(item=dose).via == "link"


def test_an_unticked_statement_on_the_page_says_so_and_tells_the_care_team(client, plan, clock):
    dose = _first_dose(plan)
    clock.move_to(_day_before(dose))

    response = client.post(
        item_path(plan.patient, dose), {"fasting": "on", "ride_home": "on", "no_alcohol": "on"}
    )

    page = html_of(response)
    assert 'id="readiness-not-confirmed"' in page and "new medicine" in page
    assert not readiness.is_confirmed(dose)
    assert PatientMessage.objects.get().source == "readiness"


def test_a_session_weeks_ahead_shows_no_form_yet(client, plan):
    dose = plan.items.filter(kind="dosing").order_by("-start").first()
    page = html_of(client.get(item_path(plan.patient, dose)))
    assert 'id="readiness-form"' not in page and 'id="readiness-too-early"' in page


# --- what staff see --------------------------------------------------------------------------


def test_plan_page_and_item_page_show_readiness_red_when_missing_within_24h(client, plan, clock):
    coordinator = CoordinatorFactory(clinic=plan.clinic)
    client.force_login(coordinator.user)
    dose, second = _first_dose(plan), plan.items.get(key="dosing-2")
    clock.move_to(dose.start - dt.timedelta(hours=12))

    page = html_of(client.get(f"/admin/plans/treatmentplan/{plan.pk}/change/"))
    assert 'class="readiness readiness-late"' in page and "Not confirmed" in page

    readiness.readiness_confirm(
        item=dose, answers=ALL, via="sms", now=dose.start - dt.timedelta(hours=12)
    )
    page = html_of(client.get(f"/admin/plans/treatmentplan/{plan.pk}/change/"))
    assert "Ready: confirmed" in page and "by text" in page
    item_page = html_of(client.get(f"/admin/plans/treatmentplan/{plan.pk}/items/{dose.pk}/"))
    assert "Ready: confirmed" in item_page
    assert second.start - dose.start > readiness.OPENS_BEFORE or "Not confirmed" in page


def test_provider_dashboard_shows_readiness(client, plan, provider, clock):
    dose = _first_dose(plan)
    clock.move_to(dose.start - dt.timedelta(hours=12))
    client.force_login(provider.user)

    page = html_of(client.get("/provider/"))
    assert "Not confirmed" in page

    readiness.readiness_confirm(
        item=dose, answers=ALL, via="link", now=dose.start - dt.timedelta(hours=12)
    )
    assert "Ready: confirmed" in html_of(client.get("/provider/"))


def test_a_confirmation_no_longer_holds_once_the_session_moves(plan):
    """The patient promised no alcohol for 24 hours before *that* time: a moved session asks
    again (a reschedule, or a re-plan after a miss)."""
    dose = _first_dose(plan)
    now = _day_before(dose)
    readiness.readiness_confirm(item=dose, answers=ALL, via="link", now=now)
    assert readiness.session_to_confirm(plan.patient, now) != dose

    services.item_reschedule(item=dose, new_start=dose.start + dt.timedelta(hours=3), now=now)

    dose.refresh_from_db()
    assert not readiness.is_confirmed(dose)
    assert readiness.session_to_confirm(plan.patient, now) == dose
    status = readiness.readiness_status(
        dose, SessionReadiness.objects.get(item=dose), now=now, zone=plan.clinic.time_zone
    )
    assert status["text"] == "Not confirmed since the session moved"
    readiness.readiness_confirm(item=dose, answers=ALL, via="sms", now=now)
    assert readiness.is_confirmed(dose)
