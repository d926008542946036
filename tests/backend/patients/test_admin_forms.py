"""The patient admin form as a coordinator sees it: weekday checkboxes instead of a JSON box, a
list of time zones instead of free text, the browser's time pickers, and labels in plain words;
each reads and writes the same values the model always held."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from backend.core import validators
from backend.core.widgets import COMMON_US_ZONES, WeekdaysField, time_zone_choices, time_zones
from backend.patients.models import Patient
from tests.factories import CoordinatorFactory

from .test_admin import form_data

NEW_LABELS = [
    "Remind by text message",
    "Remind by email",
    "Agreed to text messages",
    "Express written consent to texts on file",
    "Agreed to email",
    "No messages after",
    "No messages before",
    "Earliest appointment time",
    "Latest appointment time",
    "Preferred days for sessions",
    "Mobile number (E.164, e.g. +12025550143)",
]
TIME_FIELDS = ["quiet_start", "quiet_end", "earliest_appointment", "latest_appointment"]


class Controls(HTMLParser):
    """The form controls of a page: inputs by name, and each select's options."""

    def __init__(self, html: str):
        super().__init__()
        self.inputs: dict[str, list[dict]] = {}
        self.selects: dict[str, list[dict]] = {}
        self.optgroups: dict[str, list[str]] = {}
        self._select: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and "name" in attrs:
            self.inputs.setdefault(attrs["name"], []).append(attrs)
        elif tag == "select":
            self._select = attrs.get("name")
            self.selects[self._select] = []
            self.optgroups[self._select] = []
        elif tag == "optgroup" and self._select:
            self.optgroups[self._select].append(attrs.get("label"))
        elif tag == "option" and self._select:
            self.selects[self._select].append(attrs)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None

    def checked(self, name: str) -> list[str]:
        return [i["value"] for i in self.inputs.get(name, []) if "checked" in i]

    def selected(self, name: str) -> list[str]:
        return [o["value"] for o in self.selects[name] if "selected" in o]


@pytest.fixture()
def coordinator_client(client, clinic):
    client.force_login(CoordinatorFactory(clinic=clinic).user)
    return client


def change_url(patient) -> str:
    return reverse("admin:patients_patient_change", args=[patient.pk])


@pytest.mark.django_db
def test_change_page_shows_weekday_boxes_a_zone_list_time_pickers_and_plain_labels(
    coordinator_client, patient
):
    Patient.objects.filter(pk=patient.pk).update(
        preferred_weekdays=[1, 3], earliest_appointment=dt.time(9, 30)
    )

    response = coordinator_client.get(change_url(patient))

    assert response.status_code == 200
    html = response.content.decode()
    page = Controls(html)
    boxes = page.inputs["preferred_weekdays"]
    assert [b["type"] for b in boxes] == ["checkbox"] * 7
    assert [b["value"] for b in boxes] == [str(d) for d in range(7)]
    assert page.checked("preferred_weekdays") == ["1", "3"]
    for day in ("Monday", "Tuesday", "Sunday"):
        assert day in html
    assert "Enter a valid JSON" not in html

    assert page.selected("time_zone") == ["America/New_York"]
    assert page.optgroups["time_zone"] == ["Common in the United States", "All time zones"]
    assert "time_zone" not in page.inputs  # a select, not a text box

    times = {name: page.inputs[name][0] for name in TIME_FIELDS}
    assert {t["type"] for t in times.values()} == {"time"}
    assert times["quiet_start"]["value"] == "21:00"
    assert times["quiet_end"]["value"] == "08:00"
    assert times["earliest_appointment"]["value"] == "09:30"
    assert "value" not in times["latest_appointment"]

    for label in NEW_LABELS:
        assert label in html, label
    assert "Sms" not in html


@pytest.mark.django_db
def test_add_page_offers_the_same_controls_with_the_clinics_zone_chosen(coordinator_client):
    response = coordinator_client.get(reverse("admin:patients_patient_add"))

    assert response.status_code == 200
    html = response.content.decode()
    page = Controls(html)
    assert len(page.inputs["preferred_weekdays"]) == 7
    assert page.checked("preferred_weekdays") == []
    assert page.selected("time_zone") == ["America/New_York"]  # the clinic's zone
    assert {page.inputs[name][0]["type"] for name in TIME_FIELDS} == {"time"}
    for label in NEW_LABELS:
        assert label in html, label
    assert "Sms" not in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ticked", "saved"), [(["2", "0"], [0, 2]), ([], []), (["6", "6", "5"], [5, 6])]
)
def test_ticked_weekdays_are_saved_as_the_list_of_day_numbers(
    coordinator_client, patient, ticked, saved
):
    Patient.objects.filter(pk=patient.pk).update(preferred_weekdays=[4])
    url = change_url(patient)
    data = form_data(coordinator_client.get(url))
    assert data["preferred_weekdays"] == ["4"]
    data["preferred_weekdays"] = ticked

    response = coordinator_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    patient.refresh_from_db()
    assert patient.preferred_weekdays == saved


