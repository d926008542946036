"""The engine's output: plan items, reminders, notes and changes (all frozen, all UTC-aware).

Each item keeps both its UTC instants and its local intent (date, wall time, zone) because the
backend shows "Tuesday 09:00" to people and sends at the instant; recomputing one from the other
later would re-open the DST question this engine has already answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

__all__ = [
    "APPOINTMENT_KINDS",
    "AUDIENCES",
    "ITEM_KINDS",
    "MESSAGE_KINDS",
    "SESSION_KINDS",
    "Plan",
    "PlanChange",
    "PlanNote",
    "PlannedItem",
    "PlannedReminder",
]

ITEM_KINDS = ("dosing", "integration", "check_in", "assessment", "preparation", "booster", "task")
# Sessions: items the patient attends at a set time. Their messages carry calendar invitations,
# and a notice of a change lists the sessions it moved or cancelled.
SESSION_KINDS = frozenset({"dosing", "integration", "preparation", "booster"})
# Items at a set time with a provider in the room or on the call, sessions and check-ins: they
# book the provider, and FHIR calls them Appointments. Assessments and tasks are not.
APPOINTMENT_KINDS = SESSION_KINDS | {"check_in"}

# One folder per kind under templates/email/<kind>/ -- the names are shared with the templates.
MESSAGE_KINDS = (
    "preparation_48h",
    "preparation_2h",
    "day_after",
    "integration_reminder",
    "preparation_session_reminder",
    "journal_prompt",
    "check_in_invitation",
    "assessment_prompt",
    "booster_reminder",
    "provider_checkins_tomorrow",
    "provider_task_due",
    # The evening before a session (about 18:00 patient time): what to do tonight and tomorrow.
    "preparation_evening",
    # Before the first dose: what dosing feels like, that benefit may take several sessions.
    "what_to_expect",
    # To the session's provider about 24 h before: the patient has not confirmed being ready.
    "provider_readiness_missing",
    # Sent by the backend when a session is marked missed (configurable per protocol).
    "session_missed",
    # Sent by the backend when staff move or cancel a session (not planned by rules): they carry
    # the updated or cancelling calendar invitation.
    "session_changed",
    "session_cancelled",
)

AUDIENCES = ("patient", "provider")


@dataclass(frozen=True)
class PlannedItem:
    """One dated thing in a plan.

    ``key`` is stable across re-plans ("dosing-3"); ``sequence`` is the 1-based position in the
    plan. ``start``/``end`` are UTC; ``end`` includes the observation time, which is the span the
    clinic must be open. ``local_date``/``local_time``/``time_zone`` are the local intent: the
    clinic zone for on-site sessions, the patient or clinic zone for remote items and tasks.
    ``depends_on`` names the item this one follows (an integration session its dosing session, a
    REMS form its dose), so a no-show can withdraw what depended on it. ``spec_key`` names the
    protocol item spec it came from.
    """

    key: str
    kind: str
    sequence: int
    title: str
    start: datetime
    end: datetime
    local_date: date
    local_time: time
    time_zone: str
    provider_role: str | None = None
    observation_minutes: int = 0
    depends_on: str | None = None
    spec_key: str = ""
    on_site: bool = True


@dataclass(frozen=True)
class PlannedReminder:
    """One message to one recipient on one channel at one time (an outbox row to be).

    ``key`` is ``"<item_key>:<rule>:<channel>"`` (plus ``":<repeat_index>"`` for repeating rules),
    so the same rule and item give the same key across re-plans. ``not_after`` is the latest
    moment the message is still worth sending. ``requires_attended`` marks messages that follow a
    session and must be withdrawn if it did not take place.
    """

    key: str
    item_key: str | None
    audience: str
    channel: str
    message_kind: str
    send_at: datetime
    not_after: datetime
    requires_attended: bool = False
    priority: int = 0
    repeat_index: int = 0
    rule: str = ""


@dataclass(frozen=True)
class PlanNote:
    """Something the engine decided that a coordinator should be able to read back.

    Codes: ``quiet_hours.moved``, ``quiet_hours.dropped``, ``reminder.late``,
    ``reminder.too_late``, ``sms.merged_same_day``, ``sms.weekly_limit``, ``sms.dropped``,
    ``channel.fallback``, ``item.skipped``, ``dst.gap``, ``dst.ambiguous``, ``replan.*``.
    """

    code: str
    message: str
    item_key: str | None = None
    reminder_key: str | None = None


@dataclass(frozen=True)
class PlanChange:
    """An item a re-plan moved or withdrew, and why (``new_start`` None = removed)."""

    item_key: str
    old_start: datetime | None
    new_start: datetime | None
    reason: str


@dataclass(frozen=True)
class Plan:
    """A dated plan: items in order, reminders by send time, plus what was decided and changed."""

    protocol_slug: str
    protocol_version: int
    items: tuple[PlannedItem, ...]
    reminders: tuple[PlannedReminder, ...]
    notes: tuple[PlanNote, ...] = ()
    changes: tuple[PlanChange, ...] = ()

    def item(self, key: str) -> PlannedItem:
        for candidate in self.items:
            if candidate.key == key:
                return candidate
        raise KeyError(key)

    def reminders_for(self, item_key: str) -> tuple[PlannedReminder, ...]:
        return tuple(r for r in self.reminders if r.item_key == item_key)
