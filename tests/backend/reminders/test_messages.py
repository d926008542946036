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


@pytest.mark.django_db
def test_patients_read_neutral_titles_and_staff_keep_theirs(make_plan):
    from icalendar import Calendar

    from tests.backend.conftest import NOW

    plan = make_plan()
    reminder = plan.reminders.get(key="dosing-1:prep_48h:email")
    assert reminder.item.title.startswith("Dosing session")
    rendered = messages.render(reminder, channel="email")
    assert messages.build_context(reminder)["item_title"] == "Session 1"
    for part in (rendered.subject, rendered.text, rendered.html):
        assert "Dosing" not in part and "PHQ" not in part
    email = messages.build_email(reminder, rendered, now=NOW)
    (event,) = Calendar.from_ical(email.attachments[0][1]).walk("VEVENT")
    assert str(event["SUMMARY"]) == f"Session 1 · {plan.clinic.sender_name}"
    task = plan.reminders.filter(message_kind="provider_task_due").first()
    assert messages.build_context(task)["task_title"] == task.item.title


@pytest.mark.django_db
def test_spanish_emails_name_the_treatment_in_spanish(reminder):
    reminder.plan.patient.language = "es"
    reminder.plan.patient.save()
    reminder.plan.clinic.name_treatment_in_messages = True
    reminder.plan.clinic.save()
    context = messages.build_context(reminder)
    assert context["treatment_name"] == "ketamina" and context["item_title"] == "Sesión 1"
    text = messages.render(reminder, channel="email").text
    assert "ketamina" in text and "ketamine" not in text


@pytest.mark.django_db
def test_preparation_gives_the_protocols_fasting_numbers(reminder):
    protocol = reminder.plan.protocol.engine_protocol()
    food, liquids = protocol.prep_value("food_hours"), protocol.prep_value("liquids_hours")
    assert food and liquids
    text = messages.render(reminder, channel="email").text
    assert f"no food for {food} hours and no liquids for {liquids} hours" in text
    assert "as your care team advised" not in text


@pytest.mark.django_db
def test_texts_open_with_the_text_sender_name(make_plan):
    plan = make_plan()
    plan.clinic.sms_sender_name = "Harbor Light"
    plan.clinic.save()
    reminder = plan.reminders.filter(channel="sms", audience="patient").first()
    assert messages.render(reminder, channel="sms").sms.startswith("Harbor Light: ")


@pytest.mark.django_db
def test_a_clinic_name_that_names_the_drug_never_becomes_the_sender(make_plan):
    from tests.backend.conftest import NOW

    plan = make_plan()
    clinic = plan.clinic
    # Saved past the form's check (an old row): the messages still refuse to use it.
    clinic.name, clinic.sender_name, clinic.sms_sender_name = "Mile High Ketamine Center", "", ""
    clinic.save()
    sms = plan.reminders.filter(channel="sms", audience="patient").first()
    assert messages.render(sms, channel="sms").sms.startswith("Your care team: ")
    email = plan.reminders.get(key="dosing-1:prep_48h:email")
    outgoing = messages.build_email(email, messages.render(email, channel="email"), now=NOW)
    assert "Ketamine" not in outgoing.from_email and "Your care team" in outgoing.from_email
    assert "Ketamine" not in outgoing.text


@pytest.mark.django_db
def test_a_protocol_is_parsed_once_for_all_its_messages(make_plan):
    from backend.reminders import protocol_text

    plan = make_plan()
    rows = list(plan.reminders.filter(audience="patient", channel="email")[:5])
    messages.render(rows[0], channel="email")
    before = protocol_text._parsed.cache_info()
    for row in rows[1:]:
        messages.render(row, channel="email")
    after = protocol_text._parsed.cache_info()
    assert after.misses == before.misses and after.hits > before.hits
