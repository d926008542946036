"""The clinician's side: a patient's scores over time with their outcome, what the patient chose
to share, and the inbox on the dashboard."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from backend.measures import services
from backend.safety.models import PatientMessage
from tests.backend.safety.helpers import both, element, gad7, html_of, phq9
from tests.factories import CoordinatorFactory, ProviderFactory
from tests.support.clock import SUITE_NOW as NOW

pytestmark = pytest.mark.django_db

SHARED_TEXT = "Went for a long walk and enjoyed it."
PRIVATE_TEXT = "A private thought I keep to myself."


def answer_twice(plan, first: int, latest: int) -> None:
    for key, total, when in (
        ("assessment-baseline", first, NOW),
        ("assessment-midcourse", latest, NOW + dt.timedelta(days=11)),
    ):
        services.questionnaires_submit(
            patient=plan.patient,
            item=plan.items.get(key=key),
            answers=both(phq9(total), gad7(2)),
            language="en",
            now=when,
        )


def outcome_row(html: str, name: str) -> str:
    table = element(html, "table", "outcomes")
    rows = [row for row in re.findall(r"<tr>.*?</tr>", table, re.S) if name in row]
    assert len(rows) == 1, table
    return rows[0]


def patient_page(client, plan) -> str:
    response = client.get(reverse("provider-patient", args=[plan.patient_id]))
    assert response.status_code == 200
    return html_of(response)


def test_the_patient_page_charts_the_scores_and_marks_remission_from_20_to_4(
    client, plan, provider
):
    answer_twice(plan, 20, 4)
    client.force_login(provider.user)

    html = patient_page(client, plan)

    assert "<svg" in element(html, "figure", "chart")
    row = outcome_row(html, "Patient Health Questionnaire (PHQ-9)")
    assert "<td>20</td><td>4</td><td>-16 (-80 %)</td>" in row
    assert '<strong class="outcome-remission">Remission</strong>' in row
    gad = outcome_row(html, "Generalized Anxiety Disorder scale (GAD-7)")
    assert "<td>+0 (+0 %)</td>" in gad and "Not yet" in gad


def test_a_halved_score_above_5_is_marked_response_not_remission(client, plan, provider):
    answer_twice(plan, 20, 10)
    client.force_login(provider.user)

    row = outcome_row(patient_page(client, plan), "Patient Health Questionnaire (PHQ-9)")

    assert "<td>-10 (-50 %)</td>" in row
    assert '<strong class="outcome-response">Response</strong>' in row
    assert "Remission" not in row


def test_a_shared_journal_entry_shows_to_the_clinicians_and_a_private_one_to_nobody(
    client, plan, provider, clinic
):
    for text, shared in ((SHARED_TEXT, True), (PRIVATE_TEXT, False)):
        services.journal_write(patient=plan.patient, text=text, shared=shared, now=NOW)
    client.force_login(provider.user)

    html = patient_page(client, plan)
    assert SHARED_TEXT in element(html, "ul", "journal")
    assert PRIVATE_TEXT not in html

    coordinator = Client()
    coordinator.force_login(CoordinatorFactory(clinic=clinic).user)
    listing = coordinator.get(reverse("admin:measures_journalentry_changelist"))
    assert listing.status_code == 200
    assert SHARED_TEXT in html_of(listing) and PRIVATE_TEXT not in html_of(listing)
    # Only the shared entry reached the inbox.
    assert list(PatientMessage.objects.values_list("body", flat=True)) == [SHARED_TEXT]


def test_the_patient_page_is_a_404_for_a_provider_of_another_clinic(client, plan):
    answer_twice(plan, 20, 4)
    client.force_login(ProviderFactory().user)

    assert client.get(reverse("provider-patient", args=[plan.patient_id])).status_code == 404


# --- the inbox --------------------------------------------------------------------------------


def test_an_unread_check_in_note_is_on_the_dashboard_until_marked_read(client, plan, provider):
    check_in = plan.items.get(key="check_in-1")
    message = services.check_in_note_leave(
        patient=plan.patient, item=check_in, text="Could we move my check-in to the afternoon?",
        now=NOW,
    )  # fmt: skip
    client.force_login(provider.user)
    dashboard = reverse("provider-dashboard")
    mark_read = reverse("provider-message-read", args=[message.pk])

    inbox = element(html_of(client.get(dashboard)), "table", "inbox")
    assert "Could we move my check-in to the afternoon?" in inbox
    assert "Note before a check-in" in inbox and "Avery Quinlan" in inbox
    assert f'action="{mark_read}"' in inbox

    done = client.post(mark_read)

    assert done.status_code == 302 and done.url == dashboard
    message.refresh_from_db()
    assert message.read_by == provider.user and message.read_at is not None
    inbox = element(html_of(client.get(dashboard)), "table", "inbox")
    assert "Could we move" not in inbox and "Nothing unread." in inbox


def test_only_the_patients_own_clinicians_may_mark_their_message_read(client, plan, clinic):
    message = services.check_in_note_leave(
        patient=plan.patient, item=plan.items.get(key="check_in-1"), text="A question.", now=NOW
    )
    url = reverse("provider-message-read", args=[message.pk])

    for outsider in (ProviderFactory(), ProviderFactory(clinic=clinic)):  # other clinic; not theirs
        client.force_login(outsider.user)
        assert client.post(url).status_code == 404
    assert client.get(url).status_code == 405

    message.refresh_from_db()
    assert message.read_at is None