@pytest.mark.django_db
def test_posting_the_form_unchanged_changes_nothing(coordinator_client, patient):
    Patient.objects.filter(pk=patient.pk).update(
        preferred_weekdays=[0, 2], earliest_appointment=dt.time(9, 30)
    )
    patient.refresh_from_db()
    url = change_url(patient)
    response = coordinator_client.get(url)
    data = form_data(response)

    form = response.context["adminform"].form.__class__(data, instance=patient)
    assert form.is_valid(), form.errors
    assert form.changed_data == []
    assert coordinator_client.post(url, data).status_code == 302
    patient.refresh_from_db()
    assert patient.preferred_weekdays == [0, 2]
    assert patient.earliest_appointment == dt.time(9, 30)
    assert patient.time_zone == "America/New_York"


@pytest.mark.django_db
def test_zone_and_times_chosen_in_the_form_are_saved(coordinator_client, patient):
    url = change_url(patient)
    data = form_data(coordinator_client.get(url))
    data.update(time_zone="America/Phoenix", quiet_start="22:15", latest_appointment="16:00")

    response = coordinator_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    patient.refresh_from_db()
    assert patient.time_zone == "America/Phoenix"
    assert patient.quiet_start == dt.time(22, 15)
    assert patient.latest_appointment == dt.time(16, 0)


@pytest.mark.django_db
def test_a_patient_added_in_the_form_gets_the_days_zone_and_times_chosen(
    coordinator_client, clinic
):
    data = form_data(coordinator_client.get(reverse("admin:patients_patient_add")))
    data.update(
        first_name="Rowan",
        last_name="Ellery",
        date_of_birth="1990-05-01",
        email="rowan@example.com",
        time_zone="America/Chicago",
        preferred_weekdays=["1", "4"],
        earliest_appointment="07:30",
        consent_method="written",
    )

    response = coordinator_client.post(reverse("admin:patients_patient_add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    added = Patient.objects.get(first_name="Rowan")
    assert added.clinic == clinic
    assert added.time_zone == "America/Chicago"
    assert added.preferred_weekdays == [1, 4]
    assert added.earliest_appointment == dt.time(7, 30)
    assert added.quiet_start == dt.time(21, 0)


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["America/NewYork", "localtime", "US", ""])
def test_an_unknown_time_zone_is_refused_on_its_field(coordinator_client, patient, zone):
    url = change_url(patient)
    data = form_data(coordinator_client.get(url))
    data["time_zone"] = zone

    response = coordinator_client.post(url, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["time_zone"]
    html = response.content.decode()
    assert "errors field-time_zone" in html
    patient.refresh_from_db()
    assert patient.time_zone == "America/New_York"


@pytest.mark.django_db
def test_a_weekday_outside_monday_to_sunday_is_refused(coordinator_client, patient):
    url = change_url(patient)
    data = form_data(coordinator_client.get(url))
    data["preferred_weekdays"] = ["1", "7"]

    response = coordinator_client.post(url, data)

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["preferred_weekdays"]


@pytest.mark.django_db
def test_a_superuser_sees_the_same_form(admin_client, patient):
    html = admin_client.get(change_url(patient)).content.decode()
    page = Controls(html)
    assert page.selected("time_zone") == ["America/New_York"]
    assert page.checked("preferred_weekdays") == []
    assert "Sms" not in html


def test_zone_list_is_what_the_validator_accepts_with_the_common_us_zones_first():
    zones = time_zones()
    assert list(zones) == sorted(zones)
    assert "localtime" not in zones
    assert set(zones) <= validators.iana_zones()
    blank, (common_label, common), (all_label, every) = time_zone_choices()
    assert blank == ("", "Choose a time zone")
    assert (common_label, all_label) == ("Common in the United States", "All time zones")
    assert [z for z, _ in common] == [z for z, _ in COMMON_US_ZONES]
    assert [z for z, _ in every] == list(zones)
    for zone in zones:
        validators.validate_time_zone(zone)


def test_weekdays_field_reads_and_writes_day_numbers():
    field = WeekdaysField()
    assert field.clean([]) == []
    assert field.clean(["3", "0"]) == [0, 3]
    assert not field.has_changed([0, 3], ["3", "0"])
    assert field.has_changed([0], ["0", "1"])
    assert field.has_changed(None, ["0"])
    assert not field.has_changed(None, [])


@pytest.mark.django_db
def test_a_provider_who_may_only_view_sees_the_plain_labels_too(client, plan, provider, patient):
    client.force_login(provider.user)

    response = client.get(change_url(patient))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="time_zone"' not in html  # read-only
    for label in NEW_LABELS:
        assert label in html, label
    assert "Sms" not in html
