"""What a real reminder row renders to: the patient's language, zone and privacy settings."""

import pytest

from backend.reminders import messages


@pytest.fixture()
def reminder(make_plan):
    plan = make_plan()
    return plan.reminders.select_related("item", "plan__patient", "plan__clinic").get(
        key="dosing-1:prep_48h:email"
    )


@pytest.mark.django_db
def test_a_spanish_speaking_patient_reads_dates_in_spanish(reminder):
    patient = reminder.plan.patient
    patient.language = "es"
    patient.save()
    rendered = messages.render(reminder, channel="email")
    assert rendered.language == "es"
    context = messages.build_context(reminder)
    assert " de " in context["item_when"], context["item_when"]
    assert context["item_when"] in rendered.text


@pytest.mark.django_db
def test_dates_are_on_the_patients_clock(reminder):
    patient = reminder.plan.patient
    patient.time_zone = "America/Los_Angeles"
    patient.save()
    local = reminder.item.start.astimezone(__import__("zoneinfo").ZoneInfo("America/Los_Angeles"))
    assert messages.build_context(reminder)["item_time"] == local.strftime("%-I:%M %p")


@pytest.mark.django_db
def test_the_treatment_is_named_only_when_the_clinic_allows_it(reminder):
    clinic = reminder.plan.clinic
    assert messages.build_context(reminder)["names_treatment"] is False
    clinic.name_treatment_in_messages = True
    clinic.save()
    context = messages.build_context(reminder)
    assert context["names_treatment"] is True and context["treatment_name"] == "ketamine"
    rendered = messages.render(reminder, channel="email")
    assert "ketamine" not in rendered.subject.lower()  # never in a subject


@pytest.mark.django_db
def test_provider_messages_carry_no_patient_link(make_plan):
    """A patient's signed links act as that patient: a provider's notice must never hold one."""
    plan = make_plan()
    for_providers = list(plan.reminders.filter(audience="provider"))
    kinds = {r.message_kind for r in for_providers}
    assert {"provider_task_due", "provider_checkins_tomorrow"} <= kinds
    for reminder in for_providers:
        rendered = messages.render(reminder)
        for part in (rendered.subject, rendered.text, rendered.html, rendered.sms):
            assert "/unsubscribe/" not in part and "/p/" not in part, (reminder.key, part)
        assert "ask your clinic's coordinator" in rendered.text
    patient_email = plan.reminders.filter(audience="patient", channel="email").first()
    assert "/unsubscribe/" in messages.render(patient_email).text
