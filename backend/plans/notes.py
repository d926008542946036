"""A plan's notes: what staff want the next reader of the plan to know.

Notes are append-only, like a paper chart: each is added with when (in the clinic's zone) and by
whom, and nothing here edits or removes an earlier one. The plan's history (django-simple-history)
keeps every version of the text besides.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction

from backend.plans.models import TreatmentPlan

NOTE_MAX_LENGTH = 4000


def _author_name(author) -> str:
    if author is None:
        return "system"
    return author.get_full_name() or author.get_username()


def _clean_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError(
            {"note": ValidationError("note: write something to add (rule: note.empty).",
                                     code="note.empty")}
        )  # fmt: skip
    if len(text) > NOTE_MAX_LENGTH:
        raise ValidationError(
            {
                "note": ValidationError(
                    f"note: at most {NOTE_MAX_LENGTH} characters, this one has {len(text)} "
                    "(rule: note.too_long).",
                    code="note.too_long",
                )
            }
        )
    return text


@transaction.atomic
def plan_note_add(*, plan: TreatmentPlan, text: str, author, now: dt.datetime) -> TreatmentPlan:
    """Append ``text`` to the plan's notes as one line headed with ``now`` in the clinic's zone
    and the author's name; returns the saved plan. Earlier notes are kept as they are.

    Raises ValidationError on "note" for an empty note (rule note.empty) or one longer than
    NOTE_MAX_LENGTH characters (rule note.too_long).
    """
    text = _clean_text(text)
    plan = TreatmentPlan.objects.select_for_update().select_related("clinic").get(pk=plan.pk)
    when = now.astimezone(ZoneInfo(plan.clinic.time_zone)).strftime("%Y-%m-%d %H:%M")
    entry = f"{when}, {_author_name(author)}: {text}"
    plan.notes = f"{plan.notes.rstrip()}\n{entry}" if plan.notes.strip() else entry
    plan.save(update_fields=["notes", "updated_at"])
    return plan
