"""What a real reminder row renders to: the patient's language, zone and privacy settings."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from backend.reminders import compose, digest
from backend.reminders.models import Reminder


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
    rendered = compose.render(reminder, channel="email")
    assert rendered.language == "es"
    context = compose.build_context(reminder)
    assert " de " in context["item_when"], context["item_when"]
    assert context["item_when"] in rendered.text


@pytest.mark.django_db
def test_dates_are_on_the_patients_clock(reminder):
    patient = reminder.plan.patient
    patient.time_zone = "America/Los_Angeles"
    patient.save()
    local = reminder.item.start.astimezone(__import__("zoneinfo").ZoneInfo("America/Los_Angeles"))
    assert compose.build_context(reminder)["item_time"] == local.strftime("%-I:%M %p")


@pytest.mark.django_db
def test_the_treatment_is_named_only_when_the_clinic_allows_it(reminder):
    clinic = reminder.plan.clinic
    assert compose.build_context(reminder)["names_treatment"] is False
    clinic.name_treatment_in_messages = True
    clinic.save()
    context = compose.build_context(reminder)
    assert context["names_treatment"] is True and context["treatment_name"] == "ketamine"
    rendered = compose.render(reminder, channel="email")
    assert "ketamine" not in rendered.subject.lower()  # never in a subject


@pytest.mark.django_db
def test_provider_messages_carry_no_patient_link(make_plan):
    """A patient's signed links act as that patient: a provider's notice must never hold one."""
    plan = make_plan()
    # The day of the first dosing session, at 07:05 clinic time: that day's digest is created.
    first = plan.items.filter(kind="dosing").order_by("start").first()
    seven = dt.datetime.combine(first.local_date, dt.time(7, 5), tzinfo=ZoneInfo(first.time_zone))
    assert digest.create_due_digests(now=seven) == 1
    for_providers = [
        *plan.reminders.filter(audience="provider"),
        *Reminder.objects.filter(message_kind=digest.DIGEST_KIND, provider=plan.provider),
    ]
    kinds = {r.message_kind for r in for_providers}
    # The per-check-in notice is gone (#15); the daily digest lists the day instead.
    assert {"provider_task_due", digest.DIGEST_KIND} <= kinds
    assert "provider_checkins_tomorrow" not in kinds
    for reminder in for_providers:
        rendered = compose.render(reminder)
        for part in (rendered.subject, rendered.text, rendered.html, rendered.sms):
            assert "/unsubscribe/" not in part and "/p/" not in part, (reminder.key, part)
        assert "ask your clinic's coordinator" in rendered.text
    patient_email = plan.reminders.filter(audience="patient", channel="email").first()
    assert "/unsubscribe/" in compose.render(patient_email).text


@pytest.mark.django_db
def test_patients_read_neutral_titles_and_staff_keep_theirs(make_plan):
    from icalendar import Calendar

    from tests.backend.conftest import NOW

    plan = make_plan()
    reminder = plan.reminders.get(key="dosing-1:prep_48h:email")
    assert reminder.item.title.startswith("Dosing session")
    rendered = compose.render(reminder, channel="email")
    assert compose.build_context(reminder)["item_title"] == "Session 1"
    for part in (rendered.subject, rendered.text, rendered.html):
        assert "Dosing" not in part and "PHQ" not in part
    email = compose.build_email(reminder, rendered, now=NOW)
    (event,) = Calendar.from_ical(email.attachments[0][1]).walk("VEVENT")
    assert str(event["SUMMARY"]) == f"Session 1 · {plan.clinic.sender_name}"
    task = plan.reminders.filter(message_kind="provider_task_due").first()
    assert compose.build_context(task)["task_title"] == task.item.title


@pytest.mark.django_db
def test_spanish_emails_name_the_treatment_in_spanish(reminder):
    reminder.plan.patient.language = "es"
    reminder.plan.patient.save()
    reminder.plan.clinic.name_treatment_in_messages = True
    reminder.plan.clinic.save()
    context = compose.build_context(reminder)
    assert context["treatment_name"] == "ketamina" and context["item_title"] == "Sesión 1"
    text = compose.render(reminder, channel="email").text
    assert "ketamina" in text and "ketamine" not in text


@pytest.mark.django_db
def test_preparation_gives_the_protocols_fasting_numbers(reminder):
    protocol = reminder.plan.protocol.engine_protocol()
    food, liquids = protocol.prep_value("food_hours"), protocol.prep_value("liquids_hours")
    assert food and liquids
    text = compose.render(reminder, channel="email").text
    assert f"no food for {food} hours and no liquids for {liquids} hours" in text
    assert "as your care team advised" not in text


@pytest.mark.django_db
def test_texts_open_with_the_text_sender_name(make_plan):
    plan = make_plan()
    plan.clinic.sms_sender_name = "Harbor Light"
    plan.clinic.save()
    reminder = plan.reminders.filter(channel="sms", audience="patient").first()
    assert compose.render(reminder, channel="sms").sms.startswith("Harbor Light: ")


@pytest.mark.django_db
def test_a_clinic_name_that_names_the_drug_never_becomes_the_sender(make_plan):
    from tests.backend.conftest import NOW

    plan = make_plan()
    clinic = plan.clinic
    # Saved past the form's check (an old row): the messages still refuse to use it.
    clinic.name, clinic.sender_name, clinic.sms_sender_name = "Mile High Ketamine Center", "", ""
    clinic.save()
    sms = plan.reminders.filter(channel="sms", audience="patient").first()
    assert compose.render(sms, channel="sms").sms.startswith("Your care team: ")
    email = plan.reminders.get(key="dosing-1:prep_48h:email")
    outgoing = compose.build_email(email, compose.render(email, channel="email"), now=NOW)
    assert "Ketamine" not in outgoing.from_email and "Your care team" in outgoing.from_email
    assert "Ketamine" not in outgoing.text


@pytest.mark.django_db
def test_a_protocol_is_parsed_once_for_all_its_messages(make_plan):
    from backend.reminders import protocol_text

    plan = make_plan()
    rows = list(plan.reminders.filter(audience="patient", channel="email")[:5])
    compose.render(rows[0], channel="email")
    before = protocol_text._parsed.cache_info()
    for row in rows[1:]:
        compose.render(row, channel="email")
    after = protocol_text._parsed.cache_info()
    assert after.misses == before.misses and after.hits > before.hits


# --- #13 clinical review: the words depend on when and to whom a message goes ------------------


@pytest.mark.django_db
def test_a_same_evening_day_after_message_says_not_tonight_and_not_until_after_sleep(make_plan):
    """The pain series' `evening_after` goes ~6 h after an infusion starts: the same evening.
    "Do not drive today" would read as permission to drive tomorrow morning."""
    from tests import factories

    plan = make_plan(protocol=factories.protocol("chronic-pain-infusion-series"))
    rows = plan.reminders.select_related("item", "plan__patient", "plan__clinic").filter(
        rule="evening_after", channel="email"
    )
    reminder = rows.order_by("send_at").first()
    assert reminder is not None and reminder.message_kind == "day_after"
    context = compose.build_context(reminder, channel="email")
    assert context["same_day"] is True
    text = compose.render(reminder, channel="email").text
    assert "Do not drive tonight, and not until tomorrow after a restful sleep." in text
    assert "do not drive today" not in text

    # The same row sent the next day keeps "today" (it is then the day after).
    reminder.send_at = reminder.item.start + dt.timedelta(days=1)
    assert compose.build_context(reminder, channel="email")["same_day"] is False
    assert "do not drive today" in compose.render(reminder, channel="email").text


@pytest.mark.django_db
def test_the_same_evening_is_the_patients_evening(make_plan):
    """Whether the message goes the same day is read on the patient's clock, not UTC's."""
    from tests import factories

    plan = make_plan(protocol=factories.protocol("chronic-pain-infusion-series"))
    reminder = plan.reminders.filter(rule="evening_after").order_by("send_at").first()
    patient = plan.patient
    patient.time_zone = "America/Los_Angeles"
    patient.save()
    reminder.plan.patient = patient
    session_day = reminder.item.start.astimezone(ZoneInfo(patient.time_zone))
    # 23:30 in Los Angeles is already the next day in UTC: still the patient's same evening.
    reminder.send_at = session_day.replace(hour=23, minute=30)
    assert reminder.send_at.astimezone(dt.UTC).date() != session_day.date()
    assert compose.build_context(reminder)["same_day"] is True


@pytest.mark.django_db
@pytest.mark.parametrize("may_sms", [True, False])
def test_only_patients_who_get_texts_are_told_to_reply_yes(reminder, may_sms):
    patient = reminder.plan.patient
    patient.sms_consent = may_sms
    patient.save()
    evening = reminder.plan.reminders.filter(
        message_kind="preparation_evening", channel="email"
    ).first()
    for row in (reminder, evening):
        assert compose.build_context(row)["may_text"] is may_sms
        rendered = compose.render(row, channel="email")
        for part in (rendered.text, rendered.html):
            assert ("reply YES" in part) is may_sms, (row.message_kind, part)
    patient.language = "es"
    patient.save()
    rendered = compose.render(reminder, channel="email")
    assert ("responder SÍ" in rendered.text) is may_sms
