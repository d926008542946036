"""Answers, page paths and HTML probes shared by the safety-loop tests."""

from __future__ import annotations

import re

from django.urls import reverse

from backend.reminders import links

PHQ9_SCORED, GAD7_SCORED = 9, 7  # each has one more, unscored, difficulty question after these


def phq9(total: int, *, q9: int = 0, difficulty: int = 0) -> dict[str, str]:
    """PHQ-9 answers adding up to ``total``, with item 9 (self-harm) answered ``q9``."""
    rest = total - q9
    assert 0 <= rest <= 24, "items 1-8 give at most 24 points"
    values = [min(3, max(0, rest - 3 * i)) for i in range(8)]
    return {**{f"q{i}": str(v) for i, v in enumerate(values, 1)}, "q9": str(q9),
            "q10": str(difficulty)}  # fmt: skip


def gad7(total: int = 0, *, q7: int | None = None, difficulty: int = 0) -> dict[str, str]:
    """GAD-7 answers adding up to ``total``; ``q7`` pins question 7 when given."""
    fixed = 0 if q7 is None else q7
    rest = total - fixed
    assert 0 <= rest <= 18
    values = [min(3, max(0, rest - 3 * i)) for i in range(6)]
    answers = {f"q{i}": str(v) for i, v in enumerate(values, 1)}
    answers["q7"] = str(fixed)
    answers["q8"] = str(difficulty)
    return answers


def both(phq9_answers: dict, gad7_answers: dict | None = None) -> dict[str, dict[str, str]]:
    return {"phq9": phq9_answers, "gad7": gad7_answers if gad7_answers is not None else gad7(0)}


def form_fields(answers: dict[str, dict[str, str]]) -> dict[str, str]:
    """The item page's POST body: ``phq9-q1`` ... ``gad7-q8``."""
    return {f"{code}-{q}": v for code, given in answers.items() for q, v in given.items()}


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def item_path(patient, item) -> str:
    return path_of(links.patient_item_url(patient, item.pk))


def journal_path(patient, item=None) -> str:
    return path_of(links.patient_journal_url(patient, item.pk if item else None))


def flag_path(flag) -> str:
    return reverse("provider-flag", args=[flag.pk])


def html_of(response) -> str:
    return response.content.decode()


def element(html: str, tag: str, element_id: str) -> str:
    """The first ``<tag id="element_id" ...>...</tag>`` of a page (no nesting of the same tag)."""
    match = re.search(rf'<{tag}\b[^>]*\bid="{re.escape(element_id)}"[^>]*>.*?</{tag}>', html, re.S)
    return match.group(0) if match else ""


def checked_value(fieldset_html: str) -> str | None:
    """The value of the radio button checked in one question's fieldset, if any."""
    match = re.search(r'<input type="radio" name="[^"]+" value="(\d+)" checked', fieldset_html)
    return match.group(1) if match else None


def raise_urgent_flag(plan, *, now, key: str = "assessment-baseline"):
    """PHQ-9 item 9 answered 1 on one of the plan's assessments: the urgent flag it raises."""
    from backend.measures import services
    from backend.safety.models import Flag

    [phq, _] = services.questionnaires_submit(
        patient=plan.patient,
        item=plan.items.get(key=key),
        answers=both(phq9(6, q9=1)),
        language="en",
        now=now,
    )
    return Flag.objects.get(response=phq)
