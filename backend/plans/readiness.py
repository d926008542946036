"""The patient's readiness before a dosing or booster session (the attestation): four statements
confirmed by link or by a text reply YES, and what happens when one is not.

A session is confirmed when the patient ticks all four statements (fasting as instructed, a ride
home, no alcohol and sedatives only as prescribed, no new medicines) on the session's page, or
replies YES to the evening-before text that lists them (NO reaches the clinic inbox). A statement
left unticked, and anything the patient writes in "anything we should know", is never just
stored: it goes to the clinic inbox as a message (where words of distress raise an urgent flag,
backend.safety), because a person has to read it before the session. The coordinator's alert at
T-24 h (`provider_readiness_missing`) is skipped at send time once the session is confirmed
(backend.reminders.eligibility).

The statements carry the protocol's own numbers where it has them ("I will not eat for 2 hours
and not drink for 30 minutes before my session"), read as the messages read them
(backend.reminders.protocol_text.preparation_context).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from backend.core.timefmt import local_label
from backend.plans.models import PlanItem, SessionReadiness, TreatmentPlan
from backend.reminders import protocol_text

READINESS_KINDS = (PlanItem.Kind.DOSING, PlanItem.Kind.BOOSTER)
# Confirming further ahead would promise things (no alcohol, no new medicines) nobody can know yet;
# the text reply YES looks this far ahead for the session it means.
OPENS_BEFORE = dt.timedelta(hours=72)
# Sessions closer than this with no confirmation are shown in red to the coordinator: the offset
# of the protocols' `readiness_check` rule ("-24h", the coordinator's alert), kept here because the
# staff pages read many sessions of many protocols at once.
LATE_WITHIN = dt.timedelta(hours=24)
FIELDS = ("fasting", "ride_home", "no_alcohol", "no_new_medicines")
NOTE_MAX = 2000

# --- the statements, in the patient's language -----------------------------------------------

# The numbers come from backend.reminders.protocol_text.preparation_context, the one reading of a
# protocol's preparation that the messages use too; only the sentences are worded here.
WORDS = {
    "en": {
        "fasting_food_liquids": "I will not eat for {food} and not drink for {liquids} before my "
        "session.",
        "fasting_food": "I will not eat for {food} before my session.",
        "fasting_liquids": "I will not drink for {liquids} before my session.",
        "fasting_any": "I will follow the eating and drinking instructions my care team gave me.",
        "ride_home": "I have arranged a ride home, and I will not drive until the next day after "
        "a restful sleep.",
        "no_alcohol_hours": "I will not drink alcohol for {hours} before, and I take sedatives, "
        "sleep medicines and my other medicines only as my prescriber told me.",
        "no_alcohol": "I will not drink alcohol before my session, and I take sedatives, sleep "
        "medicines and my other medicines only as my prescriber told me.",
        "no_new_medicines": "I have not started any new medicine since my last visit.",
    },
    "es": {
        "fasting_food_liquids": "No comeré durante {food} ni beberé durante {liquids} antes de mi "
        "sesión.",
        "fasting_food": "No comeré durante {food} antes de mi sesión.",
        "fasting_liquids": "No beberé durante {liquids} antes de mi sesión.",
        "fasting_any": "Seguiré las indicaciones sobre comida y bebida que me dio mi equipo de "
        "atención.",
        "ride_home": "Tengo quién maneje por mí de regreso a casa, y no manejaré hasta el día "
        "siguiente, después de dormir bien.",
        "no_alcohol_hours": "No tomaré alcohol durante {hours} antes, y tomo mis sedantes, mis "
        "medicamentos para dormir y mis demás medicamentos solo como me indicó quien me los "
        "recetó.",
        "no_alcohol": "No tomaré alcohol antes de mi sesión, y tomo mis sedantes, mis "
        "medicamentos para dormir y mis demás medicamentos solo como me indicó quien me los "
        "recetó.",
        "no_new_medicines": "No he empezado ningún medicamento nuevo desde mi última visita.",
    },
}


def _language(language: str) -> str:
    return language if language in WORDS else "en"


def _fasting(prep: dict, language: str) -> str:
    words = WORDS[language]
    food, liquids = prep.get("food"), prep.get("liquids")
    if food and liquids:
        return words["fasting_food_liquids"].format(
            food=protocol_text.duration_words(food, language),
            liquids=protocol_text.duration_words(liquids, language),
        )
    if food:
        return words["fasting_food"].format(food=protocol_text.duration_words(food, language))
    if liquids:
        return words["fasting_liquids"].format(
            liquids=protocol_text.duration_words(liquids, language)
        )
    return words["fasting_any"]


def statements(protocol, language: str) -> list[tuple[str, str]]:
    """The four statements as (field, text), with the protocol's numbers where it has them
    (``protocol``: the engine's Protocol, or None when its definition cannot be read)."""
    language = _language(language)
    words = WORDS[language]
    prep = protocol_text.preparation_context(protocol) if protocol is not None else {}
    alcohol = prep.get("avoid_alcohol")
    return [
        ("fasting", _fasting(prep, language)),
        ("ride_home", words["ride_home"]),
        (
            "no_alcohol",
            words["no_alcohol_hours"].format(hours=protocol_text.duration_words(alcohol, language))
            if alcohol
            else words["no_alcohol"],
        ),
        ("no_new_medicines", words["no_new_medicines"]),
    ]


def engine_protocol_of(item: PlanItem):
    """The item's protocol as the engine reads it, or None if its definition cannot be read
    (the statements then fall back to the words without numbers)."""
    try:
        return item.plan.protocol.engine_protocol()
    except Exception:  # a broken definition must not hide the form
        return None


# --- the service -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadinessResult:
    readiness: SessionReadiness
    message: object | None  # the clinic-inbox message (backend.safety.models.PatientMessage)

    @property
    def confirmed(self) -> bool:
        return self.readiness.confirmed_at is not None


def check_open(item: PlanItem, now: dt.datetime) -> None:
    """Refuse an item that does not take a readiness answer now, naming the rule."""
    if item.kind not in READINESS_KINDS:
        raise ValidationError(
            {"item": "Only a dosing or booster session asks for readiness (rule: readiness.kind)."}
        )
    if item.plan.status != TreatmentPlan.Status.ACTIVE or item.status != PlanItem.Status.SCHEDULED:
        raise ValidationError(
            {
                "item": "This session is not scheduled any more; please call the clinic "
                "(rule: readiness.not_scheduled)."
            }
        )
    if now >= item.start:
        raise ValidationError(
            {"item": "This session has already started (rule: readiness.after_start)."}
        )
    if now < item.start - OPENS_BEFORE:
        raise ValidationError(
            {
                "item": "Readiness can be confirmed from 3 days before the session "
                "(rule: readiness.too_early)."
            }
        )


def _clean(answers: dict, via: str) -> tuple[dict[str, bool], str]:
    if via not in SessionReadiness.Via.values:
        raise ValidationError({"via": f"Must be one of {', '.join(SessionReadiness.Via.values)}."})
    unknown = sorted(set(answers) - {*FIELDS, "note"})
    if unknown:
        raise ValidationError({k: "Not a readiness statement." for k in unknown})
    values = {}
    for field in FIELDS:
        value = answers.get(field, False)
        if not isinstance(value, bool):
            raise ValidationError({field: "Must be true (confirmed) or false."})
        values[field] = value
    note = answers.get("note", "") or ""
    if not isinstance(note, str):
        raise ValidationError({"note": "Must be text."})
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise ValidationError({"note": f"At most {NOTE_MAX} characters."})
    return values, note


def _inbox_text(
    item: PlanItem, values: dict[str, bool], note: str, protocol, via: str = "link"
) -> str:
    """What staff read in the inbox: the statements not confirmed, and the patient's words."""
    when = local_label(item.start, item.plan.clinic.time_zone)
    texts = dict(statements(protocol, "en"))
    unticked = [texts[f] for f in FIELDS if not values[f]]
    lines = [f"Before {item.title} ({when}){', by text' if via == 'sms' else ''}:"]
    if unticked:
        lines.append("NOT confirmed: " + " ".join(unticked))
    else:
        lines.append("Confirmed ready.")
    if note:
        lines.append(f"The patient wrote: {note}")
    return "\n".join(lines)


@transaction.atomic
def readiness_confirm(
    *, item: PlanItem, answers: dict, via: str, now: dt.datetime
) -> ReadinessResult:
    """Record the patient's answers for the session; confirmed when all four are true.

    ``answers``: the four FIELDS as booleans (missing ones count as not confirmed) and an optional
    ``note``. A later answer replaces an earlier one: unticking a statement after confirming
    withdraws the confirmation (something changed, and a person hears of it).
    """
    from backend.safety import services as safety

    item = PlanItem.objects.select_related("plan__patient", "plan__clinic", "plan__protocol").get(
        pk=item.pk
    )
    values, note = _clean(answers, via)
    check_open(item, now)
    confirmed = all(values.values())
    readiness, _ = SessionReadiness.objects.select_for_update().update_or_create(
        item=item,
        defaults={
            **values,
            "via": via,
            "note": note,
            "answered_at": now,
            "session_start": item.start,
            "confirmed_at": now if confirmed else None,
        },
    )
    message = None
    if note or not confirmed:
        message = safety.receive_message(
            clinic=item.plan.clinic,
            patient=item.plan.patient,
            source="readiness",
            body=_inbox_text(item, values, note, engine_protocol_of(item), via),
            now=now,
            item=item,
        )
    return ReadinessResult(readiness, message)


# --- reads -----------------------------------------------------------------------------------


def _holding():
    """Readiness rows that still hold: confirmed, for the session's current start."""
    return SessionReadiness.objects.filter(
        confirmed_at__isnull=False, session_start=F("item__start")
    )


def is_confirmed(item: PlanItem) -> bool:
    """Has the patient confirmed being ready for this session, at its current time (all four
    statements)? A session moved since (rescheduled, re-planned after a miss) asks again."""
    return _holding().filter(item_id=item.pk).exists()


def readiness_by_item(items) -> dict[int, SessionReadiness]:
    """The readiness rows of these items, by item id (one query)."""
    ids = [i.pk for i in items if i.kind in READINESS_KINDS]
    return {r.item_id: r for r in SessionReadiness.objects.filter(item_id__in=ids)}


def _sessions_ahead(patient, now: dt.datetime):
    """The patient's dosing and booster sessions within OPENS_BEFORE, soonest first."""
    return (
        PlanItem.objects.filter(
            plan__patient=patient,
            plan__status=TreatmentPlan.Status.ACTIVE,
            kind__in=READINESS_KINDS,
            status=PlanItem.Status.SCHEDULED,
            start__gt=now,
            start__lte=now + OPENS_BEFORE,
        )
        .select_related("plan__clinic")
        .order_by("start", "id")
    )


def session_to_confirm(patient, now: dt.datetime) -> PlanItem | None:
    """The patient's next dosing or booster session within OPENS_BEFORE that is not confirmed."""
    return _sessions_ahead(patient, now).exclude(pk__in=_holding().values("item_id")).first()


def session_ahead(patient, now: dt.datetime) -> PlanItem | None:
    """The patient's next dosing or booster session within OPENS_BEFORE, confirmed or not (a text
    reply NO speaks for it, and withdraws a confirmation given before)."""
    return _sessions_ahead(patient, now).first()


def readiness_status(
    item: PlanItem, readiness: SessionReadiness | None, *, now: dt.datetime, zone: str
) -> dict | None:
    """What staff read next to a session: "Ready: confirmed Tue 09:12 by text", or "Not
    confirmed" (``late`` when the session is within LATE_WITHIN and still not confirmed).
    None for items that take no readiness answer, have passed, or are further ahead than the
    patient is asked (OPENS_BEFORE)."""
    if item.kind not in READINESS_KINDS or item.status != PlanItem.Status.SCHEDULED:
        return None
    if readiness is not None and readiness.holds_for(item):
        at = readiness.confirmed_at.astimezone(ZoneInfo(zone)).strftime("%a %H:%M")
        return {"text": f"Ready: confirmed {at} by {readiness.get_via_display()}", "late": False}
    if item.start <= now or (readiness is None and item.start - now > OPENS_BEFORE):
        return None  # passed, or not yet asked
    text, unticked = "Not confirmed", False
    if readiness is not None and readiness.session_start == item.start:
        text = "Not confirmed: the patient left a statement unticked (see the inbox)"
        unticked = True
    elif readiness is not None:
        text = "Not confirmed since the session moved"
    return {"text": text, "late": item.start - now <= LATE_WITHIN or unticked}
