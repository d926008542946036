"""Questionnaires on the patient's item page, what they store, and the flags they raise: urgent
(PHQ-9 item 9, a clinic's own rule) with their alerts, and worsening from one score to the next."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from backend.measures import services
from backend.measures.models import QuestionnaireResponse
from backend.plans.models import PlanItem
from backend.plans.selectors import provider_upcoming_items
from backend.safety.models import Flag, PatientMessage
from tests.backend.safety.helpers import (
    both,
    checked_value,
    element,
    form_fields,
    gad7,
    html_of,
    item_path,
    journal_path,
    phq9,
)
from tests.support.clock import SUITE_NOW as NOW

pytestmark = pytest.mark.django_db

URGENT, BACKUP, WORSENING = (
    "provider_urgent_flag",
    "provider_urgent_flag_backup",
    "provider_worsening_flag",
)


def submit(plan, key: str, answers, now: dt.datetime):
    item = plan.items.get(key=key)
    return services.questionnaires_submit(
        patient=plan.patient, item=item, answers=answers, language="en", now=now
    )


def alerts_of(flag) -> set[tuple]:
    return set(flag.alerts.values_list("provider_id", "channel", "message_kind", "send_at"))


# --- one urgent submission on the item page ---------------------------------------------------


def test_phq9_item_9_above_zero_is_stored_scored_completes_the_assessment_and_shows_crisis_lines(
    client, plan, team
):
    item = plan.items.get(key="assessment-baseline")
    with time_machine.travel(NOW, tick=False):
        page = client.post(
            item_path(plan.patient, item), form_fields(both(phq9(17, q9=1), gad7(12)))
        )

    assert page.status_code == 200
    rows = {r.instrument: r for r in QuestionnaireResponse.objects.filter(patient=plan.patient)}
    assert set(rows) == {"phq9", "gad7"}
    phq, gad = rows["phq9"], rows["gad7"]
    assert (phq.total, phq.band, phq.urgent) == (17, "moderately_severe", True)
    assert phq.answers["9"] == 1 and phq.answers["10"] == 0  # difficulty kept, never scored
    assert (gad.total, gad.band, gad.urgent) == (12, "moderate", False)
    for row in (phq, gad):
        assert (row.item, row.plan, row.submitted_at, row.source) == (item, plan, NOW, "link")
    item.refresh_from_db()
    assert item.status == PlanItem.Status.COMPLETED

    crisis = element(html_of(page), "section", "crisis")
    assert "Call or text 988" in crisis and "call 911" in crisis
    assert 'href="tel:988"' in crisis and 'href="tel:911"' in crisis

    flag = Flag.objects.get()
    assert (flag.kind, flag.plan, flag.response) == ("urgent", plan, phq)
    assert flag.patient == plan.patient
    assert flag.open and flag.raised_at == NOW
    assert any("item 9" in reason for reason in flag.reasons)


def test_answers_with_nothing_urgent_show_no_crisis_lines_and_raise_no_flag(client, plan):
    item = plan.items.get(key="assessment-baseline")
    page = client.post(item_path(plan.patient, item), form_fields(both(phq9(14), gad7(9))))

    assert page.status_code == 200
    assert 'id="crisis"' not in html_of(page)
    assert "Thank you. Your answers are with your care team." in html_of(page)
    assert QuestionnaireResponse.objects.count() == 2
    assert not Flag.objects.exists()


def test_an_urgent_answer_alerts_provider_and_on_call_now_and_the_backup_escalation_minutes_on(
    client, plan, team, clinic
):
    clinic.escalation_minutes = 45
    clinic.save()
    item = plan.items.get(key="assessment-baseline")
    with time_machine.travel(NOW, tick=False):
        client.post(item_path(plan.patient, item), form_fields(both(phq9(4, q9=2))))

    flag = Flag.objects.get()
    later = NOW + dt.timedelta(minutes=45)
    assert flag.backup_due_at == later
    assert alerts_of(flag) == {
        (team.provider.pk, "email", URGENT, NOW),
        (team.provider.pk, "sms", URGENT, NOW),
        (team.on_call.pk, "email", URGENT, NOW),
        (team.on_call.pk, "sms", URGENT, NOW),
        (team.backup.pk, "email", BACKUP, later),
        (team.backup.pk, "sms", BACKUP, later),
    }
    assert set(flag.alerts.values_list("audience", "status")) == {("provider", "scheduled")}


def test_with_no_backup_named_the_first_responders_are_alerted_again_when_nobody_acknowledges(
    plan, team, clinic
):
    clinic.backup_contact = None
    clinic.save()
    [phq, _] = submit(plan, "assessment-baseline", both(phq9(3, q9=1)), NOW)

    flag = Flag.objects.get(response=phq)
    again = NOW + dt.timedelta(minutes=clinic.escalation_minutes)
    backups = {a for a in alerts_of(flag) if a[2] == BACKUP}
    assert backups == {
        (person.pk, channel, BACKUP, again)
        for person in (team.provider, team.on_call)
        for channel in ("email", "sms")
    }


# --- incomplete submissions -------------------------------------------------------------------


def test_a_partial_submission_is_refused_whole_naming_each_missing_question_and_keeping_answers(
    client, plan
):
    item = plan.items.get(key="assessment-baseline")
    fields = form_fields(both(phq9(10), gad7(6)))
    missing = ("phq9-q3", "gad7-q5")
    for name in missing:
        del fields[name]

    page = client.post(item_path(plan.patient, item), fields)

    assert page.status_code == 400
    assert not QuestionnaireResponse.objects.exists()
    assert not Flag.objects.exists()
    item.refresh_from_db()
    assert item.status == PlanItem.Status.SCHEDULED
    html = html_of(page)
    assert "Some answers are missing; they are marked below. Nothing has been sent yet." in html
    for name in missing:
        block = element(html, "fieldset", name)
        assert 'class="invalid"' in block
        assert f'<p class="error" id="{name}-error">Please answer this question.</p>' in block
        assert checked_value(block) is None
    for name, value in fields.items():
        block = element(html, "fieldset", name)
        assert "Please answer" not in block, name
        assert checked_value(block) == value, name


def test_an_urgent_answer_in_a_refused_submission_still_reaches_a_clinician(client, plan):
    """Item 9 answered "nearly every day" with one question skipped: nothing is recorded as a
    response, but the crisis lines show and one urgent flag is raised (not one per retry)."""
    item = plan.items.get(key="assessment-baseline")
    fields = form_fields(both(phq9(12, q9=3), gad7(6)))
    del fields["gad7-q2"]

    for _ in range(2):  # the patient tries again without finishing
        page = client.post(item_path(plan.patient, item), fields)
        assert page.status_code == 400
        html = html_of(page)
        assert 'id="crisis"' in html and "988" in html and "911" in html

    assert not QuestionnaireResponse.objects.exists()
    (flag,) = Flag.objects.all()
    assert flag.kind == "urgent" and flag.response is None
    assert "incomplete" in flag.reasons[0] and "item 9" in flag.reasons[0]
    assert flag.alerts.filter(message_kind="provider_urgent_flag").exists()


def test_an_empty_submission_is_refused_with_every_question_marked(client, plan):
    item = plan.items.get(key="assessment-baseline")

    page = client.post(item_path(plan.patient, item), {})

    assert page.status_code == 400
    assert not QuestionnaireResponse.objects.exists()
    html = html_of(page)
    names = [f"phq9-q{n}" for n in range(1, 11)] + [f"gad7-q{n}" for n in range(1, 9)]
    for name in names:
        assert f'id="{name}-error">Please answer this question.' in element(html, "fieldset", name)
    assert html.count("Please answer this question.") == len(names)
    item.refresh_from_db()
    assert item.status == PlanItem.Status.SCHEDULED


# --- language ---------------------------------------------------------------------------------


def test_a_spanish_speaking_patient_gets_the_spanish_phq9_and_spanish_crisis_lines(client, plan):
    patient = plan.patient
    patient.language = "es"
    patient.save()
    item = plan.items.get(key="assessment-baseline")
    path = item_path(patient, item)

    form = html_of(client.get(path))
    assert "Poco interés o placer en hacer cosas" in form
    assert "Se ha sentido nervioso(a), ansioso(a) o con los nervios de punta" in form
    assert "Little interest or pleasure" not in form
    assert "Enviar a mi equipo de atención" in form

    page = client.post(path, form_fields(both(phq9(12, q9=2))))
    crisis = element(html_of(page), "section", "crisis")
    assert "Si está pensando en hacerse daño, pida ayuda ahora" in crisis
    assert "Llame al 988 y marque 2" in crisis and "llame al 911" in crisis
    assert "Call or text 988" not in crisis
    assert set(QuestionnaireResponse.objects.values_list("language", flat=True)) == {"es"}


# --- the prescriber's check-in is staff's to complete -----------------------------------------


def test_nothing_the_patient_sends_before_a_check_in_completes_the_prescribers_check_in(
    client, plan, provider
):
    patient = plan.patient
    check_in = plan.items.get(key="check_in-1")
    assessment = plan.items.get(key="assessment-check_in-1")

    answered = client.post(item_path(patient, assessment), form_fields(both(phq9(6), gad7(3))))
    shared = client.post(
        journal_path(patient, check_in), {"text": "Sleeping better this week.", "shared": "on"}
    )
    private = client.post(journal_path(patient, check_in), {"text": "Just for me."})
    note = client.post(item_path(patient, check_in), {"text": "Can we talk about my dose?"})

    assert [r.status_code for r in (answered, shared, private, note)] == [200] * 4
    assert "Your check-in is still on the calendar." in html_of(note)
    assessment.refresh_from_db()
    check_in.refresh_from_db()
    assert assessment.status == PlanItem.Status.COMPLETED
    assert check_in.status == PlanItem.Status.SCHEDULED
    upcoming = provider_upcoming_items(
        provider_id=provider.pk, now=check_in.start - dt.timedelta(days=1)
    )
    assert check_in in upcoming
    # Both the shared entry and the note reached the inbox, tied to the check-in; the private
    # entry did not.
    inbox = PatientMessage.objects.filter(patient=patient)
    assert sorted(inbox.values_list("source", "item", "body")) == [
        ("check_in_note", check_in.pk, "Can we talk about my dose?"),
        ("journal", check_in.pk, "Sleeping better this week."),
    ]


# --- worsening --------------------------------------------------------------------------------


def test_a_phq9_five_points_above_the_last_raises_a_worsening_flag_emailed_to_the_provider_only(
    plan, team
):
    submit(plan, "assessment-baseline", both(phq9(5)), NOW)
    later = NOW + dt.timedelta(days=11)
    [phq, _] = submit(plan, "assessment-midcourse", both(phq9(10)), later)

    flag = Flag.objects.get()
    assert (flag.kind, flag.response, flag.backup_due_at) == ("worsening", phq, None)
    assert any("rose 5 points (5 to 10)" in reason for reason in flag.reasons)
    assert alerts_of(flag) == {(team.provider.pk, "email", WORSENING, later)}


def test_a_score_two_bands_up_raises_a_worsening_flag_naming_the_bands(plan, team):
    submit(plan, "assessment-baseline", both(phq9(4)), NOW)
    submit(plan, "assessment-midcourse", both(phq9(10)), NOW + dt.timedelta(days=11))

    flag = Flag.objects.get()
    assert flag.kind == "worsening"
    assert any("moved 2 bands up (Minimal to Moderate)" in reason for reason in flag.reasons)


def test_a_gad7_five_points_up_is_worsening_too(plan, team):
    submit(plan, "assessment-baseline", both(phq9(8), gad7(3)), NOW)
    [_, gad] = submit(
        plan, "assessment-midcourse", both(phq9(8), gad7(8)), NOW + dt.timedelta(days=11)
    )

    assert Flag.objects.get().response == gad


@pytest.mark.parametrize(
    ("before", "after"),
    [(10, 14), (5, 9), (15, 19), (8, 12), (14, 3)],
    ids=["4-within-moderate", "4-within-mild", "4-within-mod-severe", "4-across-one-band", "drop"],
)
def test_a_rise_of_four_or_a_drop_raises_no_flag(plan, team, before, after):
    submit(plan, "assessment-baseline", both(phq9(before)), NOW)
    submit(plan, "assessment-midcourse", both(phq9(after)), NOW + dt.timedelta(days=11))

    assert not Flag.objects.exists()
    assert not plan.reminders.filter(flag__isnull=False).exists()


# --- a clinic's own urgent answers ------------------------------------------------------------

GAD7_Q7_RULE = [{"instrument": "gad7", "question": 7, "min_value": 3}]


def test_a_clinic_rule_on_gad7_question_7_makes_the_response_urgent(plan, clinic, team):
    clinic.urgent_answers = GAD7_Q7_RULE
    clinic.save()

    [phq, gad] = submit(plan, "assessment-baseline", both(phq9(3), gad7(8, q7=3)), NOW)

    gad.refresh_from_db()
    assert gad.urgent and not phq.urgent
    assert gad.urgent_reasons == [
        "GAD7 question 7 answered 3 (this clinic's urgent rule: 3 or more)"
    ]
    flag = Flag.objects.get()
    assert (flag.kind, flag.response) == ("urgent", gad)
    assert {kind for _, _, kind, _ in alerts_of(flag)} == {URGENT, BACKUP}


@pytest.mark.parametrize(
    ("rule", "q7"), [(GAD7_Q7_RULE, 2), ([], 3)], ids=["below-the-rule", "no-rule"]
)
def test_gad7_question_7_is_not_urgent_below_the_clinic_rule_or_without_one(plan, clinic, rule, q7):
    clinic.urgent_answers = rule
    clinic.save()

    [_, gad] = submit(plan, "assessment-baseline", both(phq9(3), gad7(8, q7=q7)), NOW)

    gad.refresh_from_db()
    assert not gad.urgent
    assert not Flag.objects.exists()
