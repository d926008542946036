"""Field validators for the clinic's safety settings; errors name the rule broken."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def validate_crisis_country(value: str) -> None:
    from backend.safety import crisis

    if value not in crisis.countries():
        raise ValidationError(
            "No crisis lines are on file for %(value)s; choose one of %(known)s.",
            code="crisis_country",
            params={"value": value, "known": ", ".join(crisis.countries())},
        )


def validate_urgent_answers(value) -> None:
    from backend.measures import scoring

    if not isinstance(value, list):
        raise ValidationError("Must be a list of rules.", code="urgent_answers")
    for index, rule in enumerate(value):
        where = f"rule {index + 1}"
        if not isinstance(rule, dict) or set(rule) != {"instrument", "question", "min_value"}:
            raise ValidationError(
                "%(where)s must have exactly instrument, question and min_value.",
                code="urgent_answers",
                params={"where": where},
            )
        try:
            instrument = scoring.get(rule["instrument"])
        except LookupError:
            raise ValidationError(
                "%(where)s: unknown questionnaire %(code)r.",
                code="urgent_answers",
                params={"where": where, "code": rule["instrument"]},
            ) from None
        questions = {q.number: q for q in instrument.questions("en")}
        question = questions.get(rule["question"])
        if question is None or not question.scored:
            raise ValidationError(
                "%(where)s: %(code)s has no scored question %(number)r.",
                code="urgent_answers",
                params={"where": where, "code": instrument.code, "number": rule["question"]},
            )
        values = {o.value for o in question.options}
        if rule["min_value"] not in values or rule["min_value"] == min(values):
            raise ValidationError(
                "%(where)s: min_value must be one of the answers above the lowest (%(values)s).",
                code="urgent_answers",
                params={"where": where, "values": ", ".join(str(v) for v in sorted(values)[1:])},
            )
