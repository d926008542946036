"""A patient's answer to an upcoming session: "I'll be there" (confirm) or "please move it"
(reschedule, with the weekdays they prefer), by their signed link or a text reply.

A request never moves a session by itself: it is a record of what the patient asked, listed for
the coordinator (the plans admin), who answers a reschedule request through the normal reschedule
flow (``plans.services.item_reschedule``). Rescheduling or cancelling the item closes its open
requests in the same transaction (``close_for_items``, called by those services), so a request
is never left "waiting" for a session that has already moved.

Whatever a patient writes (the note), and every request to move a session, also goes to the
clinic inbox through ``backend.safety.services.receive_message``, the same path readiness answers
take (backend.plans.readiness): a person reads it, and words of distress raise an urgent flag at
once. A confirmation without a note needs nobody's attention and is only listed.

Dosing and booster sessions also take a readiness answer (the four statements) from 72 h before;
the patient pages send "Confirm" there while it is open, and here before then: attendance can be
confirmed any time, readiness only close to the session.

Rules (each error names its field and a ``rule``): only the patient's own item, a session
(``scheduler.model.SESSION_KINDS``), scheduled, in an active plan and still ahead; preferred
weekdays 0 (Monday) .. 6 (Sunday), each once; a note of at most NOTE_MAX characters. A second
request of the same kind for the same session while the first is open updates the first instead
of adding a row; a confirmation withdraws an open request to move the session, and the other way
round (the patient changed their mind, and the list shows only what they want now).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from backend.core.timefmt import local_label
from backend.plans.models import PlanItem, SessionRequest, TreatmentPlan
from scheduler.model import SESSION_KINDS

NOTE_MAX = 1000
# A text reply C / MOVE speaks for the patient's next session this far ahead (reminders of a
# session go out in the days before it; a reply about one further away is a patient's words).
REPLY_WINDOW = dt.timedelta(days=14)
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # staff-facing (the inbox)


@dataclass(frozen=True)
class RequestResult:
    request: SessionRequest
    message: object | None  # the clinic-inbox message (backend.safety.models.PatientMessage)
    created: bool

    @property
    def urgent(self) -> bool:
        return bool(self.message is not None and self.message.distress_words)


# --- validation --------------------------------------------------------------------------------


def check_requestable(item: PlanItem, *, patient, now: dt.datetime) -> None:
    """Refuse an item the patient cannot answer now, naming the field and the rule."""
    if item.plan.patient_id != patient.pk:
        raise ValidationError(
            {"item": "This session is not in your plan (rule: session_request.own_item)."}
        )
    if item.kind not in SESSION_KINDS:
        raise ValidationError(
            {"item": "Only a session can be confirmed or moved (rule: session_request.kind)."}
        )
    if item.plan.status != TreatmentPlan.Status.ACTIVE or item.status != PlanItem.Status.SCHEDULED:
        raise ValidationError(
            {
                "item": "This session is not scheduled any more; please call the clinic "
                "(rule: session_request.not_scheduled)."
            }
        )
    if item.start <= now:
        raise ValidationError(
            {"item": "This session has already started (rule: session_request.future)."}
        )


def clean_weekdays(value) -> list[int]:
    """Preferred weekdays as a sorted list of distinct ints 0 (Monday) .. 6 (Sunday)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValidationError(
            {"preferred_weekdays": "Must be a list of weekdays (rule: session_request.weekdays)."}
        )
    days = []
    for day in value:
        if isinstance(day, str) and day.strip().isdigit():
            day = int(day)
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise ValidationError(
                {
                    "preferred_weekdays": f"{day!r} is not a weekday: use 0 (Monday) to 6 "
                    "(Sunday) (rule: session_request.weekdays)."
                }
            )
        days.append(day)
    return sorted(set(days))


def clean_note(note) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise ValidationError({"note": "Must be text (rule: session_request.note)."})
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise ValidationError(
            {
                "note": f"At most {NOTE_MAX} characters; this note has {len(note)} "
                "(rule: session_request.note_length)."
            }
        )
    return note


def _check_via(via: str) -> None:
    if via not in SessionRequest.Via.values:
        raise ValidationError(
            {
                "via": f"Must be one of {', '.join(SessionRequest.Via.values)} "
                "(rule: session_request.via)."
            }
        )


# --- services ----------------------------------------------------------------------------------


def _inbox_text(item: PlanItem, kind: str, days: list[int], note: str, via: str) -> str:
    """What staff read in the inbox: what the patient asked for which session, in their words."""
    when = local_label(item.start, item.plan.clinic.time_zone)
    by = ", by text" if via == SessionRequest.Via.SMS else ""
    if kind == SessionRequest.Kind.RESCHEDULE:
        prefers = ", ".join(WEEKDAY_NAMES[d] for d in days) or "no day given"
        lines = [f"Asked to move {item.title} ({when}){by}. Preferred days: {prefers}."]
    else:
        lines = [f"Confirmed attending {item.title} ({when}){by}."]
    if note:
        lines.append(f"The patient wrote: {note}")
    return "\n".join(lines)


