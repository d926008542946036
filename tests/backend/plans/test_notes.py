"""A plan's notes are append-only, each stamped with when (the clinic's zone) and by whom."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from backend.plans.notes import NOTE_MAX_LENGTH, plan_note_add
from tests.support.clock import SUITE_NOW

pytestmark = pytest.mark.django_db


@pytest.fixture()
def author(db):
    return User.objects.create_user("ines", first_name="Ines", last_name="Marlow")


def test_each_note_is_a_line_with_the_clinics_time_and_the_authors_name(make_plan, author):
    plan = make_plan()
    before = plan.updated_at
    plan_note_add(plan=plan, text="  Prefers mornings. ", author=author, now=SUITE_NOW)
    later = SUITE_NOW + dt.timedelta(hours=30)
    saved = plan_note_add(plan=plan, text="Driver confirmed.", author=None, now=later)
    assert saved.notes.splitlines() == [
        "2026-03-02 10:00, Ines Marlow: Prefers mornings.",
        "2026-03-03 16:00, system: Driver confirmed.",
    ]
    saved.refresh_from_db()
    assert saved.updated_at > before  # readers keyed by updated_at see the change


def test_existing_notes_are_kept_as_they_are(make_plan, author):
    plan = make_plan()
    plan.notes = "Cancelled: moved away"
    plan.save(update_fields=["notes"])
    saved = plan_note_add(plan=plan, text="Back in town.", author=author, now=SUITE_NOW)
    assert saved.notes.splitlines()[0] == "Cancelled: moved away"
    assert len(saved.notes.splitlines()) == 2


@pytest.mark.parametrize(
    ("text", "rule"), [("   ", "note.empty"), ("x" * (NOTE_MAX_LENGTH + 1), "note.too_long")]
)
def test_an_empty_or_overlong_note_is_refused_with_its_rule(make_plan, author, text, rule):
    plan = make_plan()
    with pytest.raises(ValidationError) as exc:
        plan_note_add(plan=plan, text=text, author=author, now=SUITE_NOW)
    (error,) = exc.value.error_dict["note"]
    assert error.code == rule and f"rule: {rule}" in error.messages[0]
    plan.refresh_from_db()
    assert plan.notes == ""
