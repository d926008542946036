"""Protocols belong to a clinic: the built-in library is shared and read-only, a clinic's own
versions are that clinic's alone, and a version that plans use never changes."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from backend.protocols.models import Protocol
from tests.factories import (
    IV_INDUCTION,
    ClinicFactory,
    CoordinatorFactory,
    PatientFactory,
    ProviderFactory,
    make_plan,
    protocol,
)

ADMIN_URL = "/admin/protocols/protocol/"
KAP = "ketamine-assisted-psychotherapy"


@pytest.fixture()
def two_clinics(db):
    mine, theirs = ClinicFactory(name="Ashgrove"), ClinicFactory(name="Birchfield")
    return (
        mine,
        theirs,
        CoordinatorFactory(clinic=mine).user,
        CoordinatorFactory(clinic=theirs).user,
    )


def duplicate_for_clinic(client, user, source: Protocol) -> Protocol:
    client.force_login(user)
    response = client.post(
        ADMIN_URL, {"action": "duplicate_for_my_clinic", "_selected_action": [source.pk]}
    )
    assert response.status_code == 302
    return Protocol.objects.filter(slug=source.slug).exclude(clinic=None).latest("id")


def active_copy(client, user) -> Protocol:
    """The clinic's own copy of the IV induction, reviewed and switched on."""
    copy = duplicate_for_clinic(client, user, protocol(IV_INDUCTION))
    Protocol.objects.filter(pk=copy.pk).update(is_active=True)
    copy.refresh_from_db()
    return copy


@pytest.mark.django_db
def test_a_clinics_copy_is_its_own_and_invisible_to_other_clinics(client, two_clinics):
    mine, _, my_user, their_user = two_clinics
    library = protocol(KAP)
    copy = duplicate_for_clinic(client, my_user, library)
    assert (copy.clinic, copy.version, copy.is_active) == (mine, library.version + 1, False)

    client.force_login(their_user)
    listing = client.get(ADMIN_URL)
    assert str(copy.pk) not in [str(o.pk) for o in listing.context["cl"].result_list]
    assert client.get(f"{ADMIN_URL}{copy.pk}/change/").status_code in (302, 403, 404)


@pytest.mark.django_db
def test_no_coordinator_can_change_the_built_in_library(client, two_clinics):
    _, _, my_user, _ = two_clinics
    library = protocol(KAP)
    client.force_login(my_user)
    client.post(
        f"{ADMIN_URL}{library.pk}/change/",
        {"slug": library.slug, "name": "Renamed", "definition": "{}", "is_active": ""},
    )
    library.refresh_from_db()
    assert library.name != "Renamed" and library.is_active


@pytest.mark.django_db
def test_a_version_plans_use_keeps_its_words_but_may_be_retired(client, two_clinics):
    mine, _, my_user, _ = two_clinics
    copy = active_copy(client, my_user)
    patient = PatientFactory(clinic=mine)
    make_plan(patient=patient, provider=ProviderFactory(clinic=mine), protocol_version=copy)

    api = APIClient()
    api.force_authenticate(my_user)
    renamed = api.patch(f"/api/v1/protocols/{copy.pk}/", {"name": "New words"}, format="json")
    assert renamed.status_code == 400
    assert renamed.json()["errors"][0] | {"detail": ""} == {
        "field": "name",
        "code": "protocol.in_use",
        "detail": "",
    }
    retired = api.patch(f"/api/v1/protocols/{copy.pk}/", {"is_active": False}, format="json")
    assert retired.status_code == 200
    copy.refresh_from_db()
    assert copy.name != "New words" and not copy.is_active


@pytest.mark.django_db
def test_the_api_keeps_each_clinics_versions_to_itself(two_clinics):
    mine, _, my_user, their_user = two_clinics
    library = protocol(KAP)
    mine_api, their_api = APIClient(), APIClient()
    mine_api.force_authenticate(my_user)
    their_api.force_authenticate(their_user)

    created = mine_api.post(
        "/api/v1/protocols/",
        {"slug": library.slug, "name": "Ours", "definition": library.definition},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["clinic"] == mine.pk and body["version"] == library.version + 1
    library.refresh_from_db()
    assert library.name != "Ours", "a POST with a known slug publishes nothing for everyone"

    listed = their_api.get("/api/v1/protocols/", {"slug": library.slug}).json()["results"]
    assert body["id"] not in {row["id"] for row in listed}
    assert (
        their_api.patch(
            f"/api/v1/protocols/{body['id']}/", {"is_active": False}, format="json"
        ).status_code
        == 404
    )
    assert (
        their_api.patch(
            f"/api/v1/protocols/{library.pk}/", {"is_active": False}, format="json"
        ).status_code
        == 403
    )
    assert Protocol.objects.get(pk=library.pk).is_active


@pytest.mark.django_db
def test_a_plan_cannot_be_built_from_another_clinics_protocol(client, two_clinics):
    _, theirs, my_user, _ = two_clinics
    copy = active_copy(client, my_user)
    stranger = PatientFactory(clinic=theirs)
    with pytest.raises(ValidationError) as refused:
        make_plan(patient=stranger, provider=ProviderFactory(clinic=theirs), protocol_version=copy)
    assert "protocol" in refused.value.message_dict