@transaction.atomic
def _request(
    *,
    patient,
    item: PlanItem,
    kind: str,
    preferred_weekdays,
    note,
    via: str,
    now: dt.datetime,
) -> RequestResult:
    from backend.safety import services as safety

    _check_via(via)
    days = clean_weekdays(preferred_weekdays) if kind == SessionRequest.Kind.RESCHEDULE else []
    note = clean_note(note)
    # The item row is the lock: two requests for one session (a double click, a text and the
    # link at once) are made one after the other, and the second finds the first.
    item = (
        PlanItem.objects.select_for_update(of=("self",))  # the item only, not its clinic
        .select_related("plan__patient", "plan__clinic")
        .get(pk=item.pk)
    )
    check_requestable(item, patient=patient, now=now)
    open_rows = SessionRequest.objects.filter(item=item, status=SessionRequest.Status.OPEN)
    for other in open_rows.exclude(kind=kind):
        other.status, other.answered_at = SessionRequest.Status.WITHDRAWN, now
        other.answer = "The patient changed their mind."
        other.save(update_fields=["status", "answered_at", "answer"])
    values = {
        "preferred_weekdays": days,
        "note": note,
        "via": via,
        "session_start": item.start,
        "created_at": now,
    }
    row = open_rows.filter(kind=kind).order_by("-created_at", "-id").first()
    created = row is None
    if created:
        row = SessionRequest.objects.create(item=item, kind=kind, **values)
    else:
        for field, value in values.items():
            setattr(row, field, value)
        row.save(update_fields=list(values))
    message = None
    if note or kind == SessionRequest.Kind.RESCHEDULE:
        message = safety.receive_message(
            clinic=item.plan.clinic,
            patient=item.plan.patient,
            source="readiness",  # "Answer before a session"
            body=_inbox_text(item, kind, days, note, via),
            now=now,
            item=item,
        )
    return RequestResult(row, message, created)


def request_confirm(
    *, patient, item: PlanItem, note: str = "", via: str, now: dt.datetime
) -> RequestResult:
    """The patient will attend ``item`` (an open request to move it is withdrawn)."""
    return _request(
        patient=patient,
        item=item,
        kind=SessionRequest.Kind.CONFIRM,
        preferred_weekdays=None,
        note=note,
        via=via,
        now=now,
    )


def request_reschedule(
    *,
    patient,
    item: PlanItem,
    preferred_weekdays=(),
    note: str = "",
    via: str,
    now: dt.datetime,
) -> RequestResult:
    """The patient asks to move ``item``, preferably to one of ``preferred_weekdays`` (0 = Monday);
    an open request to move it is updated, not duplicated."""
    return _request(
        patient=patient,
        item=item,
        kind=SessionRequest.Kind.RESCHEDULE,
        preferred_weekdays=preferred_weekdays,
        note=note,
        via=via,
        now=now,
    )


def close_for_items(*, item_ids, answer: str, by=None, now: dt.datetime) -> int:
    """Close the open requests of these items as answered (by ``by``, a staff user, when a person
    acted). Called inside the reschedule and cancel services' transactions."""
    rows = list(
        SessionRequest.objects.select_for_update().filter(
            item_id__in=list(item_ids), status=SessionRequest.Status.OPEN
        )
    )
    for row in rows:
        row.status, row.answered_at, row.answer = SessionRequest.Status.ANSWERED, now, answer[:200]
        row.answered_by = by
        row.save(update_fields=["status", "answered_at", "answered_by", "answer"])
    return len(rows)


@transaction.atomic
def request_answer(
    *, request: SessionRequest, by, answer: str = "", now: dt.datetime
) -> SessionRequest:
    """A coordinator closes one request without moving the session (a confirmation read, or a
    call that settled it)."""
    row = SessionRequest.objects.select_for_update().get(pk=request.pk)
    if row.status != SessionRequest.Status.OPEN:
        raise ValidationError(
            {
                "status": f"This request is {row.get_status_display().lower()} already "
                "(rule: session_request.open)."
            }
        )
    answer = (answer or "").strip()
    if len(answer) > 200:
        raise ValidationError({"answer": "At most 200 characters (rule: session_request.answer)."})
    row.status, row.answered_at, row.answered_by = SessionRequest.Status.ANSWERED, now, by
    row.answer = answer or "Seen by the clinic."
    row.save(update_fields=["status", "answered_at", "answered_by", "answer"])
    return row


# --- selectors ---------------------------------------------------------------------------------


def open_requests() -> QuerySet[SessionRequest]:
    """Every open request, oldest first, with what a list shows (scope it with core.scope)."""
    return (
        SessionRequest.objects.filter(status=SessionRequest.Status.OPEN)
        .select_related("item__plan__patient", "item__plan__clinic")
        .order_by("created_at", "id")
    )


def open_requests_by_item(item_ids) -> dict[int, SessionRequest]:
    """The latest open request of each of these items, by item id (one query)."""
    found: dict[int, SessionRequest] = {}
    rows = SessionRequest.objects.filter(
        item_id__in=list(item_ids), status=SessionRequest.Status.OPEN
    ).order_by("created_at", "id")
    for row in rows:
        found[row.item_id] = row
    return found


def requestable_items(*, patient, now: dt.datetime) -> QuerySet[PlanItem]:
    """The patient's sessions that take a request now: scheduled, in an active plan, ahead."""
    return PlanItem.objects.filter(
        plan__patient=patient,
        plan__status=TreatmentPlan.Status.ACTIVE,
        kind__in=sorted(SESSION_KINDS),
        status=PlanItem.Status.SCHEDULED,
        start__gt=now,
    ).order_by("start", "id")


def session_for_reply(patient, now: dt.datetime) -> PlanItem | None:
    """The session a text reply C or MOVE speaks for: the patient's next one within
    REPLY_WINDOW."""
    return (
        requestable_items(patient=patient, now=now)
        .filter(start__lte=now + REPLY_WINDOW)
        .select_related("plan__clinic")
        .first()
    )
