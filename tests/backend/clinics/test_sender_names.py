"""The names messages come from: never a drug or diagnosis word (rule sender.private_word), a
short text sender name separate from the legal name, and a neutral name where none may be shown.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from backend.clinics.models import SMS_SENDER_MAX_LENGTH, Clinic
from tests.backend.clinics.test_admin_forms import change_url, form_data


def errors_of(clinic: Clinic) -> dict[str, list[str]]:
    try:
        clinic.full_clean(exclude=["opening_hours", "urgent_answers"], validate_unique=False)
    except ValidationError as error:
        return error.message_dict
    return {}


@pytest.mark.parametrize(
    ("field", "value", "word"),
    [
        ("sender_name", "Mile High Ketamine Center", "Ketamine"),
        ("sms_sender_name", "Spravato Now", "Spravato"),
        ("sms_sender_name", "Depression Care", "Depressi"),
    ],
)
def test_a_sender_name_naming_a_drug_or_diagnosis_is_refused(field, value, word):
    clinic = Clinic(name="Harbor Light Clinic", **{field: value})
    (message,) = errors_of(clinic)[field]
    assert message.startswith(f"{field}: {value!r} names {word!r}")
    assert "(rule: sender.private_word)" in message


def test_a_blank_sender_name_cannot_fall_back_to_a_legal_name_naming_the_drug():
    clinic = Clinic(name="Mile High Ketamine Center", sender_name="")
    (message,) = errors_of(clinic)["sender_name"]
    assert message.startswith("sender_name: required, because the clinic's name")
    assert "'Ketamine'" in message and "(rule: sender.private_word)" in message
    assert errors_of(Clinic(name="Mile High Ketamine Center", sender_name="Mile High Care")) == {}


def test_the_text_sender_name_is_short():
    clinic = Clinic(name="Harbor Light Clinic", sms_sender_name="x" * (SMS_SENDER_MAX_LENGTH + 1))
    assert "sms_sender_name" in errors_of(clinic)


@pytest.mark.parametrize(
    ("name", "sender", "sms", "email_sender", "sms_sender"),
    [
        ("Harbor Light Clinic", "", "", "Harbor Light Clinic", "Harbor Light Clinic"),
        ("Harbor Light Clinic", "Harbor Light", "HL Care", "Harbor Light", "HL Care"),
        # Too long for a text: no truncated name, the messages use the neutral one.
        (
            "Harbor Light Wellness and Family Care",
            "",
            "",
            "Harbor Light Wellness and Family Care",
            "",
        ),
        ("Mile High Ketamine Center", "", "", "", ""),
    ],
)
def test_sender_fallbacks(name, sender, sms, email_sender, sms_sender):
    clinic = Clinic(name=name, sender_name=sender, sms_sender_name=sms)
    assert clinic.email_sender_name() == email_sender
    assert clinic.sms_sender() == sms_sender


@pytest.mark.django_db
def test_the_admin_form_refuses_a_private_sender_name_and_saves_a_text_sender_name(
    admin_client, clinic
):
    url = change_url(clinic)
    page = admin_client.get(url)
    assert "Text sender name" in page.content.decode()
    data = form_data(page)
    data["sender_name"] = "Mile High Ketamine Center"
    response = admin_client.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["sender_name"]
    assert "(rule: sender.private_word)" in errors["sender_name"][0]

    data["sender_name"] = "Harbor Light Clinic"
    data["sms_sender_name"] = "Harbor Light"
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    clinic.refresh_from_db()
    assert clinic.sms_sender_name == "Harbor Light"


@pytest.mark.django_db
def test_the_demo_clinic_and_the_factories_pass_the_sender_checks(clinic):
    from django.core.management import call_command

    call_command("seed_demo", force=True)
    for each in [*Clinic.objects.all(), clinic]:
        each.full_clean()
        assert each.email_sender_name() and each.sms_sender()
