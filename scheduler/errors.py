"""The one error type of the planning engine.

Every refusal names the rule that could not be met (a short, stable id such as ``spacing.min_gap``)
and, where one input is to blame, the field. The backend shows ``str(error)`` to coordinators and
maps ``rule``/``field`` onto form and API errors, so the message is written in plain words.
"""

from __future__ import annotations


class PlanningError(Exception):
    """A request the engine cannot satisfy, or input it cannot accept.

    ``rule`` is a dotted id (``calendar.no_slot``, ``start_date.in_past``, ``time_zone.unknown``,
    ``preferences.contradictory``, ``protocol.type`` ...); ``field`` is the input concerned,
    or ``None`` when the problem is not one field's fault.
    """

    def __init__(self, message: str, *, rule: str, field: str | None = None) -> None:
        super().__init__(f"{message} (rule: {rule})")
        self.rule = rule
        self.field = field
        self.plain_message = message

    def __reduce__(self):  # keep the error picklable (Celery results, multiprocessing)
        return (_rebuild, (self.plain_message, self.rule, self.field))


def _rebuild(message: str, rule: str, field: str | None) -> PlanningError:
    return PlanningError(message, rule=rule, field=field)
