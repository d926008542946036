"""Turning dated items into reminders: offsets, channels, quiet hours and useful windows.

For each item and each rule that applies to it, the rule's offset gives the send time. Patient
messages never go out in the patient's quiet hours: an *announcement* (preparation, integration,
booster, invitations) moves to the last minute before the quiet hours began -- arriving a little
early beats arriving after the event -- and a *follow-up* (day after, prompts) moves to the end of
the quiet hours. A rule with ``quiet_hours: later`` moves an announcement to the end of the quiet
hours too (the 2-hour text before an 08:30 session goes at 08:00, not at 20:59 the night before);
when that is past its window and the rule names a ``covered_by`` rule, the note says which
message still reaches the patient. Provider messages follow the clinic's working days in their
offsets instead.
Every message has a useful window ``[not_before, not_after]``; if the move (or the plan being
built late, after the send time has passed) pushes it out, the message is dropped and a note
says which and why. Nothing is silently lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from .calendar import ClinicCalendar
from .model import PlannedItem, PlannedReminder, PlanNote
from .offsets import Offset, OffsetTerm, parse_offset
from .preferences import PatientPreferences
from .protocol import ReminderRule, instance_number
from .timeutil import ONE_MINUTE, get_zone, local_to_utc

__all__ = ["ReminderBuilder", "reminder_key"]

DEFAULT_ANNOUNCE_LEAD = timedelta(hours=12)
DEFAULT_FOLLOW_UP_GRACE = timedelta(hours=12)


def reminder_key(item_key: str | None, rule_id: str, channel: str, repeat: int | None) -> str:
    """``dosing-3:prep_48h:sms`` (``:<n>`` appended for repeating rules); stable across re-plans."""
    base = f"{item_key or 'plan'}:{rule_id}:{channel}"
    return base if repeat is None else f"{base}:{repeat}"


class ReminderBuilder:
    """Builds the reminders of a set of items under one patient, clinic and ``now``."""

    def __init__(
        self,
        rules: Sequence[ReminderRule],
        clinic: ClinicCalendar,
        patient: PatientPreferences,
        now: datetime,
    ) -> None:
        self.rules = rules
        self.clinic = clinic
        self.patient = patient
        self.now = now
        self.notes: list[PlanNote] = []
        self._by_key: dict[str, PlannedItem] = {}
        self._kept: set[tuple[str, str]] = set()  # (item key, rule id) that produced a message

    def build(
        self, items: Iterable[PlannedItem], context: Iterable[PlannedItem] = ()
    ) -> list[PlannedReminder]:
        """Reminders for ``items``; ``context`` holds other plan items they may point at."""
        items = list(items)
        self._by_key = {i.key: i for i in (*context, *items)}
        numbers: dict[str, set[int]] = {}
        for known in self._by_key.values():
            spec_key, number = spec_and_number(known)
            numbers.setdefault(spec_key, set()).add(number)
        # Rules another rule names in ``covered_by`` go first, so a drop can say what covers it.
        covering = {r.covered_by for r in self.rules if r.covered_by}
        rules = sorted(self.rules, key=lambda r: r.id not in covering)
        out: list[PlannedReminder] = []
        self._kept = set()
        for item in items:
            spec_key, number = spec_and_number(item)
            present = tuple(sorted(numbers[spec_key]))
            for rule in rules:
                if rule.matches(item.kind, spec_key, number, present):
                    made = self._for_rule(item, rule)
                    if made:
                        self._kept.add((item.key, rule.id))
                    out.extend(made)
        return out

    def _channels(self, item: PlannedItem, rule: ReminderRule) -> tuple[str, ...]:
        if rule.audience != "patient":
            return rule.channels
        chosen = tuple(c for c in rule.channels if c in self.patient.channels)
        if chosen:
            return chosen
        fallback = self.patient.channels[0]
        self.notes.append(
            PlanNote(
                "channel.fallback",
                f"{item.key}: rule {rule.id} uses {'/'.join(rule.channels)}, which the patient "
                f"does not accept; sent by {fallback} instead",
                item.key,
            )
        )
        return (fallback,)

    def _apply(self, offset: Offset, item: PlannedItem, rule: ReminderRule) -> datetime:
        return offset.apply(
            item.end if rule.measured_from == "end" else item.start,
            item_zone=get_zone(item.time_zone),
            patient_zone=self.patient.zone,
            clinic=self.clinic,
        )

    def _for_rule(self, item: PlannedItem, rule: ReminderRule) -> list[PlannedReminder]:
        offset = parse_offset(rule.offset)
        channels = self._channels(item, rule)
        repeat_zone = next((t.zone for t in reversed(offset.terms) if t.zone), None)
        out: list[PlannedReminder] = []
        for index in range(rule.repeat):
            if index:
                step = OffsetTerm(sign=1, amount=index, unit="days", zone=repeat_zone)
                planned = self._apply(Offset(rule.offset, (*offset.terms, step)), item, rule)
            else:
                planned = self._apply(offset, item, rule)
            not_before, not_after = self._window(item, rule, planned)
            for channel in channels:
                key = reminder_key(item.key, rule.id, channel, index if rule.repeat > 1 else None)
                send_at = self._settle(key, item, rule, planned, not_before, not_after)
                if send_at is None:
                    continue
                out.append(
                    PlannedReminder(
                        key=key,
                        item_key=item.key,
                        audience=rule.audience,
                        channel=channel,
                        message_kind=rule.message_kind,
                        send_at=send_at,
                        not_after=not_after,
                        requires_attended=rule.requires_attended,
                        priority=rule.priority,
                        repeat_index=index,
                        rule=rule.id,
                    )
                )
        return out

    def _window(
        self, item: PlannedItem, rule: ReminderRule, planned: datetime
    ) -> tuple[datetime, datetime]:
        """The useful window of one send: explicit offsets, else the documented defaults."""
        announce = rule.timing == "announce"
        if rule.not_before is not None:
            not_before = self._apply(parse_offset(rule.not_before), item, rule)
        else:
            not_before = planned - DEFAULT_ANNOUNCE_LEAD if announce else planned
        if rule.not_after is not None:
            not_after = self._apply(parse_offset(rule.not_after), item, rule)
        else:
            not_after = item.start if announce else planned + DEFAULT_FOLLOW_UP_GRACE
        # A repeat of a follow-up is worth sending from its own planned time on.
        not_before = min(not_before, planned)
        not_after = max(not_after, planned) if not announce else not_after
        # A prompt for something due *before* a session (a questionnaire) is useless after it.
        anchor = self._by_key.get(item.depends_on) if item.depends_on else None
        if anchor is not None and item.end <= anchor.start:
            not_after = min(not_after, anchor.start)
        return not_before, not_after

    def _settle(
        self,
        key: str,
        item: PlannedItem,
        rule: ReminderRule,
        planned: datetime,
        not_before: datetime,
        not_after: datetime,
    ) -> datetime | None:
        """Apply quiet hours and ``now`` to a planned send time; ``None`` means dropped (noted)."""
        send_at = planned
        moved_by_quiet = False
        patient_facing = rule.audience == "patient"
        if patient_facing and self.patient.is_quiet(send_at):
            send_at = self._out_of_quiet(send_at, earlier=not rule.moves_later_in_quiet_hours)
            moved_by_quiet = True
        late = send_at < self.now
        if late:
            send_at = due_now(self.now)
            if patient_facing and self.patient.is_quiet(send_at):
                send_at = self._out_of_quiet(send_at, earlier=False)
                moved_by_quiet = True
        if send_at < not_before or send_at > not_after:
            code = "reminder.too_late" if late and send_at > not_after else "quiet_hours.dropped"
            if code == "quiet_hours.dropped" and not moved_by_quiet:
                code = "reminder.out_of_window"
            why = {
                "reminder.too_late": "its useful window had already passed when the plan was made",
                "quiet_hours.dropped": "quiet hours pushed it out of its useful window",
                "reminder.out_of_window": "its send time falls outside its useful window",
            }[code]
            self.notes.append(
                PlanNote(
                    code,
                    f"{key} ({rule.message_kind}) dropped: {why}{self._cover(item, rule)}",
                    item.key,
                    key,
                )
            )
            return None
        if moved_by_quiet:
            local = send_at.astimezone(self.patient.zone)
            self.notes.append(
                PlanNote(
                    "quiet_hours.moved",
                    f"{key} moved out of the patient's quiet hours to {local:%Y-%m-%d %H:%M}",
                    item.key,
                    key,
                )
            )
        elif late:
            self.notes.append(
                PlanNote("reminder.late", f"{key} is already due; it goes out now", item.key, key)
            )
        return send_at

    def _cover(self, item: PlannedItem, rule: ReminderRule) -> str:
        """What still reaches the patient when ``rule``'s message for ``item`` is dropped."""
        if rule.covered_by is None:
            return ""
        cover = next((r for r in self.rules if r.id == rule.covered_by), None)
        if cover is not None and (item.key, cover.id) in self._kept:
            return f"; the {cover.message_kind} message (rule {cover.id}) covers it"
        return f"; its cover, rule {rule.covered_by}, was not planned either"

    def _out_of_quiet(self, instant: datetime, *, earlier: bool) -> datetime:
        """The last allowed minute before, or the first allowed instant after, a quiet period."""
        if not earlier:
            ends = self.patient.quiet_ends(instant)
            assert ends is not None
            return ends
        zone: ZoneInfo = self.patient.zone
        start, end = self.patient.quiet_start, self.patient.quiet_end
        assert start is not None and end is not None
        local = instant.astimezone(zone)
        today: date = local.date()
        began = today - timedelta(days=1) if start > end and local.time() < start else today
        return local_to_utc(began, start, zone) - ONE_MINUTE


def spec_and_number(item: PlannedItem) -> tuple[str, int]:
    """The spec key and instance number of an item (``dosing-3`` -> ("dosing", 3)).

    Items read back from storage may lack ``spec_key``; their key then says it.
    """
    if item.spec_key:
        return item.spec_key, instance_number(item.key, item.spec_key)
    head, _, tail = item.key.rpartition("-")
    return (head, int(tail)) if head and tail.isdigit() else (item.key, 1)


def due_now(now: datetime) -> datetime:
    """A send time already past goes at the next whole five minutes (``now`` if on one): the
    same plan built a minute apart (a preview, then its confirmation) gives the same times."""
    floor = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
    return floor if floor == now else floor + timedelta(minutes=5)
