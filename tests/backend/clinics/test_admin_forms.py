"""The clinic admin form: a time-zone list, plain labels for the texting settings, and the safety
settings together under "Safety: urgent answers", whose contacts can only be the clinic's own
active providers."""

from __future__ import annotations

import pytest
from django.contrib.admin.utils import flatten_fieldsets
from django.urls import reverse

from backend.clinics.admin import ClinicAdmin
from backend.clinics.models import Clinic
from backend.safety import crisis
from tests.backend.patients.test_admin_forms import Controls
from tests.factories import ClinicFactory, CoordinatorFactory, ProviderFactory

NEW_LABELS = [
    "Texts sent from (number)",
    "Texts a day per patient (with written consent)",
    "Texts a week per patient (with written consent)",
    "Name the treatment in email bodies",
    "On-call contact",
    "Backup contact",
    "Minutes before the backup is alerted",
    "Crisis lines of",
    "Other answers treated as urgent",
]


def form_data(response) -> dict:
    """What the browser would submit for the page as shown: the form's and the inlines' values."""
    data = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            if isinstance(value, list | tuple):
                data[form.add_prefix(name)] = [str(v) for v in value]
            else:
                data[form.add_prefix(name)] = "on" if value is True else str(value)
    return data


@pytest.fixture()
def staff(clinic):
    """The clinic's providers, one of them no longer active, and a provider of another clinic."""
    return {
        "active": ProviderFactory(clinic=clinic),
        "also_active": ProviderFactory(clinic=clinic),
        "left": ProviderFactory(clinic=clinic, active=False),
        "elsewhere": ProviderFactory(clinic=ClinicFactory(name="Elsewhere Clinic")),
    }


def change_url(clinic) -> str:
    return reverse("admin:clinics_clinic_change", args=[clinic.pk])


def option_values(page: Controls, name: str) -> set[str]:
    return {o["value"] for o in page.selects[name]}


@pytest.mark.django_db
def test_change_page_groups_the_safety_settings_and_offers_only_this_clinics_providers(
    admin_client, clinic, staff
):
    response = admin_client.get(change_url(clinic))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Safety: urgent answers" in html
    fieldset = html[html.index("Safety: urgent answers") :]
    for name in ("on_call_contact", "backup_contact", "escalation_minutes", "urgent_answers"):
        assert f'name="{name}"' in fieldset
    page = Controls(html)
    mine = {"", str(staff["active"].pk), str(staff["also_active"].pk)}
    assert option_values(page, "on_call_contact") == mine
    assert option_values(page, "backup_contact") == mine
    assert str(staff["elsewhere"]) not in html
    assert str(staff["left"]) not in html

    assert option_values(page, "crisis_country") == set(crisis.countries())
    assert page.selected("crisis_country") == ["US"]
    assert page.selected("time_zone") == ["America/New_York"]
    assert page.optgroups["time_zone"] == ["Common in the United States", "All time zones"]
    assert 'name="opening_hours"' in html
    for label in NEW_LABELS:
        assert label in html, label
    assert "Sms" not in html


@pytest.mark.django_db
def test_safety_settings_chosen_in_the_form_are_saved(admin_client, clinic, staff):
    url = change_url(clinic)
    data = form_data(admin_client.get(url))
    data.update(
        on_call_contact=staff["active"].pk,
        backup_contact=staff["also_active"].pk,
        escalation_minutes="15",
        crisis_country="CA",
        time_zone="America/Chicago",
        urgent_answers='[{"instrument": "gad7", "question": 7, "min_value": 3}]',
    )

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    clinic.refresh_from_db()
    assert clinic.on_call_contact == staff["active"]
    assert clinic.backup_contact == staff["also_active"]
    assert clinic.escalation_minutes == 15
    assert clinic.crisis_country == "CA"
    assert clinic.time_zone == "America/Chicago"
    assert clinic.urgent_answers == [{"instrument": "gad7", "question": 7, "min_value": 3}]


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["elsewhere", "left"])
def test_a_provider_of_another_clinic_or_who_has_left_cannot_be_the_on_call_contact(
    admin_client, clinic, staff, who
):
    url = change_url(clinic)
    data = form_data(admin_client.get(url))
    data["on_call_contact"] = staff[who].pk

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["on_call_contact"]
    clinic.refresh_from_db()
    assert clinic.on_call_contact is None


@pytest.mark.django_db
def test_an_on_call_contact_who_has_left_is_shown_and_must_be_replaced(admin_client, clinic, staff):
    Clinic.objects.filter(pk=clinic.pk).update(on_call_contact=staff["left"])
    url = change_url(clinic)

    response = admin_client.get(url)
    page = Controls(response.content.decode())
    assert page.selected("on_call_contact") == [str(staff["left"].pk)]

    refused = admin_client.post(url, form_data(response))
    assert refused.status_code == 200
    assert "is no longer active" in str(refused.context["adminform"].form.errors["on_call_contact"])

    data = form_data(response)
    data["on_call_contact"] = staff["active"].pk
    assert admin_client.post(url, data).status_code == 302
    clinic.refresh_from_db()
    assert clinic.on_call_contact == staff["active"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"), [("time_zone", "Mars/Olympus_Mons"), ("crisis_country", "ZZ")]
)
def test_a_zone_or_country_outside_the_lists_is_refused_on_its_field(
    admin_client, clinic, field, value
):
    url = change_url(clinic)
    data = form_data(admin_client.get(url))
    data[field] = value

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [field]


@pytest.mark.django_db
def test_a_new_clinic_offers_no_provider_yet(admin_client, staff):
    response = admin_client.get(reverse("admin:clinics_clinic_add"))

    assert response.status_code == 200
    page = Controls(response.content.decode())
    assert option_values(page, "on_call_contact") == {""}
    assert option_values(page, "backup_contact") == {""}
    assert page.selected("time_zone") == ["America/New_York"]
    assert page.selected("crisis_country") == ["US"]


def test_every_editable_clinic_field_is_in_a_fieldset():
    editable = {f.name for f in Clinic._meta.concrete_fields if f.editable and f.name != "id"}
    assert set(flatten_fieldsets(ClinicAdmin.fieldsets)) == editable


@pytest.mark.django_db
def test_a_coordinator_reading_the_clinic_sees_the_same_labels(client, clinic, staff):
    Clinic.objects.filter(pk=clinic.pk).update(on_call_contact=staff["active"])
    client.force_login(CoordinatorFactory(clinic=clinic).user)

    response = client.get(change_url(clinic))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Safety: urgent answers" in html
    assert str(staff["active"]) in html
    for label in NEW_LABELS:
        assert label in html, label
    assert "Sms" not in html
